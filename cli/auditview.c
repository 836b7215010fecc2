/*
 * auditview.c: a small JSON reader for audit lines and their readable,
 * terminal-safe rendering.  See auditview.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditview.h"
#include "jsonin.h"
#include "text.h"

enum audit_field {
	F_TIME, F_EVENT, F_HOST, F_PORT, F_METHOD, F_PATH, F_VERDICT,
	F_RULE, F_SOURCE, F_STATUS, F_BYTES_IN, F_BYTES_OUT, F_DURATION,
	F_REASON, F_MODE, NFIELDS
};

static const char *const field_keys[NFIELDS] = {
	[F_TIME] = "time", [F_EVENT] = "event", [F_HOST] = "host",
	[F_PORT] = "port", [F_METHOD] = "method", [F_PATH] = "path",
	[F_VERDICT] = "verdict", [F_RULE] = "rule", [F_SOURCE] = "source",
	[F_STATUS] = "status", [F_BYTES_IN] = "bytes_in",
	[F_BYTES_OUT] = "bytes_out", [F_DURATION] = "duration_us",
	[F_REASON] = "reason", [F_MODE] = "mode",
};

/* A decoded value: bytes, cut at AUDITVIEW_FIELD_MAX. */
struct field_value {
	char	 bytes[AUDITVIEW_FIELD_MAX];
	size_t	 len;
	bool	 present;
	bool	 cut;
	bool	 is_string;
};

struct audit_fields {
	struct field_value v[NFIELDS];
	struct field_value key;		/* scratch: the member being read */
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

static void
value_add(struct field_value *fv, const char *s, size_t n)
{
	if (fv == NULL)
		return;
	if (n > sizeof(fv->bytes) - fv->len) {
		n = sizeof(fv->bytes) - fv->len;
		fv->cut = true;
	}
	memcpy(fv->bytes + fv->len, s, n);
	fv->len += n;
}

/*
 * \u00XX is the byte XX (policyd escapes each byte >= 0x80 that way);
 * other code points become UTF-8.  Either way they are shown escaped.
 */
static void
value_add_codepoint(struct field_value *fv, uint32_t cp)
{
	char	 u[UTF8_ENCODED_MAX];

	if (cp <= 0xff) {
		u[0] = (char)cp;
		value_add(fv, u, 1);
	} else
		value_add(fv, u, utf8_encode(cp, u));
}

static int
value_put_byte(void *arg, char c)
{
	value_add(arg, &c, 1);
	return 0;
}

static int
value_put_escape(void *arg, uint32_t cp)
{
	value_add_codepoint(arg, cp);
	return 0;
}

/* A JSON string at js->p ('"'); decoded into fv if not NULL.  0 or -1. */
static int
scan_string(struct json_cur *js, struct field_value *fv)
{
	const struct json_string_sink sink = {
		value_put_byte, value_put_escape, true, fv
	};

	if (json_scan_string(js, fv != NULL ? &sink : NULL) == -1)
		return -1;
	if (fv != NULL)
		fv->is_string = true;
	return 0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, its text into fv. */
static int
scan_number(struct json_cur *js, struct field_value *fv)
{
	const char *start = js->p;

	if (js->p < js->end && *js->p == '-')
		js->p++;
	if (js->p < js->end && *js->p == '0')
		js->p++;
	else if (json_digits(js) == 0)
		return -1;
	if (js->p < js->end && *js->p == '.') {
		js->p++;
		if (json_digits(js) == 0)
			return -1;
	}
	if (js->p < js->end && (*js->p == 'e' || *js->p == 'E')) {
		js->p++;
		if (js->p < js->end && (*js->p == '+' || *js->p == '-'))
			js->p++;
		if (json_digits(js) == 0)
			return -1;
	}
	value_add(fv, start, (size_t)(js->p - start));
	return 0;
}

static int
scan_literal(struct json_cur *js, const char *word, struct field_value *fv)
{
	if (json_literal(js, word) == -1)
		return -1;
	value_add(fv, word, strlen(word));
	return 0;
}

static int	scan_value(struct json_cur *, struct field_value *, int depth,
		    struct audit_fields *);

/*
 * An object or array at js->p.  Members of the top-level object (fields
 * != NULL) whose key is known are decoded into fields.
 */
static int
scan_container(struct json_cur *js, int depth, struct audit_fields *fields)
{
	struct field_value *dst;
	char	 close = *js->p == '{' ? '}' : ']';
	bool	 object = close == '}';
	size_t	 i;

	if (depth >= JSON_DEPTH_MAX)
		return -1;
	js->p++;
	json_ws(js);
	if (js->p < js->end && *js->p == close) {
		js->p++;
		return 0;
	}
	for (;;) {
		dst = NULL;
		if (object) {
			if (fields != NULL)
				fields->key.len = 0;
			if (scan_string(js, fields != NULL ? &fields->key :
			    NULL) == -1)
				return -1;
			for (i = 0; fields != NULL && i < NFIELDS; i++)
				if (fields->key.len == strlen(field_keys[i]) &&
				    memcmp(fields->key.bytes, field_keys[i],
				    fields->key.len) == 0)
					dst = &fields->v[i];
			json_ws(js);
			if (js->p >= js->end || *js->p != ':')
				return -1;
			js->p++;
		}
		if (dst != NULL) {		/* a repeated key: the last wins */
			dst->len = 0;
			dst->cut = dst->is_string = false;
			dst->present = true;
		}
		json_ws(js);
		if (scan_value(js, dst, depth + 1, NULL) == -1)
			return -1;
		json_ws(js);
		if (js->p >= js->end)
			return -1;
		if (*js->p == close) {
			js->p++;
			return 0;
		}
		if (*js->p != ',')
			return -1;
		js->p++;
		json_ws(js);
	}
}

static int
scan_value(struct json_cur *js, struct field_value *fv, int depth,
    struct audit_fields *fields)
{
	if (js->p >= js->end)
		return -1;
	switch (*js->p) {
	case '{':
	case '[':
		if (fv != NULL)
			value_add(fv, *js->p == '{' ? "{...}" : "[...]", 5);
		return scan_container(js, depth, fields);
	case '"':
		return scan_string(js, fv);
	case 't':
		return scan_literal(js, "true", fv);
	case 'f':
		return scan_literal(js, "false", fv);
	case 'n':
		return scan_literal(js, "null", fv);
	default:
		return scan_number(js, fv);
	}
}

/* 0 if line is exactly one JSON object (fields filled if not NULL). */
static int
parse_object(const char *line, size_t len, struct audit_fields *fields)
{
	struct json_cur js = { line, line + len };

	json_ws(&js);
	if (js.p >= js.end || *js.p != '{')
		return -1;
	if (scan_container(&js, 0, fields) == -1)
		return -1;
	json_ws(&js);
	return js.p == js.end ? 0 : -1;
}

bool
auditview_is_json(const char *line, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 ||
		    (unsigned char)line[i] >= 0x7f)
			return false;
	return parse_object(line, len, NULL) == 0;
}

static bool
has(const struct audit_fields *f, enum audit_field which)
{
	return f->v[which].present && f->v[which].len > 0;
}

static void
put_field(struct textbuf *tb, const struct audit_fields *f,
    enum audit_field which)
{
	const struct field_value *fv = &f->v[which];

	tb_escaped(tb, fv->bytes, fv->len);
	if (fv->cut)
		tb_put(tb, "...", 3);
}

/* A field, then spaces up to width columns. */
static void
put_padded(struct textbuf *tb, const struct audit_fields *f,
    enum audit_field which, size_t width)
{
	size_t	 before = tb->len;

	if (has(f, which))
		put_field(tb, f, which);
	else
		tb_put(tb, "-", 1);
	while (tb->len - before < width && tb->len < tb->cap)
		tb_put(tb, " ", 1);
}

/* An unsigned decimal field, or false if it is not one. */
static bool
number_of(const struct audit_fields *f, enum audit_field which,
    unsigned long long *out)
{
	const struct field_value *fv = &f->v[which];
	char	 digits[24];
	size_t	 i;

	if (!fv->present || fv->is_string || fv->len == 0 ||
	    fv->len >= sizeof(digits))
		return false;
	for (i = 0; i < fv->len; i++)
		if (fv->bytes[i] < '0' || fv->bytes[i] > '9')
			return false;
	memcpy(digits, fv->bytes, fv->len);
	digits[fv->len] = '\0';
	*out = strtoull(digits, NULL, 10);
	return true;
}

static void
render_fields(struct textbuf *tb, const struct audit_fields *f)
{
	unsigned long long up, down, us;
	char	 num[96];
	bool	 dns = f->v[F_EVENT].len == 3 &&
		    memcmp(f->v[F_EVENT].bytes, "dns", 3) == 0;
	bool	 ws = f->v[F_EVENT].len == 9 &&
		    memcmp(f->v[F_EVENT].bytes, "workspace", 9) == 0;

	put_padded(tb, f, F_TIME, 24);
	tb_put(tb, " ", 1);
	put_padded(tb, f, F_VERDICT, 5);
	tb_put(tb, " ", 1);
	put_padded(tb, f, F_EVENT, 7);
	if (has(f, F_METHOD)) {
		tb_put(tb, " ", 1);
		put_field(tb, f, F_METHOD);
	}
	tb_put(tb, " ", 1);
	if (ws) {
		/* the session parent's line: the directory and rw | ro */
		put_field(tb, f, F_PATH);
		tb_put(tb, " ", 1);
		put_field(tb, f, F_MODE);
		return;
	}
	if (has(f, F_HOST))
		put_field(tb, f, F_HOST);
	else
		tb_put(tb, "-", 1);
	if (has(f, F_PORT) && !(f->v[F_PORT].len == 1 &&
	    f->v[F_PORT].bytes[0] == '0')) {
		tb_put(tb, ":", 1);
		put_field(tb, f, F_PORT);
	}
	if (has(f, F_PATH))
		put_field(tb, f, F_PATH);
	if (has(f, F_STATUS)) {
		tb_puts(tb, dns ? " rcode " : " status ");
		put_field(tb, f, F_STATUS);
	}
	if (has(f, F_RULE)) {
		tb_puts(tb, " rule ");
		put_field(tb, f, F_RULE);
	}
	if (has(f, F_SOURCE) && !(f->v[F_SOURCE].len == 2 &&
	    memcmp(f->v[F_SOURCE].bytes, ":0", 2) == 0)) {
		tb_puts(tb, " (");
		put_field(tb, f, F_SOURCE);
		tb_puts(tb, ")");
	}
	if (number_of(f, F_BYTES_IN, &up) && number_of(f, F_BYTES_OUT, &down)) {
		snprintf(num, sizeof(num), ", %llu B up, %llu B down", up, down);
		tb_puts(tb, num);
		if (number_of(f, F_DURATION, &us)) {
			snprintf(num, sizeof(num), ", %llu.%llu ms", us / 1000,
			    us % 1000 / 100);
			tb_puts(tb, num);
		}
	}
	if (has(f, F_REASON)) {
		tb_puts(tb, ": ");
		put_field(tb, f, F_REASON);
	}
}

size_t
auditview_render(const char *line, size_t len, bool cut, char *out,
    size_t outlen)
{
	struct audit_fields *f;
	struct textbuf tb = { out, outlen - 2, 0 };	/* room for "\n" NUL */
	bool	 parsed = false;

	if (outlen < 2) {
		if (outlen == 1)
			out[0] = '\0';
		return 0;
	}
	if (!cut && (f = calloc(1, sizeof(*f))) != NULL) {
		if (parse_object(line, len, f) == 0) {
			render_fields(&tb, f);
			parsed = true;
		}
		free(f);
	}
	if (!parsed) {
		tb_puts(&tb, "[malformed] ");
		tb_escaped(&tb, line, len);
		if (cut)
			tb_puts(&tb, " [cut]");
	}
	out[tb.len++] = '\n';
	out[tb.len] = '\0';
	return tb.len;
}
