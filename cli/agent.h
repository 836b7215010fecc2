/*
 * agent: what capsem knows about the agents it starts (their API host, the
 * header and variable of their key, the placeholder the guest sees) and
 * the company's agent.env, the variables every agent session gets.
 */
#ifndef CAPSEM_AGENT_H
#define CAPSEM_AGENT_H

#include <stddef.h>

#include "vm.h"

struct agent {
	const char	*name;		/* "claude" */
	const char	*api_host;	/* allowed by the built-in policy */
	const char	*key_header;	/* where the proxy puts the key */
	const char	*key_env;	/* capsemctl's variable holding it */
	const char	*key_prefix;	/* put before the key ("Bearer ") */
	const char	*placeholder;	/* what the guest sees instead */
};

/* The agent called name, or NULL. */
const struct agent *agent_find(const char *name);

/* The placeholder the guest gets in variable env (agent's, else generic). */
const char *agent_placeholder(const char *env);

/* The agents' names, "claude, gemini, codex", for messages. */
const char *agent_names(void);

/*
 * Read path (lines NAME=VALUE, "#" comments, empty lines) and add each to
 * o->env.  A missing file is no error.  Returns 0, or -1 with
 * "path:line: message" in err.  The strings are allocated for the life of
 * the process.
 */
int	agent_env_load(const char *path, struct vm_opts *o, char *err,
	    size_t errlen);

/* Add or replace NAME=VALUE in o->env; -1 if full. */
int	vm_env_set(struct vm_opts *o, const char *assignment);

#endif
