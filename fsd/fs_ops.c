/*
 * fs_ops: the FUSE operations that read and change files (fs_priv.h).
 * Every change is refused with EROFS on a read-only workspace; no special
 * file is made or opened; setuid and setgid bits are never set.
 */

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs_priv.h"
#include "msg.h"

#define FS_MODE_BITS	(S_IRWXU | S_IRWXG | S_IRWXO | S_ISVTX)
#define FS_COPY_MAX	(16u * 1024 * 1024)	/* per COPY_FILE_RANGE */

#define NODE_OR_STALE(n, id) do {					\
	if (((n) = fs_node(s, (id))) == NULL)				\
		return ESTALE;						\
} while (0)
#define WRITABLE() do {							\
	if (s->readonly)						\
		return EROFS;						\
} while (0)
#define NODE_ROOM() do {						\
	if (!fs_inode_room(&s->inodes))					\
		return ENFILE;						\
} while (0)
#define ROOM(sz) do {							\
	if (paycap < (sz))						\
		return EIO;						\
} while (0)

int
fs_entry_reply(struct fs_server *s, struct fs_inode *dir, const char *name,
    uint8_t *payload, size_t paycap, size_t *plen)
{
	struct fuse_entry_out e;
	int		 err;

	ROOM(sizeof(e));
	if ((err = fs_lookup_entry(s, dir, name, &e)) != 0)
		return err;
	memcpy(payload, &e, sizeof(e));
	*plen = sizeof(e);
	return 0;
}

int
fs_attr_reply(struct fs_server *s, struct fs_inode *n, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_attr_out out;
	struct stat	 st;

	ROOM(sizeof(out));
	if (fstat(n->fd, &st) == -1)
		return errno;
	memset(&out, 0, sizeof(out));
	out.attr_valid = FS_ATTR_TIMEOUT_S;
	fs_fill_attr(s, &st, &out.attr);
	memcpy(payload, &out, sizeof(out));
	*plen = sizeof(out);
	return 0;
}

/* --- attributes ---------------------------------------------------------- */

static int
set_mode(struct fs_server *s, struct fs_inode *n, int fhfd, mode_t mode)
{
	int	 fd, err;

	if (mode & (S_ISUID | S_ISGID))
		s->count.refused++;
	mode &= FS_MODE_BITS;
	if (fhfd != -1)
		return fchmod(fhfd, mode) == -1 ? errno : 0;
	if (!S_ISDIR(n->type) && !S_ISREG(n->type))
		return EPERM;
	if ((err = fs_reopen(s, n, O_RDONLY, &fd)) == 0) {
		err = fchmod(fd, mode) == -1 ? errno : 0;
		close(fd);
		return err;
	}
	if (err != EACCES || !S_ISREG(n->type))
		return err;
	/* unreadable file: by name, once the name is seen to be it */
	if ((err = fs_name_check(s, n)) != 0)
		return err;
	return fchmodat(fs_inode_parent(&s->inodes, n)->fd, n->name, mode, 0) ==
	    -1 ? errno : 0;
}

static int
set_times(struct fs_server *s, struct fs_inode *n, int fhfd,
    const struct fuse_setattr_in *in)
{
	struct timespec	 ts[2];
	int		 fd, err;

	ts[0].tv_sec = (time_t)in->atime;
	ts[0].tv_nsec = in->atimensec;
	ts[1].tv_sec = (time_t)in->mtime;
	ts[1].tv_nsec = in->mtimensec;
	if (!(in->valid & FATTR_ATIME))
		ts[0].tv_nsec = UTIME_OMIT;
	else if (in->valid & FATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	if (!(in->valid & FATTR_MTIME))
		ts[1].tv_nsec = UTIME_OMIT;
	else if (in->valid & FATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	if (fhfd != -1)
		return futimens(fhfd, ts) == -1 ? errno : 0;
	if (S_ISDIR(n->type)) {
		if ((err = fs_reopen(s, n, O_RDONLY, &fd)) != 0)
			return err;
		err = futimens(fd, ts) == -1 ? errno : 0;
		close(fd);
		return err;
	}
	if ((err = fs_name_check(s, n)) != 0)
		return err;
	return utimensat(fs_inode_parent(&s->inodes, n)->fd, n->name, ts,
	    AT_SYMLINK_NOFOLLOW) == -1 ? errno : 0;
}

static int
op_setattr(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_setattr_in in;
	struct fs_inode	*n;
	int		 fhfd = -1, fd, err;

	NODE_OR_STALE(n, r->hdr.nodeid);
	WRITABLE();
	ROOM(sizeof(struct fuse_attr_out));
	memcpy(&in, r->arg, sizeof(in));
	if (in.valid & FATTR_FH && (fhfd = fs_file_fd(s, in.fh)) == -1)
		return EBADF;
	/* ownership stays the user's: only a change to what it is passes */
	if ((in.valid & FATTR_UID && in.uid != s->guest_uid) ||
	    (in.valid & FATTR_GID && in.gid != s->guest_gid)) {
		s->count.refused++;
		return EPERM;
	}
	if (in.valid & FATTR_MODE && (err = set_mode(s, n, fhfd, in.mode)) != 0)
		return err;
	if (in.valid & FATTR_SIZE) {
		if (!S_ISREG(n->type))
			return S_ISDIR(n->type) ? EISDIR : EINVAL;
		if (fhfd != -1)
			err = ftruncate(fhfd, (off_t)in.size) == -1 ? errno : 0;
		else if ((err = fs_reopen(s, n, O_WRONLY, &fd)) == 0) {
			err = ftruncate(fd, (off_t)in.size) == -1 ? errno : 0;
			close(fd);
		}
		if (err != 0)
			return err;
	}
	if (in.valid & (FATTR_ATIME | FATTR_MTIME) &&
	    (err = set_times(s, n, fhfd, &in)) != 0)
		return err;
	return fs_attr_reply(s, n, payload, paycap, plen);
}

static int
op_access(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_access_in in;
	struct fs_inode	*n;

	(void)payload; (void)paycap; (void)plen;
	NODE_OR_STALE(n, r->hdr.nodeid);
	memcpy(&in, r->arg, sizeof(in));
	/* the guest kernel checks permissions itself (default_permissions) */
	if (in.mask & W_OK && s->readonly)
		return EROFS;
	return 0;
}

/* --- names --------------------------------------------------------------- */

static int
op_readlink(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fs_inode	*n;
	ssize_t		 len;

	NODE_OR_STALE(n, r->hdr.nodeid);
	if (!S_ISLNK(n->type))
		return EINVAL;
	if ((len = readlinkat(n->fd, "", (char *)payload, paycap)) == -1)
		return errno;
	if ((size_t)len == paycap)
		return ENAMETOOLONG;
	*plen = (size_t)len;
	return 0;
}

static int
op_symlink(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fs_inode	*dir;

	NODE_OR_STALE(dir, r->hdr.nodeid);
	WRITABLE();
	ROOM(sizeof(struct fuse_entry_out));
	NODE_ROOM();
	/* name, then the target: stored, never followed here */
	if (symlinkat(r->name2, dir->fd, r->name) == -1)
		return errno;
	return fs_entry_reply(s, dir, r->name, payload, paycap, plen);
}

static int
op_mknod(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_mknod_in in;
	struct fs_inode	*dir;
	int		 fd;

	NODE_OR_STALE(dir, r->hdr.nodeid);
	WRITABLE();
	ROOM(sizeof(struct fuse_entry_out));
	memcpy(&in, r->arg, sizeof(in));
	if (!S_ISREG(in.mode)) {
		s->count.refused++;	/* devices, FIFOs, sockets */
		return EPERM;
	}
	NODE_ROOM();
	if ((fd = fs_openat(dir->fd, r->name, O_CREAT | O_EXCL | O_WRONLY,
	    in.mode & FS_MODE_BITS)) == -1)
		return errno;
	close(fd);
	return fs_entry_reply(s, dir, r->name, payload, paycap, plen);
}

static int
op_mkdir(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_mkdir_in in;
	struct fs_inode	*dir;

	NODE_OR_STALE(dir, r->hdr.nodeid);
	WRITABLE();
	ROOM(sizeof(struct fuse_entry_out));
	memcpy(&in, r->arg, sizeof(in));
	NODE_ROOM();
	if (mkdirat(dir->fd, r->name, in.mode & FS_MODE_BITS) == -1)
		return errno;
	return fs_entry_reply(s, dir, r->name, payload, paycap, plen);
}

/* The node now at name in dir, if the table has it. */
static struct fs_inode *
node_at(struct fs_server *s, struct fs_inode *dir, const char *name)
{
	struct stat	 st;

	if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return NULL;
	return fs_inode_find(&s->inodes, st.st_dev, st.st_ino);
}

/* n was known as name in dir: it is no longer (moved or unlinked). */
static int
name_gone(struct fs_server *s, struct fs_inode *n, struct fs_inode *dir,
    const char *name, struct fs_inode *newdir, const char *newname)
{
	if (n == NULL || fs_inode_parent(&s->inodes, n) != dir ||
	    n->name == NULL || strcmp(n->name, name) != 0)
		return 0;
	return fs_inode_moved(&s->inodes, n, newdir, newname);
}

static int
op_unlink(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fs_inode	*dir, *n;

	(void)payload; (void)paycap; (void)plen;
	NODE_OR_STALE(dir, r->hdr.nodeid);
	WRITABLE();
	n = node_at(s, dir, r->name);
	if (unlinkat(dir->fd, r->name, r->opcode == FUSE_RMDIR ?
	    AT_REMOVEDIR : 0) == -1)
		return errno;
	return name_gone(s, n, dir, r->name, NULL, NULL) == -1 ? ENOMEM : 0;
}

static int
op_rename(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_rename2_in in;
	struct fs_inode	*dir, *newdir, *n, *target;

	(void)payload; (void)paycap; (void)plen;
	NODE_OR_STALE(dir, r->hdr.nodeid);
	WRITABLE();
	memset(&in, 0, sizeof(in));
	memcpy(&in, r->arg, r->opcode == FUSE_RENAME ?
	    sizeof(struct fuse_rename_in) : sizeof(in));
	NODE_OR_STALE(newdir, in.newdir);
	if (in.flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return EINVAL;		/* RENAME_WHITEOUT: not ours to make */
	n = node_at(s, dir, r->name);
	target = node_at(s, newdir, r->name2);
	/*
	 * The system call itself: glibc's renameat2() makes flags 0 a
	 * renameat(2), which the allowlist (fsd.seccomp) lacks.
	 */
	if (syscall(SYS_renameat2, dir->fd, r->name, newdir->fd, r->name2,
	    in.flags) == -1)
		return errno;
	if (name_gone(s, n, dir, r->name, newdir, r->name2) == -1 ||
	    (target != NULL && target != n &&
	    name_gone(s, target, newdir, r->name2,
	    in.flags & RENAME_EXCHANGE ? dir : NULL,
	    in.flags & RENAME_EXCHANGE ? r->name : NULL) == -1))
		return ENOMEM;
	return 0;
}

static int
op_link(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_link_in in;
	struct fs_inode	*dir, *old;
	struct stat	 st;
	int		 err;

	NODE_OR_STALE(dir, r->hdr.nodeid);
	WRITABLE();
	ROOM(sizeof(struct fuse_entry_out));
	memcpy(&in, r->arg, sizeof(in));
	NODE_OR_STALE(old, in.oldnodeid);
	if (S_ISDIR(old->type))
		return EPERM;
	if ((err = fs_name_check(s, old)) != 0)
		return err;
	if (linkat(fs_inode_parent(&s->inodes, old)->fd, old->name, dir->fd,
	    r->name, 0) == -1)
		return errno;
	/* the name was it a moment ago; if the host swapped it, undo */
	if (fstatat(dir->fd, r->name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    st.st_dev != old->dev || st.st_ino != old->ino) {
		unlinkat(dir->fd, r->name, 0);
		return ESTALE;
	}
	return fs_entry_reply(s, dir, r->name, payload, paycap, plen);
}

/* --- open files ---------------------------------------------------------- */


static int
open_reply(uint64_t fh, uint8_t *payload, size_t paycap, size_t *plen)
{
	struct fuse_open_out out;

	ROOM(sizeof(out));
	memset(&out, 0, sizeof(out));
	out.fh = fh;
	out.open_flags = 0;	/* no KEEP_CACHE: each open sees host edits */
	memcpy(payload, &out, sizeof(out));
	*plen = sizeof(out);
	return 0;
}

static int
op_open(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_open_in in;
	struct fs_inode	*n;
	uint64_t	 fh;
	int		 fd, err;

	NODE_OR_STALE(n, r->hdr.nodeid);
	memcpy(&in, r->arg, sizeof(in));
	if (r->opcode == FUSE_OPENDIR) {
		if (!S_ISDIR(n->type))
			return ENOTDIR;
		in.flags = O_RDONLY;
	} else if (S_ISDIR(n->type))
		return EISDIR;
	if (s->readonly && ((in.flags & O_ACCMODE) != O_RDONLY ||
	    in.flags & O_TRUNC))
		return EROFS;
	ROOM(sizeof(struct fuse_open_out));
	if ((err = fs_reopen(s, n, (int)in.flags & FS_OPEN_FLAGS, &fd)) != 0)
		return err;
	if (in.flags & O_TRUNC && ftruncate(fd, 0) == -1) {
		err = errno;
		close(fd);
		return err;
	}
	if ((err = fs_file_add(s, fd, &fh)) != 0)
		return err;
	return open_reply(fh, payload, paycap, plen);
}

static int
op_create(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_create_in in;
	struct fuse_entry_out e;
	struct fs_inode	*dir;
	struct stat	 st;
	uint64_t	 fh;
	size_t		 olen;
	int		 fd, err;

	NODE_OR_STALE(dir, r->hdr.nodeid);
	WRITABLE();
	memcpy(&in, r->arg, sizeof(in));
	ROOM(sizeof(e) + sizeof(struct fuse_open_out));
	NODE_ROOM();
	if ((fd = fs_openat(dir->fd, r->name, ((int)in.flags &
	    (FS_OPEN_FLAGS | O_EXCL | O_TRUNC)) | O_CREAT | O_NONBLOCK,
	    in.mode & FS_MODE_BITS)) == -1)
		return errno;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		s->count.refused++;
		return EPERM;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1) {
		err = errno;
		close(fd);
		return err;
	}
	if ((err = fs_lookup_entry(s, dir, r->name, &e)) != 0) {
		close(fd);
		return err;
	}
	if (e.attr.ino != st.st_ino) {
		fs_inode_forget(&s->inodes, e.nodeid, 1);
		close(fd);
		return ESTALE;
	}
	if ((err = fs_file_add(s, fd, &fh)) != 0) {
		fs_inode_forget(&s->inodes, e.nodeid, 1);
		return err;
	}
	memcpy(payload, &e, sizeof(e));
	open_reply(fh, payload + sizeof(e), paycap - sizeof(e), &olen);
	*plen = sizeof(e) + olen;
	return 0;
}

static int
op_release(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_release_in in;

	(void)payload; (void)paycap; (void)plen;
	memcpy(&in, r->arg, sizeof(in));
	fs_file_close(s, in.fh);
	return 0;
}

#define FILE_OR_BADF(fd, fh) do {					\
	if (((fd) = fs_file_fd(s, (fh))) == -1)				\
		return EBADF;						\
} while (0)

static int
op_read(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_read_in in;
	size_t		 want;
	ssize_t		 n;
	int		 fd;

	memcpy(&in, r->arg, sizeof(in));
	FILE_OR_BADF(fd, in.fh);
	want = in.size < paycap ? in.size : paycap;
	if (want > MSG_FS_MAX_IO)
		want = MSG_FS_MAX_IO;
	if ((n = pread(fd, payload, want, (off_t)in.offset)) == -1)
		return errno;
	*plen = (size_t)n;
	return 0;
}

static int
write_out(uint64_t size, uint8_t *payload, size_t paycap, size_t *plen)
{
	struct fuse_write_out out;

	ROOM(sizeof(out));
	memset(&out, 0, sizeof(out));
	out.size = (uint32_t)size;
	memcpy(payload, &out, sizeof(out));
	*plen = sizeof(out);
	return 0;
}

static int
op_write(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_write_in in;
	ssize_t		 n;
	int		 fd;

	WRITABLE();
	memcpy(&in, r->arg, sizeof(in));
	FILE_OR_BADF(fd, in.fh);
	if (r->datalen > MSG_FS_MAX_IO)
		return EINVAL;
	if ((n = pwrite(fd, r->data, r->datalen, (off_t)in.offset)) == -1)
		return errno;
	return write_out((uint64_t)n, payload, paycap, plen);
}

static int
op_flush(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	(void)s; (void)r; (void)payload; (void)paycap; (void)plen;
	return 0;	/* writes went through; the fd closes at RELEASE */
}

static int
op_fsync(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_fsync_in in;
	int		 fd;

	(void)payload; (void)paycap; (void)plen;
	memcpy(&in, r->arg, sizeof(in));
	FILE_OR_BADF(fd, in.fh);
	if ((in.fsync_flags & 1 ? fdatasync(fd) : fsync(fd)) == -1)
		return errno;
	return 0;
}

static int
op_fallocate(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_fallocate_in in;
	int		 fd;

	(void)payload; (void)paycap; (void)plen;
	WRITABLE();
	memcpy(&in, r->arg, sizeof(in));
	FILE_OR_BADF(fd, in.fh);
	if (in.mode & ~(uint32_t)(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
	    FALLOC_FL_ZERO_RANGE))
		return EOPNOTSUPP;
	if (fallocate(fd, (int)in.mode, (off_t)in.offset, (off_t)in.length) ==
	    -1)
		return errno;
	return 0;
}

static int
op_lseek(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_lseek_in in;
	struct fuse_lseek_out out;
	off_t		 off;
	int		 fd;

	memcpy(&in, r->arg, sizeof(in));
	FILE_OR_BADF(fd, in.fh);
	ROOM(sizeof(out));
	if (in.whence != SEEK_DATA && in.whence != SEEK_HOLE)
		return EINVAL;	/* the guest kernel does the others itself */
	if ((off = lseek(fd, (off_t)in.offset, (int)in.whence)) == -1)
		return errno;
	memset(&out, 0, sizeof(out));
	out.offset = (uint64_t)off;
	memcpy(payload, &out, sizeof(out));
	*plen = sizeof(out);
	return 0;
}

static int
op_copy_file_range(struct fs_server *s, const struct fs_req *r,
    uint8_t *payload, size_t paycap, size_t *plen)
{
	struct fuse_copy_file_range_in in;
	loff_t		 off_in, off_out;
	ssize_t		 n;
	int		 fd_in, fd_out;

	WRITABLE();
	memcpy(&in, r->arg, sizeof(in));
	FILE_OR_BADF(fd_in, in.fh_in);
	FILE_OR_BADF(fd_out, in.fh_out);
	if (in.flags != 0)
		return EINVAL;
	off_in = (loff_t)in.off_in;
	off_out = (loff_t)in.off_out;
	if ((n = copy_file_range(fd_in, &off_in, fd_out, &off_out,
	    in.len < FS_COPY_MAX ? in.len : FS_COPY_MAX, 0)) == -1)
		return errno;
	return write_out((uint64_t)n, payload, paycap, plen);
}

fs_op_fn
fs_op_for(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_SETATTR:	return op_setattr;
	case FUSE_ACCESS:	return op_access;
	case FUSE_READLINK:	return op_readlink;
	case FUSE_SYMLINK:	return op_symlink;
	case FUSE_MKNOD:	return op_mknod;
	case FUSE_MKDIR:	return op_mkdir;
	case FUSE_UNLINK:
	case FUSE_RMDIR:	return op_unlink;
	case FUSE_RENAME:
	case FUSE_RENAME2:	return op_rename;
	case FUSE_LINK:		return op_link;
	case FUSE_OPEN:
	case FUSE_OPENDIR:	return op_open;
	case FUSE_CREATE:	return op_create;
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:	return op_release;
	case FUSE_READ:		return op_read;
	case FUSE_WRITE:	return op_write;
	case FUSE_FLUSH:	return op_flush;
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:	return op_fsync;
	case FUSE_FALLOCATE:	return op_fallocate;
	case FUSE_LSEEK:	return op_lseek;
	case FUSE_COPY_FILE_RANGE: return op_copy_file_range;
	default:		return fs_dir_op_for(opcode);
	}
}
