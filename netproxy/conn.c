/*
 * conn.c: one guest (or proxy -l) stream, HTTPS or plain HTTP, from the
 * first byte to the last: relay header, ClientHello, policy and certificate
 * waits, TLS, request heads, then the upstream (upstream.c) and the
 * request/response exchange over it (exchange.c); netproxy's own answers
 * are respond.c's.
 *
 * conn_run() moves a connection as far as it can go without blocking and
 * then sets the event interest of both ends; every event and every answer
 * from policyd or certd calls it.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "netproxy.h"

static void	client_event(int, uint32_t, void *);
static bool	step(struct np_conn *);
static void	conn_run(struct np_conn *);

/* End the connection without an answer (no HTTP possible yet). */
static void
conn_reset(struct np_conn *c, const char *reason)
{
	log_debug("stream %u: reset: %s", c->id, reason);
	audit_stream(c, AUDIT_REFUSED, 0, false, NULL, reason);
	c->np->counters[NP_CTR_DENIED]++;
	c->dead = true;
}

void
conn_new(struct netproxy *np, const struct msg_stream_new *sn, int fd)
{
	struct np_conn	*c;
	size_t		 slot;
	int		 fl;

	switch (sn->port) {
	case STREAM_HTTPS:
	case STREAM_DNS:
		break;
	case STREAM_HTTP:
		if (np->settings.http_enabled)
			break;
		log_debug("plain HTTP stream refused: [network] http is off");
		close(fd);
		return;
	default:
		log_warnx("stream for unknown port %u refused", sn->port);
		close(fd);
		return;
	}
	for (slot = 0; slot < NP_MAX_CONNS; slot++)
		if (np->conns[slot] == NULL)
			break;
	{
		uint32_t max = np->settings.max_connections;

		if (slot == NP_MAX_CONNS || (max != 0 && np->nconns >= max)) {
			log_warnx("stream refused: connection limit reached");
			close(fd);
			return;
		}
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		log_warn("stream: fcntl");
		close(fd);
		return;
	}
	end_set_nodelay(fd);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->np = np;
	c->id = (uint32_t)((++np->next_gen & 0x3fffffu) << 10) | (uint32_t)slot;
	c->client.fd = fd;
	c->client.conn = c;
	c->has_header = sn->has_header != 0;
	c->last_active_ms = event_now_ms();
	switch (sn->port) {
	case STREAM_HTTPS:
		c->kind = CONN_HTTPS;
		c->port = 443;
		c->state = CS_PEEK;
		c->handshake_deadline_ms = c->last_active_ms +
		    np_handshake_ms(np);
		break;
	case STREAM_HTTP:
		c->kind = CONN_HTTP;
		c->port = 80;
		c->state = CS_REQ_HEAD;
		break;
	default:
		c->kind = CONN_DNS;
		c->port = 53;
		c->state = CS_DNS;
		break;
	}
	if (c->has_header && c->kind != CONN_DNS)
		c->state = CS_RELAY_HEADER;
	if (buf_alloc(&c->client.in, NP_IN_SIZE) == -1 ||
	    buf_alloc(&c->client.out, NP_OUT_SIZE) == -1 ||
	    event_add(np->loop, fd, EV_READ, client_event, c) == -1) {
		log_warnx("stream refused: out of memory");
		end_close(np, &c->client);
		free(c);
		return;
	}
	c->client.events = EV_READ;
	np->conns[slot] = c;
	np->nconns++;
	np->counters[NP_CTR_STREAMS]++;
	http_request_reset(&c->req);
	conn_run(c);
}

void
conn_free(struct np_conn *c)
{
	struct netproxy *np = c->np;
	size_t		 slot = c->id & (NP_MAX_CONNS - 1);

	modeltap_end(c, false);	/* a call cut short still spent tokens */
	audit_unfinished(c);
	if (c->up != NULL)
		upstream_release(np, c->up, c->up_idle);
	if (c->state == CS_UPSTREAM)
		upstream_abandon(np, c);
	tls_cert_release(c->cert);
	end_close(np, &c->client);
	if (np->conns[slot] == c) {
		np->conns[slot] = NULL;
		np->nconns--;
	}
	free(c);
}

static void
client_event(int fd, uint32_t events, void *arg)
{
	struct np_conn *c = arg;

	(void)fd;
	if (events & EV_HUP)
		c->client.failed = true;
	c->last_active_ms = event_now_ms();
	/* a byte of a request head (or a TLS record holding one) arrived */
	if ((events & EV_READ) && c->head_deadline_ms == 0 &&
	    (c->state == CS_REQ_HEAD ||
	    (c->state == CS_RELAY_HEADER && c->kind == CONN_HTTP)))
		c->head_deadline_ms = c->last_active_ms + np_head_ms(c->np);
	conn_run(c);
}

/* Send CONN_CHECK for c->host (or the SNI) and wait. */
static void
conn_check(struct np_conn *c, enum conn_state wait)
{
	struct msg_conn_check cc;

	memset(&cc, 0, sizeof(cc));
	cc.port = c->port;
	snprintf(cc.host, sizeof(cc.host), "%s",
	    c->host[0] != '\0' ? c->host : c->sni);
	snprintf(cc.sni, sizeof(cc.sni), "%s", c->sni);
	if (np_send_policyd(c->np, MSG_CONN_CHECK, c->id, &cc, sizeof(cc),
	    NULL, 0) == -1) {
		if (wait == CS_CONN_CHECK)
			conn_reset(c, "policy service unavailable");
		else
			respond(c, 503, "policy service unavailable", NULL);
		return;
	}
	c->state = wait;
}

static bool
step_relay_header(struct np_conn *c)
{
	size_t	 hdrlen;
	ssize_t	 n = end_fill(&c->client);

	switch (relayhdr_parse(c->client.in.data + c->client.in.off,
	    c->client.in.len, &c->dest, &hdrlen)) {
	case RELAYHDR_BAD:
		conn_reset(c, "bad relay header");
		return true;
	case RELAYHDR_NEED_MORE:
		if (n == -1) {
			c->dead = true;
			return true;
		}
		return n > 0;
	case RELAYHDR_OK:
		break;
	}
	buf_consume(&c->client.in, hdrlen);
	c->port = c->dest.port;
	c->state = c->kind == CONN_HTTPS ? CS_PEEK : CS_REQ_HEAD;
	return true;
}

static bool
step_peek(struct np_conn *c)
{
	struct clienthello ch;
	enum ch_result	 r;
	ssize_t		 n = end_fill(&c->client);

	r = clienthello_parse(c->client.in.data + c->client.in.off,
	    c->client.in.len, &ch);
	if (r == CH_NEED_MORE) {
		if (n == -1) {
			c->dead = true;
			return true;
		}
		return n > 0;
	}
	if (r != CH_OK) {
		conn_reset(c, clienthello_result_string(r));
		return true;
	}
	snprintf(c->sni, sizeof(c->sni), "%s", ch.host);
	/* the peeked bytes go to mbedTLS first */
	if ((c->client.pre = malloc(c->client.in.len)) == NULL) {
		c->dead = true;
		return true;
	}
	memcpy(c->client.pre, c->client.in.data + c->client.in.off,
	    c->client.in.len);
	c->client.pre_len = c->client.in.len;
	c->client.pre_off = 0;
	buf_consume(&c->client.in, c->client.in.len);
	conn_check(c, CS_CONN_CHECK);
	return true;
}

static void
start_handshake(struct np_conn *c)
{
	if (!c->np->tls.have_key) {
		conn_reset(c, "no leaf key from certd");
		return;
	}
	if (tls_server_start(&c->np->tls, &c->client) == -1) {
		conn_reset(c, "TLS setup failed");
		return;
	}
	c->state = CS_HANDSHAKE;
}

static void
need_cert(struct np_conn *c)
{
	struct np_cert *cert = tls_cert_lookup(&c->np->tls, c->sni);

	if (cert != NULL) {
		cert->refs++;
		c->cert = cert;
		start_handshake(c);
		return;
	}
	if (np_send_certd(c->np, MSG_MINT_REQUEST, c->id, c->sni,
	    strlen(c->sni)) == -1) {
		conn_reset(c, "certificate service unavailable");
		return;
	}
	c->state = CS_MINT;
}

static bool
step_handshake(struct np_conn *c)
{
	int	 r;
	char	 err[128], reason[160];

	c->client.ssl_want_read = c->client.ssl_want_write = false;
	r = mbedtls_ssl_handshake(c->client.ssl);
	if (r == 0) {
		c->handshake_deadline_ms = 0;
		c->state = CS_REQ_HEAD;
		http_request_reset(&c->req);
		return true;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_READ) {
		c->client.ssl_want_read = true;
		return false;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
		c->client.ssl_want_write = true;
		return false;
	}
	tls_strerror(r, err, sizeof(err));
	snprintf(reason, sizeof(reason), "TLS handshake failed: %s", err);
	c->client.failed = true;
	conn_reset(c, reason);
	return true;
}

static void
send_request_check(struct np_conn *c)
{
	struct msg_request_check rc;
	const uint8_t	*buf = c->client.in.data + c->client.in.off;
	const char	*path = "/";
	size_t		 plen = 1;

	if (c->req.path.len > 0) {
		path = (const char *)buf + c->req.path.off;
		plen = c->req.path.len;
	}
	if (plen > MSG_PATH_MAX) {
		respond(c, 400, "request path too long", NULL);
		return;
	}
	memset(&rc, 0, sizeof(rc));
	rc.port = c->port;
	rc.path_len = (uint32_t)plen;
	snprintf(rc.host, sizeof(rc.host), "%s", c->host);
	snprintf(rc.method, sizeof(rc.method), "%s", c->method);
	if (np_send_policyd(c->np, MSG_REQUEST_CHECK, c->id, &rc, sizeof(rc),
	    path, plen) == -1) {
		respond(c, 503, "policy service unavailable", NULL);
		return;
	}
	c->state = CS_REQ_CHECK;
}

/* A complete request head is in client.in. */
static void
handle_request(struct np_conn *c)
{
	const uint8_t	*buf = c->client.in.data + c->client.in.off;
	struct http_request *req = &c->req;
	char		 host[MSG_HOST_MAX];
	uint16_t	 hport;
	size_t		 n;

	c->np->counters[NP_CTR_REQUESTS]++;
	c->started_us = np_now_us();
	c->bytes_in = req->head.head_len;
	c->bytes_out = 0;
	c->status = 0;
	c->resp_head_sent = false;
	c->req_allowed = false;
	c->req_audited = false;
	n = req->method.len < sizeof(c->method) - 1 ? req->method.len :
	    sizeof(c->method) - 1;
	memcpy(c->method, buf + req->method.off, n);
	c->method[n] = '\0';
	if (req->path.len == 0)
		snprintf(c->path, sizeof(c->path), "/");
	else {
		n = req->path.len < sizeof(c->path) - 1 ? req->path.len :
		    sizeof(c->path) - 1;
		memcpy(c->path, buf + req->path.off, n);
		c->path[n] = '\0';
	}
	c->head_request = strcmp(c->method, "HEAD") == 0;
	c->client_keep_alive = req->head.keep_alive;
	if (http_host_split(buf + req->host.off, req->host.len, host,
	    sizeof(host), &hport) == -1) {
		respond(c, 400, "invalid Host", NULL);
		return;
	}
	if (c->kind == CONN_HTTPS) {
		snprintf(c->host, sizeof(c->host), "%s", c->sni);
		if (strcmp(host, c->sni) != 0) {
			char reason[MSG_HOST_MAX * 2 + 48];

			snprintf(reason, sizeof(reason),
			    "Host %s does not match TLS server name %s", host,
			    c->sni);
			respond(c, 421, reason, NULL);
			return;
		}
		if (c->host_denied) {
			respond(c, 403, "host denied by policy",
			    &c->conn_verdict);
			return;
		}
		if (hport != 0 && !c->has_header)
			c->port = hport;
		send_request_check(c);
		return;
	}
	/* plain HTTP: one host per connection, checked like a TLS name */
	if (c->host_checked && strcmp(host, c->host) != 0) {
		respond(c, 421, "one host per connection", NULL);
		return;
	}
	if (hport != 0 && !c->has_header)
		c->port = hport;
	if (!c->host_checked) {
		snprintf(c->host, sizeof(c->host), "%s", host);
		conn_check(c, CS_HOST_CHECK);
		return;
	}
	if (c->host_denied) {
		respond(c, 403, "host denied by policy", &c->conn_verdict);
		return;
	}
	send_request_check(c);
}

static bool
step_req_head(struct np_conn *c)
{
	enum http_result r;
	ssize_t		 n = 0;

	for (;;) {
		r = http_request_parse(&c->req,
		    c->client.in.data + c->client.in.off, c->client.in.len);
		if (r != HTTP_NEED_MORE)
			break;
		/* pipelined bytes: the head began when the last answer ended */
		if (c->client.in.len > 0 && c->head_deadline_ms == 0)
			c->head_deadline_ms = event_now_ms() +
			    np_head_ms(c->np);
		n = end_fill(&c->client);
		if (n == -1) {
			c->dead = true;	/* closed between requests */
			return true;
		}
		if (n == 0)
			return false;
	}
	c->last_active_ms = event_now_ms();
	c->head_deadline_ms = 0;
	if (r == HTTP_ERROR) {
		enum http_error e = c->req.head.error;

		c->np->counters[NP_CTR_REQUESTS]++;
		c->started_us = np_now_us();
		c->bytes_in = c->client.in.len;
		c->bytes_out = 0;
		c->status = 0;
		c->resp_head_sent = false;	/* the last request's, not ours */
		c->req_allowed = false;
		c->req_audited = false;
		c->method[0] = '\0';
		c->path[0] = '\0';
		if (c->kind == CONN_HTTPS)
			snprintf(c->host, sizeof(c->host), "%s", c->sni);
		respond(c, http_error_status(e), http_error_string(e), NULL);
		return true;
	}
	handle_request(c);
	return true;
}

/* upstream_open's one answer (see struct upstream_hooks). */
static void
conn_on_upstream(struct np_conn *c, struct np_upstream *u, int status,
    const char *reason)
{
	if (u == NULL) {
		respond(c, status, reason, NULL);
		return;
	}
	c->up = u;
	exchange_start(c);
}

static const struct upstream_hooks conn_upstream_hooks = {
	.opened = conn_on_upstream,
	.run = conn_run,
};

/* The request is allowed: its upstream, then the exchange. */
static void
start_upstream(struct np_conn *c)
{
	if (c->up != NULL) {
		struct np_upstream *u = c->up;

		c->up_idle = false;
		if (u->port == c->port && strcmp(u->host, c->host) == 0 &&
		    upstream_idle_alive(u)) {
			exchange_start(c);	/* kept from the last request */
			return;
		}
		upstream_release(c->np, u, false);
		c->up = NULL;
	}
	c->state = CS_UPSTREAM;
	upstream_open(c->np, c, c->host, c->port, c->kind == CONN_HTTPS,
	    &conn_upstream_hooks);
}

static bool
step(struct np_conn *c)
{
	switch (c->state) {
	case CS_RELAY_HEADER:
		return step_relay_header(c);
	case CS_PEEK:
		return step_peek(c);
	case CS_HANDSHAKE:
		return step_handshake(c);
	case CS_REQ_HEAD:
		return step_req_head(c);
	case CS_EXCHANGE:
		return exchange_step(c);
	case CS_TUNNEL:
		return exchange_tunnel(c);
	case CS_CLOSING:
		if (c->client.out.len == 0 || c->client.failed)
			c->dead = true;
		return false;
	case CS_DNS:
		dns_conn_run(c);
		return false;
	case CS_CONN_CHECK:
	case CS_MINT:
	case CS_HOST_CHECK:
	case CS_REQ_CHECK:
	case CS_UPSTREAM:
	case CS_DNS_CHECK:
		/* waiting for another process; a hang-up ends it */
		if (c->client.failed)
			c->dead = true;
		return false;
	}
	return false;
}

static void
set_events(struct netproxy *np, struct np_end *e, uint32_t want)
{
	if (e->fd == -1 || want == e->events)
		return;
	if (event_mod(np->loop, e->fd, want) == 0)
		e->events = want;
}

static void
update_events(struct np_conn *c)
{
	struct np_end	*cl = &c->client;
	uint32_t	 want = 0;
	bool		 reading;

	switch (c->state) {
	case CS_RELAY_HEADER:
	case CS_PEEK:
	case CS_REQ_HEAD:
	case CS_TUNNEL:
	case CS_DNS:
		reading = true;
		break;
	case CS_EXCHANGE:
		reading = !c->req_body.done;
		break;
	case CS_HANDSHAKE:
		reading = cl->ssl_want_read;
		break;
	default:
		reading = false;
	}
	if (reading && buf_room(&cl->in) > 0)
		want |= EV_READ;
	if (cl->ssl_want_read && c->state != CS_CLOSING)
		want |= EV_READ;
	if (cl->out.len > 0 || cl->ssl_want_write)
		want |= EV_WRITE;
	set_events(c->np, cl, want);

	if (c->up != NULL) {
		struct np_end *up = &c->up->end;

		want = 0;
		if (c->up_idle)
			want = EV_READ;		/* a close or junk: drop it */
		else {
			if ((c->state == CS_EXCHANGE || c->state == CS_TUNNEL) &&
			    buf_room(&up->in) > 0)
				want |= EV_READ;
			if (up->out.len > 0 || up->ssl_want_write)
				want |= EV_WRITE;
		}
		set_events(c->np, up, want);
	}
}

static void
conn_run(struct np_conn *c)
{
	bool	 progress;

	if (c->in_run)
		return;
	c->in_run = true;
	/* an upstream kept between requests that closed or spoke: drop it */
	if (c->up != NULL && c->up_idle && !upstream_idle_alive(c->up)) {
		upstream_release(c->np, c->up, false);
		c->up = NULL;
		c->up_idle = false;
	}
	do {
		progress = step(c);
		if (c->dead)
			break;
		if (c->client.out.len > 0 && end_flush(&c->client) > 0)
			progress = true;
		if (c->up != NULL && c->up->end.out.len > 0 &&
		    (c->up->state == UP_READY) && end_flush(&c->up->end) > 0)
			progress = true;
		if (c->client.failed && c->state != CS_CLOSING)
			c->dead = true;
		if (c->state == CS_CLOSING && (c->client.out.len == 0 ||
		    c->client.failed))
			c->dead = true;
	} while (progress && !c->dead);
	c->in_run = false;
	if (c->dead) {
		conn_free(c);
		return;
	}
	update_events(c);
}

void
conn_on_verdict(struct np_conn *c, const struct msg_verdict *v,
    const char *npath, size_t npathlen)
{
	switch (c->state) {
	case CS_CONN_CHECK:
		c->conn_verdict = *v;
		c->host_checked = true;
		c->host_denied = v->allow != VERDICT_ALLOW;
		if (c->host_denied)
			log_debug("stream %u: %s denied (%s), answering 403",
			    c->id, c->sni, v->rule);
		need_cert(c);
		break;
	case CS_HOST_CHECK:
		c->conn_verdict = *v;
		c->host_checked = true;
		c->host_denied = v->allow != VERDICT_ALLOW;
		if (c->host_denied)
			respond(c, 403, "host denied by policy", v);
		else
			send_request_check(c);
		break;
	case CS_REQ_CHECK:
		c->req_verdict = *v;
		c->req_allowed = v->allow == VERDICT_ALLOW;
		/* a spent [budget] answers 429, anything else 403 */
		if (v->allow != VERDICT_ALLOW && v->status == 429)
			respond(c, 429, "model budget spent", v);
		else if (v->allow != VERDICT_ALLOW)
			respond(c, 403, "request denied by policy", v);
		else if (npathlen == 0 || (npath[0] != '/' &&
		    !(npathlen == 1 && npath[0] == '*')) ||
		    npathlen >= sizeof(c->npath)) {
			/* forwarded only with the path that was judged */
			c->req_allowed = false;
			respond(c, 502, "policy sent no checked path", NULL);
		} else {
			memcpy(c->npath, npath, npathlen);
			c->npath[npathlen] = '\0';
			start_upstream(c);
		}
		break;
	case CS_DNS_CHECK:
		dns_conn_verdict(c, v);
		break;
	default:
		log_warnx("stream %u: unexpected verdict, ignored", c->id);
		return;
	}
	conn_run(c);
}

/*
 * certd's answer to this stream's MINT_REQUEST: a chain (cached for the
 * stream's SNI, which it was minted for) or, m NULL, why not.
 */
void
conn_on_mint(struct np_conn *c, const struct np_minted *m, const char *error)
{
	struct np_cert	*cert = NULL;
	char		 err[160];

	if (m != NULL) {
		cert = tls_cert_insert(&c->np->tls, c->sni, c->host_denied,
		    m->leaf, m->leaf_len, m->ca, m->ca_len, m->not_after, err,
		    sizeof(err));
		error = err;
	}
	if (c->state != CS_MINT) {
		log_warnx("stream %u: unexpected certificate, ignored", c->id);
		return;
	}
	if (cert == NULL) {
		char reason[160];

		/* a long error is cut to fit */
		snprintf(reason, sizeof(reason), "certificate: %.*s",
		    (int)(sizeof(reason) - sizeof("certificate: ")), error);
		conn_reset(c, reason);
	} else {
		cert->refs++;
		c->cert = cert;
		start_handshake(c);
	}
	conn_run(c);
}

void
conn_policyd_gone(struct np_conn *c)
{
	switch (c->state) {
	case CS_CONN_CHECK:
		conn_reset(c, "policy service gone");
		break;
	case CS_HOST_CHECK:
	case CS_REQ_CHECK:
		respond(c, 503, "policy service gone", NULL);
		break;
	case CS_DNS_CHECK:
		c->dead = true;
		break;
	default:
		return;
	}
	conn_run(c);
}

void
conn_certd_gone(struct np_conn *c)
{
	if (c->state != CS_MINT)
		return;
	conn_reset(c, "certificate service gone");
	conn_run(c);
}

/* A request head not complete within np_head_ms of its first byte. */
static void
head_timeout(struct np_conn *c, uint64_t now)
{
	uint64_t begun_ms = c->head_deadline_ms - np_head_ms(c->np);

	log_debug("stream %u: request head timeout", c->id);
	c->head_deadline_ms = 0;
	if (c->state == CS_RELAY_HEADER) {
		conn_reset(c, "relay header not complete in time");
		return;
	}
	c->np->counters[NP_CTR_REQUESTS]++;
	c->started_us = np_now_us() - (now - begun_ms) * 1000u;
	c->bytes_in = c->client.in.len;
	c->bytes_out = 0;
	c->resp_head_sent = false;
	c->req_allowed = false;
	c->method[0] = '\0';
	c->path[0] = '\0';
	if (c->kind == CONN_HTTPS)
		snprintf(c->host, sizeof(c->host), "%s", c->sni);
	respond(c, 408, "request head not complete in time", NULL);
}

void
conn_sweep(struct netproxy *np, uint64_t now)
{
	size_t	 i;
	uint32_t idle = np_idle_ms(np);

	for (i = 0; i < NP_MAX_CONNS; i++) {
		struct np_conn *c = np->conns[i];

		if (c == NULL || c->in_run)
			continue;
		if (c->handshake_deadline_ms != 0 &&
		    now >= c->handshake_deadline_ms) {
			log_debug("stream %u: TLS handshake timeout", c->id);
			conn_reset(c, "TLS handshake not complete in time");
			conn_free(c);
			continue;
		}
		if (c->head_deadline_ms != 0 && now >= c->head_deadline_ms &&
		    (c->state == CS_REQ_HEAD || c->state == CS_RELAY_HEADER)) {
			head_timeout(c, now);
			conn_run(c);	/* flush the 408, then close */
			continue;
		}
		if (c->state == CS_TUNNEL || c->state == CS_EXCHANGE)
			continue;	/* long responses and streams */
		if (now - c->last_active_ms > idle) {
			log_debug("stream %u: idle timeout", c->id);
			c->dead = true;
			conn_free(c);
		}
	}
}
