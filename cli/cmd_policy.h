/* cmd_policy.h: `capsemctl policy check|show|lint`. */
#ifndef CAPSEM_CMD_POLICY_H
#define CAPSEM_CMD_POLICY_H

#include <stddef.h>

/*
 * argv[0] is "policy".  Exit status: 0 allow / success, 1 deny,
 * 2 usage or configuration error.
 */
int	cmd_policy(int argc, char *argv[]);

struct policy;

/*
 * The policy a session of agent would start with: user.toml (or the
 * built-in default when it is absent) merged with corp.toml.  NULL with
 * "file:line: message" in err.  *have_user / *have_corp: 1 if that file
 * exists.
 */
struct policy *policy_load_files(const char *agent, int *have_user,
	    int *have_corp, char *err, size_t errlen);

#define CMD_POLICY_USAGE \
	"policy check [-a agent] [-X method] URL | show [-a agent] | lint FILE"

#endif
