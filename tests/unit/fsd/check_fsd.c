/*
 * Unit tests of capsem-fsd's file server: crafted FUSE requests through
 * fs_serve() against a real temporary directory, without the sandbox or a
 * kernel FUSE driver.  Each test runs in its own process (check's fork
 * mode) on its own directory.
 */
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_req.h"
#include "fs_server.h"
#include "msg.h"

#define GUEST_UID	1000
#define GUEST_GID	1001
#define ROOT_ID		1

static char		 dir[64];
static int		 dfd;		/* our own fd of dir, for checks */
static struct fs_server	 srv;
static uint8_t		 req[MSG_FS_REQUEST_MAX];
static size_t		 reqlen;
static uint8_t		 out[MSG_FS_REPLY_MAX];
static char		 why[200];
static uint64_t		 unique;

/* --- requests ------------------------------------------------------------ */

static void
begin(uint32_t opcode, uint64_t nodeid)
{
	struct fuse_in_header h;

	memset(&h, 0, sizeof(h));
	h.opcode = opcode;
	h.nodeid = nodeid;
	h.unique = ++unique;
	memcpy(req, &h, sizeof(h));
	reqlen = sizeof(h);
}

static void
put(const void *p, size_t len)
{
	ck_assert_uint_le(reqlen + len, sizeof(req));
	memcpy(req + reqlen, p, len);
	reqlen += len;
}

static void
put_str(const char *s)
{
	put(s, strlen(s) + 1);
}

/* Fix the header's length to what was put. */
static void
end(void)
{
	struct fuse_in_header h;

	memcpy(&h, req, sizeof(h));
	h.len = (uint32_t)reqlen;
	memcpy(req, &h, sizeof(h));
}

static ssize_t
serve_max(uint32_t out_max)
{
	end();
	why[0] = '\0';
	return fs_serve(&srv, req, reqlen, out_max, out, sizeof(out), why,
	    sizeof(why));
}

/* Serve the request; its errno (0 on success), the reply well formed. */
static int
serve(void)
{
	struct fuse_out_header oh;
	ssize_t	 n = serve_max(MSG_FS_REPLY_MAX);

	ck_assert_msg(n >= (ssize_t)sizeof(oh), "fs_serve %zd: %s", n, why);
	memcpy(&oh, out, sizeof(oh));
	ck_assert_uint_eq(oh.len, (size_t)n);
	ck_assert_uint_eq(oh.unique, unique);
	ck_assert_int_le(oh.error, 0);
	if (oh.error != 0)
		ck_assert_uint_eq(oh.len, sizeof(oh));
	return -oh.error;
}

static const void *
payload(void)
{
	return out + sizeof(struct fuse_out_header);
}

static size_t
payload_len(void)
{
	struct fuse_out_header oh;

	memcpy(&oh, out, sizeof(oh));
	return oh.len - sizeof(oh);
}

/* Serve a request that must be malformed: -1 with a reason. */
static void
malformed(const char *what)
{
	ssize_t n;

	why[0] = '\0';
	n = fs_serve(&srv, req, reqlen, MSG_FS_REPLY_MAX, out, sizeof(out),
	    why, sizeof(why));
	ck_assert_msg(n == -1, "%s: fs_serve %zd", what, n);
	ck_assert_msg(why[0] != '\0', "%s: no reason", what);
}

/* --- operations ---------------------------------------------------------- */

static int
do_init(uint32_t major, uint32_t minor, uint32_t flags,
    struct fuse_init_out *o)
{
	struct fuse_init_in in;
	int	 err;

	memset(&in, 0, sizeof(in));
	in.major = major;
	in.minor = minor;
	in.max_readahead = 1u << 20;
	in.flags = flags;
	begin(FUSE_INIT, 0);
	put(&in, sizeof(in));
	if ((err = serve()) == 0 && o != NULL) {
		ck_assert_uint_eq(payload_len(), sizeof(*o));
		memcpy(o, payload(), sizeof(*o));
	}
	return err;
}

static int
lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	int	 err;

	begin(FUSE_LOOKUP, parent);
	put_str(name);
	if ((err = serve()) == 0) {
		ck_assert_uint_eq(payload_len(), sizeof(*e));
		memcpy(e, payload(), sizeof(*e));
	}
	return err;
}

static uint64_t
lookup_ok(uint64_t parent, const char *name)
{
	struct fuse_entry_out e;
	int	 err = lookup(parent, name, &e);

	ck_assert_msg(err == 0, "lookup %s: %s", name, strerror(err));
	ck_assert_uint_ne(e.nodeid, 0);
	return e.nodeid;
}

static void
forget(uint64_t nodeid, uint64_t n)
{
	struct fuse_forget_in fi;

	memset(&fi, 0, sizeof(fi));
	fi.nlookup = n;
	begin(FUSE_FORGET, nodeid);
	put(&fi, sizeof(fi));
	ck_assert_int_eq(serve_max(MSG_FS_REPLY_MAX), 0);
}

static int
do_open(uint32_t opcode, uint64_t nodeid, uint32_t flags, uint64_t *fh)
{
	struct fuse_open_in in;
	struct fuse_open_out o;
	int	 err;

	memset(&in, 0, sizeof(in));
	in.flags = flags;
	begin(opcode, nodeid);
	put(&in, sizeof(in));
	if ((err = serve()) == 0) {
		ck_assert_uint_eq(payload_len(), sizeof(o));
		memcpy(&o, payload(), sizeof(o));
		ck_assert_uint_ne(o.fh, 0);
		*fh = o.fh;
	}
	return err;
}

static int
do_mknod(uint64_t parent, const char *name, uint32_t mode, uint32_t rdev)
{
	struct fuse_mknod_in in;

	memset(&in, 0, sizeof(in));
	in.mode = mode;
	in.rdev = rdev;
	begin(FUSE_MKNOD, parent);
	put(&in, sizeof(in));
	put_str(name);
	return serve();
}

static int
do_mkdir(uint64_t parent, const char *name, uint32_t mode)
{
	struct fuse_mkdir_in in;

	memset(&in, 0, sizeof(in));
	in.mode = mode;
	begin(FUSE_MKDIR, parent);
	put(&in, sizeof(in));
	put_str(name);
	return serve();
}

static int
do_setattr(uint64_t nodeid, const struct fuse_setattr_in *in)
{
	begin(FUSE_SETATTR, nodeid);
	put(in, sizeof(*in));
	return serve();
}

static int
do_rename2(uint64_t from, const char *name, uint64_t to, const char *name2,
    uint32_t flags)
{
	struct fuse_rename2_in in;

	memset(&in, 0, sizeof(in));
	in.newdir = to;
	in.flags = flags;
	begin(FUSE_RENAME2, from);
	put(&in, sizeof(in));
	put_str(name);
	put_str(name2);
	return serve();
}

static int
do_write(uint64_t fh, uint64_t off, const char *data)
{
	struct fuse_write_in in;

	memset(&in, 0, sizeof(in));
	in.fh = fh;
	in.offset = off;
	in.size = (uint32_t)strlen(data);
	begin(FUSE_WRITE, 2);
	put(&in, sizeof(in));
	put(data, strlen(data));
	return serve();
}

/* --- the directory ------------------------------------------------------- */

static void
host_file(const char *name, const char *data)
{
	int	 fd;

	fd = openat(dfd, name, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static int
host_lstat(const char *name, struct stat *st)
{
	return fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW);
}

static int
host_count(void)
{
	DIR	*d;
	int	 n = 0, fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY);

	ck_assert_ptr_nonnull(d = fdopendir(fd));
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n - 2;
}

static void
server_start(bool readonly, uint32_t inodes_max)
{
	int	 fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fs_server_init(&srv, fd, readonly, GUEST_UID,
	    GUEST_GID, inodes_max), 0);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check-fsd.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_ne(dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
	    -1);
	unique = 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(path);
}

static void
teardown(void)
{
	close(dfd);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A served, initialized, read-write server. */
static void
setup_rw(void)
{
	setup();
	server_start(false, 0);
	ck_assert_int_eq(do_init(7, 38, 0, NULL), 0);
}

static void
teardown_rw(void)
{
	fs_server_free(&srv);
	teardown();
}

/* --- tests --------------------------------------------------------------- */

START_TEST(init_negotiation)
{
	struct fuse_init_out o;
	struct fuse_entry_out e;
	const uint32_t allowed = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC |
	    FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
	    FUSE_MAX_PAGES | FUSE_PARALLEL_DIROPS;

	host_file("f", "x");
	server_start(false, 0);
	/* before INIT: EIO */
	ck_assert_int_eq(lookup(ROOT_ID, "f", &e), EIO);
	begin(FUSE_GETATTR, ROOT_ID);
	{
		struct fuse_getattr_in gi;

		memset(&gi, 0, sizeof(gi));
		put(&gi, sizeof(gi));
	}
	ck_assert_int_eq(serve(), EIO);
	/* a newer major: we answer ours and wait for the kernel's retry */
	ck_assert_int_eq(do_init(8, 0, 0, &o), 0);
	ck_assert_uint_eq(o.major, 7);
	ck_assert_uint_eq(o.minor, 38);
	ck_assert_int_eq(lookup(ROOT_ID, "f", &e), EIO);
	ck_assert_int_eq(do_init(6, 0, 0, NULL), EPROTO);
	/* a newer minor is capped; flags are a subset of ours */
	ck_assert_int_eq(do_init(7, 40, 0xffffffffu, &o), 0);
	ck_assert_uint_eq(o.major, 7);
	ck_assert_uint_eq(o.minor, 38);
	ck_assert_uint_eq(o.max_write, 128 * 1024);
	ck_assert_uint_eq(o.max_pages, 32);
	ck_assert_uint_le(o.max_readahead, 128 * 1024);
	ck_assert_uint_eq(o.flags & ~allowed, 0);
	ck_assert_uint_eq(o.flags, allowed);
	ck_assert_uint_eq(o.flags & (FUSE_WRITEBACK_CACHE | FUSE_POSIX_LOCKS |
	    FUSE_FLOCK_LOCKS | FUSE_EXPORT_SUPPORT | FUSE_POSIX_ACL), 0);
	ck_assert_int_eq(lookup(ROOT_ID, "f", &e), 0);
	/* once only */
	ck_assert_int_eq(do_init(7, 38, 0, NULL), EPROTO);
	fs_server_free(&srv);

	/* an older minor is kept; no flags asked, none given */
	server_start(false, 0);
	ck_assert_int_eq(do_init(7, 31, 0, &o), 0);
	ck_assert_uint_eq(o.minor, 31);
	ck_assert_uint_eq(o.flags, 0);
	ck_assert_uint_eq(srv.minor, 31);
	fs_server_free(&srv);
}
END_TEST

START_TEST(lookup_bad_names)
{
	struct fuse_entry_out e;
	char	 longname[257];
	uint32_t used;
	int	 n;

	ck_assert_int_eq(mkdirat(dfd, "a", 0755), 0);
	host_file("a/b", "inner");
	ck_assert_int_eq(symlinkat("/etc", dfd, "etc"), 0);
	server_start(false, 0);
	ck_assert_int_eq(do_init(7, 38, 0, NULL), 0);
	used = srv.inodes.used;
	n = host_count();

	ck_assert_int_eq(lookup(ROOT_ID, "..", &e), EINVAL);
	ck_assert_int_eq(lookup(ROOT_ID, ".", &e), EINVAL);
	ck_assert_int_eq(lookup(ROOT_ID, "a/b", &e), EINVAL);
	ck_assert_int_eq(lookup(ROOT_ID, "/etc", &e), EINVAL);
	ck_assert_int_eq(lookup(ROOT_ID, "", &e), ENOENT);
	memset(longname, 'x', 256);
	longname[256] = '\0';
	ck_assert_int_eq(lookup(ROOT_ID, longname, &e), ENAMETOOLONG);
	longname[255] = '\0';
	ck_assert_int_eq(lookup(ROOT_ID, longname, &e), ENOENT);
	ck_assert_int_eq(lookup(ROOT_ID, "missing", &e), ENOENT);
	/* the same names in a MKDIR touch nothing either */
	ck_assert_int_eq(do_mkdir(ROOT_ID, "..", 0755), EINVAL);
	ck_assert_int_eq(do_mkdir(ROOT_ID, "a/c", 0755), EINVAL);
	ck_assert_int_eq(do_rename2(ROOT_ID, "a", ROOT_ID, "../x", 0), EINVAL);
	ck_assert_uint_eq(srv.inodes.used, used);
	ck_assert_int_eq(host_count(), n);
	{
		struct stat st;

		ck_assert_int_eq(fstatat(dfd, "a/c", &st, 0), -1);
	}
	/* a directory's entry is one component: a/b by way of a */
	ck_assert_int_eq(lookup(lookup_ok(ROOT_ID, "a"), "b", &e), 0);
	ck_assert(S_ISREG(e.attr.mode));
	/* looking up beneath a symlink: it is no directory of ours */
	ck_assert_int_eq(lookup(lookup_ok(ROOT_ID, "etc"), "passwd", &e),
	    ENOTDIR);
	fs_server_free(&srv);
}
END_TEST

START_TEST(symlink_lookup_readlink)
{
	struct fuse_entry_out e;
	uint64_t fh;

	ck_assert_int_eq(symlinkat("../outside/secret", dfd, "l"), 0);
	ck_assert_int_eq(lookup(ROOT_ID, "l", &e), 0);
	ck_assert(S_ISLNK(e.attr.mode));
	begin(FUSE_READLINK, e.nodeid);
	ck_assert_int_eq(serve(), 0);
	ck_assert_uint_eq(payload_len(), strlen("../outside/secret"));
	ck_assert(memcmp(payload(), "../outside/secret", payload_len()) == 0);
	/* a symlink's node is never opened */
	ck_assert_int_eq(do_open(FUSE_OPEN, e.nodeid, O_RDONLY, &fh), EPERM);
	ck_assert_int_eq(do_open(FUSE_OPENDIR, e.nodeid, O_RDONLY, &fh),
	    ENOTDIR);
	ck_assert_uint_eq(fs_server_open_files(&srv), 0);
	/* READLINK of what is no symlink */
	begin(FUSE_READLINK, ROOT_ID);
	ck_assert_int_eq(serve(), EINVAL);
	/* SYMLINK stores the target as text */
	begin(FUSE_SYMLINK, ROOT_ID);
	put_str("abs");
	put_str("/etc/passwd");
	ck_assert_int_eq(serve(), 0);
	{
		char	 buf[64];
		ssize_t	 n = readlinkat(dfd, "abs", buf, sizeof(buf));

		ck_assert_int_eq(n, 11);
		ck_assert(memcmp(buf, "/etc/passwd", 11) == 0);
	}
}
END_TEST

START_TEST(specials_refused)
{
	struct fuse_entry_out e;
	struct stat st;
	uint64_t fh;

	ck_assert_int_eq(mkfifoat(dfd, "fifo", 0644), 0);
	ck_assert_int_eq(lookup(ROOT_ID, "fifo", &e), 0);
	ck_assert(S_ISFIFO(e.attr.mode));
	/* would block without a writer, if it were opened at all */
	ck_assert_int_eq(do_open(FUSE_OPEN, e.nodeid, O_RDONLY, &fh), EPERM);
	ck_assert_int_eq(do_open(FUSE_OPEN, e.nodeid, O_WRONLY, &fh), EPERM);
	ck_assert_uint_eq(fs_server_open_files(&srv), 0);

	ck_assert_int_eq(do_mknod(ROOT_ID, "chr", S_IFCHR | 0666,
	    makedev(1, 3)), EPERM);
	ck_assert_int_eq(do_mknod(ROOT_ID, "blk", S_IFBLK | 0666,
	    makedev(7, 0)), EPERM);
	ck_assert_int_eq(do_mknod(ROOT_ID, "p", S_IFIFO | 0644, 0), EPERM);
	ck_assert_int_eq(do_mknod(ROOT_ID, "s", S_IFSOCK | 0644, 0), EPERM);
	ck_assert_int_eq(host_lstat("chr", &st), -1);
	ck_assert_int_eq(host_lstat("blk", &st), -1);
	ck_assert_int_eq(host_lstat("p", &st), -1);
	ck_assert_int_eq(host_lstat("s", &st), -1);
	ck_assert_uint_ge(srv.count.refused, 4);

	ck_assert_int_eq(do_mknod(ROOT_ID, "reg", S_IFREG | 06755, 0), 0);
	ck_assert_int_eq(host_lstat("reg", &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0755);

	/* CREATE over a FIFO the host planted: refused, nothing opened */
	{
		struct fuse_create_in ci;

		memset(&ci, 0, sizeof(ci));
		ci.flags = O_RDWR;
		ci.mode = S_IFREG | 0644;
		begin(FUSE_CREATE, ROOT_ID);
		put(&ci, sizeof(ci));
		put_str("fifo");
		ck_assert_int_eq(serve(), EPERM);
	}
	ck_assert_uint_eq(fs_server_open_files(&srv), 0);
	ck_assert_int_eq(host_lstat("fifo", &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
}
END_TEST

START_TEST(setattr_mode_and_owner)
{
	struct fuse_setattr_in in;
	struct fuse_attr_out ao;
	struct stat st;
	uint64_t id;

	host_file("f", "x");
	ck_assert_int_eq(mkdirat(dfd, "d", 0755), 0);
	id = lookup_ok(ROOT_ID, "f");
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_MODE;
	in.mode = S_IFREG | 06755;
	ck_assert_int_eq(do_setattr(id, &in), 0);
	ck_assert_int_eq(host_lstat("f", &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	memcpy(&ao, payload(), sizeof(ao));
	ck_assert_uint_eq(ao.attr.mode & 07777, 0755);
	ck_assert_uint_eq(ao.attr.uid, st.st_uid == geteuid() ? GUEST_UID :
	    FS_NOBODY);
	ck_assert_uint_eq(ao.attr.gid, st.st_gid == getegid() ? GUEST_GID :
	    FS_NOBODY);
	/* a directory's setgid too */
	in.mode = S_IFDIR | 02775;
	ck_assert_int_eq(do_setattr(lookup_ok(ROOT_ID, "d"), &in), 0);
	ck_assert_int_eq(host_lstat("d", &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0775);
	/* a host file's setuid is not shown */
	ck_assert_int_eq(fchmodat(dfd, "f", 04755, 0), 0);
	begin(FUSE_GETATTR, id);
	{
		struct fuse_getattr_in gi;

		memset(&gi, 0, sizeof(gi));
		put(&gi, sizeof(gi));
	}
	ck_assert_int_eq(serve(), 0);
	memcpy(&ao, payload(), sizeof(ao));
	ck_assert_uint_eq(ao.attr.mode & (S_ISUID | S_ISGID), 0);
	ck_assert_uint_eq(ao.attr_valid, 1);

	/* ownership: only to the guest's own ids */
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_UID;
	in.uid = 0;
	ck_assert_int_eq(do_setattr(id, &in), EPERM);
	in.valid = FATTR_GID;
	in.gid = 0;
	ck_assert_int_eq(do_setattr(id, &in), EPERM);
	in.valid = FATTR_UID | FATTR_GID;
	in.uid = GUEST_UID;
	in.gid = GUEST_GID;
	ck_assert_int_eq(do_setattr(id, &in), 0);
	/* a size */
	in.valid = FATTR_SIZE;
	in.size = 5;
	ck_assert_int_eq(do_setattr(id, &in), 0);
	ck_assert_int_eq(host_lstat("f", &st), 0);
	ck_assert_int_eq(st.st_size, 5);
	ck_assert_int_eq(do_setattr(lookup_ok(ROOT_ID, "d"), &in), EISDIR);
	/* an fh that is not open */
	in.valid = FATTR_SIZE | FATTR_FH;
	in.fh = 77;
	ck_assert_int_eq(do_setattr(id, &in), EBADF);
}
END_TEST

START_TEST(link_rename_flags)
{
	struct fuse_link_in li;
	struct stat st;
	uint64_t d, f;

	ck_assert_int_eq(mkdirat(dfd, "d", 0755), 0);
	host_file("f", "x");
	d = lookup_ok(ROOT_ID, "d");
	f = lookup_ok(ROOT_ID, "f");
	memset(&li, 0, sizeof(li));
	li.oldnodeid = d;
	begin(FUSE_LINK, ROOT_ID);
	put(&li, sizeof(li));
	put_str("dlink");
	ck_assert_int_eq(serve(), EPERM);
	ck_assert_int_eq(host_lstat("dlink", &st), -1);
	li.oldnodeid = f;
	begin(FUSE_LINK, d);
	put(&li, sizeof(li));
	put_str("flink");
	ck_assert_int_eq(serve(), 0);
	ck_assert_int_eq(host_lstat("d/flink", &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);

	ck_assert_int_eq(do_rename2(ROOT_ID, "f", ROOT_ID, "g",
	    RENAME_WHITEOUT), EINVAL);
	ck_assert_int_eq(do_rename2(ROOT_ID, "f", ROOT_ID, "g", 1u << 7),
	    EINVAL);
	ck_assert_int_eq(host_lstat("g", &st), -1);
	ck_assert_int_eq(host_lstat("f", &st), 0);
	host_file("g", "yy");
	ck_assert_int_eq(do_rename2(ROOT_ID, "f", ROOT_ID, "g",
	    RENAME_NOREPLACE), EEXIST);
	ck_assert_int_eq(do_rename2(ROOT_ID, "f", d, "moved", 0), 0);
	ck_assert_int_eq(host_lstat("d/moved", &st), 0);
	/* the node follows its file: it opens under its new name */
	{
		uint64_t fh;

		ck_assert_int_eq(do_open(FUSE_OPEN, f, O_RDONLY, &fh), 0);
	}
	ck_assert_int_eq(do_rename2(ROOT_ID, "g", d, "moved",
	    RENAME_EXCHANGE), 0);
	ck_assert_int_eq(host_lstat("g", &st), 0);
	ck_assert_uint_eq(st.st_size, 1);
	ck_assert_int_eq(host_lstat("d/moved", &st), 0);
	ck_assert_uint_eq(st.st_size, 2);
	/* a directory renamed: a file beneath it still opens */
	host_file("d/inner", "inner");
	{
		uint64_t in = lookup_ok(d, "inner"), fh;

		ck_assert_int_eq(do_rename2(ROOT_ID, "d", ROOT_ID, "d2", 0), 0);
		ck_assert_int_eq(do_open(FUSE_OPEN, in, O_RDONLY, &fh), 0);
		/* unlinked: its node has no name to open by */
		begin(FUSE_UNLINK, d);
		put_str("inner");
		ck_assert_int_eq(serve(), 0);
		ck_assert_int_eq(do_open(FUSE_OPEN, in, O_RDONLY, &fh), ESTALE);
	}
}
END_TEST

START_TEST(stale_nodes)
{
	struct fuse_getattr_in gi;
	uint64_t id, fh;

	memset(&gi, 0, sizeof(gi));
	begin(FUSE_GETATTR, 0);
	put(&gi, sizeof(gi));
	ck_assert_int_eq(serve(), ESTALE);
	begin(FUSE_GETATTR, 999);
	put(&gi, sizeof(gi));
	ck_assert_int_eq(serve(), ESTALE);
	begin(FUSE_GETATTR, UINT64_MAX);
	put(&gi, sizeof(gi));
	ck_assert_int_eq(serve(), ESTALE);
	ck_assert_int_eq(do_open(FUSE_OPEN, 5, O_RDONLY, &fh), ESTALE);
	ck_assert_int_eq(do_mkdir(77, "x", 0755), ESTALE);
	host_file("f", "x");
	id = lookup_ok(ROOT_ID, "f");
	begin(FUSE_GETATTR, id);
	put(&gi, sizeof(gi));
	ck_assert_int_eq(serve(), 0);
	forget(id, 1);
	begin(FUSE_GETATTR, id);
	put(&gi, sizeof(gi));
	ck_assert_int_eq(serve(), ESTALE);
	/* the root is never forgotten */
	forget(ROOT_ID, 100);
	begin(FUSE_GETATTR, ROOT_ID);
	put(&gi, sizeof(gi));
	ck_assert_int_eq(serve(), 0);
	/* a forget of what is not there is nothing */
	forget(999, 1);
	forget(0, 1);
	/* a file handle never given */
	ck_assert_int_eq(do_write(0, 0, "x"), EBADF);
	ck_assert_int_eq(do_write(FS_FILES_MAX + 1, 0, "x"), EBADF);
	ck_assert_int_eq(do_write(3, 0, "x"), EBADF);
}
END_TEST

START_TEST(read_write_create)
{
	struct fuse_create_in ci;
	struct fuse_entry_out e;
	struct fuse_open_out o;
	struct fuse_read_in ri;
	struct fuse_write_out wo;
	struct fuse_release_in rl;
	struct stat st;

	memset(&ci, 0, sizeof(ci));
	ci.flags = O_RDWR | O_EXCL;
	ci.mode = S_IFREG | 04640;
	begin(FUSE_CREATE, ROOT_ID);
	put(&ci, sizeof(ci));
	put_str("new");
	ck_assert_int_eq(serve(), 0);
	ck_assert_uint_eq(payload_len(), sizeof(e) + sizeof(o));
	memcpy(&e, payload(), sizeof(e));
	memcpy(&o, (const uint8_t *)payload() + sizeof(e), sizeof(o));
	ck_assert(S_ISREG(e.attr.mode));
	ck_assert_uint_eq(o.open_flags & FOPEN_KEEP_CACHE, 0);
	ck_assert_int_eq(host_lstat("new", &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(do_write(o.fh, 0, "hello"), 0);
	memcpy(&wo, payload(), sizeof(wo));
	ck_assert_uint_eq(wo.size, 5);
	/* through at once */
	ck_assert_int_eq(host_lstat("new", &st), 0);
	ck_assert_int_eq(st.st_size, 5);
	memset(&ri, 0, sizeof(ri));
	ri.fh = o.fh;
	ri.offset = 1;
	ri.size = 100;
	begin(FUSE_READ, e.nodeid);
	put(&ri, sizeof(ri));
	ck_assert_int_eq(serve(), 0);
	ck_assert_uint_eq(payload_len(), 4);
	ck_assert(memcmp(payload(), "ello", 4) == 0);
	/* a READ is bounded by the reply buffer */
	ri.offset = 0;
	begin(FUSE_READ, e.nodeid);
	put(&ri, sizeof(ri));
	end();
	ck_assert_int_eq(fs_serve(&srv, req, reqlen, 16 + 2, out, sizeof(out),
	    why, sizeof(why)), 16 + 2);
	ck_assert_uint_eq(fs_server_open_files(&srv), 1);
	memset(&rl, 0, sizeof(rl));
	rl.fh = o.fh;
	begin(FUSE_RELEASE, e.nodeid);
	put(&rl, sizeof(rl));
	ck_assert_int_eq(serve(), 0);
	ck_assert_uint_eq(fs_server_open_files(&srv), 0);
	/* CREATE O_EXCL of what is there */
	begin(FUSE_CREATE, ROOT_ID);
	put(&ci, sizeof(ci));
	put_str("new");
	ck_assert_int_eq(serve(), EEXIST);
}
END_TEST

START_TEST(readonly_refuses_changes)
{
	struct fuse_setattr_in sa;
	struct fuse_create_in ci;
	struct fuse_link_in li;
	struct fuse_access_in ai;
	struct fuse_fallocate_in fa;
	struct stat st;
	uint64_t f, fh;
	int	 n;

	host_file("f", "keep");
	ck_assert_int_eq(mkdirat(dfd, "d", 0755), 0);
	server_start(true, 0);
	ck_assert_int_eq(do_init(7, 38, 0, NULL), 0);
	n = host_count();
	f = lookup_ok(ROOT_ID, "f");

	memset(&ci, 0, sizeof(ci));
	ci.flags = O_WRONLY;
	ci.mode = S_IFREG | 0644;
	begin(FUSE_CREATE, ROOT_ID);
	put(&ci, sizeof(ci));
	put_str("new");
	ck_assert_int_eq(serve(), EROFS);
	ck_assert_int_eq(do_mknod(ROOT_ID, "new", S_IFREG | 0644, 0), EROFS);
	ck_assert_int_eq(do_mkdir(ROOT_ID, "new", 0755), EROFS);
	begin(FUSE_SYMLINK, ROOT_ID);
	put_str("new");
	put_str("f");
	ck_assert_int_eq(serve(), EROFS);
	memset(&li, 0, sizeof(li));
	li.oldnodeid = f;
	begin(FUSE_LINK, ROOT_ID);
	put(&li, sizeof(li));
	put_str("new");
	ck_assert_int_eq(serve(), EROFS);
	begin(FUSE_UNLINK, ROOT_ID);
	put_str("f");
	ck_assert_int_eq(serve(), EROFS);
	begin(FUSE_RMDIR, ROOT_ID);
	put_str("d");
	ck_assert_int_eq(serve(), EROFS);
	ck_assert_int_eq(do_rename2(ROOT_ID, "f", ROOT_ID, "g", 0), EROFS);
	{
		struct fuse_rename_in rn;

		memset(&rn, 0, sizeof(rn));
		rn.newdir = ROOT_ID;
		begin(FUSE_RENAME, ROOT_ID);
		put(&rn, sizeof(rn));
		put_str("f");
		put_str("g");
		ck_assert_int_eq(serve(), EROFS);
	}
	memset(&sa, 0, sizeof(sa));
	sa.valid = FATTR_MODE;
	sa.mode = 0600;
	ck_assert_int_eq(do_setattr(f, &sa), EROFS);
	sa.valid = FATTR_SIZE;
	sa.size = 0;
	ck_assert_int_eq(do_setattr(f, &sa), EROFS);
	sa.valid = FATTR_MTIME;
	ck_assert_int_eq(do_setattr(f, &sa), EROFS);
	ck_assert_int_eq(do_open(FUSE_OPEN, f, O_WRONLY, &fh), EROFS);
	ck_assert_int_eq(do_open(FUSE_OPEN, f, O_RDWR, &fh), EROFS);
	ck_assert_int_eq(do_open(FUSE_OPEN, f, O_RDONLY | O_TRUNC, &fh), EROFS);
	/* reading works; writing through a read fh does not */
	ck_assert_int_eq(do_open(FUSE_OPEN, f, O_RDONLY, &fh), 0);
	ck_assert_int_eq(do_write(fh, 0, "x"), EROFS);
	memset(&fa, 0, sizeof(fa));
	fa.fh = fh;
	fa.length = 4096;
	begin(FUSE_FALLOCATE, f);
	put(&fa, sizeof(fa));
	ck_assert_int_eq(serve(), EROFS);
	memset(&ai, 0, sizeof(ai));
	ai.mask = W_OK;
	begin(FUSE_ACCESS, f);
	put(&ai, sizeof(ai));
	ck_assert_int_eq(serve(), EROFS);
	ai.mask = R_OK;
	begin(FUSE_ACCESS, f);
	put(&ai, sizeof(ai));
	ck_assert_int_eq(serve(), 0);

	ck_assert_int_eq(host_count(), n);
	ck_assert_int_eq(host_lstat("f", &st), 0);
	ck_assert_int_eq(st.st_size, 4);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	fs_server_free(&srv);
}
END_TEST

START_TEST(inode_bound)
{
	struct fuse_entry_out e;
	struct fuse_batch_forget_in bf;
	struct fuse_forget_one fo[2];
	uint64_t id[3];

	host_file("f0", "");
	host_file("f1", "");
	host_file("f2", "");
	host_file("f3", "");
	host_file("f4", "");
	server_start(false, 4);		/* the root and three */
	ck_assert_uint_eq(srv.inodes.max, 4);
	ck_assert_int_eq(do_init(7, 38, 0, NULL), 0);
	id[0] = lookup_ok(ROOT_ID, "f0");
	id[1] = lookup_ok(ROOT_ID, "f1");
	id[2] = lookup_ok(ROOT_ID, "f2");
	ck_assert_int_eq(lookup(ROOT_ID, "f3", &e), ENFILE);
	ck_assert_uint_eq(srv.inodes.full, 1);
	/* a node already held needs no slot */
	ck_assert_uint_eq(lookup_ok(ROOT_ID, "f1"), id[1]);
	/* what would make a file with no node for it is not made */
	ck_assert_int_eq(do_mkdir(ROOT_ID, "d", 0755), ENFILE);
	ck_assert_uint_eq(srv.inodes.full, 2);
	ck_assert_int_eq(do_mknod(ROOT_ID, "m", S_IFREG | 0644, 0), ENFILE);
	begin(FUSE_SYMLINK, ROOT_ID);
	put_str("l");
	put_str("f0");
	ck_assert_int_eq(serve(), ENFILE);
	{
		struct fuse_create_in ci;
		struct stat st;

		memset(&ci, 0, sizeof(ci));
		ci.flags = O_WRONLY;
		ci.mode = S_IFREG | 0644;
		begin(FUSE_CREATE, ROOT_ID);
		put(&ci, sizeof(ci));
		put_str("c");
		ck_assert_int_eq(serve(), ENFILE);
		ck_assert_int_eq(host_lstat("d", &st), -1);
		ck_assert_int_eq(host_lstat("m", &st), -1);
		ck_assert_int_eq(host_lstat("l", &st), -1);
		ck_assert_int_eq(host_lstat("c", &st), -1);
	}
	ck_assert_uint_eq(srv.inodes.full, 5);
	ck_assert_int_eq(lookup(ROOT_ID, "f4", &e), ENFILE);
	ck_assert_uint_eq(srv.inodes.full, 6);
	/* one forget frees a slot */
	forget(id[0], 1);
	ck_assert_uint_ne(lookup_ok(ROOT_ID, "f3"), 0);
	ck_assert_int_eq(lookup(ROOT_ID, "f4", &e), ENFILE);
	/* f1 has two lookups: a batch forget of both, and of f2 */
	memset(&bf, 0, sizeof(bf));
	bf.count = 2;
	fo[0].nodeid = id[1];
	fo[0].nlookup = 2;
	fo[1].nodeid = id[2];
	fo[1].nlookup = 1;
	begin(FUSE_BATCH_FORGET, 0);
	put(&bf, sizeof(bf));
	put(fo, sizeof(fo));
	ck_assert_int_eq(serve_max(MSG_FS_REPLY_MAX), 0);
	ck_assert_uint_eq(srv.inodes.used, 2);
	lookup_ok(ROOT_ID, "f4");
	lookup_ok(ROOT_ID, "f0");
	ck_assert_uint_eq(srv.inodes.full, 7);
	fs_server_free(&srv);
}
END_TEST

START_TEST(inode_bound_from_rlimit)
{
	struct rlimit rl, low;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = 5000;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	server_start(false, 0);
	/* the open files and a spare few come off the limit */
	ck_assert_uint_eq(srv.inodes.max, 5000 - FS_FILES_MAX - 32);
	fs_server_free(&srv);
	low.rlim_cur = 100000 < low.rlim_max ? 100000 : low.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	server_start(false, 0);
	if (low.rlim_cur >= FS_INODES_MAX + FS_FILES_MAX + 32)
		ck_assert_uint_eq(srv.inodes.max, FS_INODES_MAX);
	fs_server_free(&srv);
	/* too few to serve at all */
	low.rlim_cur = 1100;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	{
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		ck_assert_int_eq(fs_server_init(&srv, fd, false, 1, 1, 0), -1);
		ck_assert_int_eq(errno, EMFILE);
	}
}
END_TEST

START_TEST(malformed_framing)
{
	struct fuse_write_in wi;
	struct fuse_batch_forget_in bf;
	struct fuse_forget_one fo;
	struct fuse_rename2_in rn;
	struct fuse_getattr_in gi;
	struct fuse_in_header h;
	uint64_t before;

	ck_assert_int_eq(mkdirat(dfd, "d", 0755), 0);
	before = srv.count.errors;

	/* header says more than came */
	begin(FUSE_LOOKUP, ROOT_ID);
	put_str("d");
	end();
	reqlen--;
	malformed("len > bytes");
	/* header says less */
	begin(FUSE_LOOKUP, ROOT_ID);
	put_str("d");
	end();
	memcpy(&h, req, sizeof(h));
	h.len--;
	memcpy(req, &h, sizeof(h));
	malformed("len < bytes");
	/* shorter than a header */
	{
		why[0] = '\0';
		ck_assert_int_eq(fs_serve(&srv, req, 10, MSG_FS_REPLY_MAX, out,
		    sizeof(out), why, sizeof(why)), -1);
		ck_assert(why[0] != '\0');
	}
	/* extensions */
	begin(FUSE_LOOKUP, ROOT_ID);
	put_str("d");
	end();
	memcpy(&h, req, sizeof(h));
	h.total_extlen = 1;
	memcpy(req, &h, sizeof(h));
	malformed("total_extlen");
	/* WRITE whose size is not what it carries */
	memset(&wi, 0, sizeof(wi));
	wi.size = 10;
	wi.fh = 1;
	begin(FUSE_WRITE, ROOT_ID);
	put(&wi, sizeof(wi));
	put("12345", 5);
	end();
	malformed("WRITE short");
	wi.size = 2;
	begin(FUSE_WRITE, ROOT_ID);
	put(&wi, sizeof(wi));
	put("12345", 5);
	end();
	malformed("WRITE long");
	/* BATCH_FORGET count */
	memset(&bf, 0, sizeof(bf));
	memset(&fo, 0, sizeof(fo));
	bf.count = 2;
	begin(FUSE_BATCH_FORGET, 0);
	put(&bf, sizeof(bf));
	put(&fo, sizeof(fo));
	end();
	malformed("BATCH_FORGET 2 with 1");
	bf.count = UINT32_MAX;
	begin(FUSE_BATCH_FORGET, 0);
	put(&bf, sizeof(bf));
	put(&fo, sizeof(fo));
	end();
	malformed("BATCH_FORGET huge");
	bf.count = 1;
	begin(FUSE_BATCH_FORGET, 0);
	put(&bf, sizeof(bf));
	put(&fo, sizeof(fo));
	put("x", 1);
	end();
	malformed("BATCH_FORGET trailing");
	/* names without NUL */
	begin(FUSE_LOOKUP, ROOT_ID);
	put("d", 1);
	end();
	malformed("LOOKUP no NUL");
	begin(FUSE_LOOKUP, ROOT_ID);
	end();
	malformed("LOOKUP no name");
	memset(&rn, 0, sizeof(rn));
	rn.newdir = ROOT_ID;
	begin(FUSE_RENAME2, ROOT_ID);
	put(&rn, sizeof(rn));
	put_str("d");
	put("e", 1);
	end();
	malformed("RENAME2 second name no NUL");
	begin(FUSE_SYMLINK, ROOT_ID);
	put_str("l");
	end();
	malformed("SYMLINK no target");
	/* trailing bytes */
	begin(FUSE_LOOKUP, ROOT_ID);
	put_str("d");
	put_str("x");
	end();
	malformed("LOOKUP two names");
	begin(FUSE_LOOKUP, ROOT_ID);
	put_str("..");
	put("x", 1);
	end();
	malformed("LOOKUP bad name and trailing");
	begin(FUSE_RENAME2, ROOT_ID);
	put(&rn, sizeof(rn));
	put_str("d");
	put_str("e");
	put("x", 1);
	end();
	malformed("RENAME2 trailing");
	memset(&gi, 0, sizeof(gi));
	begin(FUSE_GETATTR, ROOT_ID);
	put(&gi, sizeof(gi));
	put("x", 1);
	end();
	malformed("GETATTR trailing");
	begin(FUSE_READLINK, ROOT_ID);
	put("x", 1);
	end();
	malformed("READLINK trailing");
	/* too short for its struct */
	begin(FUSE_GETATTR, ROOT_ID);
	put(&gi, sizeof(gi) - 1);
	end();
	malformed("GETATTR short");
	begin(FUSE_INIT, 0);
	put(&gi, 8);
	end();
	malformed("INIT short");
	/* none of that was served or changed anything */
	ck_assert_uint_eq(srv.count.errors, before);
	ck_assert_int_eq(host_count(), 1);
	/* and the server still serves */
	lookup_ok(ROOT_ID, "d");
}
END_TEST

START_TEST(reply_buffer_too_small)
{
	struct stat st;

	/* no room for a reply header: malformed, and nothing done */
	begin(FUSE_MKDIR, ROOT_ID);
	{
		struct fuse_mkdir_in mi;

		memset(&mi, 0, sizeof(mi));
		mi.mode = 0755;
		put(&mi, sizeof(mi));
	}
	put_str("d");
	ck_assert_int_eq(serve_max(sizeof(struct fuse_out_header) - 1), -1);
	ck_assert(why[0] != '\0');
	ck_assert_int_eq(host_lstat("d", &st), -1);
	ck_assert_int_eq(serve_max(0), -1);
	ck_assert_int_eq(host_lstat("d", &st), -1);
	/* room for the header, not the entry: EIO, and nothing done */
	ck_assert_int_eq(serve_max(sizeof(struct fuse_out_header) + 8),
	    (ssize_t)sizeof(struct fuse_out_header));
	{
		struct fuse_out_header oh;

		memcpy(&oh, out, sizeof(oh));
		ck_assert_int_eq(oh.error, -EIO);
	}
	ck_assert_int_eq(host_lstat("d", &st), -1);
	ck_assert_int_eq(serve(), 0);
	ck_assert_int_eq(host_lstat("d", &st), 0);
}
END_TEST

/* Read a directory through READDIR(PLUS) in calls of size bytes. */
static int
list_dir(uint32_t opcode, uint64_t nodeid, uint32_t size, char seen[][16],
    int maxseen, int *calls)
{
	struct fuse_read_in ri;
	uint64_t fh, off = 0;
	int	 n = 0;
	const bool plus = opcode == FUSE_READDIRPLUS;

	ck_assert_int_eq(do_open(FUSE_OPENDIR, nodeid, O_RDONLY, &fh), 0);
	*calls = 0;
	for (;;) {
		const uint8_t *p;
		size_t	 len, pos = 0;
		int	 got = 0;

		memset(&ri, 0, sizeof(ri));
		ri.fh = fh;
		ri.offset = off;
		ri.size = size;
		begin(opcode, nodeid);
		put(&ri, sizeof(ri));
		ck_assert_int_eq(serve(), 0);
		len = payload_len();
		ck_assert_uint_le(len, size);
		p = payload();
		(*calls)++;
		if (len == 0)
			break;
		while (pos < len) {
			struct fuse_entry_out e;
			struct fuse_dirent de;

			if (plus) {
				memcpy(&e, p + pos, sizeof(e));
				pos += sizeof(e);
			}
			memcpy(&de, p + pos, sizeof(de));
			ck_assert_uint_lt(de.namelen, 16);
			ck_assert_int_lt(n, maxseen);
			memcpy(seen[n], p + pos + offsetof(struct fuse_dirent,
			    name), de.namelen);
			seen[n][de.namelen] = '\0';
			if (plus && strcmp(seen[n], ".") != 0 &&
			    strcmp(seen[n], "..") != 0) {
				ck_assert_uint_ne(e.nodeid, 0);
				ck_assert_uint_eq(e.attr.ino, de.ino);
				ck_assert(S_ISREG(e.attr.mode));
			}
			n++;
			got++;
			pos += FUSE_DIRENT_ALIGN(offsetof(struct fuse_dirent,
			    name) + de.namelen);
			off = de.off;
		}
		ck_assert_uint_eq(pos, len);
		ck_assert_int_gt(got, 0);
	}
	return n;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

START_TEST(readdir_in_pieces)
{
	static char seen[200][16];
	char	 name[16];
	int	 i, n, calls;
	const int nfiles = 60;

	for (i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "f%0*d", 1 + i % 9, i);
		host_file(name, "");
	}
	n = list_dir(FUSE_READDIR, ROOT_ID, 100, seen, 200, &calls);
	ck_assert_int_eq(n, nfiles + 2);
	ck_assert_int_gt(calls, 10);
	qsort(seen, (size_t)n, sizeof(seen[0]), name_cmp);
	for (i = 1; i < n; i++)
		ck_assert_str_ne(seen[i - 1], seen[i]);	/* none twice */
	ck_assert_str_eq(seen[0], ".");
	ck_assert_str_eq(seen[1], "..");
	for (i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "f%0*d", 1 + i % 9, i);
		ck_assert_ptr_nonnull(bsearch(name, seen, (size_t)n,
		    sizeof(seen[0]), name_cmp));
	}
	/* READDIRPLUS: an entry and its node each */
	n = list_dir(FUSE_READDIRPLUS, ROOT_ID, 400, seen, 200, &calls);
	ck_assert_int_eq(n, nfiles + 2);
	ck_assert_int_gt(calls, 10);
	qsort(seen, (size_t)n, sizeof(seen[0]), name_cmp);
	for (i = 1; i < n; i++)
		ck_assert_str_ne(seen[i - 1], seen[i]);
	ck_assert_uint_eq(srv.inodes.used, 1 + nfiles);
	/* one large call has them all */
	n = list_dir(FUSE_READDIR, ROOT_ID, 64 * 1024, seen, 200, &calls);
	ck_assert_int_eq(n, nfiles + 2);
	ck_assert_int_eq(calls, 2);
	/* READDIR of a fh never opened */
	{
		struct fuse_read_in ri;

		memset(&ri, 0, sizeof(ri));
		ri.fh = 99;
		ri.size = 4096;
		begin(FUSE_READDIR, ROOT_ID);
		put(&ri, sizeof(ri));
		ck_assert_int_eq(serve(), EBADF);
	}
}
END_TEST

START_TEST(unknown_opcodes)
{
	static const uint32_t ops[] = { FUSE_GETXATTR, FUSE_SETXATTR,
	    FUSE_LISTXATTR, FUSE_REMOVEXATTR, FUSE_GETLK, FUSE_SETLK,
	    FUSE_SETLKW, FUSE_IOCTL, FUSE_POLL, FUSE_BMAP, FUSE_NOTIFY_REPLY,
	    FUSE_TMPFILE, 0, 9999, UINT32_MAX };
	size_t	 i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		begin(ops[i], ROOT_ID);
		put("\0\0\0\0\0\0\0\0", 8);
		ck_assert_msg(serve() == ENOSYS, "opcode %u", ops[i]);
	}
}
END_TEST

static Suite *
fsd_suite(void)
{
	Suite	*s = suite_create("fsd");
	TCase	*plain = tcase_create("plain");
	TCase	*served = tcase_create("served");

	tcase_add_checked_fixture(plain, setup, teardown);
	tcase_add_test(plain, init_negotiation);
	tcase_add_test(plain, lookup_bad_names);
	tcase_add_test(plain, readonly_refuses_changes);
	tcase_add_test(plain, inode_bound);
	tcase_add_test(plain, inode_bound_from_rlimit);
	suite_add_tcase(s, plain);

	tcase_add_checked_fixture(served, setup_rw, teardown_rw);
	tcase_add_test(served, symlink_lookup_readlink);
	tcase_add_test(served, specials_refused);
	tcase_add_test(served, setattr_mode_and_owner);
	tcase_add_test(served, link_rename_flags);
	tcase_add_test(served, stale_nodes);
	tcase_add_test(served, read_write_create);
	tcase_add_test(served, malformed_framing);
	tcase_add_test(served, reply_buffer_too_small);
	tcase_add_test(served, readdir_in_pieces);
	tcase_add_test(served, unknown_opcodes);
	suite_add_tcase(s, served);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(fsd_suite());
	struct rlimit rl;
	int	 failed;

	/* room for the default node table, as capsem-fsd's sandbox gives */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
