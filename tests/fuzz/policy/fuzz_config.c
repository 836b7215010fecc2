/*
 * libFuzzer target: the config reader.  Any bytes either parse (and then
 * build a policy, answer a few checks and dump as JSON) or give one
 * "file:line: message" error.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "policy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
discard(void *arg, const char *s, size_t len)
{
	size_t	*total = arg;

	(void)s;
	*total += len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct policy *p;
	struct msg_verdict v;
	char	 err[CONFIG_ERR_MAX];
	size_t	 total = 0;

	if (config_parse_buf(&cfg, "fuzz.toml", (const char *)data, size, err,
	    sizeof(err)) == -1) {
		if (strncmp(err, "fuzz.toml:", 10) != 0)
			abort();
		return 0;
	}
	config_dump_json(&cfg, discard, &total);
	if ((p = policy_build(&cfg, &cfg, err, sizeof(err))) != NULL) {
		policy_conn_check(p, "api.github.com", NULL, 443, &v);
		policy_request_check(p, "a.b.example.com", 443, "GET",
		    "/a/b/../c?x", 11, &v);
		policy_free(p);
	} else if (strncmp(err, "fuzz.toml:", 10) != 0 &&
	    strcmp(err, "out of memory") != 0)
		abort();
	config_free(&cfg);
	return 0;
}
