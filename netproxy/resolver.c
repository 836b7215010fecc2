/*
 * resolver.c: netproxy's own non-blocking stub resolver for upstream
 * names.  getaddrinfo() would open /etc files after the sandbox is up
 * (seccomp kills the process), so the name servers are read from
 * resolv.conf before the sandbox ($CAPSEM_RESOLV_CONF overrides the path)
 * and each lookup is a UDP A query of our own: a fresh socket per attempt
 * (a random source port from the kernel), a random 16-bit id, answers read
 * strictly by resolv_answer_parse (anything that is not the answer to our
 * question is ignored, not believed), a per-attempt timeout, and attempts
 * rotating over the name servers.  Successful answers are cached for their
 * TTL (at most NP_RCACHE_TTL_MAX).  Only upstream.c asks it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "netproxy.h"

#define NP_RESOLV_CONF_DEFAULT	"/etc/resolv.conf"

/* Before the sandbox: which name servers to ask. */
void
resolver_load(struct np_resolver *r)
{
	const char *path = getenv("CAPSEM_RESOLV_CONF");
	char	*text;
	size_t	 len;
	FILE	*f;

	if (path == NULL || path[0] == '\0')
		path = NP_RESOLV_CONF_DEFAULT;
	memset(&r->conf, 0, sizeof(r->conf));
	snprintf(r->conf_path, sizeof(r->conf_path), "%s", path);
	if ((f = fopen(path, "re")) == NULL) {
		log_warnx("%s: %s; only [upstream] resolve pins and numeric "
		    "hosts are reachable", path, strerror(errno));
		return;
	}
	if ((text = malloc(RESOLV_CONF_MAX)) == NULL)
		fatal("malloc");
	len = fread(text, 1, RESOLV_CONF_MAX, f);
	fclose(f);
	if (resolv_conf_parse(text, len, &r->conf) == 0)
		log_warnx("%s: no usable nameserver line", path);
	else
		log_debug("%s: %zu name servers", path, r->conf.count);
	free(text);
}

static bool
cache_lookup(struct np_resolver *r, const char *name, uint32_t *addrs,
    size_t *naddrs)
{
	uint64_t now = event_now_ms();
	size_t	 i;

	for (i = 0; i < NP_RCACHE_MAX; i++) {
		struct np_rcache *e = &r->cache[i];

		if (!e->used || strcmp(e->name, name) != 0)
			continue;
		if (now >= e->expires_ms) {
			e->used = false;
			return false;
		}
		memcpy(addrs, e->addrs, e->naddrs * sizeof(addrs[0]));
		*naddrs = e->naddrs;
		return true;
	}
	return false;
}

static void
cache_insert(struct np_resolver *r, const char *name,
    const struct resolv_answer *ans)
{
	uint64_t now = event_now_ms();
	struct np_rcache *slot = NULL;
	uint32_t ttl = ans->ttl < NP_RCACHE_TTL_MAX ? ans->ttl :
		    NP_RCACHE_TTL_MAX;
	size_t	 i;

	if (ttl == 0)
		return;
	for (i = 0; i < NP_RCACHE_MAX; i++) {
		struct np_rcache *e = &r->cache[i];

		if (e->used && strcmp(e->name, name) == 0) {
			slot = e;
			break;
		}
		if (!e->used || now >= e->expires_ms) {
			if (slot == NULL || slot->used)
				slot = e;
		} else if (slot == NULL ||
		    (slot->used && e->expires_ms < slot->expires_ms))
			slot = e;		/* evict the soonest to expire */
	}
	snprintf(slot->name, sizeof(slot->name), "%s", name);
	memcpy(slot->addrs, ans->addrs, ans->naddrs * sizeof(ans->addrs[0]));
	slot->naddrs = ans->naddrs;
	slot->expires_ms = now + (uint64_t)ttl * 1000u;
	slot->used = true;
}

bool
resolver_cached(struct netproxy *np, const char *name, uint32_t *addrs,
    size_t *naddrs)
{
	return cache_lookup(&np->resolver, name, addrs, naddrs);
}

static void
query_close_fd(struct np_query *q)
{
	if (q->fd != -1) {
		event_del(q->np->loop, q->fd);
		close(q->fd);
		q->fd = -1;
	}
	if (q->timer != 0) {
		timer_cancel(q->np->loop, q->timer);
		q->timer = 0;
	}
}

/* The lookup is over: cache the answer, tell the asker (if still there). */
static void
query_finish(struct np_query *q, enum resolv_result res,
    const struct resolv_answer *ans, const char *error)
{
	struct netproxy *np = q->np;
	resolver_cb	*done = q->done;
	void		*arg = q->arg;
	char		 name[MSG_HOST_MAX], err[400];

	query_close_fd(q);
	q->used = false;
	snprintf(name, sizeof(name), "%s", q->name);
	snprintf(err, sizeof(err), "%s", error != NULL ? error : "");
	if (res == RESOLV_OK)
		cache_insert(&np->resolver, name, ans);
	log_debug("resolve %s: %s%s%s", name, resolv_result_string(res),
	    err[0] != '\0' ? ": " : "", err);
	if (done != NULL)
		done(arg, res, ans, err);
}

static void	query_event(int, uint32_t, void *);
static void	query_timeout(void *);

/* Send the next attempt.  -1 when no attempt is left (q->error says why). */
static int
query_send(struct np_query *q)
{
	struct netproxy *np = q->np;
	struct np_resolver *r = &np->resolver;
	uint8_t		 msg[RESOLV_QUERY_MAX];
	size_t		 len, ns;
	int		 fd;

	query_close_fd(q);
	while (q->tries < NP_RESOLVE_TRIES) {
		ns = q->tries % r->conf.count;
		q->tries++;
		if (mbedtls_ctr_drbg_random(&np->tls.drbg, (unsigned char *)&q->dns_id,
		    sizeof(q->dns_id)) != 0) {
			snprintf(q->error, sizeof(q->error), "no random id");
			continue;
		}
		if ((len = resolv_query_build(msg, sizeof(msg), q->dns_id,
		    q->name)) == 0) {
			snprintf(q->error, sizeof(q->error), "not a host name");
			break;
		}
		fd = socket(r->conf.ns[ns].ss_family,
		    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			snprintf(q->error, sizeof(q->error), "socket: %s",
			    strerror(errno));
			continue;
		}
		/* connected: the kernel drops datagrams from anyone else */
		if (connect(fd, (struct sockaddr *)&r->conf.ns[ns],
		    r->conf.nslen[ns]) == -1 ||
		    send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
			snprintf(q->error, sizeof(q->error), "send: %s",
			    strerror(errno));
			close(fd);
			continue;
		}
		if (event_add(np->loop, fd, EV_READ, query_event, q) == -1) {
			close(fd);
			snprintf(q->error, sizeof(q->error), "out of memory");
			break;
		}
		q->fd = fd;
		q->timer = timer_add(np->loop, NP_RESOLVE_TRY_MS, query_timeout,
		    q);
		return 0;
	}
	return -1;
}

/* The next attempt, or the end of the lookup. */
static void
query_retry(struct np_query *q)
{
	if (query_send(q) == -1)
		query_finish(q, RESOLV_SERVFAIL, NULL, q->error);
}

static void
query_timeout(void *arg)
{
	struct np_query *q = arg;

	q->timer = 0;
	snprintf(q->error, sizeof(q->error), "no answer from the name "
	    "servers in %s", q->np->resolver.conf_path);
	query_retry(q);
}

static void
query_event(int fd, uint32_t events, void *arg)
{
	struct np_query *q = arg;
	struct resolv_answer ans;
	enum resolv_result res;
	uint8_t		 buf[RESOLV_ANSWER_MAX + 1];
	ssize_t		 n;
	int		 i;

	(void)events;
	for (i = 0; i < 16; i++) {	/* bounded: a flood waits its turn */
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == -1) {
			/* ICMP unreachable and the like: next server */
			snprintf(q->error, sizeof(q->error), "%s",
			    strerror(errno));
			query_retry(q);
			return;
		}
		res = resolv_answer_parse(buf, (size_t)n, q->dns_id, q->name,
		    &ans);
		if (res == RESOLV_IGNORE)
			continue;		/* not ours: keep waiting */
		if (res == RESOLV_SERVFAIL) {
			snprintf(q->error, sizeof(q->error), "%s (rcode %d%s)",
			    resolv_result_string(res), ans.rcode,
			    ans.truncated ? ", truncated" : "");
			query_retry(q);
			return;
		}
		query_finish(q, res, &ans, res == RESOLV_OK ? NULL :
		    resolv_result_string(res));
		return;
	}
}

/*
 * Look name up; the answer arrives as done(arg, ...), never before this
 * returns.  NULL (err set) when no lookup can start.
 */
struct np_query *
resolver_start(struct netproxy *np, const char *name, resolver_cb *done,
    void *arg, char *err, size_t errlen)
{
	struct np_resolver *r = &np->resolver;
	struct np_query	*q = NULL;
	size_t		 i;

	if (r->conf.count == 0) {
		snprintf(err, errlen, "cannot resolve %s: no name server in "
		    "%s and no [upstream] resolve pin", name, r->conf_path);
		return NULL;
	}
	for (i = 0; i < NP_QUERIES_MAX; i++)
		if (!r->q[i].used) {
			q = &r->q[i];
			break;
		}
	if (q == NULL) {
		snprintf(err, errlen, "cannot resolve %s: too many lookups "
		    "in progress", name);
		return NULL;
	}
	memset(q, 0, sizeof(*q));
	q->np = np;
	q->used = true;
	q->fd = -1;
	q->done = done;
	q->arg = arg;
	snprintf(q->name, sizeof(q->name), "%s", name);
	snprintf(q->error, sizeof(q->error), "no attempt made");
	if (query_send(q) == -1) {
		snprintf(err, errlen, "cannot resolve %s: %s", name, q->error);
		query_close_fd(q);
		q->used = false;
		return NULL;
	}
	return q;
}

/* The asker went away: the lookup goes on (its answer is cached). */
void
resolver_forget(struct np_query *q)
{
	q->done = NULL;
	q->arg = NULL;
}

void
resolver_shutdown(struct netproxy *np)
{
	size_t	 i;

	for (i = 0; i < NP_QUERIES_MAX; i++)
		if (np->resolver.q[i].used) {
			query_close_fd(&np->resolver.q[i]);
			np->resolver.q[i].used = false;
		}
}
