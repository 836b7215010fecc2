/*
 * fs_inode: the bounded table that gives the guest's FUSE node ids their
 * meaning.  A node is an O_PATH fd of one file under the workspace, the
 * (dev, ino) it had when found, the guest's lookup count, and the parent
 * node and name it was found by (to reopen it for real: an O_PATH fd of a
 * regular file cannot be read, and /proc is not in fsd's root).  Node id
 * = slot + 1; the root is node 1 and never goes.  A node lives while the
 * guest holds a lookup on it or a child node names it as parent.
 */
#ifndef CAPSEM_FS_INODE_H
#define CAPSEM_FS_INODE_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FS_INODE_NONE	UINT32_MAX

struct fs_inode {
	int		 fd;		/* O_PATH|O_NOFOLLOW; -1: free or stale */
	bool		 stale;		/* restored without a file (fs_snap.h):
					 * held for its lookups, every use
					 * ESTALE; no parent, not hashed */
	dev_t		 dev;
	ino_t		 ino;
	mode_t		 type;		/* S_IFMT bits */
	uint64_t	 nlookup;	/* the guest's references */
	uint32_t	 children;	/* nodes that name this one as parent */
	uint32_t	 parent;	/* slot, FS_INODE_NONE for the root */
	char		*name;		/* in parent; NULL for the root */
	uint32_t	 hash_next;	/* chain of the (dev, ino) hash */
	uint32_t	 free_next;
};

struct fs_inodes {
	struct fs_inode	*slots;
	uint32_t	 max;
	uint32_t	 used;
	uint32_t	 free_head;
	uint32_t	*hash;		/* nbuckets heads */
	uint32_t	 nbuckets;	/* power of two */
	uint64_t	 full;		/* lookups refused: the table was full */
};

/* max slots (>= 1); root_fd becomes node 1 (its O_PATH fd is taken). */
int	fs_inodes_init(struct fs_inodes *, uint32_t max, int root_fd);
void	fs_inodes_free(struct fs_inodes *);

/* The node of a guest node id, or NULL (stale, gone or never given). */
struct fs_inode *fs_inode_get(struct fs_inodes *, uint64_t nodeid);
uint64_t fs_inode_nodeid(const struct fs_inodes *, const struct fs_inode *);

/* The node of (dev, ino), or NULL. */
struct fs_inode *fs_inode_find(struct fs_inodes *, dev_t, ino_t);

/*
 * One more guest lookup of the file fd (an O_PATH fd, taken in every case)
 * with stat st found as name in parent.  An existing node of (dev, ino)
 * is reused (and takes the new parent and name if it had none).  Returns
 * the node, or NULL with errno ENFILE (the table is full: counted) or
 * ENOMEM.
 */
struct fs_inode *fs_inode_add(struct fs_inodes *, struct fs_inode *parent,
	    const char *name, int fd, dev_t dev, ino_t ino, mode_t type);

/*
 * A free slot for a new node?  If not, counted as a refusal (full): what
 * would make a new file asks first, so it is not made without a node.
 */
bool	fs_inode_room(struct fs_inodes *);

/* The guest dropped n lookups; the node (stale ones too) may go. */
void	fs_inode_forget(struct fs_inodes *, uint64_t nodeid, uint64_t n);

/* The file of node was renamed to name in parent (or unlinked: NULL). */
int	fs_inode_moved(struct fs_inodes *, struct fs_inode *node,
	    struct fs_inode *parent, const char *name);

struct fs_inode *fs_inode_parent(struct fs_inodes *, const struct fs_inode *);

/*
 * For fs_snap.c, which fills slots of its own choosing: put every slot
 * that is neither a node nor stale on the free list again; link node
 * (fd, dev, ino set) into the (dev, ino) hash.
 */
void	fs_inodes_refree(struct fs_inodes *);
void	fs_inode_hash_in(struct fs_inodes *, struct fs_inode *node);

#endif
