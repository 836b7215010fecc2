/*
 * fuzz_fs_serve: capsem-fsd's file server (fs_serve) on a sequence of
 * guest requests, each framed by its own fuse_in_header.len, against a
 * scratch directory made once per process.  Each input starts from the
 * same small tree (a file, a directory with a file, a symlink, a FIFO)
 * and a fresh, initialized server, so runs are repeatable.  File sizes
 * are bounded by RLIMIT_FSIZE, and FALLOCATE beyond that is not passed on.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_server.h"
#include "msg.h"

#define FUZZ_FSIZE	(4u * 1024 * 1024)
#define FUZZ_NODES	64
#define FUZZ_REQUESTS	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char	 root[64];
static uint8_t	 req[MSG_FS_REQUEST_MAX];
static uint8_t	 out[MSG_FS_REPLY_MAX];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag;
	if (f->level == 0)
		return 0;
	return remove(path);
}

static void
rm_atexit(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(root);
}

static void
tree(void)
{
	int	 fd;

	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if ((fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		abort();
	if (mkdirat(fd, "d", 0755) == -1 ||
	    symlinkat("../outside", fd, "l") == -1 ||
	    mkfifoat(fd, "p", 0644) == -1)
		abort();
	close(openat(fd, "f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	close(openat(fd, "d/g", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	close(fd);
}

static void
once(void)
{
	struct rlimit	 rl = { FUZZ_FSIZE, FUZZ_FSIZE };

	snprintf(root, sizeof(root), "/tmp/fuzz-fsd.XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
	atexit(rm_atexit);
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		abort();
}

static void
serve(struct fs_server *s, const void *r, size_t len)
{
	char	 why[160];

	(void)fs_serve(s, r, len, MSG_FS_REPLY_MAX, out, sizeof(out), why,
	    sizeof(why));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool	 ready;
	struct fs_server s;
	struct fuse_in_header h;
	struct fuse_init_in ii;
	struct fuse_fallocate_in fa;
	char		 why[160];
	size_t		 pos = 0, len;
	uint32_t	 out_max;
	int		 fd, n;

	if (!ready) {
		once();
		ready = true;
	}
	tree();
	if ((fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		abort();
	if (fs_server_init(&s, fd, false, 1000, 1000, FUZZ_NODES) == -1)
		abort();
	memset(&h, 0, sizeof(h));
	memset(&ii, 0, sizeof(ii));
	h.len = sizeof(h) + sizeof(ii);
	h.opcode = FUSE_INIT;
	ii.major = 7;
	ii.minor = 38;
	ii.flags = 0xffffffffu;
	memcpy(req, &h, sizeof(h));
	memcpy(req + sizeof(h), &ii, sizeof(ii));
	serve(&s, req, h.len);

	/* [u16 out_max][request of its own header's length] ... */
	for (n = 0; n < FUZZ_REQUESTS && size - pos >= 2 + sizeof(h); n++) {
		out_max = (uint32_t)data[pos] | (uint32_t)data[pos + 1] << 8;
		out_max = out_max == 0xffff ? MSG_FS_REPLY_MAX : out_max;
		pos += 2;
		memcpy(&h, data + pos, sizeof(h));
		len = h.len < size - pos ? h.len : size - pos;
		if (len < sizeof(h) || len > sizeof(req))
			len = size - pos < sizeof(req) ? size - pos : sizeof(req);
		memcpy(req, data + pos, len);
		pos += len;
		if (h.opcode == FUSE_FALLOCATE && len >= sizeof(h) + sizeof(fa)) {
			memcpy(&fa, req + sizeof(h), sizeof(fa));
			if (fa.offset > FUZZ_FSIZE || fa.length > FUZZ_FSIZE)
				continue;
		}
		if (fs_serve(&s, req, len, out_max, out, sizeof(out), why,
		    sizeof(why)) == -1 && why[0] == '\0')
			abort();	/* a refusal always says why */
	}
	fs_server_free(&s);
	return 0;
}
