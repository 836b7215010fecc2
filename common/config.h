/*
 * config: capsem's TOML subset (user.toml, corp.toml), read with inih and
 * a strict value parser of our own.  See capsem.toml(5).
 *
 * Supported, and nothing else: [table] headers with bare, "basic" or
 * 'literal' components ([http."api.github.com"]); bare keys; values that
 * are basic strings (TOML escapes), literal strings, booleans, decimal
 * integers, and arrays of strings (on one line, or over several lines).
 * '#' comments anywhere outside strings.  Physical lines are at most
 * CONFIG_LINE_MAX bytes.  Every error is one line: "file:line: message".
 *
 * Parsing is from memory: policyd receives file contents, it opens nothing.
 */
#ifndef CAPSEM_CONFIG_H
#define CAPSEM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_LINE_MAX		199	/* bytes per physical line, without newline */
#define CONFIG_ERR_MAX		512	/* enough for any "file:line: message" */
#define CONFIG_HOST_MAX		253	/* DNS name, without the trailing dot */

/* One string with the line it came from. */
struct config_str {
	char		*s;		/* NULL when not set */
	unsigned	 line;
};

struct config_strlist {
	struct config_str *v;
	size_t		 n;
	bool		 set;		/* the key was present (even as []) */
	unsigned	 line;		/* line of the key */
};

struct config_bool {
	bool		 v;
	bool		 set;
	unsigned	 line;
};

struct config_int {
	int64_t		 v;
	bool		 set;
	unsigned	 line;
};

/* [http."pattern"]: request rules for one host pattern. */
struct config_http {
	char		*pattern;	/* as written (decoded TOML key) */
	unsigned	 line;		/* line of the table header */
	struct config_strlist allow;	/* "METHOD PATH" rules */
	struct config_strlist deny;
	struct config_str default_verdict;	/* "allow" | "deny" */
	struct config_bool path_parameters;	/* ';' parameters accepted */
};

/* [credentials."host"]: the secret netproxy injects for one host. */
struct config_credential {
	char		*host;		/* as written */
	unsigned	 line;
	struct config_str header;	/* HTTP header name */
	struct config_str env;		/* environment variable holding the secret */
};

struct config {
	char		*filename;

	bool		 has_network;
	unsigned	 network_line;
	struct config_str default_verdict;	/* [network] default */
	struct config_strlist allow;		/* [network] allow */
	struct config_strlist block;		/* [network] block */
	struct config_bool http;		/* [network] http */
	struct config_bool private_addresses;	/* [network] private_addresses */

	struct config_http *http_tables;
	size_t		 nhttp_tables;

	struct config_credential *credentials;
	size_t		 ncredentials;

	bool		 has_upstream;
	unsigned	 upstream_line;
	struct config_strlist resolve;		/* [upstream] resolve */
	struct config_str ca_file;		/* [upstream] ca_file */

	bool		 has_vm;
	unsigned	 vm_line;
	struct config_int cpus;			/* [vm] cpus */
	struct config_int memory_mb;		/* [vm] memory_mb */

	bool		 has_workspace;
	unsigned	 workspace_line;
	struct config_bool ws_allow;		/* [workspace] allow */
	struct config_bool ws_readonly;		/* [workspace] readonly */

	bool		 has_budget;
	unsigned	 budget_line;
	struct config_int budget_tokens;	/* [budget] tokens */
	struct config_str budget_usd;		/* [budget] usd, "X.YZ" */
};

/*
 * Parse len bytes of buf (no NUL terminator needed) as the file called
 * filename (used in messages only).  On success returns 0 and fills *cfg
 * (release with config_free).  On error returns -1, writes
 * "filename:line: message" to err, and leaves *cfg empty.
 */
int	config_parse_buf(struct config *cfg, const char *filename,
	    const char *buf, size_t len, char *err, size_t errlen);
void	config_init(struct config *cfg);
/* Replace control characters (from string escapes) so a message stays
 * one line. */
void	config_error_oneline(char *s);
void	config_free(struct config *cfg);

/*
 * Host name or pattern ("example.com", "*.example.com"): lower-case it,
 * drop one trailing dot, check the syntax.  Returns 0 with the result in
 * out, or -1 with a message (no file:line) in err.  allow_wildcard false
 * refuses "*.".
 */
int	config_host_normalize(const char *in, bool allow_wildcard, char *out,
	    size_t outlen, char *err, size_t errlen);

/*
 * [upstream] resolve entry "host:port:addr:port" (addr may be [v6]), like
 * curl --resolve with the upstream port added.
 */
struct config_resolve {
	char		 host[CONFIG_HOST_MAX + 1];	/* normalised */
	uint16_t	 port;
	char		 addr[64];			/* numeric, no brackets */
	uint16_t	 addr_port;
};
int	config_resolve_parse(const char *in, struct config_resolve *out,
	    char *err, size_t errlen);

/*
 * A [budget] usd amount, "12", "0.50", "3.125" (at most 6 decimals, below
 * ten million dollars), in picodollars.  Returns 0, or -1 if it is not one.
 */
int	config_usd_parse(const char *in, uint64_t *pusd);

/* Write cfg as one JSON object shaped like the TOML document (tests). */
void	config_dump_json(const struct config *cfg, void (*put)(void *arg,
	    const char *s, size_t len), void *arg);

#endif
