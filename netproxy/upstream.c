/*
 * upstream.c: connections from netproxy to the real servers, "connect to
 * host:port" from the name to a connected, verified end.  Resolve
 * ([upstream] resolve pins first, then numeric hosts, resolver.c's cache,
 * a lookup by resolver.c), refuse loopback/private/link-local/metadata
 * addresses unless [network] private_addresses, connect without blocking
 * under a deadline, TLS with hostname verification, and keep idle
 * connections in a small pool per host:port for reuse.  conn.c calls
 * upstream_open() and gets one answer through its upstream_hooks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "netproxy.h"

static void	upstream_event(int, uint32_t, void *);

static bool
v4_private(uint32_t a)		/* host byte order */
{
	return (a >> 24) == 0 ||		/* 0.0.0.0/8 */
	    (a >> 24) == 10 ||			/* 10/8 */
	    (a >> 24) == 127 ||			/* loopback */
	    (a & 0xffc00000u) == 0x64400000u ||	/* 100.64/10 CGNAT */
	    (a & 0xffff0000u) == 0xa9fe0000u ||	/* 169.254/16, metadata */
	    (a & 0xfff00000u) == 0xac100000u ||	/* 172.16/12 */
	    (a & 0xffffff00u) == 0xc0000000u ||	/* 192.0.0/24 */
	    (a & 0xffff0000u) == 0xc0a80000u ||	/* 192.168/16 */
	    (a & 0xfffe0000u) == 0xc6120000u ||	/* 198.18/15 */
	    (a >> 28) >= 0xe;			/* multicast, reserved */
}

bool
upstream_addr_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		return v4_private(ntohl(sin->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		const uint8_t *b = sin6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) ||
		    IN6_IS_ADDR_V4COMPAT(&sin6->sin6_addr))
			return v4_private(((uint32_t)b[12] << 24) |
			    ((uint32_t)b[13] << 16) | ((uint32_t)b[14] << 8) |
			    b[15]);
		return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) ||
		    IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
		    IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) ||
		    IN6_IS_ADDR_SITELOCAL(&sin6->sin6_addr) ||
		    IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr) ||
		    (b[0] & 0xfe) == 0xfc;		/* fc00::/7 */
	}
	return true;
}

/* Numeric address text into a sockaddr. */
static int
numeric_addr(const char *text, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	struct sockaddr_in	*sin = (void *)ss;
	struct sockaddr_in6	*sin6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sslen = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/*
 * An address for host:port without asking a name server: a pin from
 * [upstream] resolve, or a numeric host.  1 found, 0 not, -1 a bad pin.
 */
static int
resolve_local(struct netproxy *np, const char *host, uint16_t port,
    struct sockaddr_storage *ss, socklen_t *sslen, char *err, size_t errlen)
{
	const struct msg_proxy_settings *s = &np->settings;
	uint32_t	 i;

	for (i = 0; i < s->nresolve && i < PROXY_RESOLVE_MAX; i++) {
		const struct proxy_resolve_pin *p = &s->resolve[i];

		if ((strcmp(p->host, host) == 0 || strcmp(p->host, "*") == 0) &&
		    p->port == port) {
			if (numeric_addr(p->addr, p->target_port, ss, sslen) == 0)
				return 1;
			snprintf(err, errlen, "bad resolve pin address %s",
			    p->addr);
			return -1;
		}
	}
	return numeric_addr(host, port, ss, sslen) == 0 ? 1 : 0;
}

static struct np_upstream *
pool_take(struct netproxy *np, const char *host, uint16_t port, bool tls)
{
	struct np_upstream **pp, *u;

	for (pp = &np->pool; (u = *pp) != NULL; pp = &u->pool_next) {
		if (u->port == port && u->tls == tls &&
		    strcmp(u->host, host) == 0) {
			*pp = u->pool_next;
			u->pool_next = NULL;
			np->npool--;
			return u;
		}
	}
	return NULL;
}

static void
upstream_free(struct netproxy *np, struct np_upstream *u)
{
	if (u->query != NULL)
		resolver_forget(u->query);
	end_close(np, &u->end);
	free(u);
}

static void
addr_text(const struct sockaddr_storage *ss, char *a, size_t alen)
{
	snprintf(a, alen, "?");
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    a, (socklen_t)alen);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr, a,
		    (socklen_t)alen);
}

/*
 * Reasons found before the socket connects (pins, lookups, addresses) are
 * at most UP_REASON_MAX bytes; connect and TLS reasons may fill u->error.
 */
#define UP_REASON_MAX	512

/* Start a non-blocking connection to an address already decided on. */
static int
connect_addr(struct np_upstream *u, const struct sockaddr_storage *ss,
    socklen_t sslen)
{
	struct netproxy *np = u->np;
	char		 a[INET6_ADDRSTRLEN];
	int		 fd;

	if (!np->settings.private_addresses &&
	    upstream_addr_private((const struct sockaddr *)ss)) {
		addr_text(ss, a, sizeof(a));
		snprintf(u->error, UP_REASON_MAX, "%s resolves to a private "
		    "address (%s); set [network] private_addresses = true to "
		    "allow", u->host, a);
		return 403;
	}
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		snprintf(u->error, UP_REASON_MAX, "socket: %s", strerror(errno));
		return 502;
	}
	end_set_nodelay(fd);
	if (connect(fd, (const struct sockaddr *)ss, sslen) == -1 &&
	    errno != EINPROGRESS) {
		snprintf(u->error, UP_REASON_MAX, "connect to %s:%u: %s",
		    u->host, u->port, strerror(errno));
		close(fd);
		return 502;
	}
	u->end.fd = fd;
	u->state = UP_CONNECTING;
	u->deadline = event_now_ms() + np_connect_ms(np);
	if (buf_alloc(&u->end.in, NP_UP_IN_SIZE) == -1 ||
	    buf_alloc(&u->end.out, NP_OUT_SIZE) == -1 ||
	    event_add(np->loop, fd, EV_WRITE, upstream_event, &u->end) == -1) {
		snprintf(u->error, UP_REASON_MAX, "out of memory");
		return 502;
	}
	u->end.events = EV_WRITE;
	return 0;
}

/*
 * Move a connecting upstream along.  1: ready, 0: in progress, -1: failed
 * (u->error says why).
 */
static int
connect_progress(struct netproxy *np, struct np_upstream *u)
{
	int	 soerr = 0, r;
	socklen_t len = sizeof(soerr);

	if (u->state == UP_READY)
		return 1;
	if (u->state == UP_CONNECTING) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);

		if (getsockopt(u->end.fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &len) == -1)
			soerr = errno;
		if (soerr == 0 && getpeername(u->end.fd,
		    (struct sockaddr *)&peer, &plen) == -1) {
			if (errno == ENOTCONN)
				return 0;	/* still connecting */
			soerr = errno;
		}
		if (soerr != 0) {
			snprintf(u->error, sizeof(u->error),
			    "connect to %s:%u: %s", u->host, u->port,
			    strerror(soerr));
			return -1;
		}
		if (!u->tls) {
			u->state = UP_READY;
			return 1;
		}
		if (tls_client_start(&np->tls, &u->end, u->host) == -1) {
			snprintf(u->error, sizeof(u->error), "TLS setup failed");
			return -1;
		}
		u->state = UP_HANDSHAKE;
	}
	u->end.ssl_want_read = u->end.ssl_want_write = false;
	r = mbedtls_ssl_handshake(u->end.ssl);
	if (r == 0) {
		u->state = UP_READY;
		return 1;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_READ) {
		u->end.ssl_want_read = true;
		return 0;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
		u->end.ssl_want_write = true;
		return 0;
	}
	if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		char	 info[256];
		uint32_t flags = mbedtls_ssl_get_verify_result(u->end.ssl);
		char	*nl;

		mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
		while ((nl = strchr(info, '\n')) != NULL)
			*nl = nl[1] == '\0' ? '\0' : ';';
		snprintf(u->error, sizeof(u->error),
		    "upstream certificate for %s rejected: %s", u->host, info);
	} else {
		char	 e[96];

		tls_strerror(r, e, sizeof(e));
		snprintf(u->error, sizeof(u->error),
		    "TLS handshake with %s:%u failed: %s", u->host, u->port, e);
	}
	u->end.failed = true;
	return -1;
}

static void
opening_remove(struct netproxy *np, struct np_upstream *u)
{
	struct np_upstream **pp;

	for (pp = &np->opening; *pp != NULL; pp = &(*pp)->open_next) {
		if (*pp == u) {
			*pp = u->open_next;
			u->open_next = NULL;
			return;
		}
	}
}

/*
 * The open is over: hand u to its connection (status 0), or free it and
 * tell the connection the status to answer and why.  run: not called from
 * within upstream_open, so the connection is run here.
 */
static void
open_finish(struct np_upstream *u, int status, bool run)
{
	struct netproxy *np = u->np;
	struct np_conn	*c = u->end.conn;
	const struct upstream_hooks *hooks = u->hooks;
	char		 reason[sizeof(u->error)];

	opening_remove(np, u);
	if (status == 0)
		hooks->opened(c, u, 0, NULL);
	else {
		memcpy(reason, u->error, sizeof(reason));
		upstream_free(np, u);
		hooks->opened(c, NULL, status, reason);
	}
	if (run)
		hooks->run(c);
}

/* Connecting or in the TLS handshake: go on, then wait for the socket. */
static void
open_progress(struct np_upstream *u, bool run)
{
	struct np_end	*e = &u->end;
	uint32_t	 want = 0;
	int		 r = connect_progress(u->np, u);

	if (r == 1) {
		open_finish(u, 0, run);
		return;
	}
	if (r == -1) {
		open_finish(u, 502, run);
		return;
	}
	if (u->state == UP_CONNECTING)
		want = EV_WRITE;
	else {
		if (e->ssl_want_read)
			want |= EV_READ;
		if (e->ssl_want_write)
			want |= EV_WRITE;
	}
	if (e->fd != -1 && want != e->events &&
	    event_mod(u->np->loop, e->fd, want) == 0)
		e->events = want;
}

static void
open_connect(struct np_upstream *u, const struct sockaddr_storage *ss,
    socklen_t sslen, bool run)
{
	int	 status = connect_addr(u, ss, sslen);

	if (status != 0)
		open_finish(u, status, run);
	else
		open_progress(u, run);
}

/*
 * Connect to the first usable address the resolver found.  Private
 * addresses are skipped unless [network] private_addresses (a name that
 * resolves only to such addresses is refused: DNS rebinding, SSRF).
 */
static void
open_resolved(struct np_upstream *u, const uint32_t *addrs, size_t naddrs,
    bool run)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	size_t		 i, pick = 0;

	if (naddrs == 0) {
		snprintf(u->error, UP_REASON_MAX, "cannot resolve %s: no "
		    "address", u->host);
		open_finish(u, 502, run);
		return;
	}
	for (i = 0; i < naddrs; i++) {
		memset(&ss, 0, sizeof(ss));
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(addrs[i]);
		if (u->np->settings.private_addresses ||
		    !upstream_addr_private((struct sockaddr *)&ss)) {
			pick = i;
			break;
		}
	}
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(u->port);
	sin->sin_addr.s_addr = htonl(addrs[pick]);
	open_connect(u, &ss, sizeof(*sin), run);
}

/* resolver.c's answer for u's host. */
static void
open_on_resolved(void *arg, enum resolv_result res,
    const struct resolv_answer *ans, const char *error)
{
	struct np_upstream *u = arg;

	u->query = NULL;
	if (res != RESOLV_OK) {
		snprintf(u->error, UP_REASON_MAX, "cannot resolve %s: %s",
		    u->host, error != NULL && error[0] != '\0' ? error :
		    resolv_result_string(res));
		open_finish(u, 502, true);
		return;
	}
	open_resolved(u, ans->addrs, ans->naddrs, true);
}

/*
 * A connection to host:port for conn c: from the pool, or a new one to a
 * pinned, numeric, cached or looked-up address, connected and (tls) past
 * its verified TLS handshake.  The one answer is hooks->opened(); see
 * struct upstream_hooks.
 */
void
upstream_open(struct netproxy *np, struct np_conn *c, const char *host,
    uint16_t port, bool tls, const struct upstream_hooks *hooks)
{
	struct np_upstream *u;
	struct sockaddr_storage ss;
	socklen_t	 sslen;
	uint32_t	 addrs[RESOLV_ADDR_MAX];
	size_t		 naddrs;
	int		 r;

	if ((u = pool_take(np, host, port, tls)) != NULL) {
		u->end.conn = c;
		u->hooks = hooks;
		hooks->opened(c, u, 0, NULL);
		return;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		hooks->opened(c, NULL, 502, "out of memory");
		return;
	}
	u->np = np;
	u->end.fd = -1;
	u->end.up = u;
	u->end.conn = c;
	u->hooks = hooks;
	snprintf(u->host, sizeof(u->host), "%s", host);
	u->port = port;
	u->tls = tls;
	u->state = UP_RESOLVING;
	u->open_next = np->opening;
	np->opening = u;
	if ((r = resolve_local(np, host, port, &ss, &sslen, u->error,
	    UP_REASON_MAX)) == -1)
		open_finish(u, 502, false);
	else if (r == 1)
		open_connect(u, &ss, sslen, false);
	else if (resolver_cached(np, host, addrs, &naddrs))
		open_resolved(u, addrs, naddrs, false);
	else if ((u->query = resolver_start(np, host, open_on_resolved, u,
	    u->error, UP_REASON_MAX)) == NULL)
		open_finish(u, 502, false);
}

/* conn c is going away while its upstream_open is still under way. */
void
upstream_abandon(struct netproxy *np, struct np_conn *c)
{
	struct np_upstream *u;

	for (u = np->opening; u != NULL; u = u->open_next) {
		if (u->end.conn == c) {
			opening_remove(np, u);
			upstream_free(np, u);
			return;
		}
	}
}

/* Before the sandbox: what the lookups need (resolver.c). */
void
upstream_load(struct netproxy *np)
{
	resolver_load(&np->resolver);
}

/* The process ends: stop the lookups in flight. */
void
upstream_shutdown(struct netproxy *np)
{
	resolver_shutdown(np);
}

/* Ready for another request: connected, nothing pending either way. */
bool
upstream_reusable(struct np_upstream *u)
{
	return u->state == UP_READY && !u->end.eof && !u->end.failed &&
	    u->end.in.len == 0 && u->end.out.len == 0 &&
	    (u->end.ssl == NULL || mbedtls_ssl_get_bytes_avail(u->end.ssl) == 0);
}

/*
 * An idle upstream must have nothing to say: any readable byte is the
 * server closing (EOF, a TLS close_notify) or junk.  false: drop it.
 */
bool
upstream_idle_alive(struct np_upstream *u)
{
	uint8_t	 b;
	ssize_t	 n;

	if (!upstream_reusable(u))
		return false;
	n = recv(u->end.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == -1 && (errno == EAGAIN || errno == EINTR);
}

void
upstream_release(struct netproxy *np, struct np_upstream *u, bool reuse)
{
	if (u == NULL)
		return;
	u->end.conn = NULL;
	if (!reuse || !upstream_reusable(u)) {
		upstream_free(np, u);
		return;
	}
	if (np->npool >= NP_POOL_MAX) {
		/* drop the oldest idle one */
		struct np_upstream **pp = &np->pool, **oldest = &np->pool;

		for (; *pp != NULL; pp = &(*pp)->pool_next)
			if ((*pp)->idle_since < (*oldest)->idle_since)
				oldest = pp;
		if (*oldest != NULL) {
			struct np_upstream *o = *oldest;

			*oldest = o->pool_next;
			np->npool--;
			upstream_free(np, o);
		}
	}
	u->idle_since = event_now_ms();
	u->pool_next = np->pool;
	np->pool = u;
	np->npool++;
	/* idle: any readable byte is a close (or junk): drop it then */
	u->end.events = EV_READ;
	event_mod(np->loop, u->end.fd, EV_READ);
}

static void
pool_remove(struct netproxy *np, struct np_upstream *u)
{
	struct np_upstream **pp;

	for (pp = &np->pool; *pp != NULL; pp = &(*pp)->pool_next) {
		if (*pp == u) {
			*pp = u->pool_next;
			np->npool--;
			return;
		}
	}
}

/*
 * Opens past their connect deadline answer 504; idle pooled connections
 * past NP_POOL_IDLE_MS are closed.  A timed-out open's callbacks touch
 * only its own connection, so the next pointer stays good.
 */
void
upstream_sweep(struct netproxy *np, uint64_t now)
{
	struct np_upstream *u, *next;

	for (u = np->opening; u != NULL; u = next) {
		next = u->open_next;
		if (u->state != UP_RESOLVING && now > u->deadline) {
			snprintf(u->error, sizeof(u->error),
			    "upstream connect timeout");
			open_finish(u, 504, true);
		}
	}
	for (u = np->pool; u != NULL; u = next) {
		next = u->pool_next;
		if (now - u->idle_since > NP_POOL_IDLE_MS) {
			pool_remove(np, u);
			upstream_free(np, u);
		}
	}
}

static void
upstream_event(int fd, uint32_t events, void *arg)
{
	struct np_end	*e = arg;
	struct np_upstream *u = e->up;

	(void)fd;
	(void)events;
	if (u->state != UP_READY) {
		open_progress(u, true);	/* still opening: ours alone */
		return;
	}
	if (e->conn != NULL) {
		u->hooks->run(e->conn);
		return;
	}
	/* idle in the pool: the server closed it or sent junk */
	pool_remove(u->np, u);
	upstream_free(u->np, u);
}
