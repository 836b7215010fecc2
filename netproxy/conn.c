/*
 * conn.c: one guest (or proxy -l) stream, HTTPS or plain HTTP, from the
 * first byte to the last: relay header, ClientHello, policy and certificate
 * waits, TLS, request heads, upstream exchange with streamed bodies,
 * WebSocket tunnel, and the answers netproxy gives itself (400, 403, 421,
 * 502, 503, 504).
 *
 * conn_run() moves a connection as far as it can go without blocking and
 * then sets the event interest of both ends; every event and every answer
 * from policyd or certd calls it.
 */
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

static const char *
status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

/* Copy s into a header-safe string: printable ASCII, no quotes. */
static void
header_safe(char *dst, size_t len, const char *s)
{
	size_t	 i = 0;

	for (; *s != '\0' && i + 1 < len; s++)
		dst[i++] = (*s >= 0x20 && *s < 0x7f && *s != '"' &&
		    *s != '\\') ? *s : '?';
	dst[i] = '\0';
}

static void
audit(struct np_conn *c, uint32_t kind, int status, bool allow,
    const struct msg_verdict *v, const char *reason)
{
	struct msg_audit_event ev;

	if (c->np->policyd == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.status = (uint32_t)(status < 0 ? 0 : status);
	ev.port = c->port;
	ev.allow = allow ? VERDICT_ALLOW : VERDICT_DENY;
	ev.bytes_in = c->bytes_in;
	ev.bytes_out = c->bytes_out;
	if (c->started_us != 0)
		ev.duration_us = np_now_us() - c->started_us;
	snprintf(ev.host, sizeof(ev.host), "%s",
	    c->host[0] != '\0' ? c->host : c->sni);
	snprintf(ev.method, sizeof(ev.method), "%s", c->method);
	snprintf(ev.path, sizeof(ev.path), "%s", c->path);
	if (v != NULL) {
		snprintf(ev.rule, sizeof(ev.rule), "%s", v->rule);
		snprintf(ev.file, sizeof(ev.file), "%s", v->file);
		ev.line = v->line;
	}
	snprintf(ev.reason, sizeof(ev.reason), "%s", reason != NULL ? reason :
	    "");
	(void)np_send_policyd(c->np, MSG_AUDIT_EVENT, 0, &ev, sizeof(ev),
	    NULL, 0);
}

/* End the connection without an answer (no HTTP possible yet). */
static void
conn_reset(struct np_conn *c, const char *reason)
{
	log_debug("stream %u: reset: %s", c->id, reason);
	audit(c, AUDIT_REFUSED, 0, false, NULL, reason);
	c->np->counters[NP_CTR_DENIED]++;
	c->dead = true;
}

/*
 * Answer the current request ourselves and close: status, a plain-text
 * body naming host, method, path and the deciding rule.
 */
static void
respond(struct np_conn *c, int status, const char *reason,
    const struct msg_verdict *v)
{
	char	 body[2048], rule[MSG_RULE_MAX], file[MSG_FILE_MAX];
	char	 vhdr[MSG_RULE_MAX + MSG_FILE_MAX + 64] = "";
	const struct msg_verdict *audit_v = v;
	bool	 audit_allow = false;
	int	 blen;

	c->status = status;
	if (v == NULL && c->req_allowed) {
		audit_v = &c->req_verdict;	/* allowed, then failed */
		audit_allow = true;
	}
	if (c->resp_head_sent || c->client.failed) {
		c->dead = true;		/* too late for an answer */
		audit(c, AUDIT_REQUEST, status, audit_allow, audit_v, reason);
		return;
	}
	if (v != NULL) {
		header_safe(rule, sizeof(rule), v->rule);
		header_safe(file, sizeof(file), v->file);
		snprintf(vhdr, sizeof(vhdr), "Capsem-Verdict: %s; rule=\"%s\"; "
		    "source=\"%s:%u\"\r\n", v->allow ? "allow" : "deny", rule,
		    file, v->line);
	}
	blen = snprintf(body, sizeof(body),
	    "capsem: %d %s\nhost: %s\nmethod: %s\npath: %s\n%s%s%s%s%s",
	    status, status_text(status),
	    c->host[0] != '\0' ? c->host : c->sni,
	    c->method[0] != '\0' ? c->method : "-",
	    c->path[0] != '\0' ? c->path : "-",
	    v != NULL ? "rule: " : "", v != NULL ? v->rule : "",
	    v != NULL ? "\nsource: " : "", v != NULL ? v->file : "",
	    v != NULL ? "" : "");
	if (blen < 0 || (size_t)blen >= sizeof(body))
		blen = (int)strlen(body);
	if (v != NULL) {
		int n = snprintf(body + blen, sizeof(body) - (size_t)blen,
		    ":%u\n", v->line);
		if (n > 0 && (size_t)n < sizeof(body) - (size_t)blen)
			blen += n;
	}
	if (reason != NULL && reason[0] != '\0') {
		int n = snprintf(body + blen, sizeof(body) - (size_t)blen,
		    "reason: %s\n", reason);
		if (n > 0 && (size_t)n < sizeof(body) - (size_t)blen)
			blen += n;
	}
	if (buf_printf(&c->client.out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %d\r\n%s"
	    "Connection: close\r\n\r\n", status, status_text(status), blen,
	    vhdr) == -1 || buf_append(&c->client.out, body, (size_t)blen) == -1) {
		c->dead = true;
	}
	c->bytes_out += (uint64_t)blen;
	if (status == 403)
		c->np->counters[NP_CTR_DENIED]++;
	else
		c->np->counters[NP_CTR_ERRORS]++;
	audit(c, AUDIT_REQUEST, status, audit_allow, audit_v, reason);
	if (c->up != NULL) {
		upstream_release(c->np, c->up, c->up_idle);
		c->up = NULL;
		c->up_idle = false;
	}
	c->state = CS_CLOSING;
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

	if (c->up != NULL)
		upstream_release(np, c->up, c->up_idle);
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

static bool
host_matches(const char *pattern, const char *host)
{
	size_t	 plen = strlen(pattern), hlen = strlen(host);

	if (strcmp(pattern, "*") == 0 || strcasecmp(pattern, host) == 0)
		return true;
	if (plen > 2 && pattern[0] == '*' && pattern[1] == '.' &&
	    hlen > plen - 1 &&
	    strcasecmp(host + hlen - (plen - 1), pattern + 1) == 0)
		return true;
	return false;
}

static const struct np_credential *
credential_for(struct netproxy *np, const char *host)
{
	size_t	 i;

	for (i = 0; i < np->ncreds; i++)
		if (host_matches(np->creds[i].host, host))
			return &np->creds[i];
	return NULL;
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
		n = end_fill(&c->client);
		if (n == -1) {
			c->dead = true;	/* closed between requests */
			return true;
		}
		if (n == 0)
			return false;
	}
	c->last_active_ms = event_now_ms();
	if (r == HTTP_ERROR) {
		enum http_error e = c->req.head.error;

		c->np->counters[NP_CTR_REQUESTS]++;
		c->started_us = np_now_us();
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

static bool
is_hop_field(const uint8_t *buf, struct http_span name)
{
	static const char *const hop[] = {
		"connection", "keep-alive", "proxy-connection",
		"transfer-encoding", "content-length", "te", "trailer",
		"upgrade", "expect", "host", "proxy-authorization",
		"proxy-authenticate",
	};
	size_t	 i;

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (http_span_eq(buf, name, hop[i]))
			return true;
	return false;
}

static void
body_init(struct np_body *b, enum http_body_kind kind, uint64_t len,
    bool reframe)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->remaining = len;
	b->reframe = reframe;
	http_chunked_init(&b->ck);
	b->done = kind == HTTP_BODY_NONE;
}

static void
start_exchange(struct np_conn *c)
{
	const uint8_t	*buf = c->client.in.data + c->client.in.off;
	struct http_request *req = &c->req;
	struct np_buf	*out = &c->up->end.out;
	const struct np_credential *cred = credential_for(c->np, c->host);
	size_t		 i;
	int		 r;

	r = buf_printf(out, "%.*s %.*s HTTP/1.1\r\nHost: %.*s\r\n",
	    (int)req->method.len, buf + req->method.off,
	    req->origin.len ? (int)req->origin.len : 1,
	    req->origin.len ? (const char *)buf + req->origin.off : "/",
	    (int)req->host.len, buf + req->host.off);
	for (i = 0; r == 0 && i < req->head.nfields; i++) {
		const struct http_field *f = &req->head.fields[i];

		if (is_hop_field(buf, f->name))
			continue;
		if (cred != NULL && http_span_eq(buf, f->name, cred->header))
			continue;
		r = buf_printf(out, "%.*s: %.*s\r\n", (int)f->name.len,
		    buf + f->name.off, (int)f->value.len, buf + f->value.off);
	}
	if (r == 0 && req->head.body == HTTP_BODY_LENGTH)
		r = buf_printf(out, "Content-Length: %llu\r\n",
		    (unsigned long long)req->head.content_length);
	else if (r == 0 && req->head.body == HTTP_BODY_CHUNKED)
		r = buf_printf(out, "Transfer-Encoding: chunked\r\n");
	if (r == 0 && req->head.upgrade_websocket)
		r = buf_printf(out, "Connection: Upgrade\r\n"
		    "Upgrade: websocket\r\n");
	if (r == 0 && cred != NULL) {
		r = buf_printf(out, "%s: ", cred->header);
		if (r == 0)
			r = buf_append(out, cred->value, cred->value_len);
		if (r == 0)
			r = buf_printf(out, "\r\n");
	}
	if (r == 0)
		r = buf_printf(out, "\r\n");
	if (r == -1) {
		respond(c, 400, "request head too large to forward", NULL);
		return;
	}
	if (req->expect_continue && req->head.body != HTTP_BODY_NONE)
		(void)buf_printf(&c->client.out, "HTTP/1.1 100 Continue\r\n\r\n");
	body_init(&c->req_body, req->head.body, req->head.content_length,
	    true);
	buf_consume(&c->client.in, req->head.head_len);
	http_response_reset(&c->resp);
	c->state = CS_EXCHANGE;
}

static void
start_upstream(struct np_conn *c)
{
	char	 err[512];
	int	 status = 502, r;

	if (c->up != NULL) {
		struct np_upstream *u = c->up;

		c->up_idle = false;
		if (u->port == c->port && strcmp(u->host, c->host) == 0 &&
		    upstream_idle_alive(u)) {
			c->state = CS_UP_CONNECT;	/* ready: goes on at once */
			return;
		}
		upstream_release(c->np, u, false);
		c->up = NULL;
	}
	r = upstream_start(c->np, c, c->host, c->port, c->kind == CONN_HTTPS,
	    &c->up, &status, err, sizeof(err));
	if (r == -1) {
		respond(c, status, err, NULL);
		return;
	}
	if (r == 1) {
		c->state = CS_UP_CONNECT;
		return;
	}
	if (resolver_start(c->np, c->id, c->host, err, sizeof(err)) == -1) {
		respond(c, 502, err, NULL);
		return;
	}
	c->state = CS_RESOLVE;
}

void
conn_on_resolved(struct np_conn *c, enum resolv_result res,
    const struct resolv_answer *ans, const char *error)
{
	char	 err[512];
	int	 status = 502;

	if (res != RESOLV_OK) {
		snprintf(err, sizeof(err), "cannot resolve %s: %s", c->host,
		    error != NULL && error[0] != '\0' ? error :
		    resolv_result_string(res));
		respond(c, 502, err, NULL);
	} else if ((c->up = upstream_connect_resolved(c->np, c, c->host,
	    c->port, c->kind == CONN_HTTPS, ans->addrs, ans->naddrs, &status,
	    err, sizeof(err))) == NULL)
		respond(c, status, err, NULL);
	else
		c->state = CS_UP_CONNECT;
	conn_run(c);
}

static bool
step_up_connect(struct np_conn *c)
{
	int	 r = upstream_progress(c->np, c->up);

	if (r == 0)
		return false;
	if (r == -1) {
		char err[sizeof(c->up->error)];

		memcpy(err, c->up->error, sizeof(err));
		respond(c, 502, err, NULL);
		return true;
	}
	start_exchange(c);
	return true;
}

/*
 * Move body bytes from src->in to dst->out under the framing in b.
 * Returns bytes of src consumed; -1 on a framing error.
 */
static ssize_t
pump_body(struct np_body *b, struct np_end *src, struct np_end *dst)
{
	size_t	 room, n, used = 0;
	char	 hdr[32];

	while (!b->done) {
		uint8_t	*in = src->in.data + src->in.off;
		size_t	 avail = src->in.len;

		room = buf_room(&dst->out);
		if (b->kind == HTTP_BODY_LENGTH) {
			n = avail < room ? avail : room;
			if (n > b->remaining)
				n = (size_t)b->remaining;
			if (n == 0)
				break;
			buf_append(&dst->out, in, n);
			buf_consume(&src->in, n);
			b->remaining -= n;
			used += n;
			if (b->remaining == 0)
				b->done = true;
		} else if (b->kind == HTTP_BODY_CHUNKED) {
			size_t consumed, doff, dlen;
			enum http_chunked_result r;

			if (room < 64 || avail == 0)
				break;
			if (avail > room - 32)
				avail = room - 32;
			r = http_chunked_decode(&b->ck, in, avail, &consumed,
			    &doff, &dlen);
			if (r == CHUNKED_ERROR)
				return -1;
			if (r == CHUNKED_DATA && dlen > 0) {
				size_t hl = http_chunk_header(hdr, sizeof(hdr),
				    dlen);

				buf_append(&dst->out, hdr, hl);
				buf_append(&dst->out, in + doff, dlen);
				buf_append(&dst->out, HTTP_CHUNK_TRAILER, 2);
			}
			buf_consume(&src->in, consumed);
			used += consumed;
			if (r == CHUNKED_DONE) {
				buf_append(&dst->out, HTTP_CHUNK_LAST,
				    sizeof(HTTP_CHUNK_LAST) - 1);
				b->done = true;
			}
			if (consumed == 0)
				break;
		} else if (b->kind == HTTP_BODY_CLOSE) {
			if (avail == 0) {
				if (src->eof) {
					if (b->reframe)
						buf_append(&dst->out,
						    HTTP_CHUNK_LAST,
						    sizeof(HTTP_CHUNK_LAST) - 1);
					b->done = true;
				}
				break;
			}
			if (b->reframe) {
				if (room < 64)
					break;
				n = avail < room - 32 ? avail : room - 32;
				buf_append(&dst->out, hdr,
				    http_chunk_header(hdr, sizeof(hdr), n));
				buf_append(&dst->out, in, n);
				buf_append(&dst->out, HTTP_CHUNK_TRAILER, 2);
			} else {
				n = avail < room ? avail : room;
				if (n == 0)
					break;
				buf_append(&dst->out, in, n);
			}
			buf_consume(&src->in, n);
			used += n;
		} else
			b->done = true;
	}
	return (ssize_t)used;
}

/* The response head is parsed: send ours to the client. */
static int
forward_response_head(struct np_conn *c)
{
	struct np_end	*up = &c->up->end;
	const uint8_t	*buf = up->in.data + up->in.off;
	struct http_response *resp = &c->resp;
	struct np_buf	*out = &c->client.out;
	bool		 reframe = false;
	size_t		 i;
	int		 r;

	if (resp->head.body == HTTP_BODY_CHUNKED)
		reframe = true;
	else if (resp->head.body == HTTP_BODY_CLOSE) {
		if (c->req.head.version_minor == 1)
			reframe = true;
		else
			c->client_keep_alive = false;
	}
	r = buf_printf(out, "HTTP/1.1 %d %.*s\r\n", resp->status,
	    (int)resp->reason.len, buf + resp->reason.off);
	for (i = 0; r == 0 && i < resp->head.nfields; i++) {
		const struct http_field *f = &resp->head.fields[i];

		if (is_hop_field(buf, f->name)) {
			/* HEAD and 304 keep the length they describe */
			if (!(resp->head.body == HTTP_BODY_NONE &&
			    http_span_eq(buf, f->name, "content-length")))
				continue;
		}
		r = buf_printf(out, "%.*s: %.*s\r\n", (int)f->name.len,
		    buf + f->name.off, (int)f->value.len, buf + f->value.off);
	}
	if (r == 0 && resp->head.upgrade_websocket)
		r = buf_printf(out, "Connection: Upgrade\r\nUpgrade: websocket\r\n");
	else if (r == 0 && resp->status >= 200) {
		if (resp->head.body == HTTP_BODY_LENGTH)
			r = buf_printf(out, "Content-Length: %llu\r\n",
			    (unsigned long long)resp->head.content_length);
		else if (reframe)
			r = buf_printf(out, "Transfer-Encoding: chunked\r\n");
		if (r == 0 && !c->client_keep_alive)
			r = buf_printf(out, "Connection: close\r\n");
	}
	if (r == 0)
		r = buf_printf(out, "\r\n");
	if (r == -1)
		return -1;
	if (resp->status >= 200 || resp->status == 101) {
		c->resp_head_sent = true;
		c->status = resp->status;
		body_init(&c->resp_body, resp->head.body,
		    resp->head.content_length, reframe);
	}
	c->bytes_out += out->len;
	buf_consume(&up->in, resp->head.head_len);
	return 0;
}

static void
finish_request(struct np_conn *c)
{
	bool	 reuse;

	audit(c, AUDIT_REQUEST, c->status, true, &c->req_verdict, "");
	reuse = c->resp.head.keep_alive &&
	    c->resp_body.kind != HTTP_BODY_CLOSE;
	c->started_us = 0;
	if (!c->client_keep_alive || !reuse || !upstream_reusable(c->up)) {
		/* to the pool (or closed): this client is done with it */
		upstream_release(c->np, c->up, reuse);
		c->up = NULL;
	} else
		c->up_idle = true;	/* the client's next request uses it */
	if (!c->client_keep_alive) {
		c->state = CS_CLOSING;
		return;
	}
	http_request_reset(&c->req);
	c->state = CS_REQ_HEAD;
}

static bool
step_exchange(struct np_conn *c)
{
	struct np_end	*up = &c->up->end;
	bool		 progress = false;
	ssize_t		 n;

	/* request body: guest -> upstream */
	if (!c->req_body.done) {
		if (end_fill(&c->client) > 0)
			progress = true;
		n = pump_body(&c->req_body, &c->client, up);
		if (n == -1) {
			respond(c, 400, http_error_string(HTTP_E_CHUNK), NULL);
			return true;
		}
		if (n > 0) {
			c->bytes_in += (uint64_t)n;
			progress = true;
		}
		if (!c->req_body.done && c->client.in.len == 0 &&
		    (c->client.eof || c->client.failed)) {
			c->dead = true;
			return true;
		}
	}
	/* response: upstream -> guest */
	if (end_fill(up) > 0)
		progress = true;
	if (!c->resp_head_sent) {
		enum http_result r = http_response_parse(&c->resp,
		    up->in.data + up->in.off, up->in.len, c->head_request);

		if (r == HTTP_ERROR) {
			char reason[96];

			snprintf(reason, sizeof(reason), "bad response from "
			    "upstream: %s", http_error_string(c->resp.head.error));
			respond(c, 502, reason, NULL);
			return true;
		}
		if (r == HTTP_NEED_MORE) {
			if (up->eof || up->failed) {
				respond(c, 502, "upstream closed the connection "
				    "without a response", NULL);
				return true;
			}
			return progress;
		}
		if (c->resp.status == 101 && !c->req.head.upgrade_websocket) {
			respond(c, 502, "upstream switched protocols unasked",
			    NULL);
			return true;
		}
		if (forward_response_head(c) == -1) {
			respond(c, 502, "response head too large", NULL);
			return true;
		}
		if (c->resp.status < 200 && c->resp.status != 101) {
			http_response_reset(&c->resp);	/* interim: next head */
			return true;
		}
		if (c->resp.status == 101) {
			audit(c, AUDIT_REQUEST, 101, true, &c->req_verdict,
			    "websocket");
			c->state = CS_TUNNEL;
			return true;
		}
		progress = true;
	}
	n = pump_body(&c->resp_body, up, &c->client);
	if (n == -1) {
		c->dead = true;		/* head already sent: just close */
		audit(c, AUDIT_REQUEST, 502, true, &c->req_verdict,
		    "bad chunked body from upstream");
		return true;
	}
	if (n > 0) {
		c->bytes_out += (uint64_t)n;
		progress = true;
	}
	if (!c->resp_body.done && up->in.len == 0 &&
	    c->resp_body.kind != HTTP_BODY_CLOSE && (up->eof || up->failed)) {
		c->dead = true;
		audit(c, AUDIT_REQUEST, 502, true, &c->req_verdict,
		    "upstream closed mid-body");
		return true;
	}
	if (c->req_body.done && c->resp_body.done) {
		finish_request(c);
		return true;
	}
	return progress;
}

static bool
step_tunnel(struct np_conn *c)
{
	struct np_end	*up = &c->up->end;
	bool		 progress = false;
	size_t		 n;

	if (end_fill(&c->client) > 0)
		progress = true;
	if (end_fill(up) > 0)
		progress = true;
	n = c->client.in.len < buf_room(&up->out) ? c->client.in.len :
	    buf_room(&up->out);
	if (n > 0) {
		buf_append(&up->out, c->client.in.data + c->client.in.off, n);
		buf_consume(&c->client.in, n);
		progress = true;
	}
	n = up->in.len < buf_room(&c->client.out) ? up->in.len :
	    buf_room(&c->client.out);
	if (n > 0) {
		buf_append(&c->client.out, up->in.data + up->in.off, n);
		buf_consume(&up->in, n);
		progress = true;
	}
	if (((c->client.eof || c->client.failed) && c->client.in.len == 0 &&
	    up->out.len == 0) ||
	    ((up->eof || up->failed) && up->in.len == 0 &&
	    c->client.out.len == 0))
		c->dead = true;
	return progress;
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
	case CS_UP_CONNECT:
		return step_up_connect(c);
	case CS_EXCHANGE:
		return step_exchange(c);
	case CS_TUNNEL:
		return step_tunnel(c);
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
	case CS_RESOLVE:
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
		else if (c->state == CS_UP_CONNECT) {
			if (c->up->state == UP_CONNECTING)
				want = EV_WRITE;
			else {
				if (up->ssl_want_read)
					want |= EV_READ;
				if (up->ssl_want_write)
					want |= EV_WRITE;
			}
		} else {
			if ((c->state == CS_EXCHANGE || c->state == CS_TUNNEL) &&
			    buf_room(&up->in) > 0)
				want |= EV_READ;
			if (up->out.len > 0 || up->ssl_want_write)
				want |= EV_WRITE;
		}
		set_events(c->np, up, want);
	}
}

void
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
conn_on_verdict(struct np_conn *c, const struct msg_verdict *v)
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
		if (v->allow != VERDICT_ALLOW)
			respond(c, 403, "request denied by policy", v);
		else
			start_upstream(c);
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

void
conn_on_mint(struct np_conn *c, struct np_cert *cert, const char *error)
{
	if (c->state != CS_MINT) {
		log_warnx("stream %u: unexpected certificate, ignored", c->id);
		return;
	}
	if (cert == NULL) {
		char reason[160];

		snprintf(reason, sizeof(reason), "certificate: %s", error);
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

void
conn_sweep(struct netproxy *np, uint64_t now)
{
	size_t	 i;
	uint32_t idle = np_idle_ms(np);

	for (i = 0; i < NP_MAX_CONNS; i++) {
		struct np_conn *c = np->conns[i];

		if (c == NULL || c->in_run)
			continue;
		if (c->state == CS_UP_CONNECT && c->up != NULL &&
		    now > c->up->deadline) {
			respond(c, 504, "upstream connect timeout", NULL);
			conn_run(c);
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
