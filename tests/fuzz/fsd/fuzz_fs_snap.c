/*
 * fuzz_fs_snap: a snapshot's node and file tables are read back from
 * disk, so fs_snap_restore and fs_snap_files_restore get untrusted bytes.
 * Against a scratch directory (a directory, files, a symlink pointing
 * out): whatever the bytes, no crash or leak of fds (ASan; the fd count is
 * checked), a refused table leaves the root alone (no file open), and
 * tables that restore save and restore again to the same numbers of nodes
 * and open files.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_priv.h"
#include "fs_snap.h"

static char	 scratch[64];

static int
fds_open(void)
{
	DIR	*d = opendir("/proc/self/fd");
	int	 n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 cmd[256];

	(void)argc;
	(void)argv;
	strcpy(scratch, "/tmp/capsem-fuzz-fssnap-XXXXXX");
	if (mkdtemp(scratch) == NULL)
		abort();
	snprintf(cmd, sizeof(cmd), "cd %s && mkdir -p a/b c && echo x > a/f && "
	    "echo y > a/b/g && ln -s /etc a/l && ln -s .. c/up", scratch);
	if (system(cmd) != 0)
		abort();
	return 0;
}

static void
fresh(struct fs_server *s)
{
	int	 fd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1 || fs_server_init(s, fd, false, 1000, 1000, 16) == -1)
		abort();
}

/* Nodes then files into a fresh server: 0 restored, -1 refused. */
static int
restore(struct fs_server *s, const uint8_t *nodes, size_t nlen,
    const uint8_t *files, size_t flen)
{
	char	 why[160];
	uint32_t stale;

	why[0] = '\0';
	if (fs_snap_restore(&s->inodes, nodes, nlen, &stale, why,
	    sizeof(why)) == -1) {
		if (s->inodes.used != 1 || why[0] == '\0')
			abort();
		return -1;
	}
	if (fs_snap_files_restore(s, files, flen, &stale, why,
	    sizeof(why)) == -1) {
		if (fs_server_open_files(s) != 0 || why[0] == '\0')
			abort();
		return -1;
	}
	return 0;
}

/*
 * Input: a 2-byte little-endian length, that many bytes of node table,
 * the rest a file table.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_server s, s2;
	uint8_t	*nodes, *files;
	size_t	 nlen, flen, split;
	int	 before = fds_open();

	if (size < 2)
		return 0;
	split = (size_t)data[0] | (size_t)data[1] << 8;
	if (split > size - 2)
		split = size - 2;
	fresh(&s);
	if (restore(&s, data + 2, split, data + 2 + split,
	    size - 2 - split) == 0) {
		if (fs_snap_save(&s.inodes, &nodes, &nlen) == -1 ||
		    fs_snap_files_save(&s, &files, &flen) == -1)
			abort();
		fresh(&s2);
		if (restore(&s2, nodes, nlen, files, flen) == -1 ||
		    s2.inodes.used != s.inodes.used ||
		    fs_server_open_files(&s2) != fs_server_open_files(&s))
			abort();
		fs_server_free(&s2);
		free(nodes);
		free(files);
	}
	fs_server_free(&s);
	if (fds_open() != before)
		abort();
	return 0;
}
