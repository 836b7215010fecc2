/*
 * fs_priv: what fs_server.c (nodes, attributes, dispatch) and fs_ops.c
 * (the operations on files) share.
 */
#ifndef CAPSEM_FS_PRIV_H
#define CAPSEM_FS_PRIV_H

#include <linux/fuse.h>
#include <sys/stat.h>

#include <fcntl.h>

#include "fs_req.h"
#include "msg.h"
#include "fs_server.h"

/* An operation: 0 with *plen payload bytes written, or an errno. */
typedef int (*fs_op_fn)(struct fs_server *, const struct fs_req *,
	    uint8_t *payload, size_t paycap, size_t *plen);

/* openat2(dirfd, name, flags, mode) confined beneath dirfd, no symlinks. */
int	fs_openat(int dirfd, const char *name, int flags, mode_t mode);

/* The node of the request's nodeid, or NULL (then ESTALE). */
struct fs_inode *fs_node(struct fs_server *, uint64_t nodeid);

/* A real fd for node (a directory or regular file, never a special). */
int	fs_reopen(struct fs_server *, struct fs_inode *, int flags, int *fd);
/* 0 if name in node's parent is still node, else ESTALE / an errno. */
int	fs_name_check(struct fs_server *, struct fs_inode *);

/* Look name up in parent: one guest reference, entry filled. */
int	fs_lookup_entry(struct fs_server *, struct fs_inode *parent,
	    const char *name, struct fuse_entry_out *);
/* The reply of a LOOKUP-like request (one reference) and of GETATTR. */
int	fs_entry_reply(struct fs_server *, struct fs_inode *dir,
	    const char *name, uint8_t *payload, size_t paycap, size_t *plen);
int	fs_attr_reply(struct fs_server *, struct fs_inode *, uint8_t *payload,
	    size_t paycap, size_t *plen);
void	fs_fill_attr(const struct fs_server *, const struct stat *,
	    struct fuse_attr *);

/* The open(2) flags a guest's OPEN may carry through to the file. */
#define FS_OPEN_FLAGS	(O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC)

/*
 * Open files: fh -> fd.  FS_FILE_STALE: an fh a restored snapshot could
 * not reopen (fs_snap.h): held until RELEASE, its fd -1 to every use.
 */
#define FS_FILE_STALE	(-2)
int	fs_file_add(struct fs_server *, int fd, uint64_t *fh);
int	fs_file_fd(struct fs_server *, uint64_t fh);
void	fs_file_close(struct fs_server *, uint64_t fh);

/* The operations of fs_ops.c and fs_dir.c, by opcode; NULL: none. */
fs_op_fn fs_op_for(uint32_t opcode);
fs_op_fn fs_dir_op_for(uint32_t opcode);

#define FS_RESOLVE	(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | \
			 RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS)

#endif
