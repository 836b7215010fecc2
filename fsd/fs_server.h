/*
 * fs_server: capsem-fsd's FUSE file server over one directory fd.  It
 * serves one request at a time (fs_serve) and never resolves a path: each
 * name is one component, opened relative to its parent node's fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV |
 * RESOLVE_NO_SYMLINKS) and O_NOFOLLOW.  See capsem-fsd(8).
 */
#ifndef CAPSEM_FS_SERVER_H
#define CAPSEM_FS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs_inode.h"

#define FS_FILES_MAX		1024	/* open files and directories */
#define FS_INODES_MAX		32768	/* nodes the guest may hold */
#define FS_ATTR_TIMEOUT_S	1	/* attributes and names cached */
#define FS_NOBODY		65534	/* owner of files not the user's */

struct fs_counters {
	uint64_t	 requests;
	uint64_t	 errors;		/* error replies */
	uint64_t	 refused;		/* escapes, specials, setuid: refused */
};

struct fs_server {
	struct fs_inodes inodes;
	int		 files[FS_FILES_MAX];	/* fh - 1 -> fd; -1 free,
						 * FS_FILE_STALE (fs_priv.h) */
	bool		 initialized;		/* INIT answered */
	bool		 readonly;
	uint32_t	 guest_uid, guest_gid;
	uid_t		 uid;			/* ours: files we own */
	gid_t		 gid;
	uint32_t	 minor;			/* negotiated */
	struct fs_counters count;
};

/*
 * Serve the workspace directory dirfd (taken).  inodes_max 0: the
 * default (FS_INODES_MAX, or fewer if RLIMIT_NOFILE is lower).
 */
int	fs_server_init(struct fs_server *, int dirfd, bool readonly,
	    uint32_t guest_uid, uint32_t guest_gid, uint32_t inodes_max);
void	fs_server_free(struct fs_server *);
unsigned fs_server_open_files(const struct fs_server *);

/*
 * One request (len bytes); the reply goes to out (outcap >= out_max).
 * Returns the reply's length, 0 when the request takes no reply (FORGET),
 * or -1 with a one-line reason in why when the request was malformed.
 */
ssize_t	fs_serve(struct fs_server *, const uint8_t *req, size_t len,
	    uint32_t out_max, uint8_t *out, size_t outcap, char *why,
	    size_t whylen);

#endif
