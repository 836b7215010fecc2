/*
 * fuzz_fs_snap: a snapshot's node table is read back from disk, so
 * fs_snap_restore gets untrusted bytes.  Against a scratch directory (a
 * directory, files, a symlink pointing out): whatever the bytes, no crash
 * or leak of fds (ASan; the fd count is checked), a refused table leaves
 * the root alone, and a table that restores saves and restores again to
 * the same number of nodes.
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
fresh(struct fs_inodes *t)
{
	int	 fd = open(scratch, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1 || fs_inodes_init(t, 16, fd) == -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_inodes t, t2;
	char	 why[160];
	uint8_t	*buf;
	size_t	 len;
	uint32_t stale;
	int	 before = fds_open();

	fresh(&t);
	if (fs_snap_restore(&t, data, size, &stale, why, sizeof(why)) == -1) {
		if (t.used != 1 || why[0] == '\0')
			abort();
	} else {
		if (fs_snap_save(&t, &buf, &len) == -1)
			abort();
		fresh(&t2);
		if (fs_snap_restore(&t2, buf, len, &stale, why,
		    sizeof(why)) == -1 || t2.used != t.used)
			abort();
		fs_inodes_free(&t2);
		free(buf);
	}
	fs_inodes_free(&t);
	if (fds_open() != before)
		abort();
	return 0;
}
