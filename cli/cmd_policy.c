/*
 * cmd_policy.c: `capsemctl policy`, the user's view of the policy engine.
 *   policy check [-a agent] [-X METHOD] URL
 *                        verdict for one request, with the deciding rule
 *                        and its file:line; exit 0 allow, 1 deny, 2 error
 *   policy show [-a agent]
 *                        the merged policy, every entry with its origin
 *   policy lint FILE     check one file; exit 0 ok, 2 error
 * Files: $CAPSEM_HOME/user.toml (default ~/.capsem/user.toml) and
 * $CAPSEM_CORP_CONFIG (default /etc/capsem/corp.toml), both optional.
 * Without a user file the built-in default for the agent applies (-a,
 * default claude).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_policy.h"
#include "home.h"
#include "config.h"
#include "msg.h"
#include "policy.h"

#define DEFAULT_AGENT		"claude"

/*
 * Read a whole file.  Returns 1 with *buf (malloc'd) and *len, 0 if the
 * file does not exist, -1 with a message in err.
 */
static int
read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	struct stat sb;
	ssize_t	 n;
	size_t	 got = 0;
	int	 fd;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((uintmax_t)sb.st_size > MSG_CONFIG_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", path,
		    MSG_CONFIG_MAX);
		close(fd);
		return -1;
	}
	if ((*buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	while (got < (size_t)sb.st_size) {
		n = read(fd, *buf + got, (size_t)sb.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", path, n == 0 ?
			    "file shrank while reading" : strerror(errno));
			free(*buf);
			*buf = NULL;
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 1;
}

/* Parse path into cfg.  Returns 1 loaded, 0 absent, -1 error. */
static int
load_config(const char *path, struct config *cfg, char *err, size_t errlen)
{
	char	*buf;
	size_t	 len;
	int	 rc;

	if ((rc = read_file(path, &buf, &len, err, errlen)) != 1)
		return rc;
	rc = config_parse_buf(cfg, path, buf, len, err, errlen);
	free(buf);
	return rc == 0 ? 1 : -1;
}

struct policy *
policy_load_files(const char *agent, int *have_user, int *have_corp,
    char *err, size_t errlen)
{
	struct config user, corp;
	struct policy *p = NULL;
	char	 upath[4096], cpath[4096];
	int	 urc, crc = 0;

	*have_user = *have_corp = 0;
	if (capsem_config_paths(upath, sizeof(upath), cpath, sizeof(cpath)) ==
	    -1) {
		snprintf(err, errlen, "policy file paths: %s", strerror(errno));
		return NULL;
	}
	config_init(&user);
	config_init(&corp);
	if ((urc = load_config(upath, &user, err, errlen)) == -1 ||
	    (crc = load_config(cpath, &corp, err, errlen)) == -1)
		goto out;
	*have_user = urc == 1;
	*have_corp = crc == 1;
	if (urc == 0 && policy_builtin_default(agent, &user) == -1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	p = policy_build(&user, crc == 1 ? &corp : NULL, err, errlen);
out:
	config_free(&user);
	config_free(&corp);
	return p;
}

/* The merged policy of the user's files; NULL after printing an error. */
static struct policy *
load_policy(const char *agent)
{
	struct policy *p;
	char	 err[CONFIG_ERR_MAX];
	int	 have_user, have_corp;

	if ((p = policy_load_files(agent, &have_user, &have_corp, err,
	    sizeof(err))) == NULL)
		fprintf(stderr, "capsemctl: policy: %s\n", err);
	return p;
}

static int
policy_check(int argc, char *argv[])
{
	char	 method[MSG_METHOD_MAX] = "GET", host[MSG_HOST_MAX];
	const char *agent = DEFAULT_AGENT, *path, *why;
	struct msg_verdict v;
	struct policy *p;
	size_t	 pathlen, i;
	uint16_t port;
	int	 ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "a:X:")) != -1) {
		switch (ch) {
		case 'a':
			agent = optarg;
			break;
		case 'X':
			if (strlen(optarg) >= sizeof(method)) {
				fprintf(stderr, "capsemctl: policy check: "
				    "method too long\n");
				return 2;
			}
			for (i = 0; optarg[i] != '\0'; i++)
				method[i] = (char)toupper(
				    (unsigned char)optarg[i]);
			method[i] = '\0';
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 1)
		goto usage;
	if (policy_url_parse(argv[optind], host, sizeof(host), &port, &path,
	    &pathlen, &why) == -1) {
		fprintf(stderr, "capsemctl: policy check: %s: %s\n",
		    argv[optind], why);
		return 2;
	}
	if ((p = load_policy(agent)) == NULL)
		return 2;
	policy_request_check(p, host, port, method, path, pathlen, &v);
	printf("%s\nrule: %s\nsource: %s:%u\n", v.allow ? "allow" : "deny",
	    v.rule, v.file, v.line);
	policy_free(p);
	return v.allow == VERDICT_ALLOW ? 0 : 1;
usage:
	fprintf(stderr, "usage: capsemctl policy check [-a agent] "
	    "[-X method] URL\n");
	return 2;
}

static int
policy_show_cmd(int argc, char *argv[])
{
	const char *agent = DEFAULT_AGENT;
	struct policy *p;
	int	 ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "a:")) != -1) {
		if (ch != 'a') {
			fprintf(stderr, "usage: capsemctl policy show "
			    "[-a agent]\n");
			return 2;
		}
		agent = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: capsemctl policy show [-a agent]\n");
		return 2;
	}
	if ((p = load_policy(agent)) == NULL)
		return 2;
	policy_show(p, stdout);
	policy_free(p);
	return 0;
}

static int
policy_lint(const char *path)
{
	struct config cfg;
	struct policy *p;
	char	 err[CONFIG_ERR_MAX];
	int	 rc;

	if ((rc = load_config(path, &cfg, err, sizeof(err))) == 0) {
		fprintf(stderr, "capsemctl: policy lint: %s: no such file\n",
		    path);
		return 2;
	}
	if (rc == -1) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	p = policy_build(&cfg, NULL, err, sizeof(err));
	config_free(&cfg);
	if (p == NULL) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	policy_free(p);
	printf("%s: ok\n", path);
	return 0;
}

int
cmd_policy(int argc, char *argv[])
{
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return policy_check(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return policy_show_cmd(argc - 1, argv + 1);
	if (argc == 3 && strcmp(argv[1], "lint") == 0)
		return policy_lint(argv[2]);
	fprintf(stderr, "usage: capsemctl " CMD_POLICY_USAGE "\n");
	return 2;
}
