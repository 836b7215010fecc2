/*
 * jsonin: validation, lookups by path, member names, and the string
 * scanner with its two ways of taking \u escapes.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "jsonin.h"

#define J(s)	s, sizeof(s) - 1

START_TEST(valid)
{
	ck_assert_int_eq(json_valid(J("{}")), 1);
	ck_assert_int_eq(json_valid(J(" [1, -2.5e3, true, false, null] ")), 1);
	ck_assert_int_eq(json_valid(J("{\"a\":{\"b\":[\"\\u00e9\\n\"]}}")), 1);
	ck_assert_int_eq(json_valid(J("{\"a\":1,}")), 0);
	ck_assert_int_eq(json_valid(J("{\"a\" 1}")), 0);
	ck_assert_int_eq(json_valid(J("\"\\x\"")), 0);
	ck_assert_int_eq(json_valid(J("\"\\u12g4\"")), 0);
	ck_assert_int_eq(json_valid(J("\"tab\there\"")), 0);
	ck_assert_int_eq(json_valid(J("{} {}")), 0);
	ck_assert_int_eq(json_valid(J("1.")), 0);
	ck_assert_int_eq(json_valid(J("tru")), 0);
	ck_assert_int_eq(json_valid(J("")), 0);
}
END_TEST

START_TEST(depth)
{
	char	 buf[2 * (JSON_DEPTH_MAX + 2)];
	size_t	 n;

	for (n = 0; n < JSON_DEPTH_MAX + 1; n++) {
		buf[n] = '[';
		buf[2 * (JSON_DEPTH_MAX + 1) - 1 - n] = ']';
	}
	ck_assert_int_eq(json_valid(buf, 2 * (JSON_DEPTH_MAX + 1)), 1);
	for (n = 0; n < JSON_DEPTH_MAX + 2; n++) {
		buf[n] = '[';
		buf[2 * (JSON_DEPTH_MAX + 2) - 1 - n] = ']';
	}
	ck_assert_int_eq(json_valid(buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(lookups)
{
	const char doc[] = "{\"user\":\"agent\",\"files\":{\"rootfs.erofs\":"
	    "{\"size\":4096,\"sha256\":\"ab\\/cd\"}},\"odd\":\"\\u00e9\\u0041\","
	    "\"neg\":-1,\"big\":18446744073709551616,\"f\":1.5}";
	char	 out[16];
	unsigned long long v;

	ck_assert_int_eq(json_get_string(J(doc), "user", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "agent");
	ck_assert_int_eq(json_get_string(J(doc), "files/rootfs.erofs/sha256",
	    out, sizeof(out)), 0);
	ck_assert_str_eq(out, "ab/cd");
	ck_assert_int_eq(json_get_string(J(doc), "odd", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "?A");
	ck_assert_int_eq(json_get_string(J(doc), "user", out, 5), -1);
	ck_assert_int_eq(json_get_string(J(doc), "user", out, 6), 0);
	ck_assert_int_eq(json_get_string(J(doc), "files", out, sizeof(out)),
	    -1);
	ck_assert_int_eq(json_get_string(J(doc), "nothing", out, sizeof(out)),
	    -1);
	ck_assert_int_eq(json_get_uint(J(doc), "files/rootfs.erofs/size", &v),
	    0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(json_get_uint(J(doc), "neg", &v), -1);
	ck_assert_int_eq(json_get_uint(J(doc), "big", &v), -1);
	ck_assert_int_eq(json_get_uint(J(doc), "f", &v), -1);
	ck_assert_int_eq(json_get_uint(J(doc), "user", &v), -1);
}
END_TEST

static void
collect(const char *key, void *arg)
{
	char	*all = arg;

	strcat(all, key);
	strcat(all, ",");
}

START_TEST(each_key)
{
	const char doc[] = "{\"agents\":{\"claude\":{\"v\":1},\"codex\":[]},"
	    "\"e\":{}}";
	char	 all[64] = "";

	ck_assert_int_eq(json_each_key(J(doc), "agents", collect, all), 2);
	ck_assert_str_eq(all, "claude,codex,");
	ck_assert_int_eq(json_each_key(J(doc), "e", collect, all), 0);
	ck_assert_int_eq(json_each_key(J(doc), "none", collect, all), -1);
}
END_TEST

struct got {
	char	 bytes[32];
	size_t	 n;
	uint32_t cps[4];
	size_t	 ncp;
};

static int
got_byte(void *arg, char c)
{
	struct got *g = arg;

	if (g->n == sizeof(g->bytes))
		return -1;
	g->bytes[g->n++] = c;
	return 0;
}

static int
got_escape(void *arg, uint32_t cp)
{
	struct got *g = arg;

	if (g->ncp == 4)
		return -1;
	g->cps[g->ncp++] = cp;
	return 0;
}

START_TEST(scan_string_sinks)
{
	const char s[] = "\"a\\tb\\ud83d\\ude00\\u00ff\"rest";
	struct got g;
	struct json_string_sink sink = { got_byte, got_escape, true, &g };
	struct json_cur c = { s, s + sizeof(s) - 1 };

	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(json_scan_string(&c, &sink), 0);
	ck_assert_str_eq(c.p, "rest");
	ck_assert_uint_eq(g.n, 3);
	ck_assert_mem_eq(g.bytes, "a\tb", 3);
	ck_assert_uint_eq(g.ncp, 2);
	ck_assert_uint_eq(g.cps[0], 0x1f600);
	ck_assert_uint_eq(g.cps[1], 0xff);

	/* Without joining, each surrogate escape comes on its own. */
	memset(&g, 0, sizeof(g));
	sink.join_surrogates = false;
	c.p = s;
	ck_assert_int_eq(json_scan_string(&c, &sink), 0);
	ck_assert_uint_eq(g.ncp, 3);
	ck_assert_uint_eq(g.cps[0], 0xd83d);
	ck_assert_uint_eq(g.cps[1], 0xde00);

	/* Only checking; unterminated; a sink that refuses. */
	c.p = s;
	ck_assert_int_eq(json_scan_string(&c, NULL), 0);
	c.p = s;
	c.end = s + 5;
	ck_assert_int_eq(json_scan_string(&c, NULL), -1);
	c.p = s;
	c.end = s + sizeof(s) - 1;
	memset(&g, 0, sizeof(g));
	g.ncp = 4;
	ck_assert_int_eq(json_scan_string(&c, &sink), -1);
}
END_TEST

START_TEST(digits)
{
	const char s[] = "0123x";
	struct json_cur c = { s, s + sizeof(s) - 1 };

	ck_assert_uint_eq(json_digits(&c), 4);
	ck_assert_int_eq(*c.p, 'x');
	ck_assert_uint_eq(json_digits(&c), 0);
	c.end = c.p = s + 2;
	ck_assert_uint_eq(json_digits(&c), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("jsonin");
	TCase	*tc = tcase_create("jsonin");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, valid);
	tcase_add_test(tc, depth);
	tcase_add_test(tc, lookups);
	tcase_add_test(tc, each_key);
	tcase_add_test(tc, scan_string_sinks);
	tcase_add_test(tc, digits);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
