/* cmd_policy.h: `capsemctl policy check|show|lint`. */
#ifndef CAPSEM_CMD_POLICY_H
#define CAPSEM_CMD_POLICY_H

/*
 * argv[0] is "policy".  Exit status: 0 allow / success, 1 deny,
 * 2 usage or configuration error.
 */
int	cmd_policy(int argc, char *argv[]);

#define CMD_POLICY_USAGE \
	"policy check [-a agent] [-X method] URL | show [-a agent] | lint FILE"

#endif
