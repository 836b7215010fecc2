/*
 * agents.c: the agent table.  See agents.h.
 */
#include <stddef.h>
#include <string.h>

#include "agents.h"

#define GENERIC_PLACEHOLDER	"capsem-placeholder-not-a-real-key-0000"

static const struct agent agents[] = {
	{ "claude", "api.anthropic.com", "x-api-key", "ANTHROPIC_API_KEY", "",
	    "sk-ant-capsem-placeholder-not-a-real-key-0000" },
	{ "gemini", "generativelanguage.googleapis.com", "x-goog-api-key",
	    "GEMINI_API_KEY", "", GENERIC_PLACEHOLDER },
	{ "codex", "api.openai.com", "authorization", "OPENAI_API_KEY",
	    "Bearer ", "sk-capsem-placeholder-not-a-real-key-0000" },
};
#define NAGENTS	(sizeof(agents) / sizeof(agents[0]))

const struct agent *
agent_find(const char *name)
{
	size_t	 i;

	for (i = 0; name != NULL && i < NAGENTS; i++)
		if (strcmp(agents[i].name, name) == 0)
			return &agents[i];
	return NULL;
}

const char *
agent_placeholder(const char *env)
{
	size_t	 i;

	for (i = 0; i < NAGENTS; i++)
		if (strcmp(agents[i].key_env, env) == 0)
			return agents[i].placeholder;
	return GENERIC_PLACEHOLDER;
}

const char *
agent_names(void)
{
	return "claude, gemini, codex";
}
