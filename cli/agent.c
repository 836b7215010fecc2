/*
 * agent.c: agent.env and the guest environment.  See agent.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define AGENT_ENV_LINE_MAX	4096
int
vm_env_set(struct vm_opts *o, const char *assignment)
{
	size_t	 namelen = strcspn(assignment, "=");
	int	 i;

	for (i = 0; i < o->nenv; i++)
		if (strncmp(o->env[i], assignment, namelen + 1) == 0) {
			o->env[i] = assignment;
			return 0;
		}
	if (o->nenv >= VM_ENV_MAX)
		return -1;
	o->env[o->nenv++] = assignment;
	return 0;
}

int
agent_env_load(const char *path, struct vm_opts *o, char *err,
    size_t errlen)
{
	char	 line[AGENT_ENV_LINE_MAX + 2];
	unsigned lineno = 0;
	size_t	 len;
	char	*copy;
	FILE	*f;
	int	 r = -1;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(f)) {
			snprintf(err, errlen, "%s:%u: line longer than %d bytes",
			    path, lineno, AGENT_ENV_LINE_MAX);
			goto out;
		}
		if (len == 0 || line[0] == '#')
			continue;
		if (!env_assignment_ok(line)) {
			snprintf(err, errlen, "%s:%u: not NAME=VALUE (NAME of "
			    "A-Z a-z 0-9 _, no control characters)", path,
			    lineno);
			goto out;
		}
		if ((copy = strdup(line)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		if (vm_env_set(o, copy) == -1) {
			free(copy);
			snprintf(err, errlen, "%s:%u: more than %d variables",
			    path, lineno, VM_ENV_MAX);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	r = 0;
out:
	fclose(f);
	return r;
}
