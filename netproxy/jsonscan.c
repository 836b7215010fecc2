/*
 * jsonscan.c: streaming JSON tokenizer (RFC 8259) with a bounded key path.
 *
 * One state machine, driven byte by byte (long string runs are skipped in
 * one step).  The container stack is an array of JSON_DEPTH_MAX levels;
 * there is no recursion.  String escapes are decoded only for keys and for
 * values the callback asked for; \u escapes become UTF-8, surrogate pairs
 * are joined and a lone surrogate becomes '?'.  Raw control bytes inside
 * strings are accepted here: jsonscan_clean, at the end, makes what a
 * consumer keeps safe to log.
 */
#include <string.h>

#include "jsonscan.h"
#include "text.h"

enum {				/* json_level.state */
	O_KEY_OR_END,		/* after '{' */
	O_KEY,			/* after ',' in an object */
	O_COLON,		/* after a key */
	O_VALUE,		/* after ':' */
	O_NEXT,			/* after a member value */
	A_VALUE_OR_END,		/* after '[' */
	A_VALUE,		/* after ',' in an array */
	A_NEXT,			/* after an element */
};

enum {				/* jsonscan.tok */
	T_NONE,
	T_STRING,
	T_NUMBER,
	T_LITERAL,
};

enum {				/* jsonscan.nstate */
	N_MINUS,
	N_ZERO,
	N_INT,
	N_DOT,
	N_FRAC,
	N_E,
	N_ESIGN,
	N_EXP,
};

void
jsonscan_init(struct jsonscan *js, json_cb cb, void *arg)
{
	memset(js, 0, sizeof(*js));
	js->cb = cb;
	js->arg = arg;
}

void
jsonscan_reset(struct jsonscan *js)
{
	jsonscan_init(js, js->cb, js->arg);
}

const char *
jsonscan_strerror(enum json_error e)
{
	switch (e) {
	case JSON_E_NONE:
		return "";
	case JSON_E_SYNTAX:
		return "not JSON";
	case JSON_E_DEPTH:
		return "too deep";
	case JSON_E_TRUNCATED:
		return "truncated";
	case JSON_E_EMPTY:
		return "empty body";
	}
	return "?";
}

static int
emit(struct jsonscan *js, enum json_ev ev)
{
	return js->cb != NULL ? js->cb(js->arg, js, ev) : 0;
}

static void
fail(struct jsonscan *js, enum json_error e)
{
	if (js->err == JSON_E_NONE)
		js->err = e;
}

/* A value (scalar or container) just ended at the current level. */
static void
value_done(struct jsonscan *js)
{
	struct json_level *l;

	if (js->depth == 0) {
		js->done = 1;
		emit(js, JSON_EV_DONE);
		return;
	}
	l = &js->lv[js->depth - 1];
	l->state = l->is_obj ? O_NEXT : A_NEXT;
}

/* Append decoded bytes to the key or the captured value (bounded). */
static void
put_bytes(struct jsonscan *js, const uint8_t *p, size_t n)
{
	if (js->in_key) {
		struct json_level *l = &js->lv[js->depth - 1];

		if (l->keybad)
			return;
		if (n > sizeof(l->key) - l->keylen) {
			l->keybad = 1;
			return;
		}
		memcpy(l->key + l->keylen, p, n);
		l->keylen += (uint8_t)n;
	} else if (js->capture) {
		size_t room = sizeof(js->str) - js->strlen;

		if (n > room) {
			n = room;
			js->strtrunc = 1;
		}
		memcpy(js->str + js->strlen, p, n);
		js->strlen += n;
	}
}

static void
put_byte(struct jsonscan *js, uint8_t c)
{
	put_bytes(js, &c, 1);
}

/* A code point from an escape, as UTF-8. */
static void
put_cp(struct jsonscan *js, uint32_t cp)
{
	char	 b[UTF8_ENCODED_MAX];

	put_bytes(js, (const uint8_t *)b, utf8_encode(cp, b));
}

static void
flush_hi(struct jsonscan *js)
{
	if (js->hi != 0) {
		put_byte(js, '?');
		js->hi = 0;
	}
}

static void
code_point(struct jsonscan *js, uint32_t u)
{
	if (u >= 0xd800 && u <= 0xdbff) {
		flush_hi(js);
		js->hi = u;
	} else if (u >= 0xdc00 && u <= 0xdfff) {
		if (js->hi != 0) {
			put_cp(js, 0x10000 + ((js->hi - 0xd800) << 10) +
			    (u - 0xdc00));
			js->hi = 0;
		} else
			put_byte(js, '?');
	} else {
		flush_hi(js);
		put_cp(js, u);
	}
}

static void
string_end(struct jsonscan *js)
{
	flush_hi(js);
	js->tok = T_NONE;
	if (js->in_key) {
		js->in_key = 0;
		js->lv[js->depth - 1].state = O_COLON;
		return;
	}
	if (js->capture)
		emit(js, JSON_EV_STRING);
	js->capture = 0;
	value_done(js);
}

/* Inside a string: consume what belongs to it; returns bytes consumed. */
static size_t
scan_string(struct jsonscan *js, const uint8_t *p, size_t n)
{
	size_t i = 0, j;
	uint8_t c;
	int h;

	while (i < n && js->err == JSON_E_NONE && js->tok == T_STRING) {
		c = p[i];
		if (js->esc == 0) {
			if (c == '"') {
				i++;
				string_end(js);
				break;
			}
			if (c == '\\') {
				js->esc = 1;
				i++;
				continue;
			}
			flush_hi(js);
			for (j = i; j < n && p[j] != '"' && p[j] != '\\'; j++)
				;
			if (js->in_key || js->capture)
				put_bytes(js, p + i, j - i);
			i = j;
			continue;
		}
		i++;
		if (js->esc == 1) {
			if (c == 'u') {
				js->esc = 2;
				js->ucode = 0;
				continue;
			}
			flush_hi(js);
			js->esc = 0;
			switch (c) {
			case '"': case '\\': case '/':
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			default:
				fail(js, JSON_E_SYNTAX);
				return i;
			}
			put_byte(js, c);
			continue;
		}
		if ((h = hex_digit_value(c)) < 0) {
			fail(js, JSON_E_SYNTAX);
			return i;
		}
		js->ucode = (js->ucode << 4) | (uint32_t)h;
		if (++js->esc == 6) {
			js->esc = 0;
			code_point(js, js->ucode);
		}
	}
	return i;
}

/* Whether c continues the number being read. */
static bool
number_char(struct jsonscan *js, uint8_t c)
{
	bool digit = c >= '0' && c <= '9';
	bool expo = c == 'e' || c == 'E';

	switch (js->nstate) {
	case N_MINUS:
		if (!digit)
			return false;
		js->nstate = c == '0' ? N_ZERO : N_INT;
		return true;
	case N_ZERO:
	case N_INT:
		if (digit && js->nstate == N_INT) {
			uint64_t d = (uint64_t)(c - '0');

			if (js->num_ok && js->num > (UINT64_MAX - d) / 10)
				js->num_ok = 0;
			else if (js->num_ok)
				js->num = js->num * 10 + d;
			return true;
		}
		if (c == '.')
			js->nstate = N_DOT;
		else if (expo)
			js->nstate = N_E;
		else
			return false;
		js->num_ok = 0;
		return true;
	case N_DOT:
	case N_FRAC:
		if (digit)
			js->nstate = N_FRAC;
		else if (expo && js->nstate == N_FRAC)
			js->nstate = N_E;
		else
			return false;
		return true;
	case N_E:
		if (c == '+' || c == '-') {
			js->nstate = N_ESIGN;
			return true;
		}
		/* FALLTHROUGH */
	case N_ESIGN:
	case N_EXP:
		if (!digit)
			return false;
		js->nstate = N_EXP;
		return true;
	}
	return false;
}

static void
number_end(struct jsonscan *js)
{
	js->tok = T_NONE;
	switch (js->nstate) {
	case N_ZERO:
	case N_INT:
	case N_FRAC:
	case N_EXP:
		emit(js, JSON_EV_NUMBER);
		value_done(js);
		return;
	}
	fail(js, JSON_E_SYNTAX);
}

static void
value_start(struct jsonscan *js, uint8_t c)
{
	struct json_level *l;

	js->started = 1;
	switch (c) {
	case '{':
	case '[':
		if (js->depth >= JSON_DEPTH_MAX) {
			fail(js, JSON_E_DEPTH);
			return;
		}
		js->ev_obj = c == '{';
		emit(js, JSON_EV_BEGIN);
		l = &js->lv[js->depth++];
		memset(l, 0, sizeof(*l));
		l->is_obj = c == '{';
		l->state = l->is_obj ? O_KEY_OR_END : A_VALUE_OR_END;
		return;
	case '"':
		js->tok = T_STRING;
		js->in_key = 0;
		js->esc = 0;
		js->hi = 0;
		js->strlen = 0;
		js->strtrunc = 0;
		js->capture = emit(js, JSON_EV_WANT) != 0;
		return;
	case 't':
		js->lit = "true";
		break;
	case 'f':
		js->lit = "false";
		break;
	case 'n':
		js->lit = "null";
		break;
	default:
		if (c != '-' && (c < '0' || c > '9')) {
			fail(js, JSON_E_SYNTAX);
			return;
		}
		js->tok = T_NUMBER;
		js->num = c == '-' ? 0 : (uint64_t)(c - '0');
		js->num_ok = c != '-';
		js->nstate = c == '-' ? N_MINUS : c == '0' ? N_ZERO : N_INT;
		return;
	}
	js->tok = T_LITERAL;
	js->litpos = 1;
}

static void
close_container(struct jsonscan *js)
{
	js->depth--;
	js->ev_obj = js->lv[js->depth].is_obj;
	emit(js, JSON_EV_END);
	value_done(js);
}

/* A non-blank byte outside any token. */
static void
structural(struct jsonscan *js, uint8_t c)
{
	struct json_level *l;

	if (js->done) {
		fail(js, JSON_E_SYNTAX);
		return;
	}
	if (js->depth == 0) {
		value_start(js, c);
		return;
	}
	l = &js->lv[js->depth - 1];
	switch (l->state) {
	case O_KEY_OR_END:
		if (c == '}') {
			close_container(js);
			return;
		}
		/* FALLTHROUGH */
	case O_KEY:
		if (c != '"')
			break;
		js->tok = T_STRING;
		js->in_key = 1;
		js->esc = 0;
		js->hi = 0;
		l->keylen = 0;
		l->keybad = 0;
		return;
	case O_COLON:
		if (c != ':')
			break;
		l->state = O_VALUE;
		return;
	case O_NEXT:
	case A_NEXT:
		if (c == ',') {
			if (l->is_obj)
				l->state = O_KEY;
			else {
				l->state = A_VALUE;
				l->index++;
			}
			return;
		}
		if (c == (l->is_obj ? '}' : ']')) {
			close_container(js);
			return;
		}
		break;
	case A_VALUE_OR_END:
		if (c == ']') {
			close_container(js);
			return;
		}
		/* FALLTHROUGH */
	case O_VALUE:
	case A_VALUE:
		value_start(js, c);
		return;
	}
	fail(js, JSON_E_SYNTAX);
}

static enum json_status
status(const struct jsonscan *js)
{
	if (js->err != JSON_E_NONE)
		return JSON_ERROR;
	return js->done ? JSON_DONE : JSON_MORE;
}

enum json_status
jsonscan_feed(struct jsonscan *js, const uint8_t *p, size_t len)
{
	size_t i = 0;
	uint8_t c;

	while (i < len && js->err == JSON_E_NONE) {
		c = p[i];
		switch (js->tok) {
		case T_STRING:
			i += scan_string(js, p + i, len - i);
			continue;
		case T_NUMBER:
			if (number_char(js, c))
				i++;
			else
				number_end(js);	/* c is read again below */
			continue;
		case T_LITERAL:
			i++;
			if (c != (uint8_t)js->lit[js->litpos]) {
				fail(js, JSON_E_SYNTAX);
				continue;
			}
			if (js->lit[++js->litpos] == '\0') {
				js->tok = T_NONE;
				emit(js, JSON_EV_LITERAL);
				value_done(js);
			}
			continue;
		}
		i++;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		structural(js, c);
	}
	js->offset += i;
	return status(js);
}

enum json_status
jsonscan_end(struct jsonscan *js)
{
	if (js->err == JSON_E_NONE && js->tok == T_NUMBER && js->depth == 0)
		number_end(js);
	if (js->err == JSON_E_NONE && !js->done)
		fail(js, js->started ? JSON_E_TRUNCATED : JSON_E_EMPTY);
	return status(js);
}

bool
jsonscan_path(const struct jsonscan *js, size_t from, const char *pat)
{
	const struct json_level *l;
	const char *e;
	size_t i = from, n;

	while (*pat != '\0') {
		if (i >= js->depth)
			return false;
		l = &js->lv[i++];
		if (pat[0] == '[') {
			if (pat[1] != ']' || l->is_obj)
				return false;
			pat += 2;
		} else {
			for (e = pat; *e != '\0' && *e != '.' && *e != '['; e++)
				;
			n = (size_t)(e - pat);
			if (!l->is_obj || l->keybad || l->keylen != n ||
			    memcmp(l->key, pat, n) != 0)
				return false;
			pat = e;
		}
		if (*pat == '.')
			pat++;
	}
	return i == js->depth;
}

/*
 * Copy len bytes of (supposed) UTF-8 into dst: invalid bytes and control
 * characters become '?', commas too if nocomma, and the copy stops at a
 * character boundary when dst is full.  cut: src was itself truncated, so
 * an incomplete last character is dropped.  Returns whether all fitted.
 */
bool
jsonscan_clean(char *dst, size_t size, const char *src, size_t len, bool cut,
    bool nocomma)
{
	const uint8_t *s = (const uint8_t *)src;
	size_t i = 0, o = 0, n, k;
	uint32_t cp, min;
	bool ok;

	while (i < len) {
		uint8_t c = s[i];

		if (c < 0x80) {
			n = 1;
			cp = c;
			min = 0;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			n = 0;
			cp = 0;
			min = 0;
		}
		ok = n > 0;
		for (k = 1; ok && k < n; k++) {
			if (i + k >= len) {
				if (cut)
					goto done;	/* cut mid-character */
				ok = false;
			} else if ((s[i + k] & 0xc0) != 0x80)
				ok = false;
			else
				cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (ok && (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff)))
			ok = false;
		if (!ok || cp < 0x20 || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0) || (nocomma && cp == ',')) {
			if (o + 1 >= size)
				goto done;
			dst[o++] = '?';
			i += ok ? n : 1;
			continue;
		}
		if (n >= size - o)
			goto done;
		memcpy(dst + o, s + i, n);
		o += n;
		i += n;
	}
done:
	if (size > 0)
		dst[o < size ? o : size - 1] = '\0';
	return i >= len;
}
