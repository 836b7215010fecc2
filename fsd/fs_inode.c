/*
 * fs_inode: node ids -> files (fs_inode.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_inode.h"

static uint32_t
hash_of(const struct fs_inodes *t, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;

	h ^= h >> 29;
	return (uint32_t)h & (t->nbuckets - 1);
}

int
fs_inodes_init(struct fs_inodes *t, uint32_t max, int root_fd)
{
	struct stat	 st;
	uint32_t	 i;

	memset(t, 0, sizeof(*t));
	if (max < 1 || max > (1u << 24))
		return errno = EINVAL, -1;
	t->max = max;
	for (t->nbuckets = 16; t->nbuckets < max * 2; t->nbuckets <<= 1)
		;
	if ((t->slots = calloc(max, sizeof(*t->slots))) == NULL ||
	    (t->hash = malloc(t->nbuckets * sizeof(*t->hash))) == NULL) {
		free(t->slots);
		return -1;
	}
	for (i = 0; i < t->nbuckets; i++)
		t->hash[i] = FS_INODE_NONE;
	for (i = 0; i < max; i++) {
		t->slots[i].fd = -1;
		t->slots[i].free_next = i + 1 < max ? i + 1 : FS_INODE_NONE;
	}
	t->free_head = 0;
	if (fstat(root_fd, &st) == -1)
		return -1;
	return fs_inode_add(t, NULL, NULL, root_fd, st.st_dev, st.st_ino,
	    st.st_mode & S_IFMT) == NULL ? -1 : 0;
}

void
fs_inodes_free(struct fs_inodes *t)
{
	uint32_t	 i;

	for (i = 0; i < t->max && t->slots != NULL; i++) {
		if (t->slots[i].fd != -1)
			close(t->slots[i].fd);
		free(t->slots[i].name);
	}
	free(t->slots);
	free(t->hash);
	memset(t, 0, sizeof(*t));
}

uint64_t
fs_inode_nodeid(const struct fs_inodes *t, const struct fs_inode *n)
{
	return (uint64_t)(n - t->slots) + 1;
}

struct fs_inode *
fs_inode_get(struct fs_inodes *t, uint64_t nodeid)
{
	struct fs_inode *n;

	if (nodeid == 0 || nodeid > t->max)
		return NULL;
	n = &t->slots[nodeid - 1];
	if (n->fd == -1 || (nodeid != 1 && n->nlookup == 0))
		return NULL;
	return n;
}

struct fs_inode *
fs_inode_find(struct fs_inodes *t, dev_t dev, ino_t ino)
{
	uint32_t	 i;

	for (i = t->hash[hash_of(t, dev, ino)]; i != FS_INODE_NONE;
	    i = t->slots[i].hash_next)
		if (t->slots[i].dev == dev && t->slots[i].ino == ino)
			return &t->slots[i];
	return NULL;
}

struct fs_inode *
fs_inode_parent(struct fs_inodes *t, const struct fs_inode *n)
{
	return n->parent == FS_INODE_NONE ? NULL : &t->slots[n->parent];
}

static void
set_parent(struct fs_inodes *t, struct fs_inode *n, struct fs_inode *parent)
{
	n->parent = parent == NULL ? FS_INODE_NONE :
	    (uint32_t)(parent - t->slots);
	if (parent != NULL)
		parent->children++;
}

/* Unhash, close and free n if nothing holds it; then its parent. */
static void
maybe_release(struct fs_inodes *t, struct fs_inode *n)
{
	struct fs_inode	*parent;
	uint32_t	*pp, slot;

	while (n != NULL && n->nlookup == 0 && n->children == 0 &&
	    n->parent != FS_INODE_NONE) {
		slot = (uint32_t)(n - t->slots);
		for (pp = &t->hash[hash_of(t, n->dev, n->ino)];
		    *pp != FS_INODE_NONE; pp = &t->slots[*pp].hash_next)
			if (*pp == slot) {
				*pp = n->hash_next;
				break;
			}
		parent = &t->slots[n->parent];
		close(n->fd);
		free(n->name);
		memset(n, 0, sizeof(*n));
		n->fd = -1;
		n->free_next = t->free_head;
		t->free_head = slot;
		t->used--;
		parent->children--;
		n = parent;
	}
}

struct fs_inode *
fs_inode_add(struct fs_inodes *t, struct fs_inode *parent, const char *name,
    int fd, dev_t dev, ino_t ino, mode_t type)
{
	struct fs_inode	*n;
	uint32_t	 slot;
	char		*copy = NULL;

	if (parent != NULL && (n = fs_inode_find(t, dev, ino)) != NULL) {
		close(fd);
		if (n->name == NULL && n->parent != FS_INODE_NONE &&
		    fs_inode_moved(t, n, parent, name) == -1)
			return NULL;
		n->nlookup++;
		return n;
	}
	if (t->free_head == FS_INODE_NONE) {
		close(fd);
		t->full++;
		return errno = ENFILE, NULL;
	}
	if (name != NULL && (copy = strdup(name)) == NULL) {
		close(fd);
		return NULL;
	}
	slot = t->free_head;
	n = &t->slots[slot];
	t->free_head = n->free_next;
	memset(n, 0, sizeof(*n));
	n->fd = fd;
	n->dev = dev;
	n->ino = ino;
	n->type = type;
	n->nlookup = 1;
	n->name = copy;
	set_parent(t, n, parent);
	fs_inode_hash_in(t, n);
	t->used++;
	return n;
}

void
fs_inode_hash_in(struct fs_inodes *t, struct fs_inode *n)
{
	uint32_t h = hash_of(t, n->dev, n->ino);

	n->hash_next = t->hash[h];
	t->hash[h] = (uint32_t)(n - t->slots);
}

void
fs_inodes_refree(struct fs_inodes *t)
{
	uint32_t	 i;

	t->free_head = FS_INODE_NONE;
	for (i = t->max; i-- > 0;)
		if (t->slots[i].fd == -1 && !t->slots[i].stale) {
			t->slots[i].free_next = t->free_head;
			t->free_head = i;
		}
}

bool
fs_inode_room(struct fs_inodes *t)
{
	if (t->free_head != FS_INODE_NONE)
		return true;
	t->full++;
	return false;
}

void
fs_inode_forget(struct fs_inodes *t, uint64_t nodeid, uint64_t count)
{
	struct fs_inode *n;

	if (nodeid > 1 && nodeid <= t->max && t->slots[nodeid - 1].stale) {
		n = &t->slots[nodeid - 1];
		n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
		if (n->nlookup == 0) {
			memset(n, 0, sizeof(*n));
			n->fd = -1;
			n->free_next = t->free_head;
			t->free_head = (uint32_t)(nodeid - 1);
			t->used--;
		}
		return;
	}
	if ((n = fs_inode_get(t, nodeid)) == NULL || nodeid == 1)
		return;
	n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
	maybe_release(t, n);
}

int
fs_inode_moved(struct fs_inodes *t, struct fs_inode *n,
    struct fs_inode *parent, const char *name)
{
	struct fs_inode	*old;
	char		*copy = NULL;

	if (n->parent == FS_INODE_NONE)
		return 0;		/* the root does not move */
	if (name != NULL && (copy = strdup(name)) == NULL)
		return -1;
	old = &t->slots[n->parent];
	free(n->name);
	n->name = copy;
	if (parent != NULL) {
		set_parent(t, n, parent);
		old->children--;
		maybe_release(t, old);
	}
	return 0;
}
