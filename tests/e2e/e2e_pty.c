/*
 * e2e-pty: run a command on a new pseudo-terminal and play a small script
 * against it, the way a user at a terminal would (the end-to-end tests of
 * attach, detach and window size).
 *
 *	e2e-pty [-t SECONDS] SCRIPT -- command [args...]
 *
 * SCRIPT lines (steps run in order):
 *	size ROWS COLS	set the terminal's size (the kernel sends SIGWINCH)
 *	expect TEXT	wait until the output since the last match holds TEXT
 *	send TEXT	type TEXT; \r \n \\ and \xHH are escapes
 *	sleep MS	wait
 * Everything the command writes is copied to stdout.  Last line:
 * "E2E-PTY-EXIT <status>" (128 + signal if killed), or "E2E-PTY-TIMEOUT
 * <step>" if an expect or the command's end took longer than -t (default
 * 60) seconds; then the command is killed.
 */
#include <sys/ioctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX	(1024 * 1024)

struct pty_run {
	int	 master;
	pid_t	 pid;
	char	*out;		/* output since the last match */
	size_t	 outlen;
	int	 timeout_s;
	int	 eof;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what there is within wait_ms; 0, or -1 at EOF. */
static int
pump(struct pty_run *r, int wait_ms)
{
	struct pollfd pfd = { r->master, POLLIN, 0 };
	char	 buf[4096];
	ssize_t	 n;

	if (r->eof)
		return -1;
	if (poll(&pfd, 1, wait_ms) <= 0)
		return 0;
	n = read(r->master, buf, sizeof(buf));
	if (n <= 0) {
		if (n == -1 && errno == EINTR)
			return 0;
		r->eof = 1;	/* EIO: every slave fd is closed */
		return -1;
	}
	fwrite(buf, 1, (size_t)n, stdout);
	fflush(stdout);
	if (r->outlen + (size_t)n > OUT_MAX) {	/* keep the newest half */
		memmove(r->out, r->out + r->outlen - OUT_MAX / 2, OUT_MAX / 2);
		r->outlen = OUT_MAX / 2;
	}
	memcpy(r->out + r->outlen, buf, (size_t)n);
	r->outlen += (size_t)n;
	return 0;
}

static int
expect(struct pty_run *r, const char *text)
{
	long long deadline = now_ms() + r->timeout_s * 1000LL;
	size_t	 tl = strlen(text);

	for (;;) {
		char	*hit = memmem(r->out, r->outlen, text, tl);

		if (hit != NULL) {
			size_t	 rest = r->outlen - (size_t)(hit - r->out) - tl;

			memmove(r->out, hit + tl, rest);
			r->outlen = rest;
			return 0;
		}
		if (now_ms() > deadline || pump(r, 100) == -1)
			return -1;
	}
}

static size_t
unescape(const char *in, char *out)
{
	size_t	 n = 0;

	while (*in != '\0') {
		if (in[0] == '\\' && in[1] == 'r') {
			out[n++] = '\r';
			in += 2;
		} else if (in[0] == '\\' && in[1] == 'n') {
			out[n++] = '\n';
			in += 2;
		} else if (in[0] == '\\' && in[1] == '\\') {
			out[n++] = '\\';
			in += 2;
		} else if (in[0] == '\\' && in[1] == 'x' && in[2] && in[3]) {
			char	 hex[3] = { in[2], in[3], 0 };

			out[n++] = (char)strtol(hex, NULL, 16);
			in += 4;
		} else
			out[n++] = *in++;
	}
	return n;
}

int
main(int argc, char *argv[])
{
	struct pty_run r;
	struct winsize ws;
	char	 line[1024], data[1024];
	FILE	*script;
	long long deadline;
	int	 ch, status, step = 0, slave;
	size_t	 len;

	memset(&r, 0, sizeof(r));
	r.timeout_s = 60;
	while ((ch = getopt(argc, argv, "+t:")) != -1) {
		if (ch != 't')
			goto usage;
		r.timeout_s = atoi(optarg);
	}
	argc -= optind;
	argv += optind;
	if (argc < 3 || strcmp(argv[1], "--") != 0)
		goto usage;
	if ((script = fopen(argv[0], "r")) == NULL) {
		perror(argv[0]);
		return 2;
	}
	if ((r.out = malloc(OUT_MAX)) == NULL ||
	    (r.master = posix_openpt(O_RDWR | O_NOCTTY)) == -1 ||
	    grantpt(r.master) == -1 || unlockpt(r.master) == -1) {
		perror("pty");
		return 2;
	}
	memset(&ws, 0, sizeof(ws));
	ws.ws_row = 24;
	ws.ws_col = 80;
	ioctl(r.master, TIOCSWINSZ, &ws);
	switch ((r.pid = fork())) {
	case -1:
		perror("fork");
		return 2;
	case 0:
		setsid();
		if ((slave = open(ptsname(r.master), O_RDWR)) == -1)
			_exit(127);
		ioctl(slave, TIOCSCTTY, 0);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		if (slave > 2)
			close(slave);
		close(r.master);
		execvp(argv[2], argv + 2);
		_exit(127);
	default:
		break;
	}
	while (fgets(line, sizeof(line), script) != NULL) {
		step++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (strncmp(line, "size ", 5) == 0) {
			unsigned rows, cols;

			if (sscanf(line + 5, "%u %u", &rows, &cols) != 2)
				goto bad;
			ws.ws_row = (unsigned short)rows;
			ws.ws_col = (unsigned short)cols;
			ioctl(r.master, TIOCSWINSZ, &ws);
		} else if (strncmp(line, "expect ", 7) == 0) {
			if (expect(&r, line + 7) == -1) {
				printf("\nE2E-PTY-TIMEOUT %d %s\n", step, line);
				kill(r.pid, SIGKILL);
				waitpid(r.pid, &status, 0);
				return 1;
			}
		} else if (strncmp(line, "send ", 5) == 0) {
			len = unescape(line + 5, data);
			if (write(r.master, data, len) != (ssize_t)len)
				perror("write");
		} else if (strncmp(line, "sleep ", 6) == 0) {
			long long until = now_ms() + atoi(line + 6);

			while (now_ms() < until)
				(void)pump(&r, 50);
		} else if (line[0] != '\0' && line[0] != '#')
			goto bad;
	}
	deadline = now_ms() + r.timeout_s * 1000LL;
	for (;;) {
		pid_t	 w = waitpid(r.pid, &status, WNOHANG);

		if (w == r.pid)
			break;
		if (now_ms() > deadline) {
			printf("\nE2E-PTY-TIMEOUT %d (end)\n", step + 1);
			kill(r.pid, SIGKILL);
			waitpid(r.pid, &status, 0);
			return 1;
		}
		if (pump(&r, 100) == -1)
			usleep(50000);
	}
	deadline = now_ms() + 1000;	/* what is still on its way */
	while (now_ms() < deadline && pump(&r, 100) == 0)
		;
	printf("\nE2E-PTY-EXIT %d\n", WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status));
	return 0;
bad:
	fprintf(stderr, "e2e-pty: %s: line %d: unknown step\n", argv[0], step);
	kill(r.pid, SIGKILL);
	return 2;
usage:
	fprintf(stderr, "usage: e2e-pty [-t seconds] script -- command "
	    "[args...]\n");
	return 2;
}
