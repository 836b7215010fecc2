/*
 * fs_snap.c: the node table saved by path and re-resolved.  See fs_snap.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_priv.h"
#include "le.h"
#include "fs_snap.h"

#define REC_FIXED	24	/* id, parent, lookups, type, name length */

struct snapbuf {
	uint8_t	*buf;
	size_t	 len;
	size_t	 cap;
	int	 failed;
};

static void
sb_put(struct snapbuf *b, const void *p, size_t n)
{
	uint8_t	*q;
	size_t	 cap;

	if (b->failed)
		return;
	if (n > b->cap - b->len) {
		cap = b->cap > 0 ? b->cap : 1024;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2) {
				b->failed = 1;
				return;
			}
			cap *= 2;
		}
		if ((q = realloc(b->buf, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->buf = q;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static void
sb_u32(struct snapbuf *b, uint32_t v)
{
	uint8_t	 le[4];

	le_put32(le, v);
	sb_put(b, le, 4);
}

/*
 * A table made: its count (after the 8-byte magic) set, the bytes handed
 * over.  0, or -1 if any put failed (nothing handed over).
 */
static int
sb_hand_over(struct snapbuf *b, uint32_t count, uint8_t **out,
    size_t *outlen)
{
	if (b->failed) {
		free(b->buf);
		return -1;
	}
	le_put32(b->buf + 8, count);
	*out = b->buf;
	*outlen = b->len;
	return 0;
}

static bool
in_use(const struct fs_inode *n)
{
	return n->fd != -1 || n->stale;
}

/* One record; the parent (if any) is out already. */
static void
put_record(struct snapbuf *b, const struct fs_inodes *t, uint32_t slot)
{
	const struct fs_inode *n = &t->slots[slot];
	bool	 named = !n->stale && n->name != NULL &&
		    n->parent != FS_INODE_NONE;
	size_t	 namelen = named ? strlen(n->name) : 0;

	if (namelen > FS_SNAP_NAME_MAX) {	/* cannot be: a looked-up name */
		named = false;
		namelen = 0;
	}
	sb_u32(b, slot + 1);
	sb_u32(b, named ? n->parent + 1 : 0);
	sb_u32(b, (uint32_t)n->nlookup);
	sb_u32(b, (uint32_t)(n->nlookup >> 32));
	sb_u32(b, (uint32_t)n->type);
	sb_u32(b, (uint32_t)namelen);
	sb_put(b, named ? n->name : "", namelen);
}

int
fs_snap_save(const struct fs_inodes *t, uint8_t **out, size_t *outlen)
{
	struct snapbuf	 b;
	uint8_t		*done;
	uint32_t	*chain, i, depth, count = 0, s;

	*out = NULL;
	*outlen = 0;
	memset(&b, 0, sizeof(b));
	if ((done = calloc(t->max, 1)) == NULL ||
	    (chain = calloc(t->max, sizeof(*chain))) == NULL) {
		free(done);
		return -1;
	}
	done[0] = 1;		/* the root: not saved */
	sb_put(&b, FS_SNAP_MAGIC, 8);
	sb_u32(&b, 0);		/* count, set below */
	for (i = 1; i < t->max; i++) {
		if (done[i] || !in_use(&t->slots[i]))
			continue;
		/* i and its ancestors not yet out, nearest first */
		depth = 0;
		for (s = i; s != FS_INODE_NONE && !done[s] && depth < t->max;
		    s = t->slots[s].stale ? FS_INODE_NONE : t->slots[s].parent)
			chain[depth++] = s;
		while (depth-- > 0) {
			put_record(&b, t, chain[depth]);
			done[chain[depth]] = 1;
			count++;
		}
	}
	free(chain);
	free(done);
	return sb_hand_over(&b, count, out, outlen);
}

/* Back to the root alone. */
static void
reset_to_root(struct fs_inodes *t)
{
	uint32_t	 i;

	for (i = 1; i < t->max; i++) {
		struct fs_inode *n = &t->slots[i];

		if (n->fd != -1)
			close(n->fd);
		free(n->name);
		memset(n, 0, sizeof(*n));
		n->fd = -1;
	}
	for (i = 0; i < t->nbuckets; i++)
		t->hash[i] = FS_INODE_NONE;
	t->slots[0].children = 0;
	t->slots[0].hash_next = FS_INODE_NONE;
	fs_inode_hash_in(t, &t->slots[0]);
	t->used = 1;
	fs_inodes_refree(t);
}

static int	refuse(struct fs_inodes *, char *why, size_t whylen,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
refuse(struct fs_inodes *t, char *why, size_t whylen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	reset_to_root(t);
	return -1;
}

static bool
name_ok(const uint8_t *p, uint32_t n)
{
	if (n == 0 || (n == 1 && p[0] == '.') ||
	    (n == 2 && p[0] == '.' && p[1] == '.'))
		return false;
	return memchr(p, '/', n) == NULL && memchr(p, '\0', n) == NULL;
}

/* Look name up under parent: the node at slot, or false (stale). */
static bool
resolve(struct fs_inodes *t, struct fs_inode *parent, const char *name,
    uint32_t type, struct fs_inode *n)
{
	struct stat	 st;
	int		 fd;

	if (parent == NULL || parent->fd == -1)
		return false;
	if ((fd = fs_openat(parent->fd, name, O_PATH, 0)) == -1)
		return false;
	if (fstat(fd, &st) == -1 || (st.st_mode & S_IFMT) != type ||
	    fs_inode_find(t, st.st_dev, st.st_ino) != NULL) {
		close(fd);
		return false;
	}
	if ((n->name = strdup(name)) == NULL) {
		close(fd);
		return false;
	}
	n->fd = fd;
	n->dev = st.st_dev;
	n->ino = st.st_ino;
	n->type = type;
	n->parent = (uint32_t)(parent - t->slots);
	parent->children++;
	fs_inode_hash_in(t, n);
	return true;
}

int
fs_snap_restore(struct fs_inodes *t, const uint8_t *buf, size_t len,
    uint32_t *stale, char *why, size_t whylen)
{
	char		 name[FS_SNAP_NAME_MAX + 1];
	uint32_t	 count, k, id, pid, type, namelen;
	uint64_t	 lookups;
	size_t		 off = 12;
	struct fs_inode	*n, *parent;

	*stale = 0;
	if (t->used != 1)
		return refuse(t, why, whylen, "the node table is not fresh");
	if (len < 12 || memcmp(buf, FS_SNAP_MAGIC, 8) != 0)
		return refuse(t, why, whylen, "not a node table (bad magic)");
	if ((count = le_get32(buf + 8)) > t->max - 1)
		return refuse(t, why, whylen, "%u nodes, the table holds %u",
		    count, t->max - 1);
	for (k = 0; k < count; k++) {
		if (len - off < REC_FIXED)
			return refuse(t, why, whylen, "truncated at node %u", k);
		id = le_get32(buf + off);
		pid = le_get32(buf + off + 4);
		lookups = le_get32(buf + off + 8) |
		    (uint64_t)le_get32(buf + off + 12) << 32;
		type = le_get32(buf + off + 16);
		namelen = le_get32(buf + off + 20);
		off += REC_FIXED;
		if (namelen > FS_SNAP_NAME_MAX || namelen > len - off)
			return refuse(t, why, whylen, "node %u: name of %u "
			    "bytes%s", k, namelen, namelen > len - off ?
			    ", past the end" : ", too long");
		if (id < 2 || id > t->max || in_use(&t->slots[id - 1]))
			return refuse(t, why, whylen, "node %u: id %u is the "
			    "root, out of range or given twice", k, id);
		if (type == 0 || (type & ~(uint32_t)S_IFMT) != 0)
			return refuse(t, why, whylen, "node %u: bad type 0%o",
			    k, type);
		parent = NULL;
		if (pid != 0) {
			if (pid > t->max || pid == id ||
			    !in_use(&t->slots[pid - 1]))
				return refuse(t, why, whylen, "node %u: parent "
				    "%u is not restored before it", k, pid);
			if (!name_ok(buf + off, namelen))
				return refuse(t, why, whylen, "node %u: bad "
				    "name", k);
			parent = &t->slots[pid - 1];
		} else if (namelen != 0)
			return refuse(t, why, whylen, "node %u: a name without "
			    "a parent", k);
		memcpy(name, buf + off, namelen);
		name[namelen] = '\0';
		off += namelen;
		n = &t->slots[id - 1];
		memset(n, 0, sizeof(*n));
		n->fd = -1;
		n->parent = FS_INODE_NONE;
		n->hash_next = FS_INODE_NONE;
		n->nlookup = lookups;
		t->used++;
		if (!resolve(t, parent, name, type, n)) {
			n->stale = true;
			n->type = type;
			(*stale)++;
		}
	}
	if (off != len)
		return refuse(t, why, whylen, "%zu bytes after the last node",
		    len - off);
	fs_inodes_refree(t);
	/* nodes held by nothing (no lookups, no children) go now */
	for (k = t->max; k-- > 1;) {
		n = &t->slots[k];
		if (in_use(n) && n->nlookup == 0 && n->children == 0) {
			if (n->stale)
				(*stale)--;
			n->nlookup = 1;	/* what forget takes away */
			fs_inode_forget(t, (uint64_t)k + 1, 1);
		}
	}
	return 0;
}

/* --- open files -------------------------------------------------------- */

#define FILE_REC	12	/* fh, node id, flags */

int
fs_snap_files_save(struct fs_server *s, uint8_t **out, size_t *outlen)
{
	struct snapbuf	 b;
	struct stat	 st;
	struct fs_inode	*n;
	uint32_t	 count = 0, nodeid;
	int		 i, fl;

	*out = NULL;
	*outlen = 0;
	memset(&b, 0, sizeof(b));
	sb_put(&b, FS_SNAP_FILES_MAGIC, 8);
	sb_u32(&b, 0);
	for (i = 0; i < FS_FILES_MAX; i++) {
		if (s->files[i] == -1)
			continue;
		nodeid = 0;
		fl = 0;
		if (s->files[i] >= 0 && fstat(s->files[i], &st) == 0 &&
		    (fl = fcntl(s->files[i], F_GETFL)) != -1 &&
		    (n = fs_inode_find(&s->inodes,
		    st.st_dev, st.st_ino)) != NULL)
			nodeid = (uint32_t)fs_inode_nodeid(&s->inodes, n);
		sb_u32(&b, (uint32_t)i + 1);
		sb_u32(&b, nodeid);
		sb_u32(&b, nodeid != 0 ? (uint32_t)fl & FS_OPEN_FLAGS : 0);
		count++;
	}
	return sb_hand_over(&b, count, out, outlen);
}

static void
files_reset(struct fs_server *s)
{
	int	 i;

	for (i = 0; i < FS_FILES_MAX; i++) {
		if (s->files[i] >= 0)
			close(s->files[i]);
		s->files[i] = -1;
	}
}

static int	files_refuse(struct fs_server *, char *why, size_t whylen,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
files_refuse(struct fs_server *s, char *why, size_t whylen, const char *fmt,
    ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	files_reset(s);
	return -1;
}

int
fs_snap_files_restore(struct fs_server *s, const uint8_t *buf, size_t len,
    uint32_t *stale, char *why, size_t whylen)
{
	struct fs_inode	*n;
	uint32_t	 count, k, fh, nodeid, flags;
	size_t		 off = 12;
	int		 i, fd;

	*stale = 0;
	for (i = 0; i < FS_FILES_MAX; i++)
		if (s->files[i] != -1)
			return files_refuse(s, why, whylen, "files are open "
			    "already");
	if (len < 12 || memcmp(buf, FS_SNAP_FILES_MAGIC, 8) != 0)
		return files_refuse(s, why, whylen, "not a file table (bad "
		    "magic)");
	if ((count = le_get32(buf + 8)) > FS_FILES_MAX)
		return files_refuse(s, why, whylen, "%u open files, at most "
		    "%d", count, FS_FILES_MAX);
	if (len - off != (size_t)count * FILE_REC)
		return files_refuse(s, why, whylen, "%u open files in %zu "
		    "bytes", count, len - off);
	for (k = 0; k < count; k++, off += FILE_REC) {
		fh = le_get32(buf + off);
		nodeid = le_get32(buf + off + 4);
		flags = le_get32(buf + off + 8);
		if (fh == 0 || fh > FS_FILES_MAX || s->files[fh - 1] != -1)
			return files_refuse(s, why, whylen, "file %u: fh %u out "
			    "of range or given twice", k, fh);
		if ((flags & ~(uint32_t)FS_OPEN_FLAGS) != 0 ||
		    (flags & O_ACCMODE) == O_ACCMODE)
			return files_refuse(s, why, whylen, "file %u: bad flags "
			    "0%o", k, flags);
		s->files[fh - 1] = FS_FILE_STALE;
		if (nodeid == 0 || (n = fs_inode_get(&s->inodes, nodeid)) ==
		    NULL || (s->readonly && (flags & O_ACCMODE) != O_RDONLY) ||
		    fs_reopen(s, n, (int)flags, &fd) != 0) {
			(*stale)++;
			continue;
		}
		s->files[fh - 1] = fd;
	}
	return 0;
}
