/*
 * Unit tests of the policy engine: the verdict table (data/verdicts.txt),
 * the path normaliser, the audit line format, reload-style rebuilds.
 * POLICY_TESTDATA names the data directory.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "config.h"
#include "policy.h"

static const char *
datadir(void)
{
	const char *d = getenv("POLICY_TESTDATA");

	return d != NULL ? d : "tests/unit/policy/data";
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	*fp;
	char	*buf;
	long	 n;

	*len = 0;
	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	if (n < 0 || (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)n, fp);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

/* Load a policy file of the data directory, or the built-in default. */
static int
load(const char *name, struct config *cfg, char *err, size_t errlen)
{
	char	 path[1024], *buf;
	size_t	 len;
	int	 rc;

	if (name[0] == '@')
		return policy_builtin_default(name + 1, cfg);
	snprintf(path, sizeof(path), "%s/%s", datadir(), name);
	if ((buf = slurp(path, &len)) == NULL) {
		snprintf(err, errlen, "%.200s: cannot read", path);
		return -1;
	}
	rc = config_parse_buf(cfg, name, buf, len, err, errlen);
	free(buf);
	return rc;
}

static struct policy *
build_pair(const char *user, const char *corp)
{
	struct config u, c;
	struct policy *p;
	char	 err[CONFIG_ERR_MAX];

	ck_assert_msg(load(user, &u, err, sizeof(err)) == 0, "%s", err);
	if (corp != NULL)
		ck_assert_msg(load(corp, &c, err, sizeof(err)) == 0, "%s", err);
	p = policy_build(&u, corp ? &c : NULL, err, sizeof(err));
	ck_assert_msg(p != NULL, "%s", err);
	config_free(&u);
	if (corp != NULL)
		config_free(&c);
	return p;
}

static void
check_url(const struct policy *p, const char *method, const char *url,
    struct msg_verdict *v)
{
	char	 host[512];
	const char *path, *why;
	size_t	 pathlen;
	uint16_t port;

	ck_assert_msg(policy_url_parse(url, host, sizeof(host), &port, &path,
	    &pathlen, &why) == 0, "%s: %s", url, why);
	if (strcmp(method, "CONN") == 0)
		policy_conn_check(p, host, NULL, port, v);
	else
		policy_request_check(p, host, port, method, path, pathlen, v);
}

START_TEST(verdict_table)
{
	char	 path[1024], line[1024], got[600];
	char	 user[128], corp[128], method[64], url[512], verdict[16];
	char	 source[300];
	struct msg_verdict v;
	struct policy *p;
	FILE	*fp;
	unsigned lineno = 0, rows = 0, failures = 0;

	snprintf(path, sizeof(path), "%s/verdicts.txt", datadir());
	ck_assert_msg((fp = fopen(path, "r")) != NULL, "%s", path);
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		ck_assert_msg(sscanf(line, "%127s %127s %63s %511s %15s %299s",
		    user, corp, method, url, verdict, source) == 6,
		    "verdicts.txt:%u: bad row", lineno);
		p = build_pair(user, strcmp(corp, "-") == 0 ? NULL : corp);
		check_url(p, method, url, &v);
		snprintf(got, sizeof(got), "%s:%u", v.file, v.line);
		if (strcmp(verdict, v.allow ? "allow" : "deny") != 0 ||
		    strcmp(source, got) != 0) {
			fprintf(stderr, "verdicts.txt:%u: %s %s: expected %s "
			    "%s, got %s %s (%s)\n", lineno, method, url,
			    verdict, source, v.allow ? "allow" : "deny", got,
			    v.rule);
			failures++;
		}
		policy_free(p);
		rows++;
	}
	fclose(fp);
	fprintf(stderr, "verdict table: %u rows, %u failures\n", rows,
	    failures);
	ck_assert_uint_ge(rows, 100);
	ck_assert_uint_eq(failures, 0);
}
END_TEST

START_TEST(verdict_names_rule)
{
	struct policy *p = build_pair("user-basic.toml", "corp.toml");
	struct msg_verdict v;

	check_url(p, "DELETE", "https://api.github.com/repos/o", &v);
	ck_assert_str_eq(v.rule,
	    "deny \"DELETE /repos/**\" in [http.\"api.github.com\"]");
	check_url(p, "CONN", "https://gist.github.com/", &v);
	ck_assert_str_eq(v.rule, "block \"gist.github.com\"");
	check_url(p, "CONN", "https://a.deep.example/", &v);
	ck_assert_str_eq(v.rule, "not in the corp allow list");
	check_url(p, "GET", "https://api.github.com/repos/%2Fx", &v);
	ck_assert_str_eq(v.rule, "ambiguous path: encoded '/' in path");
	policy_free(p);
}
END_TEST

START_TEST(sni_must_match)
{
	struct policy *p = build_pair("user-basic.toml", NULL);
	struct msg_verdict v;

	policy_conn_check(p, "github.com", "github.com.", 443, &v);
	ck_assert_uint_eq(v.allow, VERDICT_ALLOW);
	policy_conn_check(p, "github.com", "gist.github.com", 443, &v);
	ck_assert_uint_eq(v.allow, VERDICT_DENY);
	ck_assert_str_eq(v.rule, "SNI does not match the host");
	policy_conn_check(p, "github.com", "", 0, &v);
	ck_assert_uint_eq(v.allow, VERDICT_ALLOW);
	policy_free(p);
}
END_TEST

/*
 * "OPTIONS *" (asterisk-form): matched only by rules whose path is a lone
 * "*", and forwarded as "*"; issue 18.
 */
START_TEST(options_asterisk)
{
	struct policy *p = build_pair("user-basic.toml", NULL);
	struct msg_verdict v;
	char	 npath[MSG_PATH_MAX + 2];

	/* no table: the host verdict */
	policy_request_check_path(p, "github.com", 443, "OPTIONS", "*", 1,
	    npath, sizeof(npath), &v);
	ck_assert_uint_eq(v.allow, VERDICT_ALLOW);
	ck_assert_str_eq(npath, "*");
	/* "PUT *" does not match OPTIONS; default = "allow" */
	policy_request_check_path(p, "registry.npmjs.org", 443, "OPTIONS",
	    "*", 1, npath, sizeof(npath), &v);
	ck_assert_uint_eq(v.allow, VERDICT_ALLOW);
	ck_assert_uint_eq(v.line, 28);
	/* the table's rules all have paths: no rule matched, deny */
	policy_request_check_path(p, "raw.github.com", 443, "OPTIONS", "*", 1,
	    npath, sizeof(npath), &v);
	ck_assert_uint_eq(v.allow, VERDICT_DENY);
	ck_assert_uint_eq(v.line, 22);
	/* "DELETE *" would match any method's "*" but not OPTIONS */
	policy_request_check_path(p, "api.github.com", 443, "OPTIONS", "*", 1,
	    npath, sizeof(npath), &v);
	ck_assert_uint_eq(v.allow, VERDICT_DENY);
	ck_assert_uint_eq(v.line, 20);
	/* only OPTIONS has an asterisk-form */
	policy_request_check_path(p, "github.com", 443, "GET", "*", 1,
	    npath, sizeof(npath), &v);
	ck_assert_uint_eq(v.allow, VERDICT_DENY);
	ck_assert_str_eq(npath, "");
	ck_assert_int_eq(policy_rule_match_text("OPTIONS *", "OPTIONS", "*",
	    &(const char *){ NULL }), 1);
	ck_assert_int_eq(policy_rule_match_text("OPTIONS /**", "OPTIONS", "*",
	    &(const char *){ NULL }), 0);
	policy_free(p);
}
END_TEST

/* path_parameters = true: kept in the forwarded path, not matched */
START_TEST(path_parameters_opt_in)
{
	struct policy *p = build_pair("user-basic.toml", NULL);
	struct msg_verdict v;
	char	 npath[MSG_PATH_MAX + 2];
	const char *path = "/x/..;y/a;k=v/%62;%7e";

	policy_request_check_path(p, "jsp.github.com", 443, "GET", path,
	    strlen(path), npath, sizeof(npath), &v);
	ck_assert_uint_eq(v.allow, VERDICT_ALLOW);
	ck_assert_str_eq(npath, "/a;k=v/b;~");
	/* the same path where no table opts in */
	policy_request_check_path(p, "raw.github.com", 443, "GET", path,
	    strlen(path), npath, sizeof(npath), &v);
	ck_assert_uint_eq(v.allow, VERDICT_DENY);
	ck_assert_str_eq(v.rule, "ambiguous path: ';' in path (path "
	    "parameters)");
	policy_free(p);
}
END_TEST

START_TEST(no_policy_denies)
{
	struct msg_verdict v;

	policy_conn_check(NULL, "github.com", NULL, 443, &v);
	ck_assert_uint_eq(v.allow, VERDICT_DENY);
	policy_request_check(NULL, "github.com", 443, "GET", "/", 1, &v);
	ck_assert_uint_eq(v.allow, VERDICT_DENY);
}
END_TEST

static const struct {
	const char	*in;
	const char	*out;	/* NULL: refused */
} paths[] = {
	{ "/", "/" },
	{ "/a/b", "/a/b" },
	{ "/a/b/", "/a/b/" },
	{ "/a/./b", "/a/b" },
	{ "/a/../b", "/b" },
	{ "/a/b/..", "/a/" },
	{ "/a/b/.", "/a/b/" },
	{ "/..", "/" },
	{ "/../../x", "/x" },
	{ "/a/%2e%2e/b", "/b" },
	{ "/a/%2E./b", "/b" },
	{ "/%7euser", "/~user" },
	{ "/a%20b", "/a%20b" },
	{ "/a%3fb", "/a%3Fb" },
	{ "/a?x=/../y", "/a" },
	{ "/a/...", "/a/..." },
	{ "/a;b=c", NULL },		/* path parameters (issue 18) */
	{ "/x/..;/admin", NULL },
	{ "/a%3bb", NULL },
	{ "/x/%c0%ae%c0%ae/admin", NULL },	/* overlong '.' */
	{ "/%e0%80%ae", NULL },
	{ "/%f0%80%80%ae", NULL },
	{ "/%ed%b0%80", NULL },		/* surrogate */
	{ "/%f4%90%80%80", NULL },	/* above U+10FFFF */
	{ "/%c3", NULL },		/* truncated */
	{ "/%c3x", NULL },
	{ "/%c3%c3%a9", NULL },
	{ "/%a9", NULL },		/* lone continuation */
	{ "/%2561dmin", NULL },		/* double-encoded */
	{ "/%252e%252e/x", NULL },
	{ "/%25%36%31dmin", NULL },	/* %2561 once decoded */
	{ "/%25%3", NULL },
	{ "/caf%c3%a9", "/caf%C3%A9" },
	{ "/%F0%9F%98%80", "/%F0%9F%98%80" },
	{ "/%ef%bf%bf", "/%EF%BF%BF" },
	{ "/100%25", "/100%25" },
	{ "/%25zz", "/%25zz" },
	{ "", NULL },
	{ "a/b", NULL },
	{ "/a%2fb", NULL },
	{ "/a%2Fb", NULL },
	{ "/a%00", NULL },
	{ "/a%5c", NULL },
	{ "/a\\b", NULL },
	{ "/a%", NULL },
	{ "/a%g0", NULL },
	{ "/a//b", NULL },
	{ "//a", NULL },
	{ "/a b", NULL },
	{ "/a#b", NULL },
	{ "/caf\xc3\xa9", NULL },
	{ "/a\x7f", NULL },
};

START_TEST(path_normalize)
{
	char	 out[MSG_PATH_MAX + 2];
	const char *why;
	int	 rc;

	rc = policy_path_normalize(paths[_i].in, strlen(paths[_i].in), out,
	    sizeof(out), &why);
	if (paths[_i].out == NULL)
		ck_assert_msg(rc == -1, "%s: accepted as %s", paths[_i].in, out);
	else {
		ck_assert_msg(rc == 0, "%s: %s", paths[_i].in, why);
		ck_assert_str_eq(out, paths[_i].out);
	}
}
END_TEST

START_TEST(path_normalize_len)
{
	char	 out[MSG_PATH_MAX + 2], big[MSG_PATH_MAX + 10];
	const char *why;

	/* pathlen counts: bytes after it are not part of the path */
	ck_assert_int_eq(policy_path_normalize("/ab/../cd", 3, out,
	    sizeof(out), &why), 0);
	ck_assert_str_eq(out, "/ab");
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	ck_assert_int_eq(policy_path_normalize(big, sizeof(big), out,
	    sizeof(out), &why), -1);
}
END_TEST

START_TEST(rule_text_match)
{
	const char *why;

	ck_assert_int_eq(policy_rule_match_text("GET /a/**/z", "GET",
	    "/a/b/c/z", &why), 1);
	ck_assert_int_eq(policy_rule_match_text("GET /a/**/z", "GET",
	    "/a/z", &why), 1);
	ck_assert_int_eq(policy_rule_match_text("GET /a/**/z", "GET",
	    "/a/b/c/y", &why), 0);
	ck_assert_int_eq(policy_rule_match_text("GET /a/**/**/z", "GET",
	    "/a/z", &why), 1);
	ck_assert_int_eq(policy_rule_match_text("* /v*/x-*-y", "PUT",
	    "/v2/x-abc-y", &why), 1);
	ck_assert_int_eq(policy_rule_match_text("* /v*/x-*-y", "PUT",
	    "/v2/x-abc-z", &why), 0);
	ck_assert_int_eq(policy_rule_match_text("GET *", "GET", "/any/thing",
	    &why), 1);
	ck_assert_int_eq(policy_rule_match_text("GET *", "POST", "/", &why),
	    0);
	ck_assert_int_eq(policy_rule_match_text("GET /%7Ea", "GET", "/~a",
	    &why), 1);
	ck_assert_int_eq(policy_rule_match_text("GET  /x", "GET", "/x",
	    &why), 1);
	ck_assert_int_eq(policy_rule_match_text(" GET /x", "GET", "/x",
	    &why), -1);
	ck_assert_int_eq(policy_rule_match_text("GET /x ", "GET", "/x",
	    &why), -1);
	ck_assert_int_eq(policy_rule_match_text("GET /a//b", "GET", "/x",
	    &why), -1);
}
END_TEST

START_TEST(many_patterns)
{
	/* 10,000 exact and wildcard patterns: each host finds its own */
	struct config cfg;
	struct policy *p;
	struct msg_verdict v;
	char	*text, err[CONFIG_ERR_MAX], host[64];
	size_t	 cap = 64 * 20000, len = 0;
	int	 i;

	ck_assert_ptr_nonnull(text = malloc(cap));
	len += (size_t)snprintf(text + len, cap - len,
	    "[network]\nallow = [\n");
	for (i = 0; i < 5000; i++)
		len += (size_t)snprintf(text + len, cap - len,
		    "  \"h%d.example\",\n  \"*.w%d.example\",\n", i, i);
	len += (size_t)snprintf(text + len, cap - len, "]\n");
	ck_assert_msg(config_parse_buf(&cfg, "many.toml", text, len, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(p = policy_build(&cfg, NULL, err, sizeof(err)));
	for (i = 0; i < 5000; i += 97) {
		snprintf(host, sizeof(host), "h%d.example", i);
		policy_conn_check(p, host, NULL, 443, &v);
		ck_assert_uint_eq(v.allow, VERDICT_ALLOW);
		ck_assert_uint_eq(v.line, (unsigned)(3 + 2 * i));
		snprintf(host, sizeof(host), "a.b.w%d.example", i);
		policy_conn_check(p, host, NULL, 443, &v);
		ck_assert_uint_eq(v.allow, VERDICT_ALLOW);
		ck_assert_uint_eq(v.line, (unsigned)(4 + 2 * i));
		snprintf(host, sizeof(host), "w%d.example", i);
		policy_conn_check(p, host, NULL, 443, &v);
		ck_assert_uint_eq(v.allow, VERDICT_DENY);
	}
	policy_free(p);
	config_free(&cfg);
	free(text);
}
END_TEST

START_TEST(settings_merge)
{
	struct config u, c;
	struct policy *p;
	char	 err[CONFIG_ERR_MAX];
	const char *ut = "[network]\nhttp = true\nprivate_addresses = true\n"
	    "[credentials.\"api.anthropic.com\"]\nheader = \"x-api-key\"\n"
	    "env = \"USER_KEY\"\n[upstream]\n"
	    "resolve = [\"a.test:443:127.0.0.1:8443\"]\n[vm]\ncpus = 4\n"
	    "memory_mb = 4096\n";
	const char *ct = "[network]\nhttp = false\n"
	    "[credentials.\"API.anthropic.com\"]\nheader = \"authorization\"\n"
	    "env = \"CORP_KEY\"\n[vm]\nmemory_mb = 1024\n";

	ck_assert(config_parse_buf(&u, "user.toml", ut, strlen(ut), err,
	    sizeof(err)) == 0);
	ck_assert(config_parse_buf(&c, "corp.toml", ct, strlen(ct), err,
	    sizeof(err)) == 0);
	ck_assert_ptr_nonnull(p = policy_build(&u, &c, err, sizeof(err)));
	ck_assert(!policy_http_enabled(p));
	ck_assert(policy_private_addresses(p));
	ck_assert_int_eq(policy_vm_cpus(p), 4);
	ck_assert_int_eq(policy_vm_memory_mb(p), 1024);
	ck_assert_uint_eq(policy_nresolve(p), 1);
	ck_assert_str_eq(policy_resolve(p, 0)->addr, "127.0.0.1");
	ck_assert_uint_eq(policy_resolve(p, 0)->addr_port, 8443);
	ck_assert_uint_eq(policy_ncredentials(p), 1);
	ck_assert_str_eq(policy_credential(p, 0)->env, "CORP_KEY");
	ck_assert_str_eq(policy_credential(p, 0)->host, "api.anthropic.com");
	ck_assert_str_eq(policy_credential(p, 0)->file, "corp.toml");
	policy_free(p);
	config_free(&u);
	config_free(&c);
}
END_TEST

/* Build from two documents (either may be NULL) and take [workspace]. */
static void
ws_merge(const char *ut, const char *ct, struct policy_workspace *ws)
{
	struct config u, c;
	struct policy *p;
	char	 err[CONFIG_ERR_MAX];

	config_init(&u);
	config_init(&c);
	if (ut != NULL)
		ck_assert_msg(config_parse_buf(&u, "user.toml", ut, strlen(ut),
		    err, sizeof(err)) == 0, "%s", err);
	if (ct != NULL)
		ck_assert_msg(config_parse_buf(&c, "corp.toml", ct, strlen(ct),
		    err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(p = policy_build(ut != NULL ? &u : NULL,
	    ct != NULL ? &c : NULL, err, sizeof(err)));
	policy_workspace(p, ws);
	policy_free(p);
	config_free(&u);
	config_free(&c);
}

START_TEST(workspace_merge)
{
	struct policy_workspace ws;

	/* defaults: allowed, read-write, nothing decided */
	ws_merge(NULL, NULL, &ws);
	ck_assert(ws.allow && !ws.readonly);
	ck_assert_str_eq(ws.allow_file, "");
	ck_assert_str_eq(ws.ro_file, "");
	ws_merge("[workspace]\nallow = true\nreadonly = false\n", NULL, &ws);
	ck_assert(ws.allow && !ws.readonly);
	ck_assert_str_eq(ws.allow_file, "");

	/* corp allow = false beats user allow = true */
	ws_merge("[workspace]\nallow = true\n",
	    "# corp\n[workspace]\nallow = false\n", &ws);
	ck_assert(!ws.allow);
	ck_assert_str_eq(ws.allow_file, "corp.toml");
	ck_assert_uint_eq(ws.allow_line, 3);

	/* the user may forbid it alone */
	ws_merge("[workspace]\nallow = false\n", "[workspace]\nallow = true\n",
	    &ws);
	ck_assert(!ws.allow);
	ck_assert_str_eq(ws.allow_file, "user.toml");
	ck_assert_uint_eq(ws.allow_line, 2);

	/* user readonly = true holds against corp readonly = false */
	ws_merge("[workspace]\n\nreadonly = true\n",
	    "[workspace]\nreadonly = false\n", &ws);
	ck_assert(ws.allow && ws.readonly);
	ck_assert_str_eq(ws.ro_file, "user.toml");
	ck_assert_uint_eq(ws.ro_line, 3);

	/* corp readonly = true cannot be loosened by the user */
	ws_merge("[workspace]\nreadonly = false\n",
	    "[workspace]\nreadonly = true\n", &ws);
	ck_assert(ws.readonly);
	ck_assert_str_eq(ws.ro_file, "corp.toml");
	ck_assert_uint_eq(ws.ro_line, 2);

	/* both decide: corp is the one named */
	ws_merge("[workspace]\nallow = false\nreadonly = true\n",
	    "[vm]\ncpus = 2\n[workspace]\nreadonly = true\nallow = false\n",
	    &ws);
	ck_assert(!ws.allow && ws.readonly);
	ck_assert_str_eq(ws.allow_file, "corp.toml");
	ck_assert_uint_eq(ws.allow_line, 5);
	ck_assert_str_eq(ws.ro_file, "corp.toml");
	ck_assert_uint_eq(ws.ro_line, 4);
}
END_TEST

START_TEST(workspace_show)
{
	struct config c;
	struct policy *p;
	char	 err[CONFIG_ERR_MAX], *out = NULL;
	size_t	 len = 0;
	FILE	*fp;
	const char *ct = "[workspace]\nreadonly = true\n";

	ck_assert(config_parse_buf(&c, "corp.toml", ct, strlen(ct), err,
	    sizeof(err)) == 0);
	ck_assert_ptr_nonnull(p = policy_build(NULL, &c, err, sizeof(err)));
	ck_assert_ptr_nonnull(fp = open_memstream(&out, &len));
	policy_show(p, fp);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(out, "[workspace]\nallow = true "));
	ck_assert_ptr_nonnull(strstr(out, "readonly = true"));
	ck_assert_ptr_nonnull(strstr(out, " corp.toml:2\n"));
	free(out);
	policy_free(p);
	config_free(&c);
}
END_TEST

START_TEST(show_names_origins)
{
	struct policy *p = build_pair("user-basic.toml", "corp.toml");
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*fp;

	ck_assert_ptr_nonnull(fp = open_memstream(&out, &len));
	policy_show(p, fp);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(out, "corp.toml:4"));
	ck_assert_ptr_nonnull(strstr(out, "user-basic.toml:15"));
	ck_assert_ptr_nonnull(strstr(out, "GET /repos/**"));
	free(out);
	policy_free(p);
}
END_TEST

START_TEST(audit_line)
{
	struct audit_record r;
	struct msg_verdict v;
	char	 buf[AUDIT_LINE_MAX];
	size_t	 n;
	const char path[] = "/a\"b\\c\nd\x01\xff";

	memset(&v, 0, sizeof(v));
	v.allow = VERDICT_DENY;
	v.line = 7;
	snprintf(v.rule, sizeof(v.rule), "block \"x\"");
	snprintf(v.file, sizeof(v.file), "/home/u/.capsem/user.toml");
	audit_from_verdict(&r, "s1", "request", "x.example", 443, "GET",
	    path, sizeof(path) - 1, &v);
	r.when.tv_sec = 1700000000;
	r.when.tv_nsec = 123456789;
	n = audit_format(&r, buf, sizeof(buf));
	ck_assert_uint_gt(n, 0);
	ck_assert_str_eq(buf, "{\"time\":\"2023-11-14T22:13:20.123Z\","
	    "\"session\":\"s1\",\"event\":\"request\",\"host\":\"x.example\","
	    "\"port\":443,\"method\":\"GET\","
	    "\"path\":\"/a\\\"b\\\\c\\nd\\u0001\\u00ff\",\"verdict\":\"deny\","
	    "\"rule\":\"block \\\"x\\\"\","
	    "\"source\":\"/home/u/.capsem/user.toml:7\"}\n");
	ck_assert_uint_eq(audit_format(&r, buf, 40), 0);
}
END_TEST

START_TEST(audit_event_line)
{
	struct msg_audit_event ev;
	struct audit_record r;
	char	 buf[AUDIT_LINE_MAX];

	memset(&ev, 0, sizeof(ev));
	ev.kind = AUDIT_REQUEST;
	ev.status = 200;
	ev.port = 443;
	ev.allow = VERDICT_ALLOW;
	ev.bytes_in = 10;
	ev.bytes_out = 2000;
	ev.duration_us = 1500;
	ev.line = 3;
	snprintf(ev.host, sizeof(ev.host), "api.anthropic.com");
	snprintf(ev.method, sizeof(ev.method), "POST");
	snprintf(ev.path, sizeof(ev.path), "/v1/messages");
	snprintf(ev.rule, sizeof(ev.rule), "allow \"api.anthropic.com\"");
	snprintf(ev.file, sizeof(ev.file), "(built-in)");
	audit_from_event(&r, "abc", &ev);
	r.when.tv_sec = 0;
	r.when.tv_nsec = 0;
	ck_assert_uint_gt(audit_format(&r, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "{\"time\":\"1970-01-01T00:00:00.000Z\","
	    "\"session\":\"abc\",\"event\":\"request\","
	    "\"host\":\"api.anthropic.com\",\"port\":443,\"method\":\"POST\","
	    "\"path\":\"/v1/messages\",\"verdict\":\"allow\","
	    "\"rule\":\"allow \\\"api.anthropic.com\\\"\","
	    "\"source\":\"(built-in):3\",\"status\":200,\"bytes_in\":10,"
	    "\"bytes_out\":2000,\"duration_us\":1500}\n");
}
END_TEST

START_TEST(audit_workspace_and_numbers)
{
	struct msg_audit_event ev;
	struct audit_record r;
	char	 buf[AUDIT_LINE_MAX];

	audit_from_workspace(&r, "abc", "/home/u/pro\"j\xc3\xa9", true);
	r.when.tv_sec = 4102444799;	/* 2099-12-31T23:59:59 */
	r.when.tv_nsec = 999999999;
	ck_assert_uint_gt(audit_format(&r, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "{\"time\":\"2099-12-31T23:59:59.999Z\","
	    "\"session\":\"abc\",\"event\":\"workspace\","
	    "\"path\":\"/home/u/pro\\\"j\\u00c3\\u00a9\",\"mode\":\"ro\"}\n");
	memset(&ev, 0, sizeof(ev));
	ev.kind = AUDIT_DNS;
	ev.status = 3;
	ev.port = 53;
	ev.bytes_in = UINT64_MAX;
	ev.bytes_out = 0;
	ev.duration_us = 1000000007;
	ev.line = 4294967295u;
	strcpy(ev.host, "x.test");
	strcpy(ev.rule, "r");
	strcpy(ev.file, "f");
	audit_from_event(&r, "s", &ev);
	r.when.tv_sec = 0;
	r.when.tv_nsec = 5000000;
	ck_assert_uint_gt(audit_format(&r, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "{\"time\":\"1970-01-01T00:00:00.005Z\","
	    "\"session\":\"s\",\"event\":\"dns\",\"host\":\"x.test\","
	    "\"port\":53,\"verdict\":\"deny\",\"rule\":\"r\","
	    "\"source\":\"f:4294967295\",\"status\":3,"
	    "\"bytes_in\":18446744073709551615,\"bytes_out\":0,"
	    "\"duration_us\":1000000007}\n");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("policy");
	TCase	*tc = tcase_create("policy");
	SRunner	*sr;
	int	 failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, verdict_table);
	tcase_add_test(tc, verdict_names_rule);
	tcase_add_test(tc, sni_must_match);
	tcase_add_test(tc, options_asterisk);
	tcase_add_test(tc, path_parameters_opt_in);
	tcase_add_test(tc, no_policy_denies);
	tcase_add_loop_test(tc, path_normalize, 0,
	    (int)(sizeof(paths) / sizeof(paths[0])));
	tcase_add_test(tc, path_normalize_len);
	tcase_add_test(tc, rule_text_match);
	tcase_add_test(tc, many_patterns);
	tcase_add_test(tc, settings_merge);
	tcase_add_test(tc, show_names_origins);
	tcase_add_test(tc, workspace_merge);
	tcase_add_test(tc, workspace_show);
	tcase_add_test(tc, audit_line);
	tcase_add_test(tc, audit_event_line);
	tcase_add_test(tc, audit_workspace_and_numbers);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
