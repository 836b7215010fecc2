/*
 * policy: the merged user + corp policy and its verdicts.  See
 * capsem.toml(5) for the semantics; in short:
 *
 *  host (CONN_CHECK), first match decides:
 *   1. an invalid host name or an unproxied port: deny
 *   2. corp [network] block, then user [network] block: deny
 *   3. corp [network] allow is set and the host is not on it: deny (ceiling)
 *   4. user [network] allow: allow
 *   5. [network] default: corp's if set, else user's, else deny
 *  request (REQUEST_CHECK): the host verdict first; then the method and
 *  path are checked (an ambiguous path is denied); then, with the most
 *  specific [http."pattern"] table of each file that matches the host:
 *   1. corp deny rules, then user deny rules: deny
 *   2. corp table sets allow and none of its rules matches: deny (ceiling)
 *   3. user allow rules: allow
 *   4. default: corp table's if set, else user table's, else deny; when
 *      neither file has a table for the host, the host verdict stands.
 *
 * Every verdict names the rule text and the file:line that decided it
 * (line 0 and file "(built-in)" for built-in defaults).
 *
 * Host patterns are kept in hash tables (exact names, and wildcards keyed
 * by their suffix), so a host check costs O(labels in the host), not
 * O(patterns).
 */
#ifndef CAPSEM_POLICY_H
#define CAPSEM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "msg.h"

#define POLICY_BUILTIN_FILE	"(built-in)"

struct policy;

/*
 * Build the merged policy.  user may be NULL (then: default deny with an
 * empty allow list; use policy_builtin_default() for the agent's host),
 * corp may be NULL.  Returns NULL with "file:line: message" in err on a
 * semantic error (bad rule syntax, ...) or allocation failure.  The
 * policy copies what it needs: the configs may be freed afterwards.
 */
struct policy *policy_build(const struct config *user, const struct config *corp,
	    char *err, size_t errlen);
void	policy_free(struct policy *);

/*
 * The policy used when there is no user file: default deny, and an allow
 * list holding only the agent's API host (claude: api.anthropic.com,
 * gemini: generativelanguage.googleapis.com, codex: api.openai.com; any
 * other program: nothing).  Fills cfg (config_free it), file
 * POLICY_BUILTIN_FILE, line 0.  Returns 0, or -1 on allocation failure.
 */
int	policy_builtin_default(const char *agent, struct config *cfg);

/*
 * Host check.  port 443: HTTPS; port 80: plain HTTP, allowed only with
 * [network] http = true; port 0: a name-only check (DNS); any other port:
 * deny.  sni, if not NULL or "", must name the same host.
 */
void	policy_conn_check(const struct policy *, const char *host,
	    const char *sni, uint16_t port, struct msg_verdict *);

/*
 * Request check: host (as policy_conn_check without SNI), then method (an
 * upper-case token) and the request target (pathlen bytes, query string
 * ignored, normalised before matching).
 */
void	policy_request_check(const struct policy *, const char *host,
	    uint16_t port, const char *method, const char *path, size_t pathlen,
	    struct msg_verdict *);

/*
 * The same, and the normalised path the verdict judged, in npath (at
 * least MSG_PATH_MAX + 2 bytes): the path an allowed request is forwarded
 * with.  npath is "" when the path was not normalised (denied).
 */
void	policy_request_check_path(const struct policy *, const char *host,
	    uint16_t port, const char *method, const char *path, size_t pathlen,
	    char *npath, size_t npathlen, struct msg_verdict *);

/* The merged policy, one entry a line with its file:line. */
void	policy_show(const struct policy *, FILE *);

/* Settings for netproxy and the vmm (corp overrides user). */
bool	policy_http_enabled(const struct policy *);
bool	policy_private_addresses(const struct policy *);
const char *policy_ca_file(const struct policy *);	/* NULL if unset */
size_t	policy_nresolve(const struct policy *);
const struct config_resolve *policy_resolve(const struct policy *, size_t i);
int	policy_vm_cpus(const struct policy *);		/* 0 if unset */
int	policy_vm_memory_mb(const struct policy *);	/* 0 if unset */

/*
 * [workspace]: allow is user AND corp (default true), readonly is user OR
 * corp (default false), so neither file can loosen the other.  The file
 * and line are those of the setting that made allow false or readonly
 * true (corp's when both did), "" and 0 when none did.
 */
#define POLICY_FILE_MAX	1024
struct policy_workspace {
	bool		 allow;
	bool		 readonly;
	char		 allow_file[POLICY_FILE_MAX];	/* allow = false */
	unsigned	 allow_line;
	char		 ro_file[POLICY_FILE_MAX];	/* readonly = true */
	unsigned	 ro_line;
};
void	policy_workspace(const struct policy *, struct policy_workspace *);

/*
 * [budget]: per session, the lower of user.toml's and corp.toml's (corp
 * is a ceiling the user cannot raise), each with the file:line it came
 * from.  0: no limit of that kind.
 */
struct policy_budget {
	uint64_t	 tokens;		/* tokens of every kind */
	char		 tokens_file[POLICY_FILE_MAX];
	unsigned	 tokens_line;
	uint64_t	 pusd;			/* picodollars */
	char		 usd_text[32];		/* as written */
	char		 usd_file[POLICY_FILE_MAX];
	unsigned	 usd_line;
};
void	policy_budget(const struct policy *, struct policy_budget *);

struct policy_credential {
	char		 host[CONFIG_HOST_MAX + 1];	/* normalised, exact */
	char		 header[128];
	char		 env[128];
	const char	*file;
	unsigned	 line;
};
size_t	policy_ncredentials(const struct policy *);
const struct policy_credential *policy_credential(const struct policy *,
	    size_t i);

/*
 * Request-target normalisation (exposed for tests and fuzzing): cut the
 * query string, decode percent-encoded unreserved bytes, upper-case the
 * hex of the others, remove dot segments.  Returns 0 with a NUL-terminated
 * path in out, or -1 with *why set for an ambiguous or invalid target
 * (encoded '/', '\\', ';' or NUL, a double-encoded escape "%25XX",
 * escapes that are not shortest-form UTF-8, bad escape, empty segment,
 * ';' (path parameters), raw byte outside printable ASCII, no leading
 * '/', too long).
 */
int	policy_path_normalize(const char *in, size_t len, char *out,
	    size_t outlen, const char **why);

/*
 * Does the rule ("METHOD PATH") match method and an already normalised
 * path?  Returns 1 match, 0 no match, -1 rule syntax error (why set).
 */
int	policy_rule_match_text(const char *rule, const char *method,
	    const char *npath, const char **why);

/*
 * Split "scheme://host[:port][/path][?query]" (http or https; the port
 * defaults to 80 or 443) for `capsemctl policy check` and the tests.  host
 * is copied out; *path points into url ("/" when it has none) and
 * *pathlen stops before any "#fragment".  Returns 0, or -1 with *why set.
 */
int	policy_url_parse(const char *url, char *host, size_t hostlen,
	    uint16_t *port, const char **path, size_t *pathlen,
	    const char **why);

#endif
