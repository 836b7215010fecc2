/*
 * ctl_client.c: capsemctl talking to a running session's parent: the
 * client side of the control socket (the server is session_ctl.c).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl_client.h"
#include "home.h"

bool
session_id_valid(const char *id)
{
	size_t i, len = strlen(id);

	if (len == 0 || len >= MSG_SESSION_MAX || id[0] == '.')
		return false;
	for (i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int
ctl_connect_path(struct ctl_conn *cc, const char *path)
{
	struct sockaddr_un sun;
	int	 fd;

	memset(cc, 0, sizeof(*cc));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	strlcpy(cc->path, path, sizeof(cc->path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int saved = errno;

		close(fd);
		errno = saved == ECONNREFUSED ? ENOENT : saved;
		return -1;
	}
	imsgbuf_init(&cc->ibuf, fd, IMSG_MAXLEN_DEFAULT);
	return 0;
}

int
ctl_connect(struct ctl_conn *cc, const char *session_id)
{
	char	 dir[PATH_MAX], path[PATH_MAX];
	int	 n;

	if (!session_id_valid(session_id)) {
		errno = EINVAL;
		return -1;
	}
	if (session_runtime_dir(dir, sizeof(dir), false) == -1)
		return -1;
	n = snprintf(path, sizeof(path), "%s/%s.sock", dir, session_id);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return ctl_connect_path(cc, path);
}

int
ctl_send(struct ctl_conn *cc, uint32_t type)
{
	if (imsg_compose(&cc->ibuf, type, 0, -1, NULL, 0) == -1)
		return -1;
	return imsgbuf_flush(&cc->ibuf);
}

int
ctl_send_fd(struct ctl_conn *cc, uint32_t type, int fd)
{
	int	 copy;

	if ((copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1)
		return -1;
	if (imsg_compose(&cc->ibuf, type, 0, copy, NULL, 0) == -1) {
		close(copy);
		return -1;
	}
	return imsgbuf_flush(&cc->ibuf);
}

int
ctl_next(struct ctl_conn *cc, struct imsg *imsg, int timeout_ms)
{
	struct pollfd pfd;
	ssize_t	 n;
	int	 r;

	for (;;) {
		if ((r = imsg_get(&cc->ibuf, imsg)) != 0)
			return r;
		pfd.fd = cc->ibuf.fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, timeout_ms)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = imsgbuf_read(&cc->ibuf);
		if (n == 0)
			return 0;
		if (n == -1 && errno != EAGAIN)
			return -1;
	}
}

void
ctl_close(struct ctl_conn *cc)
{
	if (cc->ibuf.fd > 0)
		close(cc->ibuf.fd);
	imsgbuf_clear(&cc->ibuf);
}

