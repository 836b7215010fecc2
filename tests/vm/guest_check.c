/*
 * guest-check: the guest half of the VM tests (static, runs in the L2
 * guest's initrd).  Prints one line "L2 <check>: <result>" per check.
 *
 *   guest-check echo PORT BYTES     connect to CID 2 PORT, send the relay
 *                                   header and BYTES of a pattern, read the
 *                                   echo back and compare: "ok BYTES"
 *   guest-check refused CID PORT    connect must fail: "reset" (ECONNRESET
 *                                   or ECONNREFUSED), else "connected"/errno
 *   guest-check control TEXT        send TEXT\n on the control port 1024
 */
#include <sys/socket.h>

#include <linux/vm_sockets.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
vsock_connect(unsigned cid, unsigned port)
{
	struct sockaddr_vm sa;
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.svm_family = AF_VSOCK;
	sa.svm_cid = cid;
	sa.svm_port = port;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static unsigned char
pattern(unsigned long long i)
{
	return (unsigned char)((i * 2654435761ULL) >> 13);
}

static int
echo(unsigned port, unsigned long long total)
{
	const char	*hdr = "CAPSEM/1 192.0.2.1 443\n";
	unsigned long long sent = 0, got = 0;
	unsigned char	 buf[65536];
	int		 fd = vsock_connect(2, port);
	size_t		 hoff = 0;

	if (fd == -1) {
		printf("L2 vsock-%u: connect: %s\n", port, strerror(errno));
		return 1;
	}
	while (got < total) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		if (sent < total || hoff < strlen(hdr))
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, 30000) <= 0) {
			printf("L2 vsock-%u: timeout sent=%llu got=%llu\n", port,
			    sent, got);
			return 1;
		}
		if (pfd.revents & POLLOUT) {
			ssize_t n;

			if (hoff < strlen(hdr)) {
				n = send(fd, hdr + hoff, strlen(hdr) - hoff,
				    MSG_DONTWAIT);
				if (n > 0)
					hoff += (size_t)n;
			} else {
				size_t len = sizeof(buf), i;

				if (len > total - sent)
					len = (size_t)(total - sent);
				for (i = 0; i < len; i++)
					buf[i] = pattern(sent + i);
				n = send(fd, buf, len, MSG_DONTWAIT);
				if (n > 0)
					sent += (size_t)n;
				if (sent == total)
					shutdown(fd, SHUT_WR);
			}
			if (n == -1 && errno != EAGAIN) {
				printf("L2 vsock-%u: send: %s\n", port,
				    strerror(errno));
				return 1;
			}
		}
		if (pfd.revents & (POLLIN | POLLHUP)) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			ssize_t i;

			if (n == 0) {
				printf("L2 vsock-%u: early EOF at %llu\n", port,
				    got);
				return 1;
			}
			if (n == -1 && errno != EAGAIN) {
				printf("L2 vsock-%u: recv: %s\n", port,
				    strerror(errno));
				return 1;
			}
			for (i = 0; i < n; i++)
				if (buf[i] != pattern(got + (unsigned long long)i)) {
					printf("L2 vsock-%u: corrupt at %llu\n",
					    port, got + (unsigned long long)i);
					return 1;
				}
			if (n > 0)
				got += (unsigned long long)n;
		}
	}
	close(fd);
	printf("L2 vsock-%u: ok %llu\n", port, got);
	return 0;
}

int
main(int argc, char *argv[])
{
	int rc = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && strcmp(argv[1], "echo") == 0)
		rc = echo((unsigned)atoi(argv[2]), strtoull(argv[3], NULL, 10));
	else if (argc == 4 && strcmp(argv[1], "refused") == 0) {
		unsigned cid = (unsigned)atoi(argv[2]), port = (unsigned)atoi(argv[3]);
		int fd = vsock_connect(cid, port);

		if (fd != -1)
			printf("L2 vsock-refused-%u-%u: connected\n", cid, port);
		else if (errno == ECONNRESET || errno == ECONNREFUSED) {
			printf("L2 vsock-refused-%u-%u: reset\n", cid, port);
			rc = 0;
		} else
			printf("L2 vsock-refused-%u-%u: %s\n", cid, port,
			    strerror(errno));
	} else if (argc == 3 && strcmp(argv[1], "control") == 0) {
		int fd = vsock_connect(2, 1024);

		if (fd == -1)
			printf("L2 control: %s\n", strerror(errno));
		else {
			dprintf(fd, "%s\n", argv[2]);
			close(fd);
			printf("L2 control: sent\n");
			rc = 0;
		}
	} else
		fprintf(stderr, "usage: guest-check echo PORT BYTES | refused "
		    "CID PORT | control TEXT\n");
	return rc;
}
