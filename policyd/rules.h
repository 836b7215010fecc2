/*
 * rules.h: policy.c's request rules (the allow and deny lines of an
 * [http."host"] table: a method and a path pattern with "*" and "**"),
 * parsed and matched in rules.c.  Internal to the policy library.
 */
#ifndef CAPSEM_POLICY_RULES_H
#define CAPSEM_POLICY_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "msg.h"

#define PATH_SEGS_MAX	(MSG_PATH_MAX / 2 + 2)

struct segpat {
	char		*text;
	size_t		 len;
	bool		 globstar;	/* "**" */
};

struct prule {
	char		 method[MSG_METHOD_MAX];	/* "*": any */
	bool		 any_path;
	struct segpat	*segs;
	size_t		 nsegs;
	char		 rule[MSG_RULE_MAX];
	const char	*file;
	unsigned	 line;
};

struct pathsegs {
	const char	*p[PATH_SEGS_MAX];
	size_t		 len[PATH_SEGS_MAX];
	size_t		 n;
	bool		 asterisk;	/* "OPTIONS *": only a path "*" matches */
};

/*
 * in[0..len) (a request path, no query) normalised into out: "." and ".."
 * resolved, unreserved escapes decoded; -1 with *why when ambiguous.
 * PATH_RULE: a rule's pattern ("*" kept; dot and empty segments refused).
 * PATH_REQUEST_PARAMS: a host that opted in to ';' path parameters: they
 * are kept in out, and a segment that is "." or ".." before its ';' is a
 * dot segment (resolved, parameters and all).
 */
enum path_mode { PATH_REQUEST, PATH_REQUEST_PARAMS, PATH_RULE };
int	path_normalize(const char *in, size_t len, char *out, size_t outlen,
	    const char **why, enum path_mode);
/* Cut each segment of a split path at its first ';' (for matching). */
void	strip_parameters(struct pathsegs *);
bool	method_ok(const char *method);	/* a token, upper case */
int	rule_parse(const char *text, struct prule *, const char **why);
void	rule_free(struct prule *);
bool	split_path(const char *npath, struct pathsegs *);
bool	rule_match(const struct prule *, const char *method,
	    const struct pathsegs *);

#endif
