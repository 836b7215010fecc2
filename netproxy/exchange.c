/*
 * exchange.c: one request and its response over a connected upstream:
 * the request head rewritten (hop-by-hop fields dropped, the host's
 * credential put in), bodies streamed both ways under their framing
 * (chunked re-framed where needed), interim responses, and the raw
 * WebSocket relay after a 101.  conn.c starts an exchange once the
 * upstream is connected and steps it on every event.
 */
#include <stdio.h>
#include <string.h>

#include "netproxy.h"

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

/*
 * The credential this request may carry: only over TLS with the guest,
 * to a TLS upstream verified as the credential's host on port 443, and
 * never with TRACE (which echoes the request head back).  Anything else
 * (plain HTTP, another port, a Host port that points a cleartext
 * request at the TLS pin) gets no credential: the guest's own value of
 * that header is still dropped.
 */
static const struct np_credential *
credential_to_inject(struct np_conn *c, const uint8_t *buf)
{
	const struct np_credential *cred = credential_for(c->np, c->host);

	if (cred == NULL || c->kind != CONN_HTTPS || c->up == NULL ||
	    !c->up->tls || c->up->port != 443 ||
	    !host_matches(cred->host, c->up->host) ||
	    http_span_eq(buf, c->req.method, "TRACE"))
		return NULL;
	return cred;
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

void
exchange_start(struct np_conn *c)
{
	const uint8_t	*buf = c->client.in.data + c->client.in.off;
	struct http_request *req = &c->req;
	struct np_buf	*out = &c->up->end.out;
	const struct np_credential *drop = credential_for(c->np, c->host);
	const struct np_credential *cred = credential_to_inject(c, buf);
	const uint8_t	*query;
	size_t		 i, qlen = 0;
	bool		 model;
	int		 r;

	/*
	 * What was checked is what goes: the path policyd judged (its
	 * normal form; "/" for an absolute-form target with an empty path,
	 * RFC 9112 3.2.1), the query as sent, the host name checked.
	 */
	query = memchr(buf + req->origin.off, '?', req->origin.len);
	if (query != NULL)
		qlen = req->origin.len - (size_t)(query - (buf +
		    req->origin.off));
	/* a model call's response is read for its usage: not compressed */
	model = modeltap_request(c, buf);
	r = buf_printf(out, "%.*s %s%.*s HTTP/1.1\r\nHost: %s",
	    (int)req->method.len, buf + req->method.off, c->npath,
	    (int)qlen, query != NULL ? (const char *)query : "", c->host);
	if (r == 0 && c->port != (c->kind == CONN_HTTPS ? 443 : 80))
		r = buf_printf(out, ":%u", c->port);
	if (r == 0)
		r = buf_printf(out, "\r\n");
	for (i = 0; r == 0 && i < req->head.nfields; i++) {
		const struct http_field *f = &req->head.fields[i];

		if (is_hop_field(buf, f->name))
			continue;
		if (drop != NULL && http_span_eq(buf, f->name, drop->header))
			continue;
		if (model && http_span_eq(buf, f->name, "accept-encoding"))
			continue;
		r = buf_printf(out, "%.*s: %.*s\r\n", (int)f->name.len,
		    buf + f->name.off, (int)f->value.len, buf + f->value.off);
	}
	if (r == 0 && model)
		r = buf_printf(out, "Accept-Encoding: identity\r\n");
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
	c->interim = 0;
	c->state = CS_EXCHANGE;
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
			modeltap_feed(b, in, n);
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
				modeltap_feed(b, in + doff, dlen);
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
			modeltap_feed(b, in, n);
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
		else if (r == 0 && c->req.head.version_minor == 0)
			/* an HTTP/1.0 client closes unless told otherwise */
			r = buf_printf(out, "Connection: keep-alive\r\n");
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
		if (resp->status != 101)
			modeltap_response(c, buf);
	}
	c->bytes_out += out->len;
	buf_consume(&up->in, resp->head.head_len);
	return 0;
}

/*
 * The upstream failed after the response head went to the client: send
 * what is queued, then close (a chunked or sized response ends short, so
 * the client sees it cut), and audit the status it got and why.
 */
static bool
cut_short(struct np_conn *c, const char *reason)
{
	modeltap_end(c, false);
	audit_stream(c, AUDIT_REQUEST, c->status, true, &c->req_verdict,
	    reason);
	c->np->counters[NP_CTR_ERRORS]++;
	upstream_release(c->np, c->up, false);
	c->up = NULL;
	c->up_idle = false;
	c->client_keep_alive = false;
	c->state = CS_CLOSING;
	return true;
}

static void
finish_request(struct np_conn *c)
{
	bool	 reuse;

	modeltap_end(c, true);
	audit_stream(c, AUDIT_REQUEST, c->status, true, &c->req_verdict, "");
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

bool
exchange_step(struct np_conn *c)
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
		if (c->resp.status < 200 && c->resp.status != 101 &&
		    ++c->interim > NP_INTERIM_MAX) {
			respond(c, 502, "too many interim responses from "
			    "upstream", NULL);
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
			/* audited when the tunnel closes (audit_unfinished) */
			c->state = CS_TUNNEL;
			return true;
		}
		progress = true;
	}
	n = pump_body(&c->resp_body, up, &c->client);
	if (n == -1)
		return cut_short(c, "bad chunked body from upstream: "
		    "response cut short");
	if (n > 0) {
		c->bytes_out += (uint64_t)n;
		progress = true;
	}
	if (!c->resp_body.done && up->in.len == 0 &&
	    c->resp_body.kind != HTTP_BODY_CLOSE && (up->eof || up->failed))
		return cut_short(c, "upstream closed mid-body: response cut "
		    "short");
	if (c->req_body.done && c->resp_body.done) {
		finish_request(c);
		return true;
	}
	return progress;
}

bool
exchange_tunnel(struct np_conn *c)
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
		c->bytes_in += n;
		progress = true;
	}
	n = up->in.len < buf_room(&c->client.out) ? up->in.len :
	    buf_room(&c->client.out);
	if (n > 0) {
		buf_append(&c->client.out, up->in.data + up->in.off, n);
		buf_consume(&up->in, n);
		c->bytes_out += n;
		progress = true;
	}
	if (((c->client.eof || c->client.failed) && c->client.in.len == 0 &&
	    up->out.len == 0) ||
	    ((up->eof || up->failed) && up->in.len == 0 &&
	    c->client.out.len == 0))
		c->dead = true;
	return progress;
}
