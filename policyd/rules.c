/*
 * rules.c: request rules of the policy: "METHOD /path" with "*" within a
 * segment and "**" across segments, the path normalisation every request
 * path goes through before it is matched, and the matching.  See rules.h
 * and capsem.toml(5).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "rules.h"
#include "text.h"

static bool
unreserved(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/*
 * UTF-8 carried in percent escapes: a decoder behind the proxy may turn
 * an overlong form (%c0%ae for '.') into ASCII, so only the shortest form
 * of a scalar value is accepted (RFC 3629 table, no surrogates).
 * need: continuation bytes still expected; lo, hi: the next one's range.
 */
struct utf8_state {
	int	 need;
	int	 lo;
	int	 hi;
};

static bool
utf8_step(struct utf8_state *u, int c)
{
	if (u->need > 0) {
		if (c < u->lo || c > u->hi)
			return false;
		u->need--;
		u->lo = 0x80;
		u->hi = 0xbf;
		return true;
	}
	if (c < 0x80)
		return true;
	u->lo = 0x80;
	u->hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		u->need = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		u->need = 2;
		if (c == 0xe0)
			u->lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			u->hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		u->need = 3;
		if (c == 0xf0)
			u->lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			u->hi = 0x8f;	/* above U+10FFFF */
	} else
		return false;	/* continuation, C0, C1, F5..FF */
	return true;
}

/*
 * Does the decoded segment seg[0..s) end in "%25" and two hex digits, an
 * escape a second decoder would decode again (%2561, %25%36%31 -> 'a')?
 */
static bool
double_encoded(const char *seg, size_t s)
{
	return s >= 5 && memcmp(seg + s - 5, "%25", 3) == 0 &&
	    hex_digit_value((unsigned char)seg[s - 2]) >= 0 &&
	    hex_digit_value((unsigned char)seg[s - 1]) >= 0;
}

static const char double_why[] =
    "double-encoded escape ('%25' and two hex digits) in path";

/*
 * The normaliser.  for_rule: '*' is a wildcard (kept), dot segments and
 * empty segments are errors rather than resolved.
 */
int
path_normalize(const char *in, size_t len, char *out, size_t outlen,
    const char **why, enum path_mode mode)
{
	char	 seg[MSG_PATH_MAX + 1];
	const char *q, *end, *segstart, *segend, *semi;
	size_t	 o = 0, s, i, base;
	bool	 for_rule = mode == PATH_RULE;
	bool	 last, trailing = false;
	int	 hi, lo, c;
	struct utf8_state u8;

	*why = NULL;
	if ((q = memchr(in, '?', len)) != NULL)
		len = (size_t)(q - in);
	if (len == 0 || in[0] != '/') {
		*why = "path must start with '/'";
		return -1;
	}
	if (len > MSG_PATH_MAX || outlen < len + 2) {
		*why = "path too long";
		return -1;
	}
	end = in + len;
	for (segstart = in + 1; ; segstart = segend + 1) {
		if ((segend = memchr(segstart, '/', (size_t)(end - segstart)))
		    == NULL)
			segend = end;
		last = segend == end;
		/* decode one segment */
		memset(&u8, 0, sizeof(u8));
		for (s = 0, i = 0; segstart + i < segend; i++) {
			c = (unsigned char)segstart[i];
			if (c != '%' && u8.need > 0) {
				*why = "invalid UTF-8 in percent escapes";
				return -1;
			}
			if (c == '%') {
				if (i + 2 >= (size_t)(segend - segstart) ||
				    (hi = hex_digit_value((unsigned char)segstart[i + 1])) < 0 ||
				    (lo = hex_digit_value((unsigned char)segstart[i + 2])) < 0) {
					*why = "invalid percent escape";
					return -1;
				}
				c = hi * 16 + lo;
				i += 2;
				if (c == 0) {
					*why = "encoded NUL in path";
					return -1;
				}
				if (c == '/') {
					*why = "encoded '/' in path";
					return -1;
				}
				if (c == '\\') {
					*why = "encoded '\\' in path";
					return -1;
				}
				if (c == ';') {
					*why = "encoded ';' in path";
					return -1;
				}
				if (!utf8_step(&u8, c)) {
					*why = "invalid UTF-8 in percent escapes";
					return -1;
				}
				if (unreserved(c))
					seg[s++] = (char)c;
				else {
					seg[s++] = '%';
					seg[s++] = "0123456789ABCDEF"[c >> 4];
					seg[s++] = "0123456789ABCDEF"[c & 15];
				}
				if (double_encoded(seg, s)) {
					*why = double_why;
					return -1;
				}
				continue;
			}
			if (c <= 0x20 || c >= 0x7f) {
				*why = "invalid byte in path";
				return -1;
			}
			if (c == '\\') {
				*why = "'\\' in path";
				return -1;
			}
			if (c == '#') {
				*why = "'#' in path";
				return -1;
			}
			if (c == ';' && mode != PATH_REQUEST_PARAMS) {
				*why = "';' in path (path parameters)";
				return -1;
			}
			seg[s++] = (char)c;
			if (double_encoded(seg, s)) {
				*why = double_why;
				return -1;
			}
		}
		if (u8.need > 0) {
			*why = "invalid UTF-8 in percent escapes";
			return -1;
		}
		seg[s] = '\0';
		/* parameters (opted in): the segment proper ends at ';' */
		base = (semi = strchr(seg, ';')) != NULL ? (size_t)(semi - seg) : s;
		if (base == 0 && s > 0) {
			*why = "path parameters on an empty segment";
			return -1;
		}
		seg[base] = '\0';
		if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0) {
			if (for_rule) {
				*why = "dot segment in rule path";
				return -1;
			}
			if (seg[1] == '.') {
				while (o > 0 && out[o - 1] != '/')
					o--;
				if (o > 0)
					o--;
			}
			trailing = last;
		} else if (s == 0) {
			if (!last) {
				*why = "empty path segment ('//')";
				return -1;
			}
			trailing = true;
		} else {
			seg[base] = s > base ? ';' : '\0';
			out[o++] = '/';
			memcpy(out + o, seg, s);
			o += s;
			trailing = false;
		}
		if (last)
			break;
	}
	if (o == 0 || trailing)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

int
policy_path_normalize(const char *in, size_t len, char *out, size_t outlen,
    const char **why)
{
	return path_normalize(in, len, out, outlen, why, PATH_REQUEST);
}

bool
method_ok(const char *m)
{
	size_t	 i;

	for (i = 0; m[i] != '\0'; i++)
		if (!((m[i] >= 'A' && m[i] <= 'Z') || (m[i] >= '0' &&
		    m[i] <= '9') || m[i] == '-' || m[i] == '_'))
			return false;
	return i > 0 && i < MSG_METHOD_MAX;
}

void
rule_free(struct prule *r)
{
	size_t	 i;

	for (i = 0; i < r->nsegs; i++)
		free(r->segs[i].text);
	free(r->segs);
	r->segs = NULL;
	r->nsegs = 0;
}

/* Parse "METHOD PATH".  Returns 0, or -1 with *why set. */
int
rule_parse(const char *text, struct prule *r, const char **why)
{
	char	 norm[MSG_PATH_MAX + 2];
	const char *sp, *path, *p, *segend;
	size_t	 mlen, n;
	struct segpat *segs;

	memset(r, 0, sizeof(*r));
	snprintf(r->rule, sizeof(r->rule), "%s", text);
	if ((sp = strchr(text, ' ')) == NULL) {
		*why = "expected \"METHOD PATH\"";
		return -1;
	}
	mlen = (size_t)(sp - text);
	for (path = sp; *path == ' '; path++)
		;
	if (mlen == 0 || *path == '\0' || strpbrk(path, " \t") != NULL ||
	    strchr(text, '\t') != NULL) {
		*why = "expected \"METHOD PATH\"";
		return -1;
	}
	if (mlen >= sizeof(r->method)) {
		*why = "method too long";
		return -1;
	}
	memcpy(r->method, text, mlen);
	r->method[mlen] = '\0';
	if (strcmp(r->method, "*") != 0 && !method_ok(r->method)) {
		*why = "method must be '*' or an upper-case token";
		return -1;
	}
	if (strcmp(path, "*") == 0) {
		r->any_path = true;
		return 0;
	}
	if (strchr(path, '?') != NULL) {
		*why = "rules match the path only, not a query string";
		return -1;
	}
	if (path_normalize(path, strlen(path), norm, sizeof(norm), why,
	    PATH_RULE) == -1)
		return -1;
	for (p = norm + 1; ; p = segend + 1) {
		if ((segend = strchr(p, '/')) == NULL)
			segend = p + strlen(p);
		n = (size_t)(segend - p);
		if ((segs = reallocarray(r->segs, r->nsegs + 1,
		    sizeof(*segs))) == NULL)
			goto nomem;
		r->segs = segs;
		segs = &r->segs[r->nsegs];
		memset(segs, 0, sizeof(*segs));
		if ((segs->text = strndup(p, n)) == NULL)
			goto nomem;
		r->nsegs++;
		segs->len = n;
		if (n == 2 && p[0] == '*' && p[1] == '*')
			segs->globstar = true;
		else if (memmem(p, n, "**", 2) != NULL) {
			*why = "'**' must be a whole path segment";
			rule_free(r);
			return -1;
		}
		if (*segend == '\0')
			break;
	}
	return 0;
nomem:
	*why = "out of memory";
	rule_free(r);
	return -1;
}

/* '*' matches any run of bytes inside one segment. */
static bool
seg_match(const char *pat, size_t plen, const char *s, size_t slen)
{
	size_t	 pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;

	while (si < slen) {
		if (pi < plen && pat[pi] == '*') {
			star_p = pi++;
			star_s = si;
		} else if (pi < plen && pat[pi] == s[si]) {
			pi++;
			si++;
		} else if (star_p != SIZE_MAX) {
			pi = star_p + 1;
			si = ++star_s;
		} else
			return false;
	}
	while (pi < plen && pat[pi] == '*')
		pi++;
	return pi == plen;
}

bool
split_path(const char *npath, struct pathsegs *ps)
{
	const char *p, *e;

	ps->n = 0;
	ps->asterisk = strcmp(npath, "*") == 0;
	if (ps->asterisk)
		return true;
	for (p = npath + 1; ; p = e + 1) {
		if ((e = strchr(p, '/')) == NULL)
			e = p + strlen(p);
		if (ps->n == PATH_SEGS_MAX)
			return false;
		ps->p[ps->n] = p;
		ps->len[ps->n] = (size_t)(e - p);
		ps->n++;
		if (*e == '\0')
			return true;
	}
}

void
strip_parameters(struct pathsegs *ps)
{
	const char *semi;
	size_t	 i;

	for (i = 0; i < ps->n; i++)
		if ((semi = memchr(ps->p[i], ';', ps->len[i])) != NULL)
			ps->len[i] = (size_t)(semi - ps->p[i]);
}

/* '**' matches any number of segments: greedy match with backtracking
 * to the last '**', as for '*' in a glob. */
static bool
segs_match(const struct prule *r, const struct pathsegs *ps)
{
	size_t	 pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;

	while (si < ps->n) {
		if (pi < r->nsegs && r->segs[pi].globstar) {
			star_p = pi++;
			star_s = si;
		} else if (pi < r->nsegs && seg_match(r->segs[pi].text,
		    r->segs[pi].len, ps->p[si], ps->len[si])) {
			pi++;
			si++;
		} else if (star_p != SIZE_MAX) {
			pi = star_p + 1;
			si = ++star_s;
		} else
			return false;
	}
	while (pi < r->nsegs && r->segs[pi].globstar)
		pi++;
	return pi == r->nsegs;
}

bool
rule_match(const struct prule *r, const char *method,
    const struct pathsegs *ps)
{
	if (strcmp(r->method, "*") != 0 && strcmp(r->method, method) != 0)
		return false;
	if (ps->asterisk)
		return r->any_path;
	return r->any_path || segs_match(r, ps);
}

int
policy_rule_match_text(const char *rule, const char *method,
    const char *npath, const char **why)
{
	struct prule r;
	struct pathsegs *ps;
	int	 rc;

	if (rule_parse(rule, &r, why) == -1)
		return -1;
	if ((ps = malloc(sizeof(*ps))) == NULL) {
		rule_free(&r);
		*why = "out of memory";
		return -1;
	}
	rc = (npath[0] == '/' || strcmp(npath, "*") == 0) &&
	    split_path(npath, ps) &&
	    rule_match(&r, method, ps);
	free(ps);
	rule_free(&r);
	return rc;
}
