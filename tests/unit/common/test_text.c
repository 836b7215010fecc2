/* text.h: hex digit values, UTF-8 encoding, FNV-1a. */
#include <check.h>
#include <string.h>

#include "text.h"

START_TEST(hex_digits)
{
	ck_assert_int_eq(hex_digit_value('0'), 0);
	ck_assert_int_eq(hex_digit_value('9'), 9);
	ck_assert_int_eq(hex_digit_value('a'), 10);
	ck_assert_int_eq(hex_digit_value('f'), 15);
	ck_assert_int_eq(hex_digit_value('A'), 10);
	ck_assert_int_eq(hex_digit_value('F'), 15);
	ck_assert_int_eq(hex_digit_value('g'), -1);
	ck_assert_int_eq(hex_digit_value('G'), -1);
	ck_assert_int_eq(hex_digit_value('/'), -1);
	ck_assert_int_eq(hex_digit_value(':'), -1);
	ck_assert_int_eq(hex_digit_value(' '), -1);
	ck_assert_int_eq(hex_digit_value(0xe6), -1);
	ck_assert_int_eq(hex_digit_value(-1), -1);
}
END_TEST

static void
check_utf8(uint32_t cp, const char *want, size_t wantlen)
{
	char	 out[UTF8_ENCODED_MAX];
	size_t	 n;

	n = utf8_encode(cp, out);
	ck_assert_uint_eq(n, wantlen);
	ck_assert_mem_eq(out, want, wantlen);
}

START_TEST(utf8)
{
	check_utf8(0x41, "A", 1);
	check_utf8(0x7f, "\x7f", 1);
	check_utf8(0x80, "\xc2\x80", 2);
	check_utf8(0xe9, "\xc3\xa9", 2);
	check_utf8(0x7ff, "\xdf\xbf", 2);
	check_utf8(0x800, "\xe0\xa0\x80", 3);
	check_utf8(0x20ac, "\xe2\x82\xac", 3);
	check_utf8(0xffff, "\xef\xbf\xbf", 3);
	check_utf8(0x10000, "\xf0\x90\x80\x80", 4);
	check_utf8(0x1f600, "\xf0\x9f\x98\x80", 4);
	check_utf8(0x10ffff, "\xf4\x8f\xbf\xbf", 4);
}
END_TEST

START_TEST(fnv1a)
{
	/* The published FNV-1a 32-bit test values. */
	ck_assert_uint_eq(fnv1a32("", 0), 0x811c9dc5u);
	ck_assert_uint_eq(fnv1a32("a", 1), 0xe40c292cu);
	ck_assert_uint_eq(fnv1a32("foobar", 6), 0xbf9cf968u);
	/* Bytes >= 0x80 count as unsigned. */
	ck_assert_uint_ne(fnv1a32("\xff", 1), fnv1a32("\x7f", 1));
	ck_assert_uint_eq(fnv1a32("example.com", 11),
	    fnv1a32("example.com!", 11));
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("text");
	TCase	*tc = tcase_create("text");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, hex_digits);
	tcase_add_test(tc, utf8);
	tcase_add_test(tc, fnv1a);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
