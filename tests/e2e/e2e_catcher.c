/*
 * e2e-catcher: listens where an escaping guest would try to go (run inside
 * the first-level guest, on addresses such as 203.0.113.7 and 8.8.8.8
 * added to its loopback) and prints one line for every connection or
 * datagram that reaches it:
 *
 *   CATCH tcp 203.0.113.7:22 from 127.0.0.1:40000
 *
 * So a test can assert that nothing from the guest got there.  The same
 * binary (static) is the guest's sender for what busybox cannot send:
 *
 *   e2e-catcher tcp:ADDR:PORT|udp:ADDR:PORT ...     listen and report
 *   e2e-catcher send udp:ADDR:PORT TEXT             one datagram
 *   e2e-catcher send tcp:ADDR:PORT TEXT             connect (3 s), write
 * The sender prints "sent" or the error; exit status 0 only if sent.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CATCH_MAX	32

struct catch_point {
	int	 fd;
	int	 udp;
	char	 spec[64];
};

static int
parse_point(struct catch_point *cp, const char *spec, struct sockaddr_in *sin)
{
	char	 addr[32];
	const char *rest, *colon;
	long	 port;

	if (strncmp(spec, "tcp:", 4) == 0)
		cp->udp = 0;
	else if (strncmp(spec, "udp:", 4) == 0)
		cp->udp = 1;
	else
		return -1;
	rest = spec + 4;
	if ((colon = strrchr(rest, ':')) == NULL ||
	    (size_t)(colon - rest) >= sizeof(addr))
		return -1;
	memcpy(addr, rest, (size_t)(colon - rest));
	addr[colon - rest] = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port < 1 || port > 65535)
		return -1;
	snprintf(cp->spec, sizeof(cp->spec), "%s %s:%ld",
	    cp->udp ? "udp" : "tcp", addr, port);
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
		return -1;
	return 0;
}

static int
open_point(struct catch_point *cp, const char *spec)
{
	struct sockaddr_in sin;
	int	 one = 1;

	if (parse_point(cp, spec, &sin) == -1)
		return -1;
	if ((cp->fd = socket(AF_INET, cp->udp ? SOCK_DGRAM : SOCK_STREAM,
	    0)) == -1)
		return -1;
	setsockopt(cp->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(cp->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (!cp->udp && listen(cp->fd, 16) == -1)) {
		fprintf(stderr, "e2e-catcher: %s: %s\n", cp->spec,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
send_one(const char *spec, const char *text)
{
	struct catch_point cp;
	struct sockaddr_in sin;
	struct timeval tv = { 3, 0 };
	int	 fd;

	if (parse_point(&cp, spec, &sin) == -1) {
		printf("bad address %s\n", spec);
		return 2;
	}
	if ((fd = socket(AF_INET, cp.udp ? SOCK_DGRAM : SOCK_STREAM, 0)) == -1) {
		printf("socket: %s\n", strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (cp.udp) {
		if (sendto(fd, text, strlen(text), 0, (struct sockaddr *)&sin,
		    sizeof(sin)) == -1) {
			printf("sendto %s: %s\n", cp.spec, strerror(errno));
			close(fd);
			return 1;
		}
	} else if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    write(fd, text, strlen(text)) == -1) {
		printf("connect %s: %s\n", cp.spec, strerror(errno));
		close(fd);
		return 1;
	}
	printf("sent %s\n", cp.spec);
	close(fd);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct catch_point cps[CATCH_MAX];
	struct pollfd pfd[CATCH_MAX];
	struct sockaddr_in from;
	socklen_t fromlen;
	char	 buf[2048], fromstr[32];
	int	 n, i, fd;
	ssize_t	 len;

	if (argc == 4 && strcmp(argv[1], "send") == 0)
		return send_one(argv[2], argv[3]);
	if (argc < 2 || argc - 1 > CATCH_MAX) {
		fprintf(stderr, "usage: e2e-catcher tcp:ADDR:PORT|udp:ADDR:PORT "
		    "...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	n = argc - 1;
	for (i = 0; i < n; i++) {
		if (open_point(&cps[i], argv[i + 1]) == -1) {
			fprintf(stderr, "e2e-catcher: cannot listen on %s\n",
			    argv[i + 1]);
			return 1;
		}
		pfd[i].fd = cps[i].fd;
		pfd[i].events = POLLIN;
		printf("CATCHER-LISTEN %s\n", cps[i].spec);
	}
	for (;;) {
		if (poll(pfd, (nfds_t)n, -1) == -1) {
			if (errno == EINTR)
				continue;
			perror("e2e-catcher: poll");
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			fromlen = sizeof(from);
			memset(&from, 0, sizeof(from));
			if (cps[i].udp) {
				len = recvfrom(cps[i].fd, buf, sizeof(buf), 0,
				    (struct sockaddr *)&from, &fromlen);
				if (len < 0)
					continue;
			} else {
				if ((fd = accept(cps[i].fd,
				    (struct sockaddr *)&from, &fromlen)) == -1)
					continue;
				close(fd);
				len = 0;
			}
			inet_ntop(AF_INET, &from.sin_addr, fromstr,
			    sizeof(fromstr));
			printf("CATCH %s from %s:%u len %zd\n", cps[i].spec,
			    fromstr, (unsigned)ntohs(from.sin_port), len);
		}
	}
}
