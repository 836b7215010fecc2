/*
 * upstream.c: parse and connect the relay/DNS upstream address.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "event.h"
#include "upstream.h"

int
parse_uint(const char *s, unsigned long min, unsigned long max,
    unsigned long *out)
{
	unsigned long v = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s != '\0'; s++) {
		unsigned long digit;

		if (*s < '0' || *s > '9')
			return -1;
		digit = (unsigned long)(*s - '0');
		if (digit > max || v > (max - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
upstream_parse(struct upstream *up, const char *text, const char **errmsg)
{
	memset(up, 0, sizeof(*up));
	if (strlen(text) >= sizeof(up->text)) {
		*errmsg = "upstream address too long";
		return -1;
	}
	snprintf(up->text, sizeof(up->text), "%s", text);

	if (strncmp(text, "unix:", 5) == 0) {
		const char *path = text + 5;
		size_t	 len = strlen(path);

		if (len == 0 || path[0] != '/') {
			*errmsg = "unix: needs an absolute path";
			return -1;
		}
		if (len >= sizeof(up->addr.sun.sun_path)) {
			*errmsg = "unix socket path too long";
			return -1;
		}
		up->addr.sun.sun_family = AF_UNIX;
		memcpy(up->addr.sun.sun_path, path, len + 1);
		up->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    len + 1);
		return 0;
	}
	if (strncmp(text, "vsock:", 6) == 0) {
		char	 cidbuf[16];
		const char *colon = strchr(text + 6, ':');
		unsigned long cid, port;
		size_t	 cidlen;

		if (colon == NULL) {
			*errmsg = "vsock address is vsock:CID:PORT";
			return -1;
		}
		cidlen = (size_t)(colon - (text + 6));
		if (cidlen == 0 || cidlen >= sizeof(cidbuf)) {
			*errmsg = "bad vsock CID";
			return -1;
		}
		memcpy(cidbuf, text + 6, cidlen);
		cidbuf[cidlen] = '\0';
		if (parse_uint(cidbuf, 0, 0xffffffffUL, &cid) == -1) {
			*errmsg = "bad vsock CID";
			return -1;
		}
		if (parse_uint(colon + 1, 1, 0xffffffffUL, &port) == -1) {
			*errmsg = "bad vsock port";
			return -1;
		}
		up->addr.svm.svm_family = AF_VSOCK;
		up->addr.svm.svm_cid = (unsigned int)cid;
		up->addr.svm.svm_port = (unsigned int)port;
		up->addrlen = sizeof(up->addr.svm);
		return 0;
	}
	*errmsg = "upstream must be vsock:CID:PORT or unix:/path";
	return -1;
}

int
upstream_connect(const struct upstream *up, int *inprogress)
{
	int	 fd;

	*inprogress = 0;
	fd = socket(up->addr.sa.sa_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, &up->addr.sa, up->addrlen) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		*inprogress = 1;
		return fd;
	}
	/* EAGAIN from a unix socket means its backlog is full: a failure. */
	int	 saved = errno;

	close(fd);
	errno = saved;
	return -1;
}

int
inet_addrport_parse(struct sockaddr_in *sin, const char *text)
{
	char	 host[INET_ADDRSTRLEN];
	const char *colon = strrchr(text, ':');
	unsigned long port;
	size_t	 hostlen;

	if (colon == NULL)
		return -1;
	hostlen = (size_t)(colon - text);
	if (hostlen == 0 || hostlen >= sizeof(host))
		return -1;
	memcpy(host, text, hostlen);
	host[hostlen] = '\0';
	if (parse_uint(colon + 1, 1, 65535, &port) == -1)
		return -1;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	return 0;
}

int
upstream_connect_result(int fd)
{
	int	 err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return 1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

int
upstream_connect_event(int upstream, bool *connecting, int fd,
    uint32_t events)
{
	int	 r;

	if (!*connecting)
		return 0;
	if (fd != upstream || !(events & (EV_WRITE | EV_HUP)))
		return 1;
	if ((r = upstream_connect_result(upstream)) != 0)
		return r;
	*connecting = false;
	return 0;
}
