/*
 * agent: the company's agent.env, the variables every agent session gets,
 * and the guest's environment.  The agent table is common/agents.h.
 */
#ifndef CAPSEM_AGENT_H
#define CAPSEM_AGENT_H

#include <stddef.h>

#include "agents.h"
#include "vm.h"

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
