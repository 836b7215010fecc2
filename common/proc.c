/*
 * proc.c: spawning children and running imsg channels on the event loop.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsem_config.h"
#include "log.h"
#include "proc.h"

static const struct {
	const char	*name;
	const char	*short_name;
} proc_names[PROC_MAX] = {
	[PROC_PARENT] = { "capsemctl", "parent" },
	[PROC_CERTD] = { "capsem-certd", "certd" },
	[PROC_POLICYD] = { "capsem-policyd", "policyd" },
	[PROC_NETPROXY] = { "capsem-netproxy", "netproxy" },
	[PROC_VMM] = { "capsem-vmm", "vmm" },
	[PROC_FSD] = { "capsem-fsd", "fsd" },
};

const char *
proc_name(enum proc_id id)
{
	if ((unsigned)id >= PROC_MAX)
		return "unknown";
	return proc_names[id].name;
}

const char *
proc_short_name(enum proc_id id)
{
	if ((unsigned)id >= PROC_MAX)
		return "unknown";
	return proc_names[id].short_name;
}

const char *
proc_libexec_dir(void)
{
	const char *dir = getenv("CAPSEM_LIBEXEC_DIR");

	if (dir != NULL && dir[0] == '/')
		return dir;
	return CAPSEM_LIBEXECDIR;
}

/* In the child between fork and exec: only async-signal-safe calls. */
static void __attribute__((noreturn))
proc_exec_child(const char *path, char *const argv[], int chan, int errfd,
    int dirfd)
{
	int	 devnull;
	sigset_t set;

	/* Die with the parent; if it is already gone, go now. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		_exit(127);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);

	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		_exit(127);
	if (errfd == -1)
		errfd = STDERR_FILENO;
	/* Move fds we dup from out of the way of 0..3 first. */
	if ((chan = fcntl(chan, F_DUPFD_CLOEXEC, 10)) == -1 ||
	    (errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 10)) == -1 ||
	    (devnull = fcntl(devnull, F_DUPFD_CLOEXEC, 10)) == -1 ||
	    (dirfd != -1 && (dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 10)) == -1))
		_exit(127);
	if (dup2(devnull, STDIN_FILENO) == -1 ||
	    dup2(errfd, STDOUT_FILENO) == -1 ||
	    dup2(errfd, STDERR_FILENO) == -1 ||
	    dup2(chan, PROC_PARENT_FD) == -1 ||
	    (dirfd != -1 && dup2(dirfd, PROC_DIR_FD) == -1))
		_exit(127);
	closefrom(dirfd != -1 ? PROC_DIR_FD + 1 : PROC_PARENT_FD + 1);
	execv(path, argv);
	_exit(127);
}

pid_t
proc_spawn(enum proc_id id, int instance, int stderr_fd, int dir_fd,
    const char *const extra_argv[], int *chan_fd)
{
	char	 path[PATH_MAX], inst[16];
	const char *argv[32];
	int	 sp[2], n;
	size_t	 argc = 0, i;
	pid_t	 pid;

	n = snprintf(path, sizeof(path), "%s/%s", proc_libexec_dir(),
	    proc_name(id));
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (access(path, X_OK) == -1)
		return -1;
	snprintf(inst, sizeof(inst), "%d", instance);
	argv[argc++] = proc_name(id);
	argv[argc++] = "-I";
	argv[argc++] = inst;
	for (i = 0; extra_argv != NULL && extra_argv[i] != NULL; i++) {
		if (argc >= sizeof(argv) / sizeof(argv[0]) - 1) {
			errno = E2BIG;
			return -1;
		}
		argv[argc++] = extra_argv[i];
	}
	argv[argc] = NULL;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		return -1;
	switch ((pid = fork())) {
	case -1:
		close(sp[0]);
		close(sp[1]);
		return -1;
	case 0:
		proc_exec_child(path, (char *const *)argv, sp[1], stderr_fd,
		    dir_fd);
	default:
		break;
	}
	close(sp[1]);
	*chan_fd = sp[0];
	return pid;
}

int
proc_child_args(int argc, char *argv[], enum proc_id id)
{
	const char *errstr;
	int	 instance = 0, ch;

	while ((ch = getopt(argc, argv, "I:")) != -1) {
		switch (ch) {
		case 'I':
			instance = (int)strtonum(optarg, 0, 1023, &errstr);
			if (errstr != NULL)
				fatalx("instance %s: %s", optarg, errstr);
			break;
		default:
			fatalx("usage: %s -I instance (started by capsemctl)",
			    proc_name(id));
		}
	}
	return instance;
}

/* imsgev: a channel on the event loop */

static void imsgev_handler(int fd, uint32_t events, void *arg);

static void
imsgev_update(struct imsgev *iev)
{
	uint32_t want = EV_READ;

	if (iev->closed)
		return;
	if (imsgbuf_pending(&iev->ibuf))
		want |= EV_WRITE;
	if (want != iev->events) {
		if (event_mod(iev->loop, iev->ibuf.fd, want) == -1)
			fatal("event_mod");
		iev->events = want;
	}
}

static void
imsgev_lost(struct imsgev *iev)
{
	if (iev->on_close != NULL) {
		iev->on_close(iev, iev->ctx);
		return;
	}
	fatalx("lost %s", iev->peername);
}

void
imsgev_init(struct imsgev *iev, struct event_loop *loop, int fd, size_t maxlen,
    const char *peername, const struct imsg_handler *handlers,
    size_t nhandlers, void *ctx)
{
	int	 flags;

	memset(iev, 0, sizeof(*iev));
	imsgbuf_init(&iev->ibuf, fd, maxlen);
	iev->loop = loop;
	iev->peername = peername;
	iev->handlers = handlers;
	iev->nhandlers = nhandlers;
	iev->ctx = ctx;
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("fcntl %s channel", peername);
	iev->events = EV_READ;
	if (event_add(loop, fd, EV_READ, imsgev_handler, iev) == -1)
		fatal("event_add %s channel", peername);
}

static void
imsgev_handler(int fd, uint32_t events, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	ssize_t		 n;
	int		 r;

	(void)fd;
	if (events & EV_WRITE) {
		if (imsgbuf_write(&iev->ibuf) == -1) {
			if (errno == EPIPE || errno == ECONNRESET) {
				imsgev_lost(iev);
				return;
			}
			fatal("write to %s", iev->peername);
		}
	}
	if (events & EV_READ) {
		n = imsgbuf_read(&iev->ibuf);
		if (n == -1 && errno != EAGAIN) {
			if (errno == ECONNRESET) {
				imsgev_lost(iev);
				return;
			}
			fatal("read from %s", iev->peername);
		}
		for (;;) {
			r = imsg_get(&iev->ibuf, &imsg);
			if (r == -1)
				fatal("malformed message from %s", iev->peername);
			if (r == 0)
				break;
			imsg_dispatch(iev->handlers, iev->nhandlers,
			    iev->peername, iev->ctx, &imsg);
			/* A handler may have closed this channel. */
			if (iev->closed)
				return;
		}
		if (n == 0) {
			imsgev_lost(iev);
			return;
		}
	}
	imsgev_update(iev);
}

int
imsgev_compose2(struct imsgev *iev, uint32_t type, uint32_t peerid, int fd,
    const void *d1, size_t l1, const void *d2, size_t l2)
{
	if (iev->closed) {
		errno = EPIPE;
		return -1;
	}
	if (imsg_compose2(&iev->ibuf, type, peerid, fd, d1, l1, d2, l2) == -1)
		return -1;
	imsgev_update(iev);
	return 0;
}

int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	return imsgev_compose2(iev, type, peerid, fd, data, len, NULL, 0);
}

void
imsgev_close(struct imsgev *iev)
{
	if (iev->closed)
		return;
	event_del(iev->loop, iev->ibuf.fd);
	close(iev->ibuf.fd);
	imsgbuf_clear(&iev->ibuf);
	iev->closed = true;
}
