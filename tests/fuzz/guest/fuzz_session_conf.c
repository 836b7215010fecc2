/*
 * libFuzzer target: capsem-init's session.conf parser. Checks that whatever
 * parses leaves NULL-terminated argv/env pointing inside the struct.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct session_conf sc;
	char	 err[128];

	session_conf_defaults(&sc);
	if (session_conf_parse(&sc, (const char *)data, size, err,
	    sizeof(err)) == -1) {
		if (strlen(err) == 0)
			abort();
		return 0;
	}
	if (sc.argc > SESSION_ARGS_MAX || sc.argv[sc.argc] != NULL ||
	    sc.nenv > SESSION_ENV_MAX || sc.env[sc.nenv] != NULL)
		abort();
	for (size_t i = 0; i < sc.argc; i++)
		if (sc.argv[i] < sc.strings ||
		    sc.argv[i] + strlen(sc.argv[i]) >= sc.strings + sizeof(sc.strings))
			abort();
	for (size_t i = 0; i < sc.nenv; i++)
		if (strchr(sc.env[i], '=') == NULL)
			abort();
	if (sc.user[0] == '\0' || sc.console[0] == '\0')
		abort();
	return 0;
}
