/*
 * Unit tests of capsem-fsd's node table across a snapshot (fsd/fs_snap.c)
 * on a real temporary directory: saved, the directory changed (a rename,
 * a removal, a directory replaced by a file), restored into a fresh table:
 * what is still there keeps its node id, the rest is stale (ESTALE: no
 * file) until the guest forgets it; restored beneath a copy of the
 * directory, every node finds its file; malformed tables are refused and
 * leave the root alone.
 */
#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_priv.h"
#include "fs_snap.h"

static char	 dir[64];

/* A shell command in the test directory ($D). */
static void
sh(const char *cmd)
{
	char	 line[512];

	snprintf(line, sizeof(line), "D=%s && %s", dir, cmd);
	ck_assert_int_eq(system(line), 0);
}

static void
setup(void)
{
	strcpy(dir, "/tmp/capsem-fssnap-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	sh("mkdir -p $D/a $D/c && echo f > $D/a/f && ln -s ../b $D/a/l");
	sh("echo b > $D/b && echo x > $D/c/x");
}

static void
teardown(void)
{
	sh("rm -rf $D $D.copy");
}

static void
table(struct fs_inodes *t, const char *root, uint32_t max)
{
	int	 fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fs_inodes_init(t, max, fd), 0);
}

/* A guest lookup of name in parent: the node. */
static struct fs_inode *
look(struct fs_inodes *t, struct fs_inode *parent, const char *name)
{
	struct stat	 st;
	struct fs_inode	*n;
	int		 fd = fs_openat(parent->fd, name, O_PATH, 0);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	n = fs_inode_add(t, parent, name, fd, st.st_dev, st.st_ino,
	    st.st_mode & S_IFMT);
	ck_assert_ptr_nonnull(n);
	return n;
}

/* The node ids of a, a/f, a/l, b, c, c/x in a table like the guest's. */
struct ids { uint64_t a, f, l, b, c, x; };

static uint8_t *
saved(struct ids *id, size_t *len)
{
	struct fs_inodes t;
	struct fs_inode	*root, *a, *c;
	uint8_t		*buf;

	table(&t, dir, 64);
	root = fs_inode_get(&t, 1);
	/* slots handed out and given back first, so a child's slot can come
	 * before its parent's */
	(void)look(&t, root, "b");
	fs_inode_forget(&t, 2, 1);
	a = look(&t, root, "a");
	id->f = fs_inode_nodeid(&t, look(&t, a, "f"));
	id->l = fs_inode_nodeid(&t, look(&t, a, "l"));
	id->a = fs_inode_nodeid(&t, a);
	look(&t, a, "f");	/* a second lookup of a/f */
	id->b = fs_inode_nodeid(&t, look(&t, root, "b"));
	c = look(&t, root, "c");
	id->c = fs_inode_nodeid(&t, c);
	id->x = fs_inode_nodeid(&t, look(&t, c, "x"));
	ck_assert_int_eq(fs_snap_save(&t, &buf, len), 0);
	fs_inodes_free(&t);
	return buf;
}

START_TEST(changed_directory)
{
	struct fs_inodes t;
	struct fs_inode	*n;
	struct ids	 id;
	struct stat	 st;
	char		 why[160], path[128];
	uint32_t	 stale;
	size_t		 len;
	uint8_t		*buf = saved(&id, &len);

	sh("mv $D/a/f $D/a/g && rm $D/b && rm -r $D/c");
	sh("echo now-a-file > $D/c");
	table(&t, dir, 64);
	ck_assert_int_eq(fs_snap_restore(&t, buf, len, &stale, why,
	    sizeof(why)), 0);
	/* a/f (renamed), b (removed), c (a file now), c/x (under it) */
	ck_assert_uint_eq(stale, 4);
	ck_assert_ptr_null(fs_inode_get(&t, id.f));
	ck_assert_ptr_null(fs_inode_get(&t, id.b));
	ck_assert_ptr_null(fs_inode_get(&t, id.c));
	ck_assert_ptr_null(fs_inode_get(&t, id.x));
	n = fs_inode_get(&t, id.a);
	ck_assert_ptr_nonnull(n);
	snprintf(path, sizeof(path), "%s/a", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(n->ino, st.st_ino);
	ck_assert_uint_eq(n->nlookup, 1);
	n = fs_inode_get(&t, id.l);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->type, S_IFLNK);	/* the link, not ../b */
	/* a stale id is no other file's: a new lookup gets another id */
	n = look(&t, fs_inode_get(&t, 1), "c");
	ck_assert_uint_ne(fs_inode_nodeid(&t, n), id.c);
	/* forgotten (a/f had two lookups), the stale slots go */
	ck_assert_uint_eq(t.used, 1 + 2 + 4 + 1);
	fs_inode_forget(&t, id.f, 1);
	ck_assert(t.slots[id.f - 1].stale);
	fs_inode_forget(&t, id.f, 1);
	ck_assert(!t.slots[id.f - 1].stale);
	fs_inode_forget(&t, id.b, 1);
	fs_inode_forget(&t, id.c, 1);
	fs_inode_forget(&t, id.x, 1);
	ck_assert_uint_eq(t.used, 1 + 2 + 1);
	fs_inodes_free(&t);
	free(buf);
}
END_TEST

START_TEST(copy_of_the_directory)
{
	struct fs_inodes t, t2;
	struct fs_inode	*n;
	struct ids	 id;
	struct stat	 st;
	char		 why[160], copy[96], path[128];
	uint32_t	 stale;
	size_t		 len, len2;
	uint8_t		*buf = saved(&id, &len), *buf2;

	sh("cp -a $D $D.copy");
	snprintf(copy, sizeof(copy), "%s.copy", dir);
	table(&t, copy, 64);
	ck_assert_int_eq(fs_snap_restore(&t, buf, len, &stale, why,
	    sizeof(why)), 0);
	ck_assert_uint_eq(stale, 0);
	n = fs_inode_get(&t, id.x);
	ck_assert_ptr_nonnull(n);
	snprintf(path, sizeof(path), "%s/c/x", copy);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(n->ino, st.st_ino);	/* the copy's file */
	ck_assert_ptr_nonnull(fs_inode_get(&t, id.f));
	ck_assert_uint_eq(fs_inode_get(&t, id.f)->nlookup, 2);
	/* saved again, restored again: the same table */
	ck_assert_int_eq(fs_snap_save(&t, &buf2, &len2), 0);
	ck_assert_uint_eq(len2, len);
	table(&t2, copy, 64);
	ck_assert_int_eq(fs_snap_restore(&t2, buf2, len2, &stale, why,
	    sizeof(why)), 0);
	ck_assert_uint_eq(stale, 0);
	ck_assert_uint_eq(t2.used, t.used);
	fs_inodes_free(&t2);
	fs_inodes_free(&t);
	free(buf2);
	free(buf);
}
END_TEST

/* A record: id, parent, lookups, type, name. */
static size_t
rec(uint8_t *p, uint32_t id, uint32_t parent, uint32_t lookups,
    uint32_t type, const char *name)
{
	uint32_t v[6] = { id, parent, lookups, 0, type,
	    (uint32_t)strlen(name) };

	memcpy(p, v, sizeof(v));	/* little-endian host */
	memcpy(p + sizeof(v), name, strlen(name));
	return sizeof(v) + strlen(name);
}

static const char *
refused(const uint8_t *buf, size_t len)
{
	static char	 why[160];
	struct fs_inodes t;
	uint32_t	 stale;
	int		 r;

	table(&t, dir, 8);
	r = fs_snap_restore(&t, buf, len, &stale, why, sizeof(why));
	ck_assert_uint_eq(t.used, r == 0 ? t.used : 1);
	if (r == -1)	/* the root alone, and usable */
		ck_assert_ptr_nonnull(look(&t, fs_inode_get(&t, 1), "a"));
	fs_inodes_free(&t);
	return r == 0 ? NULL : why;
}

START_TEST(malformed)
{
	uint8_t	 b[512];
	size_t	 n;

	memcpy(b, FS_SNAP_MAGIC "\2\0\0\0", 12);
	n = 12 + rec(b + 12, 2, 1, 1, S_IFDIR, "a");
	n += rec(b + n, 3, 2, 1, S_IFREG, "f");
	ck_assert_ptr_null(refused(b, n));
	ck_assert_str_eq(refused(b, n - 1), "node 1: name of 1 bytes, past "
	    "the end");
	ck_assert_str_eq(refused(b, 20), "truncated at node 0");
	b[0] = 'X';
	ck_assert_str_eq(refused(b, n), "not a node table (bad magic)");
	b[0] = 'F';
	/* the child first */
	n = 12 + rec(b + 12, 3, 2, 1, S_IFREG, "f");
	n += rec(b + n, 2, 1, 1, S_IFDIR, "a");
	ck_assert_str_eq(refused(b, n), "node 0: parent 2 is not restored "
	    "before it");
	n = 12 + rec(b + 12, 2, 1, 1, S_IFDIR, "a");
	n += rec(b + n, 2, 1, 1, S_IFDIR, "c");
	ck_assert_str_eq(refused(b, n), "node 1: id 2 is the root, out of "
	    "range or given twice");
	n = 12 + rec(b + 12, 1, 1, 1, S_IFDIR, "a");
	ck_assert_ptr_nonnull(refused(b, n));
	n = 12 + rec(b + 12, 9, 1, 1, S_IFDIR, "a");	/* table of 8 */
	ck_assert_ptr_nonnull(refused(b, n));
	n = 12 + rec(b + 12, 2, 1, 1, S_IFDIR, "..");
	ck_assert_str_eq(refused(b, n), "node 0: bad name");
	n = 12 + rec(b + 12, 2, 1, 1, S_IFDIR, "a/f");
	ck_assert_str_eq(refused(b, n), "node 0: bad name");
	n = 12 + rec(b + 12, 2, 0, 1, S_IFDIR, "a");
	ck_assert_str_eq(refused(b, n), "node 0: a name without a parent");
	n = 12 + rec(b + 12, 2, 1, 1, 0777, "a");
	ck_assert_str_eq(refused(b, n), "node 0: bad type 0777");
	memcpy(b + 8, "\1\0\0\0", 4);
	n = 12 + rec(b + 12, 2, 1, 1, S_IFDIR, "a");
	ck_assert_ptr_null(refused(b, n));
	b[n++] = 0;
	ck_assert_str_eq(refused(b, n), "1 bytes after the last node");
	memcpy(b + 8, "\x40\0\0\0", 4);
	ck_assert_str_eq(refused(b, 12), "64 nodes, the table holds 7");
}
END_TEST

START_TEST(escapes_are_stale)
{
	uint8_t	 b[512];
	struct fs_inodes t;
	char	 why[160];
	uint32_t stale;
	size_t	 n;

	/* a/l is a symlink to ../b: a node named under it does not follow */
	memcpy(b, FS_SNAP_MAGIC "\2\0\0\0", 12);
	n = 12 + rec(b + 12, 2, 1, 1, S_IFDIR, "a");
	n += rec(b + n, 3, 2, 1, S_IFLNK, "l");
	n += rec(b + n, 4, 3, 1, S_IFREG, "b");
	memcpy(b + 8, "\3\0\0\0", 4);
	table(&t, dir, 8);
	ck_assert_int_eq(fs_snap_restore(&t, b, n, &stale, why,
	    sizeof(why)), 0);
	ck_assert_uint_eq(stale, 1);
	ck_assert_ptr_null(fs_inode_get(&t, 4));
	ck_assert_ptr_nonnull(fs_inode_get(&t, 3));
	fs_inodes_free(&t);
}
END_TEST

/* A server on root, and the node of name under the root (one lookup). */
static void
server(struct fs_server *s, const char *root)
{
	int	 fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fs_server_init(s, fd, false, 1000, 1000, 64), 0);
}

static uint64_t
opened(struct fs_server *s, struct fs_inode *n, int flags)
{
	uint64_t fh;
	int	 fd;

	ck_assert_int_eq(fs_reopen(s, n, flags, &fd), 0);
	ck_assert_int_eq(fs_file_add(s, fd, &fh), 0);
	return fh;
}

START_TEST(open_files)
{
	struct fs_server s, s2;
	struct fs_inode	*root, *a, *f, *b;
	uint64_t	 fh_f, fh_b, fh_a, fh_w;
	uint8_t		*nodes, *files;
	size_t		 nlen, flen;
	char		 why[160], got[8];
	uint32_t	 stale;
	int		 fd;

	server(&s, dir);
	root = fs_inode_get(&s.inodes, 1);
	a = look(&s.inodes, root, "a");
	f = look(&s.inodes, a, "f");
	b = look(&s.inodes, root, "b");
	fh_f = opened(&s, f, O_RDONLY);
	fh_b = opened(&s, b, O_RDONLY);
	fh_a = opened(&s, a, O_RDONLY);
	fh_w = opened(&s, f, O_WRONLY | O_APPEND);
	ck_assert_int_eq(fs_snap_save(&s.inodes, &nodes, &nlen), 0);
	ck_assert_int_eq(fs_snap_files_save(&s, &files, &flen), 0);
	fs_server_free(&s);
	sh("rm $D/b");
	server(&s2, dir);
	ck_assert_int_eq(fs_snap_restore(&s2.inodes, nodes, nlen, &stale, why,
	    sizeof(why)), 0);
	ck_assert_uint_eq(stale, 1);
	ck_assert_int_eq(fs_snap_files_restore(&s2, files, flen, &stale, why,
	    sizeof(why)), 0);
	ck_assert_uint_eq(stale, 1);		/* b's */
	ck_assert_int_eq(fs_file_fd(&s2, fh_b), -1);
	ck_assert_uint_eq(fs_server_open_files(&s2), 4);
	fd = fs_file_fd(&s2, fh_f);		/* reopened: it reads a/f */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, got, sizeof(got), 0), 2);
	ck_assert_int_eq(memcmp(got, "f\n", 2), 0);
	ck_assert_int_eq(fcntl(fs_file_fd(&s2, fh_w), F_GETFL) &
	    (O_ACCMODE | O_APPEND), O_WRONLY | O_APPEND);
	ck_assert_int_ge(fs_file_fd(&s2, fh_a), 0);
	/* the stale fh is held until released, then given again */
	fs_file_close(&s2, fh_b);
	ck_assert_uint_eq(fs_server_open_files(&s2), 3);
	/* malformed: refused, nothing left open */
	fs_server_free(&s2);
	server(&s2, dir);
	ck_assert_int_eq(fs_snap_files_restore(&s2, files, flen - 1, &stale,
	    why, sizeof(why)), -1);
	ck_assert_str_eq(why, "4 open files in 47 bytes");
	files[12] = 0;				/* fh 0 */
	ck_assert_int_eq(fs_snap_files_restore(&s2, files, flen, &stale, why,
	    sizeof(why)), -1);
	ck_assert_str_eq(why, "file 0: fh 0 out of range or given twice");
	ck_assert_uint_eq(fs_server_open_files(&s2), 0);
	fs_server_free(&s2);
	free(nodes);
	free(files);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("fs_snap");
	TCase	*tc = tcase_create("fs_snap");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, changed_directory);
	tcase_add_test(tc, copy_of_the_directory);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, escapes_are_stale);
	tcase_add_test(tc, open_files);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
