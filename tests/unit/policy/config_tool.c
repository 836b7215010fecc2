/*
 * config-tool: test helper for the config regress cases.
 *   config-tool lint FILE   prints "ok" or the first error (parse, then
 *                           policy build), exit 0 / 1
 *   config-tool dump FILE   prints the parsed file as JSON (for tomllib)
 * Messages name the file by its base name so expected output is stable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "policy.h"

static char *
slurp(const char *path, size_t *len)
{
	FILE	*fp;
	char	*buf = NULL;
	size_t	 cap = 0, n;

	*len = 0;
	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	for (;;) {
		if (*len == cap) {
			char *nb;

			cap = cap ? cap * 2 : 4096;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + *len, 1, cap - *len, fp);
		if (n == 0)
			break;
		*len += n;
	}
	fclose(fp);
	return buf;
}

static void
put_stdout(void *arg, const char *s, size_t len)
{
	fwrite(s, 1, len, arg);
}

int
main(int argc, char *argv[])
{
	struct config cfg;
	struct policy *p;
	char	 err[CONFIG_ERR_MAX], *buf;
	const char *name;
	size_t	 len;

	if (argc != 3 || (strcmp(argv[1], "lint") != 0 &&
	    strcmp(argv[1], "dump") != 0)) {
		fprintf(stderr, "usage: config-tool lint|dump FILE\n");
		return 2;
	}
	if ((buf = slurp(argv[2], &len)) == NULL && len == 0) {
		perror(argv[2]);
		return 2;
	}
	name = strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2];
	if (config_parse_buf(&cfg, name, buf ? buf : "", len, err,
	    sizeof(err)) == -1) {
		printf("%s\n", err);
		free(buf);
		return 1;
	}
	free(buf);
	if (strcmp(argv[1], "dump") == 0) {
		config_dump_json(&cfg, put_stdout, stdout);
		config_free(&cfg);
		return 0;
	}
	if ((p = policy_build(&cfg, NULL, err, sizeof(err))) == NULL) {
		printf("%s\n", err);
		config_free(&cfg);
		return 1;
	}
	policy_free(p);
	config_free(&cfg);
	printf("ok\n");
	return 0;
}
