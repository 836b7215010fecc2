/*
 * bench_policy: verdicts per second of the policy engine with 10 and
 * 10,000 host patterns (half exact, half "*." wildcards) and a request
 * table of 1,000 rules, and the ratio between the two sizes.  Host
 * matching is hashed, so the ratio should stay near 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "policy.h"

#define NRULES		1000
#define RUN_SECONDS	1.0

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct policy *
make_policy(int npatterns)
{
	struct config cfg;
	struct policy *p;
	size_t	 cap = 256 + (size_t)npatterns * 40 + NRULES * 40, len = 0;
	char	*text, err[CONFIG_ERR_MAX];
	int	 i;

	if ((text = malloc(cap)) == NULL)
		exit(1);
	len += (size_t)snprintf(text + len, cap - len,
	    "[network]\ndefault = \"deny\"\nallow = [\n"
	    "  \"api.bench.example\",\n");
	for (i = 0; i < npatterns; i++)
		len += (size_t)snprintf(text + len, cap - len,
		    i % 2 ? "  \"*.w%d.example\",\n" : "  \"h%d.example\",\n", i);
	len += (size_t)snprintf(text + len, cap - len,
	    "]\n[http.\"api.bench.example\"]\ndefault = \"deny\"\ndeny = [\n");
	for (i = 0; i < NRULES / 2; i++)
		len += (size_t)snprintf(text + len, cap - len,
		    "  \"DELETE /d%d/**\",\n", i);
	len += (size_t)snprintf(text + len, cap - len, "]\nallow = [\n");
	for (i = 0; i < NRULES / 2; i++)
		len += (size_t)snprintf(text + len, cap - len,
		    "  \"GET /a%d/*/x\",\n", i);
	len += (size_t)snprintf(text + len, cap - len, "]\n");
	if (config_parse_buf(&cfg, "bench.toml", text, len, err,
	    sizeof(err)) == -1 || (p = policy_build(&cfg, NULL, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "bench_policy: %s\n", err);
		exit(1);
	}
	config_free(&cfg);
	free(text);
	return p;
}

/* Host checks: a mix of exact hits, wildcard hits and misses. */
static double
conn_rate(const struct policy *p, int npatterns)
{
	struct msg_verdict v;
	char	 host[128];
	double	 start = now(), t;
	unsigned long n = 0, allowed = 0;
	unsigned r = 12345;

	do {
		for (int k = 0; k < 1000; k++, n++) {
			r = r * 1103515245u + 12345u;
			int i = (int)((r >> 8) % (unsigned)npatterns);
			switch (r % 3) {
			case 0:
				snprintf(host, sizeof(host), "h%d.example", i);
				break;
			case 1:
				snprintf(host, sizeof(host),
				    "a.b.w%d.example", i);
				break;
			default:
				snprintf(host, sizeof(host),
				    "miss%d.other.example", i);
			}
			policy_conn_check(p, host, NULL, 443, &v);
			allowed += v.allow;
		}
	} while ((t = now() - start) < RUN_SECONDS);
	if (allowed == 0)
		fprintf(stderr, "bench_policy: nothing allowed?\n");
	return (double)n / t;
}

/* Request checks against the 1,000-rule table. */
static double
request_rate(const struct policy *p)
{
	struct msg_verdict v;
	char	 path[128];
	double	 start = now(), t;
	unsigned long n = 0;
	unsigned r = 777;

	do {
		for (int k = 0; k < 1000; k++, n++) {
			r = r * 1103515245u + 12345u;
			int len = snprintf(path, sizeof(path),
			    "/a%u/seg/x?q=1", (r >> 8) % (NRULES / 2));
			policy_request_check(p, "api.bench.example", 443,
			    r % 4 ? "GET" : "DELETE", path, (size_t)len, &v);
		}
	} while ((t = now() - start) < RUN_SECONDS);
	return (double)n / t;
}

int
main(void)
{
	struct policy *small = make_policy(10), *large = make_policy(10000);
	double	 cs = conn_rate(small, 10), cl = conn_rate(large, 10000);
	double	 rs = request_rate(small), rl = request_rate(large);

	printf("%-44s %14s\n", "policy", "verdicts/s");
	printf("%-44s %14.0f\n", "host check, 10 host patterns", cs);
	printf("%-44s %14.0f\n", "host check, 10,000 host patterns", cl);
	printf("%-44s %14.0f\n", "request check, 1,000 rules, 10 patterns", rs);
	printf("%-44s %14.0f\n", "request check, 1,000 rules, 10,000 patterns",
	    rl);
	printf("ratio 10,000 / 10 patterns: host checks %.2f, request checks "
	    "%.2f (1.00 = no slowdown)\n", cl / cs, rl / rs);
	policy_free(small);
	policy_free(large);
	return 0;
}
