/*
 * http.c: strict HTTP/1.1 heads and chunked bodies (RFC 9112, RFC 9110).
 *
 * A head is first delimited (scan_head: CRLF rules, NUL, size limits), then
 * read line by line.  Field semantics that decide message framing
 * (Content-Length, Transfer-Encoding, Host, Connection, Upgrade, Expect)
 * are settled here so that the proxy forwards exactly one reading.
 * (Over 800 lines: request and response heads and chunked bodies are one
 * grammar, and the places that decide framing are kept side by side.)
 */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "text.h"

/* tchar (RFC 9110 5.6.2) */
static bool
is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static uint8_t
lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c;
}

static bool
bytes_ieq(const uint8_t *p, size_t len, const char *s)
{
	size_t	 i, slen = strlen(s);

	if (len != slen)
		return false;
	for (i = 0; i < len; i++)
		if (lower(p[i]) != lower((uint8_t)s[i]))
			return false;
	return true;
}

bool
http_span_eq(const uint8_t *buf, struct http_span sp, const char *s)
{
	return bytes_ieq(buf + sp.off, sp.len, s);
}

static struct http_span
span(size_t off, size_t len)
{
	struct http_span sp = { (uint32_t)off, (uint32_t)len };

	return sp;
}

/*
 * Find the end of a head: CRLF CRLF.  Every LF must follow a CR, every CR
 * must precede an LF, no NUL.  Up to HTTP_LEADING_CRLF_MAX empty lines
 * before the start-line are skipped (RFC 9112 2.2).
 */
static enum http_result
scan_head(struct http_head *h, const uint8_t *buf, size_t len)
{
	struct http_scan *s = &h->scan;
	size_t		  i, limit = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;

	for (i = s->pos; i < limit; i++) {
		uint8_t b = buf[i];

		if (b == '\0') {
			h->error = HTTP_E_NUL;
			return HTTP_ERROR;
		}
		if (b == '\r') {
			if (i + 1 == len)
				break;		/* wait for the next byte */
			if (buf[i + 1] != '\n') {
				h->error = HTTP_E_BARE_CR;
				return HTTP_ERROR;
			}
			continue;
		}
		if (b != '\n') {
			if (s->lines == 0 &&
			    i - s->line_start >= HTTP_REQUEST_LINE_MAX) {
				h->error = HTTP_E_REQUEST_LINE_TOO_LONG;
				return HTTP_ERROR;
			}
			continue;
		}
		if (i == 0 || buf[i - 1] != '\r') {
			h->error = HTTP_E_BARE_LF;
			return HTTP_ERROR;
		}
		if (i - 1 == s->line_start) {		/* empty line */
			if (s->lines > 0) {
				h->head_len = i + 1;
				s->pos = i + 1;
				return HTTP_OK;
			}
			if (s->line_start / 2 >= HTTP_LEADING_CRLF_MAX) {
				h->error = HTTP_E_REQUEST_LINE;
				return HTTP_ERROR;
			}
			s->start = i + 1;
		} else
			s->lines++;
		s->line_start = i + 1;
	}
	s->pos = i;
	if (len >= HTTP_HEAD_MAX) {
		h->error = HTTP_E_HEAD_TOO_LARGE;
		return HTTP_ERROR;
	}
	return HTTP_NEED_MORE;
}

/* The line starting at off: its length without CRLF. */
static size_t
line_len(const uint8_t *buf, size_t off, size_t end)
{
	const uint8_t *cr = memchr(buf + off, '\r', end - off);

	return cr == NULL ? end - off : (size_t)(cr - (buf + off));
}

static bool
is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* field-value bytes: HTAB, SP, VCHAR, obs-text */
static bool
is_field_vchar(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static enum http_error
parse_field(const uint8_t *buf, size_t off, size_t len, struct http_field *f)
{
	size_t	 i, colon, vstart, vend;

	if (len == 0)
		return HTTP_E_HEADER_NAME;
	if (is_ows(buf[off]))
		return HTTP_E_OBS_FOLD;
	for (colon = 0; colon < len && buf[off + colon] != ':'; colon++)
		;
	if (colon == len)
		return HTTP_E_NO_COLON;
	if (colon == 0)
		return HTTP_E_HEADER_NAME;
	for (i = 0; i < colon; i++) {
		uint8_t c = buf[off + i];

		if (is_ows(c))
			return HTTP_E_WS_BEFORE_COLON;
		if (!is_tchar(c))
			return HTTP_E_HEADER_NAME;
	}
	vstart = colon + 1;
	vend = len;
	while (vstart < vend && is_ows(buf[off + vstart]))
		vstart++;
	while (vend > vstart && is_ows(buf[off + vend - 1]))
		vend--;
	for (i = vstart; i < vend; i++)
		if (!is_field_vchar(buf[off + i]))
			return HTTP_E_HEADER_VALUE;
	f->name = span(off, colon);
	f->value = span(off + vstart, vend - vstart);
	return HTTP_E_NONE;
}

/*
 * Walk a comma-separated list value, calling fn for each non-empty element
 * (OWS trimmed).  Returns the first non-zero return of fn.
 */
static int
list_each(const uint8_t *buf, struct http_span v,
    int (*fn)(const uint8_t *, size_t, void *), void *arg)
{
	size_t	 i = 0, start, end;
	int	 r;

	while (i <= v.len) {
		start = i;
		while (i < v.len && buf[v.off + i] != ',')
			i++;
		end = i;
		while (start < end && is_ows(buf[v.off + start]))
			start++;
		while (end > start && is_ows(buf[v.off + end - 1]))
			end--;
		if (end > start &&
		    (r = fn(buf + v.off + start, end - start, arg)) != 0)
			return r;
		i++;
	}
	return 0;
}

struct conn_flags {
	bool	 close;
	bool	 keep_alive;
	bool	 upgrade;
};

static int
conn_token(const uint8_t *p, size_t len, void *arg)
{
	struct conn_flags *cf = arg;

	if (bytes_ieq(p, len, "close"))
		cf->close = true;
	else if (bytes_ieq(p, len, "keep-alive"))
		cf->keep_alive = true;
	else if (bytes_ieq(p, len, "upgrade"))
		cf->upgrade = true;
	return 0;
}

static int
upgrade_token(const uint8_t *p, size_t len, void *arg)
{
	int	*n = arg;

	(*n)++;
	return bytes_ieq(p, len, "websocket") ? 0 : -1;
}

/* Content-Length: 1*DIGIT, no sign, no list, no overflow past 2^62. */
static int
parse_content_length(const uint8_t *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t	 i;

	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > HTTP_CHUNK_SIZE_MAX)
		return -1;
	*out = v;
	return 0;
}

/*
 * Read the fields of a head: lines from off up to the empty line.  Sets
 * framing, connection flags, and hands each field to fn for message-kind
 * specific checks.
 */
struct framing {
	int	 cl_count;
	int	 te_count;
	int	 upgrade_count;
	bool	 upgrade_ok;
	struct conn_flags conn;
};

static enum http_error
parse_fields(struct http_head *h, const uint8_t *buf, size_t off,
    struct framing *fr)
{
	size_t	 end = h->head_len - 2, len;
	struct http_field *f;

	size_t	 i;

	/* Every line must be a well-formed field before any is believed. */
	while (off < end) {
		len = line_len(buf, off, end);
		if (h->nfields == HTTP_HEADERS_MAX)
			return HTTP_E_TOO_MANY_HEADERS;
		enum http_error e = parse_field(buf, off, len,
		    &h->fields[h->nfields]);
		if (e != HTTP_E_NONE)
			return e;
		h->nfields++;
		off += len + 2;
	}
	for (i = 0; i < h->nfields; i++) {
		f = &h->fields[i];
		if (http_span_eq(buf, f->name, "content-length")) {
			if (fr->cl_count++)
				return HTTP_E_CL_DUPLICATE;
			if (parse_content_length(buf + f->value.off,
			    f->value.len, &h->content_length) == -1)
				return HTTP_E_CL_INVALID;
		} else if (http_span_eq(buf, f->name, "transfer-encoding")) {
			if (fr->te_count++)
				return HTTP_E_TE_DUPLICATE;
			if (!http_span_eq(buf, f->value, "chunked"))
				return HTTP_E_TE_UNSUPPORTED;
		} else if (http_span_eq(buf, f->name, "connection")) {
			list_each(buf, f->value, conn_token, &fr->conn);
		} else if (http_span_eq(buf, f->name, "upgrade")) {
			int n = 0;

			if (fr->upgrade_count++)
				return HTTP_E_UPGRADE;
			fr->upgrade_ok = list_each(buf, f->value, upgrade_token,
			    &n) == 0 && n == 1;
		}
	}
	if (fr->cl_count && fr->te_count)
		return HTTP_E_CL_AND_TE;
	return HTTP_E_NONE;
}

static enum http_error
parse_version(const uint8_t *p, size_t len, int *minor)
{
	if (len != 8 || memcmp(p, "HTTP/1.", 7) != 0)
		return HTTP_E_VERSION;
	if (p[7] == '1')
		*minor = 1;
	else if (p[7] == '0')
		*minor = 0;
	else
		return HTTP_E_VERSION;
	return HTTP_E_NONE;
}

/* reg-name (letters, digits, -._~ and sub-delims we accept), IPv4, [v6] */
int
http_host_split(const uint8_t *val, size_t len, char *name, size_t namecap,
    uint16_t *port)
{
	size_t	 i, hostlen = len, n;
	uint32_t p = 0;

	*port = 0;
	if (len == 0)
		return -1;
	if (val[0] == '[') {
		const uint8_t *rb = memchr(val, ']', len);

		if (rb == NULL)
			return -1;
		hostlen = (size_t)(rb - val) + 1;
		for (i = 1; i + 1 < hostlen; i++)
			if (!((val[i] >= '0' && val[i] <= '9') ||
			    (lower(val[i]) >= 'a' && lower(val[i]) <= 'f') ||
			    val[i] == ':' || val[i] == '.'))
				return -1;
		if (hostlen < 3)
			return -1;
		if (hostlen < len && val[hostlen] != ':')
			return -1;
	} else {
		const uint8_t *colon = memchr(val, ':', len);

		if (colon != NULL)
			hostlen = (size_t)(colon - val);
		for (i = 0; i < hostlen; i++) {
			uint8_t c = lower(val[i]);

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			    c == '-' || c == '.' || c == '_'))
				return -1;
			if (c == '.' && (i == 0 || val[i - 1] == '.'))
				return -1;
		}
	}
	if (hostlen < len) {		/* ":" port */
		size_t digits = len - hostlen - 1;

		if (digits == 0 || digits > 5)
			return -1;
		for (i = hostlen + 1; i < len; i++) {
			if (val[i] < '0' || val[i] > '9')
				return -1;
			p = p * 10 + (uint32_t)(val[i] - '0');
		}
		if (p == 0 || p > 65535)
			return -1;
		*port = (uint16_t)p;
	}
	n = hostlen;
	if (n > 1 && val[0] != '[' && val[n - 1] == '.')
		n--;			/* trailing dot */
	if (n == 0 || n >= namecap)
		return -1;
	for (i = 0; i < n; i++)
		name[i] = (char)lower(val[i]);
	name[n] = '\0';
	return 0;
}

/*
 * A field name that reads as a framing or routing field once '_' is taken
 * for '-' (Transfer_Encoding, Content_Length, Host): some servers and CGI
 * gateways map one to the other, so the proxy and the upstream would
 * disagree on the framing.  Refused.
 */
static bool
aliases_framing(const uint8_t *buf, struct http_span name)
{
	static const char *const framing[] = {
		"transfer-encoding", "content-length", "host",
	};
	const uint8_t	*p = buf + name.off;
	size_t		 i, k;
	bool		 underscore = false;

	for (i = 0; i < name.len; i++)
		if (p[i] == '_')
			underscore = true;
	if (!underscore)
		return false;
	for (k = 0; k < sizeof(framing) / sizeof(framing[0]); k++) {
		if (strlen(framing[k]) != name.len)
			continue;
		for (i = 0; i < name.len; i++)
			if ((p[i] == '_' ? '-' : lower(p[i])) != framing[k][i])
				break;
		if (i == name.len)
			return true;
	}
	return false;
}

/* request-target bytes: visible ASCII, no '#' (fragments are never sent) */
static bool
target_ok(const uint8_t *p, size_t len)
{
	size_t	 i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '#')
			return false;
	return true;
}

static enum http_error
parse_target(struct http_request *req, const uint8_t *buf)
{
	struct http_span t = req->target;
	const uint8_t	*p = buf + t.off;
	size_t		 i, skip, auth_start, auth_end;

	if (!target_ok(p, t.len))
		return HTTP_E_TARGET;
	if (http_span_eq(buf, req->method, "CONNECT"))
		return HTTP_E_CONNECT;
	if (p[0] == '/') {
		if (t.len >= 2 && p[1] == '/')
			return HTTP_E_TARGET;	/* "//x" reads as an authority */
		req->origin = t;
	} else if (t.len == 1 && p[0] == '*') {
		if (!http_span_eq(buf, req->method, "OPTIONS"))
			return HTTP_E_TARGET;
		req->origin = t;
		req->path = t;
		return HTTP_E_NONE;
	} else {
		if (t.len > 7 && bytes_ieq(p, 7, "http://"))
			skip = 7;
		else if (t.len > 8 && bytes_ieq(p, 8, "https://"))
			skip = 8;
		else
			return HTTP_E_TARGET;	/* authority-form, or junk */
		auth_start = skip;
		for (auth_end = auth_start; auth_end < t.len; auth_end++) {
			if (p[auth_end] == '/' || p[auth_end] == '?')
				break;
			if (p[auth_end] == '@')
				return HTTP_E_TARGET;	/* userinfo */
		}
		if (auth_end == auth_start)
			return HTTP_E_TARGET;
		req->absolute_form = true;
		/* the authority, compared with Host once fields are read */
		req->path = span(t.off + auth_start, auth_end - auth_start);
		req->origin = span(t.off + auth_end, t.len - auth_end);
	}
	for (i = 0; i < req->origin.len && buf[req->origin.off + i] != '?'; i++)
		;
	if (!req->absolute_form)
		req->path = span(req->origin.off, i);
	return HTTP_E_NONE;
}

static enum http_error
parse_request_line(struct http_request *req, const uint8_t *buf, size_t off,
    size_t len)
{
	const uint8_t	*p = buf + off;
	size_t		 i, sp1, sp2;
	bool		 has_lower = false;

	for (sp1 = 0; sp1 < len && p[sp1] != ' '; sp1++)
		;
	if (sp1 == len || sp1 == 0)
		return HTTP_E_REQUEST_LINE;
	if (sp1 > HTTP_METHOD_MAX)
		return HTTP_E_METHOD;
	for (i = 0; i < sp1; i++) {
		if (!is_tchar(p[i]))
			return HTTP_E_METHOD;
		if (p[i] >= 'a' && p[i] <= 'z')
			has_lower = true;
	}
	if (has_lower)
		return HTTP_E_METHOD_CASE;
	for (sp2 = sp1 + 1; sp2 < len && p[sp2] != ' '; sp2++)
		;
	if (sp2 == len || sp2 == sp1 + 1)
		return HTTP_E_REQUEST_LINE;
	req->method = span(off, sp1);
	req->target = span(off + sp1 + 1, sp2 - sp1 - 1);
	for (i = sp2 + 1; i < len; i++)
		if (p[i] == ' ' || p[i] == '\t')
			return HTTP_E_REQUEST_LINE;
	return parse_version(p + sp2 + 1, len - sp2 - 1,
	    &req->head.version_minor);
}

void
http_request_reset(struct http_request *req)
{
	memset(req, 0, sizeof(*req));
}

void
http_response_reset(struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
}

static enum http_result
request_fail(struct http_request *req, enum http_error e)
{
	req->head.error = e;
	return HTTP_ERROR;
}

enum http_result
http_request_parse(struct http_request *req, const uint8_t *buf, size_t len)
{
	struct http_head *h = &req->head;
	struct framing	  fr;
	enum http_result  r;
	enum http_error	  e;
	size_t		  off, llen, i;
	int		  nhost = 0;
	bool		  expect_other = false;

	if (h->error != HTTP_E_NONE)
		return HTTP_ERROR;
	if (h->head_len != 0)
		return HTTP_OK;
	if ((r = scan_head(h, buf, len)) != HTTP_OK)
		return r;

	off = h->scan.start;
	llen = line_len(buf, off, h->head_len);
	if ((e = parse_request_line(req, buf, off, llen)) != HTTP_E_NONE)
		return request_fail(req, e);
	off += llen + 2;
	if (off < h->head_len - 2 && is_ows(buf[off]))
		return request_fail(req, HTTP_E_WS_AFTER_START_LINE);
	if ((e = parse_target(req, buf)) != HTTP_E_NONE)
		return request_fail(req, e);

	memset(&fr, 0, sizeof(fr));
	if ((e = parse_fields(h, buf, off, &fr)) != HTTP_E_NONE)
		return request_fail(req, e);

	for (i = 0; i < h->nfields; i++) {
		struct http_field *f = &h->fields[i];

		if (aliases_framing(buf, f->name))
			return request_fail(req, HTTP_E_HEADER_NAME);
		if (http_span_eq(buf, f->name, "host")) {
			char	 name[256];
			uint16_t port;

			if (nhost++)
				return request_fail(req, HTTP_E_HOST_DUPLICATE);
			if (http_host_split(buf + f->value.off, f->value.len,
			    name, sizeof(name), &port) == -1)
				return request_fail(req, HTTP_E_HOST_INVALID);
			req->host = f->value;
		} else if (http_span_eq(buf, f->name, "expect")) {
			if (http_span_eq(buf, f->value, "100-continue"))
				req->expect_continue = true;
			else
				expect_other = true;
		}
	}
	if (nhost == 0)
		return request_fail(req, HTTP_E_HOST_MISSING);
	if (req->absolute_form) {
		/* req->path holds the authority until here */
		struct http_span auth = req->path;

		if (auth.len != req->host.len)
			return request_fail(req, HTTP_E_AUTHORITY_MISMATCH);
		for (i = 0; i < auth.len; i++)
			if (lower(buf[auth.off + i]) !=
			    lower(buf[req->host.off + i]))
				return request_fail(req,
				    HTTP_E_AUTHORITY_MISMATCH);
		for (i = 0; i < req->origin.len &&
		    buf[req->origin.off + i] != '?'; i++)
			;
		req->path = span(req->origin.off, i);
	}
	if (fr.te_count && h->version_minor == 0)
		return request_fail(req, HTTP_E_TE_HTTP10);
	if (h->version_minor == 0) {
		req->expect_continue = false;	/* RFC 9110 10.1.1 */
		expect_other = false;
	}
	if (expect_other)
		return request_fail(req, HTTP_E_EXPECT);
	if (fr.upgrade_count && fr.conn.upgrade) {
		if (!fr.upgrade_ok || h->version_minor == 0)
			return request_fail(req, HTTP_E_UPGRADE);
		h->upgrade_websocket = true;
		h->conn_upgrade = true;
	}
	if (fr.te_count)
		h->body = HTTP_BODY_CHUNKED;
	else if (fr.cl_count && h->content_length > 0)
		h->body = HTTP_BODY_LENGTH;
	else
		h->body = HTTP_BODY_NONE;
	if (h->version_minor == 1)
		h->keep_alive = !fr.conn.close;
	else
		h->keep_alive = fr.conn.keep_alive && !fr.conn.close;
	return HTTP_OK;
}

static enum http_result
response_fail(struct http_response *resp, enum http_error e)
{
	resp->head.error = e;
	return HTTP_ERROR;
}

enum http_result
http_response_parse(struct http_response *resp, const uint8_t *buf, size_t len,
    bool head_request)
{
	struct http_head *h = &resp->head;
	struct framing	  fr;
	enum http_result  r;
	enum http_error	  e;
	const uint8_t	 *p;
	size_t		  off, llen, i;

	if (h->error != HTTP_E_NONE)
		return HTTP_ERROR;
	if (h->head_len != 0)
		return HTTP_OK;
	if ((r = scan_head(h, buf, len)) != HTTP_OK)
		return r;
	off = h->scan.start;
	llen = line_len(buf, off, h->head_len);
	p = buf + off;
	/* HTTP-version SP 3DIGIT [ SP reason-phrase ] */
	if (llen < 12 || p[8] != ' ' ||
	    parse_version(p, 8, &h->version_minor) != HTTP_E_NONE)
		return response_fail(resp, HTTP_E_STATUS_LINE);
	for (i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return response_fail(resp, HTTP_E_STATUS_LINE);
	resp->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (resp->status < 100)
		return response_fail(resp, HTTP_E_STATUS_LINE);
	if (llen > 12) {
		if (p[12] != ' ')
			return response_fail(resp, HTTP_E_STATUS_LINE);
		for (i = 13; i < llen; i++)
			if (!is_field_vchar(p[i]))
				return response_fail(resp, HTTP_E_STATUS_LINE);
		resp->reason = span(off + 13, llen - 13);
	} else
		resp->reason = span(off + llen, 0);
	off += llen + 2;
	if (off < h->head_len - 2 && is_ows(buf[off]))
		return response_fail(resp, HTTP_E_WS_AFTER_START_LINE);

	memset(&fr, 0, sizeof(fr));
	if ((e = parse_fields(h, buf, off, &fr)) != HTTP_E_NONE)
		return response_fail(resp, e);

	if (h->version_minor == 1)
		h->keep_alive = !fr.conn.close;
	else
		h->keep_alive = fr.conn.keep_alive && !fr.conn.close;
	if (resp->status == 101) {
		if (fr.upgrade_count == 0 || !fr.upgrade_ok || !fr.conn.upgrade)
			return response_fail(resp, HTTP_E_UPGRADE);
		h->upgrade_websocket = true;
		h->conn_upgrade = true;
		h->body = HTTP_BODY_NONE;
		h->keep_alive = false;
		return HTTP_OK;
	}
	if (head_request || resp->status < 200 || resp->status == 204 ||
	    resp->status == 304)
		h->body = HTTP_BODY_NONE;
	else if (fr.te_count)
		h->body = HTTP_BODY_CHUNKED;
	else if (fr.cl_count)
		h->body = h->content_length > 0 ? HTTP_BODY_LENGTH :
		    HTTP_BODY_NONE;
	else {
		h->body = HTTP_BODY_CLOSE;
		h->keep_alive = false;
	}
	return HTTP_OK;
}

int
http_error_status(enum http_error e)
{
	return e == HTTP_E_EXPECT ? 417 : 400;
}

const char *
http_error_string(enum http_error e)
{
	static const char *const names[HTTP_E_MAX] = {
		[HTTP_E_NONE] = "no error",
		[HTTP_E_NUL] = "NUL byte in head",
		[HTTP_E_BARE_LF] = "bare LF",
		[HTTP_E_BARE_CR] = "bare CR",
		[HTTP_E_CTL] = "control byte",
		[HTTP_E_REQUEST_LINE_TOO_LONG] = "request line too long",
		[HTTP_E_HEAD_TOO_LARGE] = "header section too large",
		[HTTP_E_TOO_MANY_HEADERS] = "too many header fields",
		[HTTP_E_REQUEST_LINE] = "malformed request line",
		[HTTP_E_METHOD] = "invalid method",
		[HTTP_E_METHOD_CASE] = "method is not upper case",
		[HTTP_E_CONNECT] = "CONNECT is not supported",
		[HTTP_E_TARGET] = "invalid request target",
		[HTTP_E_VERSION] = "unsupported HTTP version",
		[HTTP_E_OBS_FOLD] = "obsolete line folding",
		[HTTP_E_WS_BEFORE_COLON] = "whitespace before colon",
		[HTTP_E_WS_AFTER_START_LINE] = "whitespace after start line",
		[HTTP_E_NO_COLON] = "header line without colon",
		[HTTP_E_HEADER_NAME] = "invalid header name",
		[HTTP_E_HEADER_VALUE] = "invalid header value",
		[HTTP_E_CL_INVALID] = "invalid Content-Length",
		[HTTP_E_CL_DUPLICATE] = "duplicate Content-Length",
		[HTTP_E_CL_AND_TE] = "both Content-Length and Transfer-Encoding",
		[HTTP_E_TE_UNSUPPORTED] = "Transfer-Encoding other than chunked",
		[HTTP_E_TE_DUPLICATE] = "duplicate Transfer-Encoding",
		[HTTP_E_TE_HTTP10] = "Transfer-Encoding in HTTP/1.0",
		[HTTP_E_HOST_MISSING] = "missing Host",
		[HTTP_E_HOST_DUPLICATE] = "duplicate Host",
		[HTTP_E_HOST_INVALID] = "invalid Host",
		[HTTP_E_AUTHORITY_MISMATCH] = "request target authority differs from Host",
		[HTTP_E_EXPECT] = "unsupported expectation",
		[HTTP_E_UPGRADE] = "unsupported upgrade",
		[HTTP_E_STATUS_LINE] = "malformed status line",
		[HTTP_E_CHUNK] = "malformed chunked body",
	};

	if ((unsigned)e >= HTTP_E_MAX || names[e] == NULL)
		return "unknown error";
	return names[e];
}

/* Chunked decoding. */
enum chunked_state {
	CK_SIZE = 0,		/* hex digits of chunk-size */
	CK_SIZE_EXT,		/* after digits: OWS ; ext ... up to CR */
	CK_SIZE_LF,		/* after CR of the size line */
	CK_DATA,
	CK_DATA_CR,
	CK_DATA_LF,
	CK_TRAILER,		/* in a trailer line (or the final empty one) */
	CK_TRAILER_LF,
	CK_DONE,
	CK_FAILED,
};

void
http_chunked_init(struct http_chunked *ck)
{
	memset(ck, 0, sizeof(*ck));
	ck->state = CK_SIZE;
}

/* chunk-ext bytes: token, quoted-string, '=', ';', OWS (no controls) */
static bool
is_ext_byte(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c < 0x7f);
}

enum http_chunked_result
http_chunked_decode(struct http_chunked *ck, const uint8_t *in, size_t len,
    size_t *consumed, size_t *data_off, size_t *data_len)
{
	size_t	 i = 0, n;
	int	 v;

	*data_off = 0;
	*data_len = 0;
	while (i < len) {
		uint8_t c = in[i];

		switch (ck->state) {
		case CK_SIZE:
			if ((v = hex_digit_value(c)) >= 0) {
				if (++ck->digits > 16 ||
				    ck->remaining > HTTP_CHUNK_SIZE_MAX / 16)
					goto fail;
				ck->remaining = ck->remaining * 16 + (uint64_t)v;
				i++;
				break;
			}
			if (ck->digits == 0)
				goto fail;
			ck->state = CK_SIZE_EXT;
			ck->in_ext = false;
			ck->saw_ws = false;
			break;		/* look at c again */
		case CK_SIZE_EXT:
			if (c == '\r') {
				if (ck->saw_ws && !ck->in_ext)
					goto fail;	/* BWS only before ';' */
				ck->state = CK_SIZE_LF;
				i++;
				break;
			}
			if (c == ';')
				ck->in_ext = true;
			else if (!is_ext_byte(c) || (!ck->in_ext && !is_ows(c)))
				goto fail;
			else if (!ck->in_ext)
				ck->saw_ws = true;
			i++;
			break;
		case CK_SIZE_LF:
			if (c != '\n')
				goto fail;
			i++;
			ck->digits = 0;
			ck->line_len = 0;
			if (ck->remaining == 0) {
				ck->state = CK_TRAILER;
				ck->line_nonempty = false;
			} else
				ck->state = CK_DATA;
			break;
		case CK_DATA:
			n = len - i;
			if (n > ck->remaining)
				n = (size_t)ck->remaining;
			ck->remaining -= n;
			if (ck->remaining == 0)
				ck->state = CK_DATA_CR;
			*data_off = i;
			*data_len = n;
			*consumed = i + n;
			return CHUNKED_DATA;
		case CK_DATA_CR:
			if (c != '\r')
				goto fail;
			ck->state = CK_DATA_LF;
			i++;
			break;
		case CK_DATA_LF:
			if (c != '\n')
				goto fail;
			ck->state = CK_SIZE;
			ck->line_len = 0;
			i++;
			break;
		case CK_TRAILER:
			if (++ck->trailer_len > HTTP_TRAILER_MAX)
				goto fail;
			if (c == '\r') {
				ck->state = CK_TRAILER_LF;
				i++;
				break;
			}
			if (c == '\n' || c == '\0' || c == 0x7f ||
			    (c < 0x20 && c != '\t'))
				goto fail;
			if (!ck->line_nonempty && is_ows(c))
				goto fail;	/* obs-fold */
			if (!ck->line_nonempty && !is_tchar(c))
				goto fail;
			ck->line_nonempty = true;
			i++;
			break;
		case CK_TRAILER_LF:
			if (c != '\n')
				goto fail;
			i++;
			if (!ck->line_nonempty) {
				ck->state = CK_DONE;
				*consumed = i;
				return CHUNKED_DONE;
			}
			ck->line_nonempty = false;
			ck->state = CK_TRAILER;
			break;
		case CK_DONE:
			*consumed = i;
			return CHUNKED_DONE;
		default:
			goto fail;
		}
		if ((ck->state == CK_SIZE || ck->state == CK_SIZE_EXT) &&
		    ++ck->line_len > HTTP_CHUNK_LINE_MAX)
			goto fail;
	}
	*consumed = i;
	if (ck->state == CK_DONE)
		return CHUNKED_DONE;
	return CHUNKED_MORE;
fail:
	ck->state = CK_FAILED;
	*consumed = i;
	return CHUNKED_ERROR;
}

size_t
http_chunk_header(char *out, size_t cap, uint64_t n)
{
	int	 r = snprintf(out, cap, "%llx\r\n", (unsigned long long)n);

	if (r < 0 || (size_t)r >= cap)
		return 0;
	return (size_t)r;
}
