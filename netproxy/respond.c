/*
 * respond.c: the answers netproxy gives itself on a stream (400, 403,
 * 408, 421, 502, 503, 504: a plain-text body naming host, method, path and the
 * deciding rule) and the audit line of a stream's request or refusal.
 */
#include <stdio.h>
#include <string.h>

#include "netproxy.h"

static const char *
status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 408: return "Request Timeout";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 429: return "Too Many Requests";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

/*
 * s as the inside of an HTTP quoted-string (RFC 9110 5.6.4): '"' and '\\'
 * as quoted pairs, other printable ASCII as is, anything else '?'.
 * Stops at a whole character when dst is full.
 */
static void
header_quoted(char *dst, size_t len, const char *s)
{
	size_t	 i = 0;

	for (; *s != '\0'; s++) {
		bool	 pair = *s == '"' || *s == '\\';

		if (i + (pair ? 2 : 1) >= len)
			break;
		if (pair)
			dst[i++] = '\\';
		dst[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	}
	dst[i] = '\0';
}

void
audit_stream(struct np_conn *c, uint32_t kind, int status, bool allow,
    const struct msg_verdict *v, const char *reason)
{
	struct msg_audit_event ev;

	if (kind == AUDIT_REQUEST)
		c->req_audited = true;
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

/*
 * The outcome line of a request the connection ends in the middle of
 * (conn_free): a client gone mid-upload or mid-response, a WebSocket
 * tunnel closing (status 101, the bytes of both ways), a shutdown or a
 * timeout.  Nothing when the request already has its line.
 */
void
audit_unfinished(struct np_conn *c)
{
	char		 reason[96];
	const char	*who, *when;

	if (c->kind == CONN_DNS || c->started_us == 0 || c->req_audited)
		return;
	who = c->client.eof || c->client.failed ? "client closed" :
	    "connection closed";
	if (c->state == CS_TUNNEL) {
		audit_stream(c, AUDIT_REQUEST, 101, true, &c->req_verdict,
		    "websocket closed");
		return;
	}
	if (c->state == CS_EXCHANGE && !c->req_body.done)
		when = "mid-upload";
	else if (c->resp_head_sent)
		when = "mid-response";
	else
		when = "before the response";
	snprintf(reason, sizeof(reason), "%s %s", who, when);
	audit_stream(c, AUDIT_REQUEST, c->resp_head_sent ? c->status : 0,
	    c->req_allowed, c->req_allowed ? &c->req_verdict : NULL, reason);
}

/*
 * Answer the current request ourselves and close: status, a plain-text
 * body naming host, method, path and the deciding rule.
 */
void
respond(struct np_conn *c, int status, const char *reason,
    const struct msg_verdict *v)
{
	char	 body[2048], rule[2 * MSG_RULE_MAX], file[2 * MSG_FILE_MAX];
	char	 vhdr[2 * MSG_RULE_MAX + 2 * MSG_FILE_MAX + 64] = "";
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
		audit_stream(c, AUDIT_REQUEST, status, audit_allow, audit_v, reason);
		return;
	}
	if (v != NULL) {
		header_quoted(rule, sizeof(rule), v->rule);
		header_quoted(file, sizeof(file), v->file);
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
	if (status == 403 || status == 429)
		c->np->counters[NP_CTR_DENIED]++;
	else
		c->np->counters[NP_CTR_ERRORS]++;
	audit_stream(c, AUDIT_REQUEST, status, audit_allow, audit_v, reason);
	if (c->up != NULL) {
		upstream_release(c->np, c->up, c->up_idle);
		c->up = NULL;
		c->up_idle = false;
	}
	c->state = CS_CLOSING;
}
