/*
 * fs_dir: READDIR and READDIRPLUS from getdents64(2) on the directory's
 * own open fd.  The guest's offset is the d_off cookie of the last entry
 * it got; each call seeks there.  READDIRPLUS gives "." and ".." no node
 * (node id 0: the guest keeps what it has) and each other entry one
 * lookup, made only once the entry is known to fit.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "fs_priv.h"

#define FS_DENTS_BUF	(32u * 1024)

static bool
is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

static int
op_readdir(struct fs_server *s, const struct fs_req *r, uint8_t *payload,
    size_t paycap, size_t *plen)
{
	struct fuse_read_in in;
	struct fuse_dirent de;
	struct fuse_entry_out e;
	struct fs_inode	*dir;
	uint8_t		 dents[FS_DENTS_BUF];
	const bool	 plus = r->opcode == FUSE_READDIRPLUS;
	size_t		 used = 0, namelen, reclen, head, want, pos;
	ssize_t		 n;
	int		 fd;

	memcpy(&in, r->arg, sizeof(in));
	if ((fd = fs_file_fd(s, in.fh)) == -1)
		return EBADF;
	if ((dir = fs_node(s, r->hdr.nodeid)) == NULL)
		return ESTALE;
	want = in.size < paycap ? in.size : paycap;
	if (lseek(fd, (off_t)in.offset, SEEK_SET) == -1)
		return errno;
	head = (plus ? sizeof(struct fuse_entry_out) : 0) +
	    offsetof(struct fuse_dirent, name);
	for (;;) {
		if ((n = getdents64(fd, dents, sizeof(dents))) == -1)
			return errno;
		if (n == 0)
			break;
		for (pos = 0; pos < (size_t)n; pos += reclen) {
			struct dirent64 d;
			const char *name;

			memcpy(&d, dents + pos, offsetof(struct dirent64,
			    d_name));
			reclen = d.d_reclen;
			name = (const char *)dents + pos +
			    offsetof(struct dirent64, d_name);
			namelen = strnlen(name, reclen -
			    offsetof(struct dirent64, d_name));
			if (used + FUSE_DIRENT_ALIGN(head + namelen) > want) {
				/* full: the next call starts here */
				goto out;
			}
			memset(&e, 0, sizeof(e));
			if (plus && !is_dot(name) &&
			    fs_lookup_entry(s, dir, name, &e) != 0)
				memset(&e, 0, sizeof(e));	/* node id 0 */
			de.ino = d.d_ino;
			de.off = (uint64_t)d.d_off;
			de.namelen = (uint32_t)namelen;
			de.type = d.d_type;
			memset(payload + used, 0,
			    FUSE_DIRENT_ALIGN(head + namelen));
			if (plus) {
				if (e.nodeid != 0)
					de.ino = e.attr.ino;
				memcpy(payload + used, &e, sizeof(e));
				used += sizeof(e);
			}
			memcpy(payload + used, &de, offsetof(struct fuse_dirent,
			    name));
			memcpy(payload + used + offsetof(struct fuse_dirent,
			    name), name, namelen);
			used += FUSE_DIRENT_ALIGN(offsetof(struct fuse_dirent,
			    name) + namelen);
		}
	}
out:
	*plen = used;
	return 0;
}

fs_op_fn
fs_dir_op_for(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:	return op_readdir;
	default:		return NULL;
	}
}
