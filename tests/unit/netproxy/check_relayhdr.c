/* Unit tests: the guest relay header line. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "relayhdr.h"

static enum relayhdr_result
parse(const char *s, struct relayhdr *h, size_t *n)
{
	return relayhdr_parse((const uint8_t *)s, strlen(s), h, n);
}

START_TEST(test_valid)
{
	struct relayhdr h;
	size_t n;

	ck_assert_int_eq(parse("CAPSEM/1 93.184.216.34 443\nGET", &h, &n),
	    RELAYHDR_OK);
	ck_assert_uint_eq(h.addr, 0x5db8d822u);
	ck_assert_uint_eq(h.port, 443);
	ck_assert_uint_eq(n, strlen("CAPSEM/1 93.184.216.34 443\n"));
	ck_assert_int_eq(parse("CAPSEM/1 0.0.0.0 1\n", &h, &n), RELAYHDR_OK);
	ck_assert_uint_eq(h.addr, 0);
	ck_assert_int_eq(parse("CAPSEM/1 255.255.255.255 65535\n", &h, &n),
	    RELAYHDR_OK);
	ck_assert_uint_eq(h.addr, 0xffffffffu);
	ck_assert_uint_eq(h.port, 65535);
}
END_TEST

START_TEST(test_need_more)
{
	struct relayhdr h;
	size_t n;

	ck_assert_int_eq(parse("", &h, &n), RELAYHDR_NEED_MORE);
	ck_assert_int_eq(parse("CAP", &h, &n), RELAYHDR_NEED_MORE);
	ck_assert_int_eq(parse("CAPSEM/1 1.2.3.4 44", &h, &n),
	    RELAYHDR_NEED_MORE);
}
END_TEST

START_TEST(test_invalid)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\n",
		"CAPSEM/2 1.2.3.4 80\n",
		"capsem/1 1.2.3.4 80\n",
		"CAPSEM/1  1.2.3.4 80\n",
		"CAPSEM/1 1.2.3.4  80\n",
		"CAPSEM/1 1.2.3.4 80 \n",
		"CAPSEM/1 1.2.3.4 80\r\n",
		"CAPSEM/1 01.2.3.4 80\n",
		"CAPSEM/1 1.2.3.4 080\n",
		"CAPSEM/1 256.2.3.4 80\n",
		"CAPSEM/1 1.2.3 80\n",
		"CAPSEM/1 1.2.3.4.5 80\n",
		"CAPSEM/1 1.2.3.4 0\n",
		"CAPSEM/1 1.2.3.4 65536\n",
		"CAPSEM/1 1.2.3.4 99999\n",
		"CAPSEM/1 1.2.3.4 100000\n",
		"CAPSEM/1 1.2.3.4\n",
		"CAPSEM/1 1..3.4 80\n",
		"CAPSEM/1 -1.2.3.4 80\n",
		"CAPSEM/1 1.2.3.4 +80\n",
		"CAPSEM/1 \n",
		"CAPSEM/1 1.2.3.4 8 0\n",
	};
	struct relayhdr h;
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], &h, &n) == RELAYHDR_BAD,
		    "accepted: %s", bad[i]);
}
END_TEST

START_TEST(test_too_long)
{
	uint8_t buf[RELAYHDR_MAX + 8];
	struct relayhdr h;
	size_t n;

	ck_assert_int_eq(relayhdr_parse((const uint8_t *)"CAPSEM/1 1.2.3.4 80\0\n",
	    21, &h, &n), RELAYHDR_BAD);
	memset(buf, '1', sizeof(buf));
	memcpy(buf, "CAPSEM/1 ", 9);
	ck_assert_int_eq(relayhdr_parse(buf, RELAYHDR_MAX, &h, &n),
	    RELAYHDR_BAD);
	ck_assert_int_eq(relayhdr_parse(buf, RELAYHDR_MAX - 1, &h, &n),
	    RELAYHDR_NEED_MORE);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("relayhdr");
	TCase	*tc = tcase_create("parse");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_need_more);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_too_long);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
