/*
 * libFuzzer target: the request-target normaliser and the rule matcher.
 * Input: "RULE\nMETHOD\nTARGET" (TARGET may hold any bytes).  Checks:
 * the normaliser never reports success with an ambiguous result (a
 * normalised path starts with '/', has no "//", no dot segment, no '?',
 * no ';', and normalising it again gives the same path: so no escape
 * that is double-encoded or not shortest-form UTF-8 either).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "policy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_normal(const char *n)
{
	char	 again[MSG_PATH_MAX + 2];
	const char *why;
	size_t	 len = strlen(n);

	if (n[0] != '/' || strstr(n, "//") != NULL || strchr(n, '?') ||
	    strchr(n, ';') != NULL ||
	    strstr(n, "/./") != NULL || strstr(n, "/../") != NULL ||
	    (len >= 2 && strcmp(n + len - 2, "/.") == 0) ||
	    (len >= 3 && strcmp(n + len - 3, "/..") == 0))
		abort();
	if (policy_path_normalize(n, len, again, sizeof(again), &why) != 0 ||
	    strcmp(again, n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 rule[512], method[MSG_METHOD_MAX], out[MSG_PATH_MAX + 2];
	const char *p = (const char *)data, *end = p + size, *nl, *why;
	size_t	 n;

	if ((nl = memchr(p, '\n', size)) == NULL)
		return 0;
	n = (size_t)(nl - p);
	if (n >= sizeof(rule) || memchr(p, '\0', n) != NULL)
		return 0;
	memcpy(rule, p, n);
	rule[n] = '\0';
	p = nl + 1;
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return 0;
	n = (size_t)(nl - p);
	if (n >= sizeof(method) || memchr(p, '\0', n) != NULL)
		return 0;
	memcpy(method, p, n);
	method[n] = '\0';
	p = nl + 1;
	if (policy_path_normalize(p, (size_t)(end - p), out, sizeof(out),
	    &why) == 0) {
		check_normal(out);
		(void)policy_rule_match_text(rule, method, out, &why);
	} else if (why == NULL)
		abort();
	return 0;
}
