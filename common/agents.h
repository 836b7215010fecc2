/*
 * agents: the one table of the agents capsem starts: their API host (the
 * built-in default policy allows it and nothing else), the header and
 * variable of their key (the proxy adds it; the guest never sees it) and
 * the placeholder the guest gets instead.  Used by the session parent
 * (cli/agent.c, cli/session_setup.c) and the policy (policyd/policy.c).
 */
#ifndef CAPSEM_AGENTS_H
#define CAPSEM_AGENTS_H

struct agent {
	const char	*name;		/* "claude" */
	const char	*api_host;	/* allowed by the built-in policy */
	const char	*key_header;	/* where the proxy puts the key */
	const char	*key_env;	/* capsemctl's variable holding it */
	const char	*key_prefix;	/* put before the key ("Bearer ") */
	const char	*placeholder;	/* what the guest sees instead */
};

/* The agent called name, or NULL (also for NULL). */
const struct agent *agent_find(const char *name);

/* The placeholder the guest gets in variable env (agent's, else generic). */
const char *agent_placeholder(const char *env);

/* The agents' names, "claude, gemini, codex", for messages. */
const char *agent_names(void);

#endif
