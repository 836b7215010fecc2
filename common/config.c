/*
 * config.c: capsem's TOML subset, read with inih (ini_parse_stream) and a
 * strict value parser of our own.  (Over 800 lines: the lexer and the
 * schema below share one parser state, the inih handler's, and are one
 * job, reading a policy file; the JSON dump is config_dump.c.)
 *
 * Debian's inih (r55) reads lines of at most 200 bytes, knows only ';'
 * inline comments, treats indented lines as continuations, truncates
 * section and key names at 50 bytes and gives the handler no line number.
 * So our reader does the lexing: it takes one physical line at a time
 * (counting lines, refusing long lines, control characters and invalid
 * UTF-8), drops '#' comments outside strings, joins the lines of a
 * multi-line array, parses table headers and values strictly, and hands
 * inih one short normalised line per statement: "[N]" for the Nth table
 * header, "key=v" for a key/value pair.  inih then calls our handler
 * synchronously for that line, and the handler applies the parsed value
 * (kept in the reader) to the schema: unknown key, wrong type, duplicate
 * key.  The first error stops everything and is reported as
 * "file:line: message".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"
#include "text.h"

enum table_kind { T_NETWORK, T_HTTP, T_CREDENTIALS, T_UPSTREAM, T_VM,
    T_WORKSPACE, T_BUDGET };
enum value_type { V_STRING, V_BOOL, V_INT, V_STRLIST };

static const char *const value_type_names[] = {
	[V_STRING] = "a string",
	[V_BOOL] = "a boolean",
	[V_INT] = "an integer",
	[V_STRLIST] = "an array of strings",
};

/* The schema, as data. */
struct key_def {
	enum table_kind	 table;
	const char	*name;
	enum value_type	 type;
};

static const struct key_def schema[] = {
	{ T_NETWORK,	 "default",		V_STRING },
	{ T_NETWORK,	 "allow",		V_STRLIST },
	{ T_NETWORK,	 "block",		V_STRLIST },
	{ T_NETWORK,	 "http",		V_BOOL },
	{ T_NETWORK,	 "private_addresses",	V_BOOL },
	{ T_HTTP,	 "allow",		V_STRLIST },
	{ T_HTTP,	 "deny",		V_STRLIST },
	{ T_HTTP,	 "default",		V_STRING },
	{ T_HTTP,	 "path_parameters",	V_BOOL },
	{ T_CREDENTIALS, "header",		V_STRING },
	{ T_CREDENTIALS, "env",			V_STRING },
	{ T_UPSTREAM,	 "resolve",		V_STRLIST },
	{ T_UPSTREAM,	 "ca_file",		V_STRING },
	{ T_VM,		 "cpus",		V_INT },
	{ T_VM,		 "memory_mb",		V_INT },
	{ T_WORKSPACE,	 "allow",		V_BOOL },
	{ T_WORKSPACE,	 "readonly",		V_BOOL },
	{ T_BUDGET,	 "tokens",		V_INT },
	{ T_BUDGET,	 "usd",			V_STRING },
};
#define NSCHEMA	(sizeof(schema) / sizeof(schema[0]))
#define KEY_NAME_MAX	40	/* longer keys are unknown; inih cuts at 50 */

/* A parsed value, owned by the reader until the handler takes it. */
struct value {
	enum value_type	 type;
	bool		 b;
	int64_t		 i;
	char		*s;
	struct config_str *items;
	size_t		 nitems;
	unsigned	 line;
};

/* A table header seen in the file. */
struct table_ref {
	enum table_kind	 kind;
	size_t		 index;		/* into http_tables / credentials */
	unsigned	 line;
	char		 display[64];	/* "[network]", for messages */
	char		 host[CONFIG_HOST_MAX + 1];	/* normalised, or "" */
	unsigned	 key_line[NSCHEMA];	/* 0: key not set yet */
};

struct reader {
	const char	*filename;
	const char	*buf;
	size_t		 len;
	size_t		 pos;		/* start of the next physical line */
	unsigned	 lineno;	/* current physical line */
	const char	*line;		/* current line, not NUL-terminated */
	size_t		 linelen;
	size_t		 col;
	unsigned	 stmt_line;	/* line of the current statement */
	struct config	*cfg;
	struct table_ref *tables;
	size_t		 ntables;
	size_t		 tables_cap;
	char		 key[KEY_NAME_MAX + 1];
	struct value	 value;
	bool		 failed;
	char		*err;
	size_t		 errlen;
};

void
config_error_oneline(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void
rd_error(struct reader *rd, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
rd_error(struct reader *rd, unsigned line, const char *fmt, ...)
{
	char	 msg[CONFIG_ERR_MAX];
	va_list	 ap;

	if (rd->failed)
		return;
	rd->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rd->errlen > 0) {
		snprintf(rd->err, rd->errlen, "%s:%u: %s", rd->filename, line,
		    msg);
		config_error_oneline(rd->err);
	}
}

static void
value_clear(struct value *v)
{
	size_t	 i;

	free(v->s);
	for (i = 0; i < v->nitems; i++)
		free(v->items[i].s);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

/* Length of a valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t
utf8_seq_len(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t	 len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Move to the next physical line and check it.  Returns false at the end
 * of the buffer or on an error (rd->failed tells which).
 */
static bool
next_line(struct reader *rd)
{
	const unsigned char *p;
	const char *nl;
	size_t	 n, i, k;

	if (rd->failed || rd->pos >= rd->len)
		return false;
	rd->lineno++;
	rd->line = rd->buf + rd->pos;
	nl = memchr(rd->line, '\n', rd->len - rd->pos);
	if (nl != NULL) {
		n = (size_t)(nl - rd->line);
		rd->pos += n + 1;
	} else {
		n = rd->len - rd->pos;
		rd->pos = rd->len;
	}
	if (n > 0 && rd->line[n - 1] == '\r')
		n--;
	rd->linelen = n;
	rd->col = 0;
	if (n > CONFIG_LINE_MAX) {
		rd_error(rd, rd->lineno,
		    "line is %zu bytes long, the limit is %d", n,
		    CONFIG_LINE_MAX);
		return false;
	}
	p = (const unsigned char *)rd->line;
	for (i = 0; i < n; i += k) {
		if (p[i] == '\0') {
			rd_error(rd, rd->lineno, "NUL byte in the file");
			return false;
		}
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
			rd_error(rd, rd->lineno, "control character 0x%02x",
			    p[i]);
			return false;
		}
		if ((k = utf8_seq_len(p + i, n - i)) == 0) {
			rd_error(rd, rd->lineno, "invalid UTF-8");
			return false;
		}
	}
	return true;
}

static int
cur(const struct reader *rd)
{
	return rd->col < rd->linelen ? (unsigned char)rd->line[rd->col] : -1;
}

static void
skip_ws(struct reader *rd)
{
	while (cur(rd) == ' ' || cur(rd) == '\t')
		rd->col++;
}

/* After a statement: only blanks and a comment may follow. */
static bool
at_end_of_statement(struct reader *rd)
{
	skip_ws(rd);
	return cur(rd) == -1 || cur(rd) == '#';
}

static bool
is_bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/*
 * A basic ("...") or literal ('...') string on the current line.  The
 * decoded string is never longer than the line, so a line-sized buffer
 * is enough.  Returns a malloc'd string or NULL on error.
 */
static char *
parse_string(struct reader *rd)
{
	char	 out[CONFIG_LINE_MAX + 1];
	size_t	 o = 0, ndigits, i;
	int	 quote = cur(rd), c, d;
	uint32_t cp;
	char	*s;

	if (rd->col + 2 < rd->linelen && rd->line[rd->col + 1] == quote &&
	    rd->line[rd->col + 2] == quote) {
		rd_error(rd, rd->lineno, "multi-line strings are not supported");
		return NULL;
	}
	rd->col++;
	for (;;) {
		c = cur(rd);
		if (c == -1) {
			rd_error(rd, rd->lineno, "unterminated string");
			return NULL;
		}
		rd->col++;
		if (c == quote)
			break;
		if (c != '\\' || quote == '\'') {
			out[o++] = (char)c;
			continue;
		}
		c = cur(rd);
		rd->col++;
		switch (c) {
		case 'b': out[o++] = '\b'; continue;
		case 't': out[o++] = '\t'; continue;
		case 'n': out[o++] = '\n'; continue;
		case 'f': out[o++] = '\f'; continue;
		case 'r': out[o++] = '\r'; continue;
		case '"': out[o++] = '"'; continue;
		case '\\': out[o++] = '\\'; continue;
		case 'u': ndigits = 4; break;
		case 'U': ndigits = 8; break;
		case -1:
			rd_error(rd, rd->lineno, "unterminated string");
			return NULL;
		default:
			if (c >= 0x20 && c < 0x7f)
				rd_error(rd, rd->lineno,
				    "invalid escape '\\%c' in string", c);
			else
				rd_error(rd, rd->lineno,
				    "invalid escape in string");
			return NULL;
		}
		cp = 0;
		for (i = 0; i < ndigits; i++) {
			if ((d = hex_digit_value(cur(rd))) < 0) {
				rd_error(rd, rd->lineno,
				    "invalid \\%c escape: %zu hex digits needed",
				    ndigits == 4 ? 'u' : 'U', ndigits);
				return NULL;
			}
			cp = (cp << 4) | (uint32_t)d;
			rd->col++;
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
			rd_error(rd, rd->lineno,
			    "escape is not a Unicode scalar value");
			return NULL;
		}
		if (cp == 0) {
			rd_error(rd, rd->lineno, "NUL character in string");
			return NULL;
		}
		o += utf8_encode(cp, out + o);
	}
	out[o] = '\0';
	if ((s = strdup(out)) == NULL)
		rd_error(rd, rd->lineno, "out of memory");
	return s;
}

/* Skip blanks, comments and line ends inside an array. */
static bool
array_skip(struct reader *rd, unsigned open_line)
{
	for (;;) {
		skip_ws(rd);
		if (cur(rd) == '#')
			rd->col = rd->linelen;
		if (cur(rd) != -1)
			return true;
		if (!next_line(rd)) {
			rd_error(rd, open_line, "unterminated array");
			return false;
		}
	}
}

static bool
parse_array(struct reader *rd, struct value *v)
{
	unsigned open_line = rd->lineno;
	struct config_str *items;
	size_t	 cap = 0;
	char	*s;
	int	 c;

	v->type = V_STRLIST;
	rd->col++;		/* '[' */
	for (;;) {
		if (!array_skip(rd, open_line))
			return false;
		if (cur(rd) == ']')
			break;
		c = cur(rd);
		if (c != '"' && c != '\'') {
			rd_error(rd, rd->lineno,
			    "arrays may hold only strings");
			return false;
		}
		if ((s = parse_string(rd)) == NULL)
			return false;
		if (v->nitems == cap) {
			cap = cap ? cap * 2 : 8;
			if ((items = reallocarray(v->items, cap,
			    sizeof(*items))) == NULL) {
				free(s);
				rd_error(rd, rd->lineno, "out of memory");
				return false;
			}
			v->items = items;
		}
		v->items[v->nitems].s = s;
		v->items[v->nitems].line = rd->lineno;
		v->nitems++;
		if (!array_skip(rd, open_line))
			return false;
		if (cur(rd) == ',') {
			rd->col++;
			continue;
		}
		if (cur(rd) == ']')
			break;
		rd_error(rd, rd->lineno,
		    "expected ',' or ']' in the array opened at line %u",
		    open_line);
		return false;
	}
	rd->col++;		/* ']' */
	return true;
}

/* TOML decimal integer: [+-]?(0|[1-9](_?[0-9])*) */
static bool
parse_integer(const char *w, int64_t *out)
{
	const char *p = w;
	bool	 neg = false, prev_digit = false;
	uint64_t acc = 0, limit;

	if (*p == '+' || *p == '-')
		neg = (*p++ == '-');
	if (*p == '0')
		return p[1] == '\0' ? (*out = 0, true) : false;
	if (*p < '1' || *p > '9')
		return false;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *p != '\0'; p++) {
		if (*p == '_') {
			if (!prev_digit || p[1] < '0' || p[1] > '9')
				return false;
			prev_digit = false;
			continue;
		}
		if (*p < '0' || *p > '9')
			return false;
		if (acc > (limit - (uint64_t)(*p - '0')) / 10)
			return false;
		acc = acc * 10 + (uint64_t)(*p - '0');
		prev_digit = true;
	}
	*out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return true;
}

static bool
parse_value(struct reader *rd, struct value *v)
{
	char	 word[CONFIG_LINE_MAX + 1];
	size_t	 n = 0;
	int	 c = cur(rd);

	v->line = rd->lineno;
	if (c == '"' || c == '\'') {
		v->type = V_STRING;
		return (v->s = parse_string(rd)) != NULL;
	}
	if (c == '[')
		return parse_array(rd, v);
	if (c == '{') {
		rd_error(rd, rd->lineno, "inline tables are not supported");
		return false;
	}
	if (c == -1 || c == '#') {
		rd_error(rd, rd->lineno, "missing value after '='");
		return false;
	}
	while ((c = cur(rd)) != -1 && (is_bare_key_char(c) || c == '+' ||
	    c == '.' || c == ':')) {
		word[n++] = (char)c;
		rd->col++;
	}
	word[n] = '\0';
	if (strcmp(word, "true") == 0 || strcmp(word, "false") == 0) {
		v->type = V_BOOL;
		v->b = word[0] == 't';
		return true;
	}
	if (parse_integer(word, &v->i)) {
		v->type = V_INT;
		return true;
	}
	if (word[0] == '0' && (word[1] == 'x' || word[1] == 'o' ||
	    word[1] == 'b')) {
		rd_error(rd, rd->lineno, "only decimal integers are supported");
		return false;
	}
	if (n > 0 && (isdigit((unsigned char)word[n - 1]) ||
	    word[0] == '-' || word[0] == '+') && strspn(word,
	    "0123456789_+-") == n) {
		rd_error(rd, rd->lineno, "invalid or out of range integer '%s'",
		    word);
		return false;
	}
	if (n == 0) {	/* word is empty: quote the line itself */
		n = rd->linelen - rd->col < 40 ? rd->linelen - rd->col : 40;
		memcpy(word, rd->line + rd->col, n);
		word[n] = '\0';
	}
	rd_error(rd, rd->lineno, "unsupported value '%.40s': expected a "
	    "string, integer, boolean or array of strings", word);
	return false;
}

/* One component of a table name: bare, "basic" or 'literal'. */
static char *
parse_key_component(struct reader *rd)
{
	size_t	 start = rd->col;
	char	*s;

	if (cur(rd) == '"' || cur(rd) == '\'')
		return parse_string(rd);
	while (is_bare_key_char(cur(rd)))
		rd->col++;
	if (rd->col == start) {
		rd_error(rd, rd->lineno, "invalid table name");
		return NULL;
	}
	if ((s = strndup(rd->line + start, rd->col - start)) == NULL)
		rd_error(rd, rd->lineno, "out of memory");
	return s;
}

static struct table_ref *
add_table(struct reader *rd, enum table_kind kind, size_t index,
    const char *display)
{
	struct table_ref *t;
	size_t	 cap;

	if (rd->ntables == rd->tables_cap) {
		cap = rd->tables_cap ? rd->tables_cap * 2 : 8;
		if ((t = reallocarray(rd->tables, cap, sizeof(*t))) == NULL) {
			rd_error(rd, rd->lineno, "out of memory");
			return NULL;
		}
		rd->tables = t;
		rd->tables_cap = cap;
	}
	t = &rd->tables[rd->ntables++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->index = index;
	t->line = rd->lineno;
	snprintf(t->display, sizeof(t->display), "%s", display);
	return t;
}

/* [network], [upstream], [vm], [workspace], [budget]: once each. */
static bool
open_single_table(struct reader *rd, enum table_kind kind, bool *has,
    unsigned *line, const char *display)
{
	if (*has) {
		rd_error(rd, rd->lineno, "duplicate table %s (first at line %u)",
		    display, *line);
		return false;
	}
	*has = true;
	*line = rd->lineno;
	return add_table(rd, kind, 0, display) != NULL;
}

static bool
open_host_table(struct reader *rd, enum table_kind kind, char *host,
    const char *display)
{
	struct config *cfg = rd->cfg;
	char	 norm[CONFIG_HOST_MAX + 1], msg[CONFIG_ERR_MAX];
	struct table_ref *t;
	size_t	 i, n;
	void	*p;

	if (config_host_normalize(host, kind == T_HTTP, norm, sizeof(norm),
	    msg, sizeof(msg)) == -1) {
		rd_error(rd, rd->lineno, "%s: %s", display, msg);
		return false;
	}
	n = kind == T_HTTP ? cfg->nhttp_tables : cfg->ncredentials;
	for (i = 0; i < rd->ntables; i++)
		if (rd->tables[i].kind == kind &&
		    strcmp(rd->tables[i].host, norm) == 0) {
			rd_error(rd, rd->lineno,
			    "duplicate table %s (first at line %u)", display,
			    rd->tables[i].line);
			return false;
		}
	if (kind == T_HTTP) {
		if ((n & (n - 1)) == 0) {	/* capacity: next power of 2 */
			if ((p = reallocarray(cfg->http_tables, n ? n * 2 : 1,
			    sizeof(*cfg->http_tables))) == NULL)
				goto nomem;
			cfg->http_tables = p;
		}
		memset(&cfg->http_tables[n], 0, sizeof(cfg->http_tables[n]));
		cfg->http_tables[n].line = rd->lineno;
		if ((t = add_table(rd, kind, n, display)) == NULL)
			return false;
		memcpy(t->host, norm, sizeof(t->host));
		cfg->http_tables[n].pattern = host;
		cfg->nhttp_tables++;
	} else {
		if ((n & (n - 1)) == 0) {	/* capacity: next power of 2 */
			if ((p = reallocarray(cfg->credentials, n ? n * 2 : 1,
			    sizeof(*cfg->credentials))) == NULL)
				goto nomem;
			cfg->credentials = p;
		}
		memset(&cfg->credentials[n], 0, sizeof(cfg->credentials[n]));
		cfg->credentials[n].line = rd->lineno;
		if ((t = add_table(rd, kind, n, display)) == NULL)
			return false;
		memcpy(t->host, norm, sizeof(t->host));
		cfg->credentials[n].host = host;
		cfg->ncredentials++;
	}
	return true;
nomem:
	rd_error(rd, rd->lineno, "out of memory");
	return false;
}

/* "[" name ("." name)* "]" at rd->col.  Returns the table index or -1. */
static long
parse_table_header(struct reader *rd)
{
	char	*parts[8] = { NULL };
	char	 display[64];
	size_t	 nparts = 0, start, i, dlen;
	long	 index = -1;
	bool	 ok = false;

	rd->col++;
	if (cur(rd) == '[') {
		rd_error(rd, rd->lineno,
		    "arrays of tables ([[...]]) are not supported");
		return -1;
	}
	start = rd->col;
	for (;;) {
		skip_ws(rd);
		if (nparts == 8) {
			rd_error(rd, rd->lineno, "unknown table");
			goto out;
		}
		if ((parts[nparts] = parse_key_component(rd)) == NULL)
			goto out;
		nparts++;
		skip_ws(rd);
		if (cur(rd) == '.') {
			rd->col++;
			continue;
		}
		if (cur(rd) == ']')
			break;
		rd_error(rd, rd->lineno,
		    cur(rd) == -1 ? "missing ']' after table name" :
		    "expected '.' or ']' in table name");
		goto out;
	}
	dlen = rd->col - start;
	if (dlen > sizeof(display) - 6)
		snprintf(display, sizeof(display), "[%.*s...]",
		    (int)(sizeof(display) - 6), rd->line + start);
	else
		snprintf(display, sizeof(display), "[%.*s]", (int)dlen,
		    rd->line + start);
	rd->col++;
	if (!at_end_of_statement(rd)) {
		rd_error(rd, rd->lineno, "unexpected text after table header");
		goto out;
	}

	if (nparts == 1 && strcmp(parts[0], "network") == 0)
		ok = open_single_table(rd, T_NETWORK, &rd->cfg->has_network,
		    &rd->cfg->network_line, display);
	else if (nparts == 1 && strcmp(parts[0], "upstream") == 0)
		ok = open_single_table(rd, T_UPSTREAM, &rd->cfg->has_upstream,
		    &rd->cfg->upstream_line, display);
	else if (nparts == 1 && strcmp(parts[0], "vm") == 0)
		ok = open_single_table(rd, T_VM, &rd->cfg->has_vm,
		    &rd->cfg->vm_line, display);
	else if (nparts == 1 && strcmp(parts[0], "workspace") == 0)
		ok = open_single_table(rd, T_WORKSPACE,
		    &rd->cfg->has_workspace, &rd->cfg->workspace_line,
		    display);
	else if (nparts == 1 && strcmp(parts[0], "budget") == 0)
		ok = open_single_table(rd, T_BUDGET, &rd->cfg->has_budget,
		    &rd->cfg->budget_line, display);
	else if (nparts == 1 && (strcmp(parts[0], "http") == 0 ||
	    strcmp(parts[0], "credentials") == 0))
		rd_error(rd, rd->lineno, "table [%s] needs a host: "
		    "[%s.\"example.com\"]", parts[0], parts[0]);
	else if (nparts == 2 && (strcmp(parts[0], "http") == 0 ||
	    strcmp(parts[0], "credentials") == 0)) {
		ok = open_host_table(rd, parts[0][0] == 'h' ? T_HTTP :
		    T_CREDENTIALS, parts[1], display);
		if (ok)
			parts[1] = NULL;	/* taken */
	} else if (nparts > 2 && (strcmp(parts[0], "http") == 0 ||
	    strcmp(parts[0], "credentials") == 0))
		rd_error(rd, rd->lineno, "unknown table %s: quote the host, "
		    "as in [%s.\"api.example.com\"]", display, parts[0]);
	else
		rd_error(rd, rd->lineno, "unknown table %s", display);
	if (ok)
		index = (long)rd->ntables - 1;
out:
	for (i = 0; i < nparts; i++)
		free(parts[i]);
	return index;
}

/*
 * The inih reader: produce the next statement as one short line in str.
 * Returns NULL at the end or after an error.
 */
static char *
config_reader(char *str, int num, void *stream)
{
	struct reader *rd = stream;
	size_t	 start;
	long	 table;
	int	 n;

	value_clear(&rd->value);
	while (next_line(rd)) {
		skip_ws(rd);
		if (cur(rd) == -1 || cur(rd) == '#')
			continue;
		rd->stmt_line = rd->lineno;
		if (cur(rd) == '[') {
			if ((table = parse_table_header(rd)) < 0)
				return NULL;
			n = snprintf(str, (size_t)num, "[%ld]\n", table);
		} else {
			if (cur(rd) == '"' || cur(rd) == '\'') {
				rd_error(rd, rd->lineno,
				    "quoted keys are not supported");
				return NULL;
			}
			start = rd->col;
			while (is_bare_key_char(cur(rd)))
				rd->col++;
			if (rd->col == start) {
				rd_error(rd, rd->lineno,
				    "expected a key or a [table]");
				return NULL;
			}
			if (rd->col - start > KEY_NAME_MAX) {
				rd_error(rd, rd->lineno, "unknown key '%.*s...'",
				    KEY_NAME_MAX, rd->line + start);
				return NULL;
			}
			memcpy(rd->key, rd->line + start, rd->col - start);
			rd->key[rd->col - start] = '\0';
			skip_ws(rd);
			if (cur(rd) == '.') {
				rd_error(rd, rd->lineno,
				    "dotted keys are not supported");
				return NULL;
			}
			if (cur(rd) != '=') {
				rd_error(rd, rd->lineno,
				    "expected '=' after key '%s'", rd->key);
				return NULL;
			}
			rd->col++;
			skip_ws(rd);
			if (!parse_value(rd, &rd->value))
				return NULL;
			if (!at_end_of_statement(rd)) {
				rd_error(rd, rd->lineno,
				    "unexpected text after the value");
				return NULL;
			}
			if (rd->ntables == 0) {
				rd_error(rd, rd->stmt_line,
				    "key '%s' outside any table", rd->key);
				return NULL;
			}
			n = snprintf(str, (size_t)num, "%s=v\n", rd->key);
		}
		if (n < 0 || n >= num) {
			rd_error(rd, rd->stmt_line, "internal: inih line buffer");
			return NULL;
		}
		return str;
	}
	return NULL;
}

/* ---- schema ---- */

static const char *
table_kind_keys(enum table_kind kind)
{
	switch (kind) {
	case T_NETWORK: return "default, allow, block, http, private_addresses";
	case T_HTTP: return "allow, deny, default";
	case T_CREDENTIALS: return "header, env";
	case T_UPSTREAM: return "resolve, ca_file";
	case T_VM: return "cpus, memory_mb";
	case T_WORKSPACE: return "allow, readonly";
	case T_BUDGET: return "tokens, usd";
	}
	return "";
}

static bool
check_verdict_word(struct reader *rd, const struct table_ref *t,
    const struct value *v)
{
	if (strcmp(v->s, "allow") != 0 && strcmp(v->s, "deny") != 0) {
		rd_error(rd, v->line, "%s default must be \"allow\" or "
		    "\"deny\"", t->display);
		return false;
	}
	return true;
}

static bool
check_hosts(struct reader *rd, const char *key, const struct value *v)
{
	char	 norm[CONFIG_HOST_MAX + 1], msg[CONFIG_ERR_MAX];
	size_t	 i;

	for (i = 0; i < v->nitems; i++)
		if (config_host_normalize(v->items[i].s, true, norm,
		    sizeof(norm), msg, sizeof(msg)) == -1) {
			rd_error(rd, v->items[i].line, "%s: %s", key, msg);
			return false;
		}
	return true;
}

static bool
check_value(struct reader *rd, const struct table_ref *t,
    const struct key_def *k, const struct value *v)
{
	struct config_resolve res;
	char	 msg[CONFIG_ERR_MAX];
	uint64_t pusd;
	size_t	 i;
	const char *p;

	switch (t->kind) {
	case T_NETWORK:
		if (strcmp(k->name, "default") == 0)
			return check_verdict_word(rd, t, v);
		if (k->type == V_STRLIST)
			return check_hosts(rd, k->name, v);
		return true;
	case T_HTTP:
		if (strcmp(k->name, "default") == 0)
			return check_verdict_word(rd, t, v);
		return true;	/* rule syntax: policy_build() */
	case T_CREDENTIALS:
		if (v->s[0] == '\0') {
			rd_error(rd, v->line, "%s %s must not be empty",
			    t->display, k->name);
			return false;
		}
		for (p = v->s; *p != '\0'; p++) {
			if (strcmp(k->name, "header") == 0 &&
			    !(isalnum((unsigned char)*p) ||
			    strchr("!#$%&'*+-.^_`|~", *p) != NULL)) {
				rd_error(rd, v->line, "%s header: not a valid "
				    "HTTP header name", t->display);
				return false;
			}
			if (strcmp(k->name, "env") == 0 &&
			    !(isalpha((unsigned char)*p) || *p == '_' ||
			    (p != v->s && isdigit((unsigned char)*p)))) {
				rd_error(rd, v->line, "%s env: not a valid "
				    "environment variable name", t->display);
				return false;
			}
		}
		return true;
	case T_UPSTREAM:
		if (strcmp(k->name, "ca_file") == 0 && v->s[0] != '/') {
			rd_error(rd, v->line,
			    "[upstream] ca_file must be an absolute path");
			return false;
		}
		for (i = 0; k->type == V_STRLIST && i < v->nitems; i++)
			if (config_resolve_parse(v->items[i].s, &res, msg,
			    sizeof(msg)) == -1) {
				rd_error(rd, v->items[i].line, "resolve: %s",
				    msg);
				return false;
			}
		return true;
	case T_VM:
		if (strcmp(k->name, "cpus") == 0 && (v->i < 1 || v->i > 64)) {
			rd_error(rd, v->line, "[vm] cpus must be 1 to 64");
			return false;
		}
		if (strcmp(k->name, "memory_mb") == 0 &&
		    (v->i < 64 || v->i > 1048576)) {
			rd_error(rd, v->line,
			    "[vm] memory_mb must be 64 to 1048576");
			return false;
		}
		return true;
	case T_WORKSPACE:
		return true;
	case T_BUDGET:
		if (strcmp(k->name, "tokens") == 0 && v->i < 1) {
			rd_error(rd, v->line, "[budget] tokens must be 1 or more");
			return false;
		}
		if (strcmp(k->name, "usd") == 0 &&
		    config_usd_parse(v->s, &pusd) == -1) {
			rd_error(rd, v->line, "[budget] usd must be an amount of "
			    "dollars such as \"5\" or \"0.50\" (at most 6 "
			    "decimals)");
			return false;
		}
		return true;
	}
	return false;
}

int
config_usd_parse(const char *in, uint64_t *pusd)
{
	uint64_t whole = 0, frac = 0;
	const char *p = in;
	int	 ndec = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole >= 10000000)
			return -1;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			if (++ndec > 6)
				return -1;
			frac = frac * 10 + (uint64_t)(*p - '0');
		}
	}
	if (*p != '\0')
		return -1;
	for (; ndec < 6; ndec++)
		frac *= 10;
	/* whole < 1e7: at most 1e19 - 1 picodollars, fits in uint64 */
	*pusd = whole * 1000000000000ULL + frac * 1000000ULL;
	return 0;
}

static void
take_str(struct config_str *dst, struct value *v)
{
	dst->s = v->s;
	dst->line = v->line;
	v->s = NULL;
}

static void
take_list(struct config_strlist *dst, struct value *v)
{
	dst->v = v->items;
	dst->n = v->nitems;
	dst->set = true;
	dst->line = v->line;
	v->items = NULL;
	v->nitems = 0;
}

static void
store_value(struct config *cfg, const struct table_ref *t,
    const struct key_def *k, struct value *v)
{
	struct config_http *h;
	struct config_credential *c;

	switch (t->kind) {
	case T_NETWORK:
		if (strcmp(k->name, "default") == 0)
			take_str(&cfg->default_verdict, v);
		else if (strcmp(k->name, "allow") == 0)
			take_list(&cfg->allow, v);
		else if (strcmp(k->name, "block") == 0)
			take_list(&cfg->block, v);
		else {
			struct config_bool *b = strcmp(k->name, "http") == 0 ?
			    &cfg->http : &cfg->private_addresses;
			b->v = v->b;
			b->set = true;
			b->line = v->line;
		}
		break;
	case T_HTTP:
		h = &cfg->http_tables[t->index];
		if (strcmp(k->name, "default") == 0)
			take_str(&h->default_verdict, v);
		else if (strcmp(k->name, "path_parameters") == 0) {
			h->path_parameters.v = v->b;
			h->path_parameters.set = true;
			h->path_parameters.line = v->line;
		} else
			take_list(strcmp(k->name, "allow") == 0 ? &h->allow :
			    &h->deny, v);
		break;
	case T_CREDENTIALS:
		c = &cfg->credentials[t->index];
		take_str(strcmp(k->name, "header") == 0 ? &c->header :
		    &c->env, v);
		break;
	case T_UPSTREAM:
		if (strcmp(k->name, "resolve") == 0)
			take_list(&cfg->resolve, v);
		else
			take_str(&cfg->ca_file, v);
		break;
	case T_VM: {
		struct config_int *n = strcmp(k->name, "cpus") == 0 ?
		    &cfg->cpus : &cfg->memory_mb;
		n->v = v->i;
		n->set = true;
		n->line = v->line;
		break;
	}
	case T_WORKSPACE: {
		struct config_bool *b = strcmp(k->name, "allow") == 0 ?
		    &cfg->ws_allow : &cfg->ws_readonly;
		b->v = v->b;
		b->set = true;
		b->line = v->line;
		break;
	}
	case T_BUDGET:
		if (strcmp(k->name, "tokens") == 0) {
			cfg->budget_tokens.v = v->i;
			cfg->budget_tokens.set = true;
			cfg->budget_tokens.line = v->line;
		} else
			take_str(&cfg->budget_usd, v);
		break;
	}
}

/* inih's handler: apply the statement the reader just parsed. */
static int
config_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct reader *rd = user;
	struct table_ref *t;
	struct value *v = &rd->value;
	unsigned long idx;
	char	*end;
	size_t	 i;

	(void)value;
	if (rd->failed)
		return 0;
	if (name == NULL)	/* a section callback, if inih makes them */
		return 1;
	errno = 0;
	idx = strtoul(section, &end, 10);
	if (errno != 0 || *end != '\0' || idx >= rd->ntables ||
	    strcmp(name, rd->key) != 0) {
		rd_error(rd, rd->stmt_line, "internal: inih handed back "
		    "[%s] %s", section, name);
		return 0;
	}
	t = &rd->tables[idx];
	for (i = 0; i < NSCHEMA; i++)
		if (schema[i].table == t->kind &&
		    strcmp(schema[i].name, name) == 0)
			break;
	if (i == NSCHEMA) {
		rd_error(rd, rd->stmt_line, "unknown key '%s' in %s (known: %s)",
		    name, t->display, table_kind_keys(t->kind));
		return 0;
	}
	if (t->key_line[i] != 0) {
		rd_error(rd, rd->stmt_line,
		    "duplicate key '%s' in %s (first at line %u)", name,
		    t->display, t->key_line[i]);
		return 0;
	}
	if (v->type != schema[i].type) {
		rd_error(rd, rd->stmt_line, "%s %s must be %s, not %s",
		    t->display, name, value_type_names[schema[i].type],
		    value_type_names[v->type]);
		return 0;
	}
	if (!check_value(rd, t, &schema[i], v))
		return 0;
	t->key_line[i] = rd->stmt_line;
	v->line = rd->stmt_line;
	store_value(rd->cfg, t, &schema[i], v);
	return 1;
}

void
config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
}

static void
free_list(struct config_strlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].s);
	free(l->v);
}

void
config_free(struct config *cfg)
{
	size_t	 i;

	free(cfg->filename);
	free(cfg->default_verdict.s);
	free_list(&cfg->allow);
	free_list(&cfg->block);
	for (i = 0; i < cfg->nhttp_tables; i++) {
		free(cfg->http_tables[i].pattern);
		free_list(&cfg->http_tables[i].allow);
		free_list(&cfg->http_tables[i].deny);
		free(cfg->http_tables[i].default_verdict.s);
	}
	free(cfg->http_tables);
	for (i = 0; i < cfg->ncredentials; i++) {
		free(cfg->credentials[i].host);
		free(cfg->credentials[i].header.s);
		free(cfg->credentials[i].env.s);
	}
	free(cfg->credentials);
	free_list(&cfg->resolve);
	free(cfg->ca_file.s);
	free(cfg->budget_usd.s);
	config_init(cfg);
}

int
config_parse_buf(struct config *cfg, const char *filename, const char *buf,
    size_t len, char *err, size_t errlen)
{
	struct reader rd;
	int	 rc = 0;

	config_init(cfg);
	memset(&rd, 0, sizeof(rd));
	rd.filename = filename;
	rd.buf = buf;
	rd.len = len;
	rd.cfg = cfg;
	rd.err = err;
	rd.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if ((cfg->filename = strdup(filename)) == NULL)
		rd_error(&rd, 0, "out of memory");
	else
		rc = ini_parse_stream(config_reader, &rd, config_handler, &rd);
	if (!rd.failed && rc != 0)
		rd_error(&rd, rd.lineno, "syntax error");
	value_clear(&rd.value);
	free(rd.tables);
	if (rd.failed) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

int
config_host_normalize(const char *in, bool allow_wildcard, char *out,
    size_t outlen, char *err, size_t errlen)
{
	size_t	 len = strlen(in), i, label = 0, o = 0;
	const char *p = in;
	unsigned char c;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0) {
		snprintf(err, errlen, "empty host name");
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] >= 0x80) {
			snprintf(err, errlen, "non-ASCII host name '%s': "
			    "write it in punycode (xn--...)", in);
			return -1;
		}
	if (len > 2 && p[0] == '*' && p[1] == '.') {
		if (!allow_wildcard) {
			snprintf(err, errlen, "'%s': a wildcard is not "
			    "allowed here", in);
			return -1;
		}
		if (outlen < 3)
			goto toolong;
		out[o++] = '*';
		out[o++] = '.';
		p += 2;
		len -= 2;
	}
	if (len > CONFIG_HOST_MAX || o + len + 1 > outlen)
		goto toolong;
	for (i = 0; i < len; i++) {
		c = (unsigned char)p[i];
		if (c == '.') {
			if (label == 0) {
				snprintf(err, errlen, "'%s': empty label in "
				    "host name", in);
				return -1;
			}
			label = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > 63) {
				snprintf(err, errlen, "'%s': label longer "
				    "than 63 bytes", in);
				return -1;
			}
		} else {
			snprintf(err, errlen, "invalid host pattern '%s'%s",
			    in, c == '*' ? ": '*' only as a leading '*.'" : "");
			return -1;
		}
		out[o++] = (char)tolower(c);
	}
	if (label == 0) {
		snprintf(err, errlen, "'%s': empty label in host name", in);
		return -1;
	}
	out[o] = '\0';
	return 0;
toolong:
	snprintf(err, errlen, "host name '%.60s...' is too long", in);
	return -1;
}

static bool
parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned v = 0;
	size_t	 i;

	if (len == 0 || len > 5 || s[0] == '0')
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

int
config_resolve_parse(const char *in, struct config_resolve *out, char *err,
    size_t errlen)
{
	const char *c1, *c2, *astart, *aend, *c3;
	char	 host[CONFIG_HOST_MAX + 2], msg[CONFIG_ERR_MAX];
	unsigned char addrbuf[16];
	size_t	 alen;

	memset(out, 0, sizeof(*out));
	if ((c1 = strchr(in, ':')) == NULL || (size_t)(c1 - in) >=
	    sizeof(host))
		goto bad;
	memcpy(host, in, (size_t)(c1 - in));
	host[c1 - in] = '\0';
	if (config_host_normalize(host, false, out->host, sizeof(out->host),
	    msg, sizeof(msg)) == -1) {
		snprintf(err, errlen, "'%s': %s", in, msg);
		return -1;
	}
	if ((c2 = strchr(c1 + 1, ':')) == NULL ||
	    !parse_port(c1 + 1, (size_t)(c2 - c1 - 1), &out->port))
		goto bad;
	astart = c2 + 1;
	if (*astart == '[') {
		if ((aend = strchr(astart, ']')) == NULL || aend[1] != ':')
			goto bad;
		astart++;
		c3 = aend + 1;
	} else {
		if ((c3 = strchr(astart, ':')) == NULL)
			goto bad;
		aend = c3;
	}
	alen = (size_t)(aend - astart);
	if (alen == 0 || alen >= sizeof(out->addr))
		goto bad;
	memcpy(out->addr, astart, alen);
	out->addr[alen] = '\0';
	if (inet_pton(AF_INET, out->addr, addrbuf) != 1 &&
	    inet_pton(AF_INET6, out->addr, addrbuf) != 1) {
		snprintf(err, errlen, "'%s': '%s' is not a numeric address",
		    in, out->addr);
		return -1;
	}
	if (!parse_port(c3 + 1, strlen(c3 + 1), &out->addr_port))
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "'%s': expected host:port:address:port", in);
	return -1;
}
