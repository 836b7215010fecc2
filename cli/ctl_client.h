/*
 * ctl_client: capsemctl's client side of a session's control socket (the
 * server is session_ctl.c).
 */
#ifndef CAPSEM_CTL_CLIENT_H
#define CAPSEM_CTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "imsg.h"
#include "msg.h"

struct ctl_conn {
	struct imsgbuf	 ibuf;
	char		 path[108];
};

/* Connect to session id's control socket. -1 with errno (ENOENT: no such session). */
int	ctl_connect(struct ctl_conn *, const char *session_id);
int	ctl_connect_path(struct ctl_conn *, const char *path);
int	ctl_send(struct ctl_conn *, uint32_t type);
/* An empty message carrying a copy of fd (the caller keeps fd). */
int	ctl_send_fd(struct ctl_conn *, uint32_t type, int fd);
/* Wait up to timeout_ms for the next message. 1 got one, 0 EOF, -1 error/timeout. */
int	ctl_next(struct ctl_conn *, struct imsg *, int timeout_ms);
void	ctl_close(struct ctl_conn *);

/* A session id is 1-31 of [A-Za-z0-9._-], not starting with '.'. */
bool	session_id_valid(const char *);

#endif
