/*
 * auditview.c: the session database's event rows as terminal-safe text
 * and as ASCII JSON.  See auditview.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditview.h"
#include "text.h"

/* The JSON keys, audit.jsonl's (policyd/audit.h), "id" added. */
static const char *const json_keys[AUDITVIEW_NFIELDS] = {
	[AV_ID] = "id", [AV_TIME] = "time", [AV_EVENT] = "event",
	[AV_HOST] = "host", [AV_PORT] = "port", [AV_METHOD] = "method",
	[AV_PATH] = "path", [AV_VERDICT] = "verdict", [AV_RULE] = "rule",
	[AV_SOURCE] = "source", [AV_STATUS] = "status",
	[AV_BYTES_IN] = "bytes_in", [AV_BYTES_OUT] = "bytes_out",
	[AV_DURATION] = "duration_us", [AV_REASON] = "reason",
	[AV_MODE] = "mode",
};

/* Numbers in JSON when they are decimal numbers. */
static const bool json_numeric[AUDITVIEW_NFIELDS] = {
	[AV_ID] = true, [AV_PORT] = true, [AV_STATUS] = true,
	[AV_BYTES_IN] = true, [AV_BYTES_OUT] = true, [AV_DURATION] = true,
};

/* Output into a bounded buffer; overflow cuts silently. */
struct textbuf {
	char	*buf;
	size_t	 cap;		/* usable bytes, the NUL excluded */
	size_t	 len;
};

static void
tb_put(struct textbuf *tb, const char *s, size_t n)
{
	if (n > tb->cap - tb->len)
		n = tb->cap - tb->len;
	memcpy(tb->buf + tb->len, s, n);
	tb->len += n;
}

static void
tb_puts(struct textbuf *tb, const char *s)
{
	tb_put(tb, s, strlen(s));
}

/* Escape in: see auditview_escape. */
static void
tb_escaped(struct textbuf *tb, const char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char	 esc[4];
	size_t	 i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '\\')
			tb_put(tb, "\\\\", 2);
		else if (c == '\n')
			tb_put(tb, "\\n", 2);
		else if (c == '\r')
			tb_put(tb, "\\r", 2);
		else if (c == '\t')
			tb_put(tb, "\\t", 2);
		else if (c >= 0x20 && c < 0x7f)
			tb_put(tb, (const char *)&c, 1);
		else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 0xf];
			tb_put(tb, esc, 4);
		}
	}
}

size_t
auditview_escape(const char *in, size_t len, char *out, size_t outlen)
{
	struct textbuf tb = { out, outlen - 1, 0 };

	if (outlen == 0)
		return 0;
	tb_escaped(&tb, in, len);
	out[tb.len] = '\0';
	return tb.len;
}

static bool
has(const struct auditview_event *ev, enum auditview_field f)
{
	return ev->v[f] != NULL && ev->len[f] > 0;
}

static bool
is(const struct auditview_event *ev, enum auditview_field f, const char *s)
{
	return ev->v[f] != NULL && ev->len[f] == strlen(s) &&
	    memcmp(ev->v[f], s, ev->len[f]) == 0;
}

/* A value, escaped, cut at AUDITVIEW_FIELD_MAX with "...". */
static void
put_field(struct textbuf *tb, const struct auditview_event *ev,
    enum auditview_field f)
{
	size_t	 n = ev->len[f];

	if (ev->v[f] == NULL)
		return;
	tb_escaped(tb, ev->v[f], n > AUDITVIEW_FIELD_MAX ?
	    AUDITVIEW_FIELD_MAX : n);
	if (n > AUDITVIEW_FIELD_MAX)
		tb_put(tb, "...", 3);
}

/* A value ("-" if none), then spaces up to width columns. */
static void
put_padded(struct textbuf *tb, const struct auditview_event *ev,
    enum auditview_field f, size_t width)
{
	size_t	 before = tb->len;

	if (has(ev, f))
		put_field(tb, ev, f);
	else
		tb_put(tb, "-", 1);
	while (tb->len - before < width && tb->len < tb->cap)
		tb_put(tb, " ", 1);
}

/* Is the value a decimal number (1 to 20 digits)? */
static bool
decimal(const struct auditview_event *ev, enum auditview_field f)
{
	size_t	 i;

	if (ev->v[f] == NULL || ev->len[f] == 0 || ev->len[f] > 20)
		return false;
	for (i = 0; i < ev->len[f]; i++)
		if (ev->v[f][i] < '0' || ev->v[f][i] > '9')
			return false;
	return true;
}

/* An unsigned decimal value, or false if it is not one. */
static bool
number_of(const struct auditview_event *ev, enum auditview_field f,
    unsigned long long *out)
{
	char	 digits[24];

	if (!decimal(ev, f))
		return false;
	memcpy(digits, ev->v[f], ev->len[f]);
	digits[ev->len[f]] = '\0';
	*out = strtoull(digits, NULL, 10);
	return true;
}

static void
render_fields(struct textbuf *tb, const struct auditview_event *ev)
{
	unsigned long long up, down, us;
	char	 num[96];

	put_padded(tb, ev, AV_TIME, 24);
	tb_put(tb, " ", 1);
	put_padded(tb, ev, AV_VERDICT, 5);
	tb_put(tb, " ", 1);
	put_padded(tb, ev, AV_EVENT, 7);
	if (has(ev, AV_METHOD)) {
		tb_put(tb, " ", 1);
		put_field(tb, ev, AV_METHOD);
	}
	tb_put(tb, " ", 1);
	if (is(ev, AV_EVENT, "workspace")) {
		/* the shared directory and rw | ro */
		put_field(tb, ev, AV_PATH);
		tb_put(tb, " ", 1);
		put_field(tb, ev, AV_MODE);
		return;
	}
	if (has(ev, AV_HOST))
		put_field(tb, ev, AV_HOST);
	else
		tb_put(tb, "-", 1);
	if (has(ev, AV_PORT) && !is(ev, AV_PORT, "0")) {
		tb_put(tb, ":", 1);
		put_field(tb, ev, AV_PORT);
	}
	if (has(ev, AV_PATH))
		put_field(tb, ev, AV_PATH);
	if (has(ev, AV_STATUS)) {
		tb_puts(tb, is(ev, AV_EVENT, "dns") ? " rcode " : " status ");
		put_field(tb, ev, AV_STATUS);
	}
	if (has(ev, AV_RULE)) {
		tb_puts(tb, " rule ");
		put_field(tb, ev, AV_RULE);
	}
	if (has(ev, AV_SOURCE) && !is(ev, AV_SOURCE, ":0")) {
		tb_puts(tb, " (");
		put_field(tb, ev, AV_SOURCE);
		tb_puts(tb, ")");
	}
	if (number_of(ev, AV_BYTES_IN, &up) &&
	    number_of(ev, AV_BYTES_OUT, &down)) {
		snprintf(num, sizeof(num), ", %llu B up, %llu B down", up, down);
		tb_puts(tb, num);
		if (number_of(ev, AV_DURATION, &us)) {
			snprintf(num, sizeof(num), ", %llu.%llu ms", us / 1000,
			    us % 1000 / 100);
			tb_puts(tb, num);
		}
	}
	if (has(ev, AV_REASON)) {
		tb_puts(tb, ": ");
		put_field(tb, ev, AV_REASON);
	}
}

size_t
auditview_render(const struct auditview_event *ev, char *out, size_t outlen)
{
	struct textbuf tb = { out, outlen - 2, 0 };	/* room for "\n" NUL */

	if (outlen < 2) {
		if (outlen == 1)
			out[0] = '\0';
		return 0;
	}
	render_fields(&tb, ev);
	out[tb.len++] = '\n';
	out[tb.len] = '\0';
	return tb.len;
}

/* --- JSON -------------------------------------------------------------- */

#define JSON_MEMBER_OVERHEAD	32	/* ,"duration_us":"" and the like */

size_t
auditview_json_size(const struct auditview_event *ev, const char *session)
{
	size_t	 need = 64 + JSON_BYTE_ESCAPED_MAX * strlen(session);
	size_t	 i, one;

	for (i = 0; i < AUDITVIEW_NFIELDS; i++) {
		if (ev->v[i] == NULL)
			continue;
		if (ev->len[i] > (SIZE_MAX - JSON_MEMBER_OVERHEAD) /
		    JSON_BYTE_ESCAPED_MAX)
			return 0;
		one = ev->len[i] * JSON_BYTE_ESCAPED_MAX + JSON_MEMBER_OVERHEAD;
		if (need > SIZE_MAX - one)
			return 0;
		need += one;
	}
	return need;
}

static void
json_string(struct textbuf *tb, const char *s, size_t n)
{
	char	 esc[JSON_BYTE_ESCAPED_MAX];
	size_t	 i;

	tb_put(tb, "\"", 1);
	for (i = 0; i < n; i++)
		tb_put(tb, esc, json_escape_byte((unsigned char)s[i], esc));
	tb_put(tb, "\"", 1);
}

static void
json_member(struct textbuf *tb, const struct auditview_event *ev,
    enum auditview_field f)
{
	if (ev->v[f] == NULL)
		return;
	tb_puts(tb, ",\"");
	tb_puts(tb, json_keys[f]);
	tb_puts(tb, "\":");
	/* "0" or no leading zero: a JSON number */
	if (json_numeric[f] && decimal(ev, f) && (ev->len[f] == 1 ||
	    ev->v[f][0] != '0'))
		tb_put(tb, ev->v[f], ev->len[f]);
	else
		json_string(tb, ev->v[f], ev->len[f]);
}

size_t
auditview_json(const struct auditview_event *ev, const char *session,
    char *out, size_t outlen)
{
	static const enum auditview_field order[] = {
		AV_ID, AV_EVENT, AV_HOST, AV_PORT, AV_METHOD, AV_PATH,
		AV_VERDICT, AV_RULE, AV_SOURCE, AV_STATUS, AV_BYTES_IN,
		AV_BYTES_OUT, AV_DURATION, AV_REASON, AV_MODE,
	};
	struct textbuf tb = { out, outlen - 1, 0 };
	size_t	 need = auditview_json_size(ev, session), i;

	if (need == 0 || outlen < need)
		return 0;
	tb_puts(&tb, "{\"time\":");
	if (ev->v[AV_TIME] != NULL)
		json_string(&tb, ev->v[AV_TIME], ev->len[AV_TIME]);
	else
		tb_puts(&tb, "null");
	tb_puts(&tb, ",\"session\":");
	json_string(&tb, session, strlen(session));
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		json_member(&tb, ev, order[i]);
	tb_puts(&tb, "}\n");
	out[tb.len] = '\0';
	return tb.len;
}
