/*
 * upstream.c: connections from netproxy to the real servers.  Resolve
 * ([upstream] resolve pins first), refuse loopback/private/link-local/
 * metadata addresses unless [network] private_addresses, connect without
 * blocking under a deadline, TLS with hostname verification, and keep idle
 * connections in a small pool per host:port for reuse.
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

/* Start a non-blocking connection to an address already decided on. */
static struct np_upstream *
connect_addr(struct netproxy *np, struct np_conn *c, const char *host,
    uint16_t port, bool tls, const struct sockaddr_storage *ss,
    socklen_t sslen, int *status, char *err, size_t errlen)
{
	struct np_upstream *u;
	char		 a[INET6_ADDRSTRLEN];
	int		 fd, one = 1;

	*status = 502;
	if (!np->settings.private_addresses &&
	    upstream_addr_private((const struct sockaddr *)ss)) {
		addr_text(ss, a, sizeof(a));
		*status = 403;
		snprintf(err, errlen, "%s resolves to a private address (%s); "
		    "set [network] private_addresses = true to allow", host, a);
		return NULL;
	}
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)ss, sslen) == -1 &&
	    errno != EINPROGRESS) {
		snprintf(err, errlen, "connect to %s:%u: %s", host, port,
		    strerror(errno));
		close(fd);
		return NULL;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->np = np;
	u->end.fd = fd;
	u->end.up = u;
	u->end.conn = c;
	snprintf(u->host, sizeof(u->host), "%s", host);
	u->port = port;
	u->tls = tls;
	u->state = UP_CONNECTING;
	u->deadline = event_now_ms() + np_connect_ms(np);
	if (buf_alloc(&u->end.in, NP_UP_IN_SIZE) == -1 ||
	    buf_alloc(&u->end.out, NP_OUT_SIZE) == -1 ||
	    event_add(np->loop, fd, EV_WRITE, upstream_event, &u->end) == -1) {
		snprintf(err, errlen, "out of memory");
		upstream_free(np, u);
		return NULL;
	}
	u->end.events = EV_WRITE;
	return u;
}

/*
 * A connection to host:port for conn c: from the pool, or a new one to a
 * pinned, numeric or cached address.  1: *out is set (connecting or
 * ready); 0: the name must be looked up first (upstream_connect_resolved
 * follows); -1: *status is the HTTP status to answer with (403 for a
 * refused address, 502 otherwise) and err the reason.
 */
int
upstream_start(struct netproxy *np, struct np_conn *c, const char *host,
    uint16_t port, bool tls, struct np_upstream **out, int *status,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t	 sslen;
	uint32_t	 addrs[RESOLV_ADDR_MAX];
	size_t		 naddrs;
	int		 r;

	*status = 502;
	if ((*out = pool_take(np, host, port, tls)) != NULL) {
		(*out)->end.conn = c;
		return 1;
	}
	if ((r = resolve_local(np, host, port, &ss, &sslen, err, errlen)) == -1)
		return -1;
	if (r == 1) {
		*out = connect_addr(np, c, host, port, tls, &ss, sslen, status,
		    err, errlen);
		return *out != NULL ? 1 : -1;
	}
	if (resolver_cached(np, host, addrs, &naddrs)) {
		*out = upstream_connect_resolved(np, c, host, port, tls, addrs,
		    naddrs, status, err, errlen);
		return *out != NULL ? 1 : -1;
	}
	return 0;
}

/*
 * Connect to the first usable address the resolver found.  Private
 * addresses are skipped unless [network] private_addresses (a name that
 * resolves only to such addresses is refused: DNS rebinding, SSRF).
 */
struct np_upstream *
upstream_connect_resolved(struct netproxy *np, struct np_conn *c,
    const char *host, uint16_t port, bool tls, const uint32_t *addrs,
    size_t naddrs, int *status, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	size_t		 i, pick = 0;

	*status = 502;
	if (naddrs == 0) {
		snprintf(err, errlen, "cannot resolve %s: no address", host);
		return NULL;
	}
	for (i = 0; i < naddrs; i++) {
		memset(&ss, 0, sizeof(ss));
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(addrs[i]);
		if (np->settings.private_addresses ||
		    !upstream_addr_private((struct sockaddr *)&ss)) {
			pick = i;
			break;
		}
	}
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(addrs[pick]);
	return connect_addr(np, c, host, port, tls, &ss, sizeof(*sin), status,
	    err, errlen);
}

/*
 * Move a connecting upstream along.  1: ready, 0: in progress, -1: failed
 * (u->error says why).
 */
int
upstream_progress(struct netproxy *np, struct np_upstream *u)
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

void
upstream_sweep(struct netproxy *np, uint64_t now)
{
	struct np_upstream *u, *next;

	for (u = np->pool; u != NULL; u = next) {
		next = u->pool_next;
		if (now - u->idle_since > NP_POOL_IDLE_MS) {
			pool_remove(np, u);
			upstream_free(np, u);
		}
	}
}

void
upstream_event(int fd, uint32_t events, void *arg)
{
	struct np_end	*e = arg;
	struct np_upstream *u = e->up;

	(void)fd;
	(void)events;
	if (e->conn != NULL) {
		conn_run(e->conn);
		return;
	}
	/* idle in the pool: the server closed it or sent junk */
	pool_remove(u->np, u);
	upstream_free(u->np, u);
}
