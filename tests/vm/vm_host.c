/*
 * vm-host: runs capsem-vmm --standalone as the session would see it and
 * plays the host side for the VM tests:
 *  - hvc0 is a socketpair: guest lines "PING x" are answered "PONG x",
 *    "SANDBOX?" makes us report the vmm's /proc/<pid>/status (CapEff,
 *    Seccomp, NoNewPrivs), answered "SANDBOX-DONE";
 *  - the netproxy channel is a socketpair speaking imsg: every
 *    MSG_STREAM_NEW fd is served as an echo (after printing the relay
 *    header line when has_header is set);
 *  - the vmm's stderr (serial console and its own log) is passed through
 *    and its "guest ended:" line remembered.
 * At the end it prints "VMM-EXIT case=NAME status=N reason=..." and
 * "CAPSEM-RESULT NAME-exit PASS|FAIL ..." against --expect-status and
 * --expect-reason.  Exit status 0 if expectations held.
 *
 * usage: vm-host --case NAME [--expect-status N] [--expect-reason TEXT]
 *            -- capsem-vmm --standalone ... (console/netproxy fds added)
 *        vm-host --case NAME --parent [--kernel F] [--initrd F] [--disk F]
 *            [--disk-rw F]
 *            [--cmdline S] [--mem N] [--cpus N] -- capsem-vmm
 * With --parent, vm-host is the session parent instead: it starts
 * capsem-vmm as a child (channel on fd 3), sends HELLO, VM_SETUP, the fds
 * (MSG_VM_FD), the netproxy channel (MSG_PEER_CHANNEL) and VM_START, and
 * takes the exit reason from MSG_VM_EVENT.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "msg.h"
#include "proc.h"

#define MAX_STREAMS	16
#define LINE_MAX_LEN	1024

struct stream {
	int		 fd;
	unsigned	 port;
	int		 header_pending;
	char		 header[80];
	size_t		 hlen;
	unsigned long long bytes;
};

struct host {
	const char	*name;
	pid_t		 pid;
	int		 console;
	int		 errpipe;
	struct imsgbuf	 np;
	int		 np_open;
	struct stream	 st[MAX_STREAMS];
	char		 cline[LINE_MAX_LEN];
	size_t		 clen;
	char		 eline[LINE_MAX_LEN];
	size_t		 elen;
	char		 reason[LINE_MAX_LEN];
	unsigned	 nstreams;
	struct imsgbuf	 chan;		/* --parent: the child channel */
	int		 chan_open;
	int		 ready_events;
};

struct parent_args {
	int		 on;
	const char	*kernel, *initrd[4], *disk[4], *cmdline;
	int		 ninitrd, ndisk, disk_rw[4];
	unsigned	 mem, cpus;
};

static int
open_ro(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		perror(path);
		exit(1);
	}
	return fd;
}

static void
send_fd(struct imsgbuf *ib, uint32_t kind, int fd)
{
	struct msg_vm_fd f = { kind, 0 };

	if (imsg_compose(ib, MSG_VM_FD, 0, fd, &f, sizeof(f)) == -1) {
		perror("vm-host: compose");
		exit(1);
	}
}

/* Play the session parent: everything the vmm needs, then START. */
static void
parent_send(struct host *h, const struct parent_args *pa, int console, int serial,
    int netproxy)
{
	struct msg_hello hello;
	struct msg_vm_setup setup;
	struct msg_peer_channel pc;
	int i;

	memset(&hello, 0, sizeof(hello));
	snprintf(hello.session_id, sizeof(hello.session_id), "vmtest");
	imsg_compose(&h->chan, MSG_HELLO, 0, -1, &hello, sizeof(hello));
	memset(&setup, 0, sizeof(setup));
	setup.mem_mb = pa->mem;
	setup.ncpus = pa->cpus;
	setup.cmdline_len = (uint32_t)strlen(pa->cmdline);
	imsg_compose2(&h->chan, MSG_VM_SETUP, 0, -1, &setup, sizeof(setup),
	    pa->cmdline, setup.cmdline_len);
	send_fd(&h->chan, VM_FD_KVM, open("/dev/kvm", O_RDWR | O_CLOEXEC));
	send_fd(&h->chan, VM_FD_KERNEL, open_ro(pa->kernel));
	for (i = 0; i < pa->ninitrd; i++)
		send_fd(&h->chan, VM_FD_INITRD, open_ro(pa->initrd[i]));
	for (i = 0; i < pa->ndisk; i++) {
		int fd = pa->disk_rw[i] ? open(pa->disk[i], O_RDWR | O_CLOEXEC) :
		    open_ro(pa->disk[i]);

		if (fd == -1) {
			perror(pa->disk[i]);
			exit(1);
		}
		send_fd(&h->chan, pa->disk_rw[i] ? VM_FD_DISK_RW : VM_FD_DISK_RO,
		    fd);
	}
	send_fd(&h->chan, VM_FD_CONSOLE, console);
	send_fd(&h->chan, VM_FD_SERIAL, serial);
	pc.proc = PROC_NETPROXY;
	pc.instance = 0;
	imsg_compose(&h->chan, MSG_PEER_CHANNEL, 0, netproxy, &pc, sizeof(pc));
	imsg_compose(&h->chan, MSG_VM_START, 0, -1, NULL, 0);
	if (imsgbuf_flush(&h->chan) == -1) {
		perror("vm-host: send to vmm");
		exit(1);
	}
}

static void
chan_read(struct host *h)
{
	struct imsg	 im;
	ssize_t		 n = imsgbuf_read(&h->chan);

	if (n == 0 || (n == -1 && errno != EAGAIN)) {
		h->chan_open = 0;
		return;
	}
	while (imsg_get(&h->chan, &im) == 1) {
		if (im.hdr.type == MSG_READY)
			printf("parent: vmm READY (sandboxed)\n");
		else if (im.hdr.type == MSG_VM_EVENT &&
		    im.len == sizeof(struct msg_vm_event)) {
			struct msg_vm_event ev;

			memcpy(&ev, im.data, sizeof(ev));
			ev.reason[sizeof(ev.reason) - 1] = '\0';
			printf("parent: VM_EVENT kind=%u status=%d reason=%s\n",
			    ev.kind, ev.status, ev.reason);
			if (ev.kind == VM_EVENT_READY)
				h->ready_events++;
			if (ev.kind == VM_EVENT_EXIT)
				snprintf(h->reason, sizeof(h->reason), "%s",
				    ev.reason);
		} else
			printf("parent: message type %u len %zu\n",
			    im.hdr.type, im.len);
		fflush(stdout);
		imsg_free(&im);
	}
}

static void
write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		ssize_t n = write(fd, c, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		c += n;
		len -= (size_t)n;
	}
}

static void
report_sandbox(struct host *h)
{
	char	 path[64], line[256], out[256] = "";
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)h->pid);
	if ((f = fopen(path, "r")) == NULL) {
		printf("VMM-PROC unreadable\n");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "CapEff:", 7) == 0 ||
		    strncmp(line, "Seccomp:", 8) == 0 ||
		    strncmp(line, "NoNewPrivs:", 11) == 0 ||
		    strncmp(line, "Uid:", 4) == 0) {
			char *nl = strchr(line, '\n');
			char *p;

			if (nl)
				*nl = '\0';
			for (p = line; *p; p++)
				if (*p == '\t')
					*p = ' ';
			strlcat(out, " ", sizeof(out));
			strlcat(out, line, sizeof(out));
		}
	}
	fclose(f);
	printf("VMM-PROC%s\n", out);
	fflush(stdout);
}

static void
console_line(struct host *h, const char *line)
{
	char	 reply[LINE_MAX_LEN + 8];

	printf("console: %s\n", line);
	fflush(stdout);
	if (strncmp(line, "PING ", 5) == 0) {
		snprintf(reply, sizeof(reply), "PONG %s\n", line + 5);
		write_all(h->console, reply, strlen(reply));
	} else if (strcmp(line, "SANDBOX?") == 0) {
		report_sandbox(h);
		write_all(h->console, "SANDBOX-DONE\n", 13);
	}
}

static void
read_lines(int fd, char *buf, size_t *len, struct host *h, int is_console)
{
	char	 tmp[4096];
	ssize_t	 n = read(fd, tmp, sizeof(tmp));
	ssize_t	 i;

	if (n <= 0)
		return;
	for (i = 0; i < n; i++) {
		char c = tmp[i];

		if (!is_console)
			write_all(STDERR_FILENO, &c, 1);
		if (c == '\r')
			continue;
		if (c == '\n' || *len == LINE_MAX_LEN - 1) {
			buf[*len] = '\0';
			if (is_console)
				console_line(h, buf);
			else if (strstr(buf, "guest ended: ") != NULL)
				snprintf(h->reason, sizeof(h->reason), "%s",
				    strstr(buf, "guest ended: ") + 13);
			else if (strstr(buf, "fatal") != NULL && !h->reason[0])
				snprintf(h->reason, sizeof(h->reason), "%s", buf);
			*len = 0;
			continue;
		}
		buf[(*len)++] = c;
	}
}

static void
netproxy_read(struct host *h)
{
	struct imsg	 im;
	ssize_t		 n = imsgbuf_read(&h->np);

	if (n == 0 || (n == -1 && errno != EAGAIN)) {
		h->np_open = 0;
		return;
	}
	while (imsg_get(&h->np, &im) == 1) {
		struct msg_stream_new sn;
		unsigned i;

		if (im.hdr.type != MSG_STREAM_NEW || im.len != sizeof(sn) ||
		    im.fd == -1) {
			printf("netproxy: unexpected message type %u len %zu\n",
			    im.hdr.type, im.len);
			imsg_free(&im);
			continue;
		}
		memcpy(&sn, im.data, sizeof(sn));
		printf("stream-new port=%u cid=%u header=%u\n", sn.port,
		    sn.guest_cid, sn.has_header);
		fflush(stdout);
		for (i = 0; i < MAX_STREAMS; i++)
			if (h->st[i].fd == -1)
				break;
		if (i == MAX_STREAMS) {
			imsg_free(&im);
			continue;
		}
		h->st[i] = (struct stream){ .fd = im.fd, .port = sn.port,
		    .header_pending = sn.has_header ? 1 : 0 };
		(void)fcntl(im.fd, F_SETFL, fcntl(im.fd, F_GETFL) & ~O_NONBLOCK);
		im.fd = -1;
		h->nstreams++;
		imsg_free(&im);
	}
}

static void
stream_read(struct stream *s)
{
	char	 buf[65536];
	ssize_t	 n = read(s->fd, buf, sizeof(buf));
	size_t	 off = 0;

	if (n <= 0) {
		printf("stream-done port=%u echoed=%llu\n", s->port, s->bytes);
		fflush(stdout);
		close(s->fd);
		s->fd = -1;
		return;
	}
	if (s->header_pending) {
		while (off < (size_t)n && s->header_pending) {
			char c = buf[off++];

			if (c == '\n' || s->hlen == sizeof(s->header) - 1) {
				s->header[s->hlen] = '\0';
				printf("stream-header port=%u: %s\n", s->port,
				    s->header);
				fflush(stdout);
				s->header_pending = 0;
			} else
				s->header[s->hlen++] = c;
		}
	}
	if ((size_t)n > off) {
		write_all(s->fd, buf + off, (size_t)n - off);
		s->bytes += (size_t)n - off;
	}
}

int
main(int argc, char *argv[])
{
	struct host	 h;
	const char	*expect_reason = NULL;
	int		 expect_status = 0, i, argi, status = 0, done = 0;
	int		 cons[2], np[2], errp[2];
	char		**vargv;
	int		 vargc, chan[2] = { -1, -1 };
	struct parent_args pa;

	memset(&pa, 0, sizeof(pa));
	pa.mem = 256;
	pa.cpus = 1;
	pa.cmdline = "";
	memset(&h, 0, sizeof(h));
	h.name = "vm";
	for (argi = 1; argi < argc; argi++) {
		if (strcmp(argv[argi], "--") == 0) {
			argi++;
			break;
		} else if (strcmp(argv[argi], "--case") == 0 && argi + 1 < argc)
			h.name = argv[++argi];
		else if (strcmp(argv[argi], "--expect-status") == 0 &&
		    argi + 1 < argc)
			expect_status = atoi(argv[++argi]);
		else if (strcmp(argv[argi], "--expect-reason") == 0 &&
		    argi + 1 < argc)
			expect_reason = argv[++argi];
		else if (strcmp(argv[argi], "--parent") == 0)
			pa.on = 1;
		else if (strcmp(argv[argi], "--kernel") == 0 && argi + 1 < argc)
			pa.kernel = argv[++argi];
		else if (strcmp(argv[argi], "--initrd") == 0 && argi + 1 < argc &&
		    pa.ninitrd < 4)
			pa.initrd[pa.ninitrd++] = argv[++argi];
		else if (strcmp(argv[argi], "--disk") == 0 && argi + 1 < argc &&
		    pa.ndisk < 4)
			pa.disk[pa.ndisk++] = argv[++argi];
		else if (strcmp(argv[argi], "--disk-rw") == 0 && argi + 1 < argc &&
		    pa.ndisk < 4) {
			pa.disk_rw[pa.ndisk] = 1;
			pa.disk[pa.ndisk++] = argv[++argi];
		}
		else if (strcmp(argv[argi], "--cmdline") == 0 && argi + 1 < argc)
			pa.cmdline = argv[++argi];
		else if (strcmp(argv[argi], "--mem") == 0 && argi + 1 < argc)
			pa.mem = (unsigned)atoi(argv[++argi]);
		else if (strcmp(argv[argi], "--cpus") == 0 && argi + 1 < argc)
			pa.cpus = (unsigned)atoi(argv[++argi]);
		else {
			fprintf(stderr, "vm-host: bad argument %s\n", argv[argi]);
			return 2;
		}
	}
	if (argi >= argc) {
		fprintf(stderr, "usage: vm-host --case NAME [--expect-status N] "
		    "[--expect-reason TEXT] -- capsem-vmm --standalone ...\n");
		return 2;
	}
	for (i = 0; i < MAX_STREAMS; i++)
		h.st[i].fd = -1;
	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, cons) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, np) == -1 || pipe(errp) == -1) {
		perror("vm-host: socketpair");
		return 1;
	}
	vargc = argc - argi;
	vargv = calloc((size_t)vargc + 5, sizeof(*vargv));
	for (i = 0; i < vargc; i++)
		vargv[i] = argv[argi + i];
	if (pa.on) {
		if (pa.kernel == NULL ||
		    socketpair(AF_UNIX, SOCK_STREAM, 0, chan) == -1) {
			fprintf(stderr, "vm-host: --parent needs --kernel\n");
			return 2;
		}
		vargv[vargc++] = "-I";
		vargv[vargc++] = "0";
	} else {
		vargv[vargc++] = "--console-fd=3";
		vargv[vargc++] = "--netproxy-fd=4";
	}
	vargv[vargc] = NULL;

	if ((h.pid = fork()) == -1) {
		perror("vm-host: fork");
		return 1;
	}
	if (h.pid == 0) {
		if (pa.on) {
			if (dup2(chan[1], 3) == -1 || dup2(errp[1], 2) == -1)
				_exit(127);
			for (i = 4; i < 1024; i++)
				close(i);
		} else {
			if (dup2(cons[1], 3) == -1 || dup2(np[1], 4) == -1 ||
			    dup2(errp[1], 2) == -1)
				_exit(127);
			for (i = 5; i < 1024; i++)
				close(i);
		}
		execv(vargv[0], vargv);
		perror("vm-host: exec");
		_exit(127);
	}
	if (pa.on) {
		close(chan[1]);
		imsgbuf_init(&h.chan, chan[0], IMSG_MAXLEN_DEFAULT);
		h.chan_open = 1;
		/* the fds travel to the vmm and are closed here once sent */
		parent_send(&h, &pa, cons[1], errp[1], np[1]);
	} else {
		close(cons[1]);
		close(np[1]);
		close(errp[1]);
	}
	h.console = cons[0];
	h.errpipe = errp[0];
	imsgbuf_init(&h.np, np[0], IMSG_MAXLEN_DEFAULT);
	h.np_open = 1;

	while (!done) {
		struct pollfd	 pfd[4 + MAX_STREAMS];
		int		 idx[4 + MAX_STREAMS];
		int		 n = 0, r;
		pid_t		 w;

		pfd[n] = (struct pollfd){ h.console, POLLIN, 0 }; idx[n++] = -1;
		if (h.errpipe != -1) {
			pfd[n] = (struct pollfd){ h.errpipe, POLLIN, 0 };
			idx[n++] = -2;
		}
		if (h.np_open) {
			pfd[n] = (struct pollfd){ np[0], POLLIN, 0 };
			idx[n++] = -3;
		}
		if (h.chan_open) {
			pfd[n] = (struct pollfd){ chan[0], POLLIN, 0 };
			idx[n++] = -4;
		}
		for (i = 0; i < MAX_STREAMS; i++)
			if (h.st[i].fd != -1) {
				pfd[n] = (struct pollfd){ h.st[i].fd, POLLIN, 0 };
				idx[n++] = i;
			}
		r = poll(pfd, (nfds_t)n, 200);
		for (i = 0; r > 0 && i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (idx[i] == -1)
				read_lines(h.console, h.cline, &h.clen, &h, 1);
			else if (idx[i] == -2) {
				char c;

				if (pfd[i].revents & POLLIN)
					read_lines(h.errpipe, h.eline, &h.elen,
					    &h, 0);
				else if (read(h.errpipe, &c, 0) == 0) {
					close(h.errpipe);
					h.errpipe = -1;
				}
			} else if (idx[i] == -3)
				netproxy_read(&h);
			else if (idx[i] == -4)
				chan_read(&h);
			else
				stream_read(&h.st[idx[i]]);
		}
		w = waitpid(h.pid, &status, WNOHANG);
		if (w == h.pid) {
			while (h.chan_open && imsgbuf_read(&h.chan) > 0)
				;
			if (pa.on) {
				struct imsg im;

				while (imsg_get(&h.chan, &im) == 1) {
					if (im.hdr.type == MSG_VM_EVENT &&
					    im.len == sizeof(struct msg_vm_event)) {
						struct msg_vm_event ev;

						memcpy(&ev, im.data, sizeof(ev));
						ev.reason[sizeof(ev.reason) - 1] = 0;
						snprintf(h.reason, sizeof(h.reason),
						    "%s", ev.reason);
					}
					imsg_free(&im);
				}
			}
			/* drain what the vmm left in its stderr pipe */
			if (h.errpipe != -1) {
				char	 tmp[4096];
				ssize_t	 m;

				(void)fcntl(h.errpipe, F_SETFL, O_NONBLOCK);
				while ((m = read(h.errpipe, tmp, sizeof(tmp))) > 0) {
					write_all(STDERR_FILENO, tmp, (size_t)m);
					{
						char *g = memmem(tmp, (size_t)m,
						    "guest ended: ", 13);
						if (g != NULL) {
							char *e = memchr(g, '\n',
							    (size_t)(tmp + m - g));
							snprintf(h.reason,
							    sizeof(h.reason), "%.*s",
							    (int)((e ? e : tmp + m) -
							    g - 13), g + 13);
						}
					}
				}
			}
			done = 1;
		}
	}
	{
		int code = WIFEXITED(status) ? WEXITSTATUS(status) :
		    128 + WTERMSIG(status);
		int ok = code == expect_status && (expect_reason == NULL ||
		    strstr(h.reason, expect_reason) != NULL);

		printf("VMM-EXIT case=%s status=%d streams=%u ready=%d reason=%s\n",
		    h.name, code, h.nstreams, h.ready_events, h.reason);
		printf("CAPSEM-RESULT %s-exit %s status=%d (want %d) reason=%s\n",
		    h.name, ok ? "PASS" : "FAIL", code, expect_status, h.reason);
		fflush(stdout);
		return ok ? 0 : 1;
	}
}
