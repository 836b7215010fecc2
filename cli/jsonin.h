/*
 * jsonin: reading JSON that capsemctl finds on disk (image manifests,
 * session.json, audit lines).  The text is untrusted: every read is
 * bounded by the buffer's end, nesting by JSON_DEPTH_MAX.
 *
 * Two layers: lookups on a whole document (json_valid, json_get_*,
 * json_each_key), and the scanning pieces they are made of, which
 * auditview's field reader shares (json_ws, json_literal, json_digits,
 * json_hex4, json_scan_string).  Pure functions, no I/O; fuzzed through
 * tests/fuzz/cli and tests/fuzz/logs.
 */
#ifndef CAPSEM_JSONIN_H
#define CAPSEM_JSONIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_DEPTH_MAX	32

/*
 * A path is member names separated by '/' ("files/rootfs.erofs/size").
 * json_valid: 1 if buf holds exactly one JSON value (and white space),
 * nesting at most 32 deep.  json_get_string / json_get_uint: 0 and the
 * value, -1 if absent, of another type or too long.  A string's \u
 * escapes other than ASCII (and \u0000) become '?'.
 */
int	json_valid(const char *buf, size_t len);
int	json_get_string(const char *buf, size_t len, const char *path,
	    char *out, size_t outlen);
int	json_get_uint(const char *buf, size_t len, const char *path,
	    unsigned long long *out);

/*
 * Call fn for each member name of the object at path, in order; stops at
 * the first error.  Returns the number of members, -1 on error.
 */
int	json_each_key(const char *buf, size_t len, const char *path,
	    void (*fn)(const char *, void *), void *arg);

/* --- scanning ---------------------------------------------------------- */

struct json_cur {
	const char	*p;
	const char	*end;
};

/* Skip JSON white space. */
void	json_ws(struct json_cur *);

/* word ("true", "false", "null") at c->p: 0 and past it, or -1. */
int	json_literal(struct json_cur *, const char *word);

/* Skip the decimal digits at c->p; returns how many there were. */
size_t	json_digits(struct json_cur *);

/* Four hex digits at p (the caller checked they are there): 0 or -1. */
int	json_hex4(const char *p, uint32_t *out);

/*
 * Where a string's decoded contents go.  put_byte gets each plain byte
 * and each one-letter escape; put_escape each \uXXXX, or with
 * join_surrogates a high and low surrogate escape pair as one code point.
 * Either returns 0, or -1 to fail the string.
 */
struct json_string_sink {
	int	(*put_byte)(void *arg, char c);
	int	(*put_escape)(void *arg, uint32_t cp);
	bool	 join_surrogates;
	void	*arg;
};

/*
 * The string at c->p (its opening quote): 0 with c->p past the closing
 * quote, -1 if it is malformed (or the sink said so).  sink may be NULL
 * to only check it.
 */
int	json_scan_string(struct json_cur *, const struct json_string_sink *);

#endif
