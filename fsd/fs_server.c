/*
 * fs_server: nodes, attributes, open files and the dispatch of one request
 * (fs_server.h); the operations on files are in fs_ops.c.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_priv.h"

#define FS_FH_SPARE	32	/* fds kept free of nodes and files */

int
fs_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how	 how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? (mode & 01777) : 0;
	how.resolve = FS_RESOLVE;
	return (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
}

int
fs_server_init(struct fs_server *s, int dirfd, bool readonly,
    uint32_t guest_uid, uint32_t guest_gid, uint32_t inodes_max)
{
	struct rlimit	 rl;
	int		 root, i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < FS_FILES_MAX; i++)
		s->files[i] = -1;
	if (inodes_max == 0)
		inodes_max = FS_INODES_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur !=
	    RLIM_INFINITY && rl.rlim_cur < (rlim_t)inodes_max + FS_FILES_MAX +
	    FS_FH_SPARE) {
		if (rl.rlim_cur < FS_FILES_MAX + FS_FH_SPARE + 64)
			return errno = EMFILE, -1;
		inodes_max = (uint32_t)(rl.rlim_cur - FS_FILES_MAX -
		    FS_FH_SPARE);
	}
	root = fs_openat(dirfd, ".", O_PATH | O_DIRECTORY, 0);
	close(dirfd);
	if (root == -1)
		return -1;
	if (fs_inodes_init(&s->inodes, inodes_max, root) == -1)
		return -1;
	s->readonly = readonly;
	s->guest_uid = guest_uid;
	s->guest_gid = guest_gid;
	s->uid = geteuid();
	s->gid = getegid();
	return 0;
}

void
fs_server_free(struct fs_server *s)
{
	int	 i;

	for (i = 0; i < FS_FILES_MAX; i++)
		if (s->files[i] >= 0)
			close(s->files[i]);
	fs_inodes_free(&s->inodes);
}

unsigned
fs_server_open_files(const struct fs_server *s)
{
	unsigned n = 0;
	int	 i;

	for (i = 0; i < FS_FILES_MAX; i++)
		n += s->files[i] != -1;
	return n;
}

struct fs_inode *
fs_node(struct fs_server *s, uint64_t nodeid)
{
	return fs_inode_get(&s->inodes, nodeid);
}

void
fs_fill_attr(const struct fs_server *s, const struct stat *st,
    struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	/* setuid and setgid never reach the guest */
	a->mode = st->st_mode & ~(mode_t)(S_ISUID | S_ISGID);
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid == s->uid ? s->guest_uid : FS_NOBODY;
	a->gid = st->st_gid == s->gid ? s->guest_gid : FS_NOBODY;
	a->rdev = 0;
	a->blksize = (uint32_t)st->st_blksize;
}

int
fs_lookup_entry(struct fs_server *s, struct fs_inode *parent,
    const char *name, struct fuse_entry_out *e)
{
	struct fs_inode	*n;
	struct stat	 st;
	int		 fd;

	if (!S_ISDIR(parent->type))
		return ENOTDIR;
	if ((fd = fs_openat(parent->fd, name, O_PATH, 0)) == -1)
		return errno;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return errno;
	}
	if ((n = fs_inode_add(&s->inodes, parent, name, fd, st.st_dev,
	    st.st_ino, st.st_mode & S_IFMT)) == NULL)
		return errno;
	memset(e, 0, sizeof(*e));
	e->nodeid = fs_inode_nodeid(&s->inodes, n);
	e->entry_valid = e->attr_valid = FS_ATTR_TIMEOUT_S;
	fs_fill_attr(s, &st, &e->attr);
	return 0;
}

int
fs_name_check(struct fs_server *s, struct fs_inode *n)
{
	struct fs_inode	*parent = fs_inode_parent(&s->inodes, n);
	struct stat	 st;

	if (parent == NULL || n->name == NULL)
		return ESTALE;
	if (fstatat(parent->fd, n->name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? ESTALE : errno;
	if (st.st_dev != n->dev || st.st_ino != n->ino)
		return ESTALE;
	return 0;
}

int
fs_reopen(struct fs_server *s, struct fs_inode *n, int flags, int *out)
{
	struct fs_inode	*parent;
	struct stat	 st;
	int		 fd;

	flags &= ~(O_CREAT | O_TRUNC | O_EXCL | O_PATH);
	if (S_ISDIR(n->type)) {
		if ((fd = fs_openat(n->fd, ".", O_RDONLY | O_DIRECTORY, 0)) ==
		    -1)
			return errno;
		*out = fd;
		return 0;
	}
	if (!S_ISREG(n->type)) {
		s->count.refused++;
		return EPERM;
	}
	parent = fs_inode_parent(&s->inodes, n);
	if (parent == NULL || n->name == NULL)
		return ESTALE;
	/* O_NONBLOCK: a FIFO swapped in by the host must not block us */
	if ((fd = fs_openat(parent->fd, n->name, flags | O_NONBLOCK, 0)) == -1)
		return errno == ENOENT ? ESTALE : errno;
	if (fstat(fd, &st) == -1 || st.st_dev != n->dev ||
	    st.st_ino != n->ino || !S_ISREG(st.st_mode)) {
		close(fd);
		return ESTALE;
	}
	if (!(flags & O_NONBLOCK) &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1) {
		close(fd);
		return errno;
	}
	*out = fd;
	return 0;
}

int
fs_file_add(struct fs_server *s, int fd, uint64_t *fh)
{
	int	 i;

	for (i = 0; i < FS_FILES_MAX; i++)
		if (s->files[i] == -1) {
			s->files[i] = fd;
			*fh = (uint64_t)i + 1;
			return 0;
		}
	close(fd);
	return ENFILE;
}

int
fs_file_fd(struct fs_server *s, uint64_t fh)
{
	if (fh == 0 || fh > FS_FILES_MAX || s->files[fh - 1] < 0)
		return -1;
	return s->files[fh - 1];
}

void
fs_file_close(struct fs_server *s, uint64_t fh)
{
	if (fh == 0 || fh > FS_FILES_MAX || s->files[fh - 1] == -1)
		return;
	if (s->files[fh - 1] >= 0)
		close(s->files[fh - 1]);
	s->files[fh - 1] = -1;
}

/* --- requests served here ------------------------------------------------ */

#define FS_INIT_FLAGS	(FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | \
			 FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS | \
			 FUSE_READDIRPLUS_AUTO | FUSE_MAX_PAGES | \
			 FUSE_PARALLEL_DIROPS)

static int
op_init(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_init_in in;
	struct fuse_init_out out;

	memset(&in, 0, sizeof(in));
	memcpy(&in, r->arg, 4 * sizeof(uint32_t));
	if (s->initialized || in.major < 7)
		return EPROTO;
	memset(&out, 0, sizeof(out));
	out.major = FUSE_KERNEL_VERSION;
	out.minor = in.major > 7 ? FUSE_KERNEL_MINOR_VERSION :
	    (in.minor < FUSE_KERNEL_MINOR_VERSION ? in.minor :
	    FUSE_KERNEL_MINOR_VERSION);
	if (in.major == 7) {
		s->initialized = true;
		s->minor = out.minor;
	}
	out.max_readahead = in.max_readahead < MSG_FS_MAX_IO ?
	    in.max_readahead : MSG_FS_MAX_IO;
	out.flags = in.flags & FS_INIT_FLAGS;
	out.max_background = 64;
	out.congestion_threshold = 48;
	out.max_write = MSG_FS_MAX_IO;
	out.time_gran = 1;
	out.max_pages = (uint16_t)(MSG_FS_MAX_IO / 4096);
	if (paycap < sizeof(out))
		return EIO;
	memcpy(payload, &out, sizeof(out));
	*plen = sizeof(out);
	return 0;
}

static int
op_lookup(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fs_inode	*dir = fs_node(s, r->hdr.nodeid);

	if (dir == NULL)
		return ESTALE;
	return fs_entry_reply(s, dir, r->name, payload, paycap, plen);
}

static int
op_getattr(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fs_inode	*n = fs_node(s, r->hdr.nodeid);

	if (n == NULL)
		return ESTALE;
	return fs_attr_reply(s, n, payload, paycap, plen);
}

static int
op_statfs(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_statfs_out out;
	struct statfs	 sf;

	(void)r;
	if (paycap < sizeof(out))
		return EIO;
	if (fstatfs(s->inodes.slots[0].fd, &sf) == -1)
		return errno;
	memset(&out, 0, sizeof(out));
	out.st.blocks = sf.f_blocks;
	out.st.bfree = sf.f_bfree;
	out.st.bavail = sf.f_bavail;
	out.st.files = sf.f_files;
	out.st.ffree = sf.f_ffree;
	out.st.bsize = (uint32_t)sf.f_bsize;
	out.st.namelen = (uint32_t)sf.f_namelen;
	out.st.frsize = (uint32_t)sf.f_frsize;
	memcpy(payload, &out, sizeof(out));
	*plen = sizeof(out);
	return 0;
}

static int
op_destroy(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	(void)s; (void)r; (void)payload; (void)paycap; (void)plen;
	return 0;
}

static fs_op_fn
op_here(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_INIT:		return op_init;
	case FUSE_LOOKUP:	return op_lookup;
	case FUSE_GETATTR:	return op_getattr;
	case FUSE_STATFS:	return op_statfs;
	case FUSE_DESTROY:	return op_destroy;
	default:		return fs_op_for(opcode);
	}
}

static void
forget(struct fs_server *s, const struct fs_req *r)
{
	struct fuse_forget_in	fi;
	struct fuse_forget_one	fo;
	uint32_t		i;

	if (r->opcode == FUSE_FORGET) {
		memcpy(&fi, r->arg, sizeof(fi));
		fs_inode_forget(&s->inodes, r->hdr.nodeid, fi.nlookup);
		return;
	}
	for (i = 0; i < r->nforgets; i++) {
		memcpy(&fo, r->forgets + (size_t)i * sizeof(fo), sizeof(fo));
		fs_inode_forget(&s->inodes, fo.nodeid, fo.nlookup);
	}
}

ssize_t
fs_serve(struct fs_server *s, const uint8_t *buf, size_t len,
    uint32_t out_max, uint8_t *out, size_t outcap, char *why, size_t whylen)
{
	struct fuse_out_header oh;
	struct fs_req	 r;
	fs_op_fn	 fn;
	size_t		 cap = out_max < outcap ? out_max : outcap, plen = 0;
	int		 err = 0;

	s->count.requests++;
	switch (fs_req_parse(buf, len, &r, why, whylen)) {
	case FS_REQ_MALFORMED:
		return -1;
	case FS_REQ_UNKNOWN:
		err = ENOSYS;
		break;
	case FS_REQ_BADNAME:
		err = r.name_errno;
		break;
	case FS_REQ_OK:
		if (r.opcode == FUSE_FORGET || r.opcode == FUSE_BATCH_FORGET) {
			forget(s, &r);
			return 0;
		}
		/* before the operation: a change must not be half answered */
		if (cap < sizeof(oh))
			break;
		if (!s->initialized && r.opcode != FUSE_INIT)
			err = EIO;
		else if ((fn = op_here(r.opcode)) == NULL)
			err = ENOSYS;
		else
			err = fn(s, &r, out + sizeof(oh), cap < sizeof(oh) ?
			    0 : cap - sizeof(oh), &plen);
		break;
	default:
		err = EIO;
		break;
	}
	if (cap < sizeof(oh)) {
		snprintf(why, whylen, "reply buffers of %u bytes hold no "
		    "reply header", (unsigned)out_max);
		return -1;
	}
	if (err != 0) {
		plen = 0;
		s->count.errors++;
	}
	oh.len = (uint32_t)(sizeof(oh) + plen);
	oh.error = -err;
	oh.unique = r.hdr.unique;
	memcpy(out, &oh, sizeof(oh));
	return (ssize_t)oh.len;
}
