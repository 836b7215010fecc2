/*
 * jsonin.c: a small JSON reader: enough to validate a document, look
 * values up by path and scan strings for auditview.  See jsonin.h.
 */
#include <limits.h>
#include <string.h>

#include "jsonin.h"
#include "text.h"

void
json_ws(struct json_cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
	    *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

int
json_hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	int	 i, d;

	for (i = 0; i < 4; i++) {
		if ((d = hex_digit_value((unsigned char)p[i])) < 0)
			return -1;
		v = (v << 4) | (uint32_t)d;
	}
	*out = v;
	return 0;
}

/* \uXXXX at c->p (past the 'u'), a low surrogate joined to a high one. */
static int
scan_u_escape(struct json_cur *c, bool join_surrogates, uint32_t *cp)
{
	uint32_t lo;

	if (c->end - c->p < 4 || json_hex4(c->p, cp) == -1)
		return -1;
	c->p += 4;
	if (join_surrogates && *cp >= 0xd800 && *cp < 0xdc00 &&
	    c->end - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u' &&
	    json_hex4(c->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
		c->p += 6;
		*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return 0;
}

int
json_scan_string(struct json_cur *c, const struct json_string_sink *sink)
{
	uint32_t cp;
	char	 ch;

	if (c->p >= c->end || *c->p != '"')
		return -1;
	c->p++;
	while (c->p < c->end) {
		ch = *c->p++;
		if (ch == '"')
			return 0;
		if ((unsigned char)ch < 0x20)
			return -1;
		if (ch == '\\') {
			if (c->p >= c->end)
				return -1;
			switch (*c->p++) {
			case '"':	ch = '"'; break;
			case '\\':	ch = '\\'; break;
			case '/':	ch = '/'; break;
			case 'b':	ch = '\b'; break;
			case 'f':	ch = '\f'; break;
			case 'n':	ch = '\n'; break;
			case 'r':	ch = '\r'; break;
			case 't':	ch = '\t'; break;
			case 'u':
				if (scan_u_escape(c, sink != NULL &&
				    sink->join_surrogates, &cp) == -1)
					return -1;
				if (sink != NULL &&
				    sink->put_escape(sink->arg, cp) == -1)
					return -1;
				continue;
			default:
				return -1;
			}
		}
		if (sink != NULL && sink->put_byte(sink->arg, ch) == -1)
			return -1;
	}
	return -1;
}

/* Into a NUL-terminated buffer; a value that does not fit is an error. */
struct string_out {
	char	*buf;
	size_t	 cap;
	size_t	 len;
};

static int
out_byte(void *arg, char ch)
{
	struct string_out *o = arg;

	if (o->len + 1 >= o->cap)
		return -1;
	o->buf[o->len++] = ch;
	return 0;
}

static int
out_escape(void *arg, uint32_t cp)
{
	return out_byte(arg, cp > 0 && cp < 0x80 ? (char)cp : '?');
}

/*
 * A string at c->p (the opening quote).  With out, its value is stored
 * (\u escapes other than ASCII become '?'); -1 if it does not fit.
 */
static int
json_string(struct json_cur *c, char *out, size_t outlen)
{
	struct string_out o = { out, outlen, 0 };
	const struct json_string_sink sink = { out_byte, out_escape, false, &o };

	if (json_scan_string(c, out != NULL ? &sink : NULL) == -1)
		return -1;
	if (out != NULL)
		out[o.len] = '\0';
	return 0;
}

int
json_literal(struct json_cur *c, const char *word)
{
	size_t len = strlen(word);

	if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len) != 0)
		return -1;
	c->p += len;
	return 0;
}

size_t
json_digits(struct json_cur *c)
{
	const char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return (size_t)(c->p - start);
}

static int
json_number(struct json_cur *c)
{
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (json_digits(c) == 0)
		return -1;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (json_digits(c) == 0)
			return -1;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (json_digits(c) == 0)
			return -1;
	}
	return 0;
}

/* Past the '[' or '{' at c->p: 1 if the container is empty (past it). */
static int
json_open(struct json_cur *c, char close)
{
	c->p++;
	json_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return 1;
	}
	return 0;
}

/* A member's name (into key if not NULL) and its ':'.  0 or -1. */
static int
json_member_name(struct json_cur *c, char *key, size_t keylen)
{
	json_ws(c);
	if (json_string(c, key, keylen) == -1)
		return -1;
	json_ws(c);
	if (c->p >= c->end || *c->p++ != ':')
		return -1;
	return 0;
}

/* After an element or member: 1 past close, 0 past a ',', else -1. */
static int
json_next(struct json_cur *c, char close)
{
	json_ws(c);
	if (c->p >= c->end)
		return -1;
	if (*c->p == close) {
		c->p++;
		return 1;
	}
	if (*c->p++ != ',')
		return -1;
	return 0;
}

/* Skip one value (checking its syntax). */
static int
json_skip(struct json_cur *c, int depth)
{
	int	 r;

	json_ws(c);
	if (c->p >= c->end || depth > JSON_DEPTH_MAX)
		return -1;
	switch (*c->p) {
	case '"':
		return json_string(c, NULL, 0);
	case 't':
		return json_literal(c, "true");
	case 'f':
		return json_literal(c, "false");
	case 'n':
		return json_literal(c, "null");
	case '[':
		if (json_open(c, ']'))
			return 0;
		do
			if (json_skip(c, depth + 1) == -1)
				return -1;
		while ((r = json_next(c, ']')) == 0);
		return r == 1 ? 0 : -1;
	case '{':
		if (json_open(c, '}'))
			return 0;
		do
			if (json_member_name(c, NULL, 0) == -1 ||
			    json_skip(c, depth + 1) == -1)
				return -1;
		while ((r = json_next(c, '}')) == 0);
		return r == 1 ? 0 : -1;
	default:
		return json_number(c);
	}
}

int
json_valid(const char *buf, size_t len)
{
	struct json_cur c = { buf, buf + len };

	if (json_skip(&c, 0) == -1)
		return 0;
	json_ws(&c);
	return c.p == c.end;
}

/*
 * Move c to the value at path (member names separated by '/') inside the
 * object at c.  Returns 0 with c->p at the value, -1 if there is none.
 */
static int
json_find(struct json_cur *c, const char *path, int depth)
{
	char	 key[256];
	const char *slash;
	size_t	 seglen;

	if (*path == '\0') {
		json_ws(c);
		return c->p < c->end ? 0 : -1;
	}
	if (depth > JSON_DEPTH_MAX)
		return -1;
	slash = strchr(path, '/');
	seglen = slash != NULL ? (size_t)(slash - path) : strlen(path);
	json_ws(c);
	if (c->p >= c->end || *c->p != '{' || json_open(c, '}'))
		return -1;
	do {
		if (json_member_name(c, key, sizeof(key)) == -1)
			return -1;
		if (strlen(key) == seglen && memcmp(key, path, seglen) == 0)
			return json_find(c, slash != NULL ? slash + 1 : "",
			    depth + 1);
		if (json_skip(c, depth + 1) == -1)
			return -1;
	} while (json_next(c, '}') == 0);
	return -1;
}

int
json_get_string(const char *buf, size_t len, const char *path, char *out,
    size_t outlen)
{
	struct json_cur c = { buf, buf + len };

	if (outlen == 0 || json_find(&c, path, 0) == -1 || *c.p != '"')
		return -1;
	return json_string(&c, out, outlen);
}

int
json_get_uint(const char *buf, size_t len, const char *path,
    unsigned long long *out)
{
	struct json_cur c = { buf, buf + len };
	unsigned long long v = 0;

	if (json_find(&c, path, 0) == -1 || *c.p < '0' || *c.p > '9')
		return -1;
	while (c.p < c.end && *c.p >= '0' && *c.p <= '9') {
		unsigned int digit = (unsigned int)(*c.p - '0');

		if (v > (ULLONG_MAX - digit) / 10)
			return -1;
		v = v * 10 + digit;
		c.p++;
	}
	if (c.p < c.end && (*c.p == '.' || *c.p == 'e' || *c.p == 'E'))
		return -1;
	*out = v;
	return 0;
}

int
json_each_key(const char *buf, size_t len, const char *path,
    void (*fn)(const char *, void *), void *arg)
{
	struct json_cur c = { buf, buf + len };
	char	 key[256];
	int	 n = 0, r;

	if (json_find(&c, path, 0) == -1 || *c.p != '{')
		return -1;
	if (json_open(&c, '}'))
		return 0;
	do {
		if (json_member_name(&c, key, sizeof(key)) == -1 ||
		    json_skip(&c, 1) == -1)
			return -1;
		fn(key, arg);
		n++;
	} while ((r = json_next(&c, '}')) == 0);
	return r == 1 ? n : -1;
}
