/*
 * fs_snap: capsem-fsd's node table across a snapshot (issue #15; not yet
 * wired to a snapshot: the pieces are in doc/DESIGN.md §5).  The guest's
 * kernel keeps the node ids it was given, so a resumed or forked guest
 * must find the same ids meaning the same files.  A node is saved as its
 * name under its parent node, so a whole path relative to the workspace;
 * on resume each is looked up again beneath the workspace (the same
 * directory or a copy), one component at a time with fsd's confinement.
 * A node whose file is gone, is of another type now, or turned out to be
 * another node's file comes back stale: its id is kept (no other file gets
 * it) until the guest forgets it, and every use answers ESTALE.
 *
 * Layout, little-endian: "FSNODES1", u32 count, then count records in an
 * order where each parent comes before its children:
 *   u32 node id (2..), u32 parent node id (1 the root; 0: no name, the
 *   node comes back stale), u64 lookups, u32 type (S_IFMT bits),
 *   u32 name length (0-255), the name (no '/' or NUL, not "." or "..").
 * The bytes are read back from the snapshot: untrusted (fuzzed).
 *
 * Open files (the guest's fh) after the nodes: "FSFILES1", u32 count,
 * then per fh: u32 fh, u32 node id (0: none), u32 open flags (those of
 * FS_OPEN_FLAGS).  Each is reopened from its node with its flags; one
 * whose node is stale or gone, or that cannot be reopened, is held stale
 * until the guest releases it (every use EBADF).
 */
#ifndef CAPSEM_FS_SNAP_H
#define CAPSEM_FS_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "fs_inode.h"
#include "fs_server.h"

#define FS_SNAP_MAGIC		"FSNODES1"
#define FS_SNAP_FILES_MAGIC	"FSFILES1"
#define FS_SNAP_NAME_MAX	255

/* Every node but the root, as above: 0 with *out (malloc'd), or -1. */
int	fs_snap_save(const struct fs_inodes *, uint8_t **out, size_t *outlen);

/*
 * Into t, fresh from fs_inodes_init (the root alone): 0 with *stale the
 * nodes that came back stale; or -1 with one line in why (malformed:
 * nothing is restored, t holds the root alone again).
 */
int	fs_snap_restore(struct fs_inodes *t, const uint8_t *buf, size_t len,
	    uint32_t *stale, char *why, size_t whylen);

/* The open files of s, as above: 0 with *out (malloc'd), or -1. */
int	fs_snap_files_save(struct fs_server *s, uint8_t **out,
	    size_t *outlen);

/*
 * Into s, its nodes restored and no file open yet: 0 with *stale the fhs
 * held stale; or -1 with why (malformed: no file is left open).
 */
int	fs_snap_files_restore(struct fs_server *s, const uint8_t *buf,
	    size_t len, uint32_t *stale, char *why, size_t whylen);

#endif
