/*
 * session_listen.c: proxy mode's host-side listeners (capsemctl proxy -l,
 * --http, --dns).  Each accepted connection goes to a netproxy, round
 * robin, as a MSG_STREAM_NEW with the fd; none open: closed (fail closed).
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "session_priv.h"

/* Host-side listeners (proxy mode): each accepted socket goes to netproxy. */
static void
on_listener_accept(int fd, uint32_t events, void *arg)
{
	struct listener *l = arg;
	struct session	*s = l->s;
	struct session_child *np;
	struct msg_stream_new sn;
	int		 cfd, tries;

	(void)events;
	while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) !=
	    -1) {
		if (s->stopping || !s->announced) {
			close(cfd);
			continue;
		}
		np = NULL;
		for (tries = 0; tries < s->nproxies; tries++) {
			struct session_child *c =
			    s->proxies[s->next_proxy++ % s->nproxies];

			if (c->chan_open) {
				np = c;
				break;
			}
		}
		if (np == NULL) {
			close(cfd);	/* fail closed */
			continue;
		}
		memset(&sn, 0, sizeof(sn));
		sn.port = l->port_tag;
		sn.guest_cid = 0;
		sn.has_header = 0;
		if (send_child(np, MSG_STREAM_NEW, 0, cfd, &sn, sizeof(sn)) == -1)
			log_warn("pass a connection to %s", np->label);
	}
}

static int
parse_listen_addr(const char *spec, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	char	 host[64];
	const char *colon, *errstr;
	long long port;
	size_t	 hlen;

	if ((colon = strrchr(spec, ':')) == NULL)
		return -1;
	hlen = (size_t)(colon - spec);
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	port = strtonum(colon + 1, 1, 65535, &errstr);
	if (errstr != NULL)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[hlen - 1] == ']') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*sin);
	}
	return 0;
}

int
open_listeners(struct session *s, char *err, size_t errlen)
{
	int	 i, one = 1;

	for (i = 0; i < s->opts.nlisten; i++) {
		const struct session_listen *sl = &s->opts.listen[i];
		struct listener *l = &s->listeners[s->nlisteners];
		struct sockaddr_storage ss;
		socklen_t sslen;

		if (parse_listen_addr(sl->addr, &ss, &sslen) == -1) {
			snprintf(err, errlen, "bad listen address \"%s\": use "
			    "ADDR:PORT with a numeric address", sl->addr);
			return -1;
		}
		if ((l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1)
			fatal("socket");
		setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(l->fd, (struct sockaddr *)&ss, sslen) == -1 ||
		    listen(l->fd, 128) == -1) {
			snprintf(err, errlen, "listen on %s: %s", sl->addr,
			    strerror(errno));
			close(l->fd);
			return -1;
		}
		l->s = s;
		l->port_tag = sl->port_tag;
		if (event_add(s->loop, l->fd, EV_READ, on_listener_accept, l) == -1)
			fatal("event_add");
		s->nlisteners++;
	}
	return 0;
}
