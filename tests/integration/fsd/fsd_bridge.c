/*
 * fsd-bridge: the real capsem-fsd behind the host kernel's FUSE driver, in
 * place of the vmm's virtio-fs device, so its file service can be tested
 * with real tools on a real mount without a VM.  It is the parent (HELLO,
 * FS_SETUP with the directory fd) and the vmm (the peer channel) at once,
 * and moves each request read from /dev/fuse to fsd as the device would
 * (MSG_FS_REQUEST, FORGETs without reply, INTERRUPT not forwarded) and
 * each reply back.
 *
 * usage: fsd-bridge [-r] [-i nodes] FSD DIR MOUNTPOINT
 * Prints "ready <sandbox report>" once mounted; after the mount goes
 * (umount), "status <fsd's status detail>" and "inodes_full N", then
 * exits 0.  A violation reply prints "violation <why>" and exits 3.
 */
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certd_harness.h"
#include "sandbox.h"

static uint8_t request[MSG_FS_REQUEST_MAX];

static void
die(const char *what)
{
	fprintf(stderr, "fsd-bridge: %s: %s\n", what, strerror(errno));
	exit(2);
}

static pid_t
spawn(const char *path, struct imsgbuf *parent)
{
	int	 sp[2];
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		die("socketpair");
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		if (dup2(sp[1], PROC_PARENT_FD) == -1)
			_exit(127);
		closefrom(PROC_PARENT_FD + 1);
		execl(path, "capsem-fsd", "-I", "0", (char *)NULL);
		_exit(127);
	}
	close(sp[1]);
	imsgbuf_init(parent, sp[0], 64 * 1024);
	return pid;
}

static void
expect(struct imsgbuf *ibuf, uint32_t type, struct harness_msg *m)
{
	if (harness_recv(ibuf, m, 30000) != 1 || m->type != type) {
		fprintf(stderr, "fsd-bridge: expected message %u\n", type);
		exit(2);
	}
}

/* Forward one request from the kernel; false when the mount is gone. */
static bool
kernel_to_fsd(int fuse, struct imsgbuf *vmm, uint32_t *tag)
{
	struct fuse_in_header h;
	struct msg_fs_request mr;
	ssize_t	 n;

	if ((n = read(fuse, request, sizeof(request))) == -1) {
		if (errno == ENODEV)
			return false;
		if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
			return true;
		die("read /dev/fuse");
	}
	if ((size_t)n < sizeof(h))
		return true;
	memcpy(&h, request, sizeof(h));
	if (h.opcode == FUSE_INTERRUPT)
		return true;		/* as the device: not forwarded */
	memset(&mr, 0, sizeof(mr));
	mr.out_max = MSG_FS_REPLY_MAX;
	if (imsg_compose2(vmm, MSG_FS_REQUEST, ++*tag, -1, &mr, sizeof(mr),
	    request, (size_t)n) == -1 || imsgbuf_flush(vmm) == -1)
		die("send request");
	return true;
}

static void
fsd_to_kernel(int fuse, struct imsgbuf *vmm)
{
	struct imsg	 imsg;
	ssize_t		 n;
	int		 r;

	/* ECONNRESET: fsd died with our requests unread (as proc.c) */
	if ((n = imsgbuf_read(vmm)) == 0 || (n == -1 && errno == ECONNRESET)) {
		fprintf(stderr, "fsd-bridge: fsd closed the channel\n");
		exit(4);
	}
	if (n == -1 && errno != EAGAIN)
		die("read fsd");
	while ((r = imsg_get(vmm, &imsg)) == 1) {
		if (imsg.hdr.type == MSG_FS_VIOLATION) {
			printf("violation %.*s\n", (int)imsg.len,
			    (const char *)imsg.data);
			exit(3);
		}
		if (imsg.hdr.type != MSG_FS_REPLY) {
			fprintf(stderr, "fsd-bridge: message %u\n",
			    imsg.hdr.type);
			exit(2);
		}
		/* ENOENT: the request was interrupted and is gone */
		if (write(fuse, imsg.data, imsg.len) == -1 && errno != ENOENT)
			die("write /dev/fuse");
		imsg_free(&imsg);
	}
	if (r == -1)
		die("imsg_get");
}

int
main(int argc, char *argv[])
{
	struct imsgbuf	 parent, vmm;
	struct harness_msg m;
	struct msg_hello hello;
	struct msg_peer_channel pc;
	struct msg_fs_setup setup;
	struct msg_status st;
	struct msg_ready ready;
	struct pollfd	 pfd[2];
	char		 opts[256], rep[256];
	uint32_t	 tag = 0;
	int		 ch, sv[2], dirfd, fuse, status;
	pid_t		 pid;

	memset(&setup, 0, sizeof(setup));
	while ((ch = getopt(argc, argv, "ri:")) != -1) {
		switch (ch) {
		case 'r':
			setup.readonly = 1;
			break;
		case 'i':
			setup.inodes_max = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 3)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	pid = spawn(argv[optind], &parent);

	memset(&hello, 0, sizeof(hello));
	snprintf(hello.session_id, sizeof(hello.session_id), "fsdtest");
	if (harness_send(&parent, MSG_HELLO, 0, -1, &hello, sizeof(hello)) ==
	    -1)
		die("HELLO");
	expect(&parent, MSG_READY, &m);
	memcpy(&ready, m.data, sizeof(ready));
	harness_msg_free(&m);
	sandbox_report_string(&ready.sandbox, rep, sizeof(rep));

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		die("socketpair");
	pc.proc = PROC_VMM;
	pc.instance = 0;
	if (harness_send(&parent, MSG_PEER_CHANNEL, 0, sv[1], &pc,
	    sizeof(pc)) == -1)
		die("PEER_CHANNEL");
	close(sv[1]);
	imsgbuf_init(&vmm, sv[0], MSG_FS_REPLY_MAX + 64);

	if ((dirfd = open(argv[optind + 1], O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		die(argv[optind + 1]);
	setup.guest_uid = getuid();
	setup.guest_gid = getgid();
	if (harness_send(&parent, MSG_FS_SETUP, 0, dirfd, &setup,
	    sizeof(setup)) == -1)
		die("FS_SETUP");
	close(dirfd);

	if ((fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC)) == -1)
		die("/dev/fuse");
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=%u,"
	    "group_id=%u,default_permissions,allow_other", fuse,
	    (unsigned)getuid(), (unsigned)getgid());
	if (mount("capsem-fsd", argv[optind + 2], "fuse.capsem-fsd",
	    MS_NOSUID | MS_NODEV, opts) == -1)
		die("mount");
	printf("ready %s\n", rep);

	pfd[0].fd = fuse;
	pfd[0].events = POLLIN;
	pfd[1].fd = sv[0];
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			fsd_to_kernel(fuse, &vmm);
		if (pfd[0].revents & (POLLHUP | POLLERR))
			break;
		if (pfd[0].revents & POLLIN && !kernel_to_fsd(fuse, &vmm, &tag))
			break;
	}

	if (harness_send(&parent, MSG_STATUS_REQUEST, 0, -1, NULL, 0) == -1)
		die("STATUS");
	expect(&parent, MSG_STATUS_RESPONSE, &m);
	memcpy(&st, m.data, sizeof(st));
	harness_msg_free(&m);
	printf("status %s\n", st.detail);
	printf("inodes_full %llu\n", (unsigned long long)st.counters[3]);
	harness_send(&parent, MSG_SHUTDOWN, 0, -1, NULL, 0);
	if (waitpid(pid, &status, 0) == -1)
		die("waitpid");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 5;
usage:
	fprintf(stderr, "usage: fsd-bridge [-r] [-i nodes] FSD DIR MOUNTPOINT\n");
	return 2;
}
