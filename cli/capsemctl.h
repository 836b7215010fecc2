/* capsemctl.h: what the command files share. */
#ifndef CAPSEM_CAPSEMCTL_H
#define CAPSEM_CAPSEMCTL_H

#include <stdbool.h>

/* Print "usage: capsemctl <usage of name>" to stderr; returns 2. */
int	usage_of(const char *name);

/* Commands implemented in other files (cmd_*.c), added to the table. */
int	cmd_start(int, char *[]);	/* cmd_start.c */
int	cmd_proxy(int, char *[]);
int	cmd_ca(int, char *[]);
int	cmd_policy(int, char *[]);
int	cmd_image(int, char *[]);
int	cmd_logs(int, char *[]);
int	cmd_usage(int, char *[]);
/* cmd_usage.c: `logs --model`: the session's model calls */
int	logs_model_calls(const char *id, bool json);

#define CAPSEMCTL_EXTRA_COMMANDS					\
	{ "ca", cmd_ca, "ca init [--force] | show | export | mint host",	\
	    "the per-install CA" },					\
	{ "policy", cmd_policy,						\
	    "policy check [-X METHOD] URL | show | lint FILE",		\
	    "explain and check the policy" },				\
	{ "image", cmd_image, "image build [-f] [-v] [name] | list [--json]",	\
	    "build and list guest images" },				\
	{ "logs", cmd_logs, "logs [--json] [-f] id | --model [--json] id", \
	    "a session's console log and audit lines, or its model calls" }, \
	{ "usage", cmd_usage, "usage [--json] [id]",			\
	    "model calls, tokens and cost, per session and model" },
#endif
