/* Unit tests: DNS query reader, answers, synthetic address table. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

/* Build a query for name (dotted) and qtype; edns: add an OPT record. */
static size_t
query(uint8_t *out, const char *name, uint16_t qtype, int edns)
{
	size_t n = 12;
	const char *p = name;

	memset(out, 0, 12);
	out[0] = 0x12; out[1] = 0x34;
	out[2] = 0x01;			/* RD */
	out[5] = 1;
	out[11] = edns ? 1 : 0;
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		out[n++] = (uint8_t)l;
		memcpy(out + n, p, l);
		n += l;
		p += l;
		if (*p == '.')
			p++;
	}
	out[n++] = 0;
	out[n++] = (uint8_t)(qtype >> 8);
	out[n++] = (uint8_t)qtype;
	out[n++] = 0;
	out[n++] = 1;
	if (edns) {
		static const uint8_t opt[] = { 0, 0, 41, 0x10, 0, 0, 0, 0, 0,
		    0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
		memcpy(out + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	return n;
}

START_TEST(test_parse_a)
{
	uint8_t m[512];
	struct dns_query q;
	size_t n = query(m, "Api.GitHub.com", DNS_TYPE_A, 0);

	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_NOERROR);
	ck_assert_str_eq(q.name, "api.github.com");
	ck_assert_uint_eq(q.qtype, DNS_TYPE_A);
	ck_assert_uint_eq(q.id, 0x1234);
	n = query(m, "example.com", DNS_TYPE_AAAA, 1);
	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_NOERROR);
	ck_assert_uint_eq(q.qtype, DNS_TYPE_AAAA);
}
END_TEST

START_TEST(test_malformed)
{
	uint8_t m[512];
	struct dns_query q;
	size_t n;

	n = query(m, "a.test", DNS_TYPE_A, 0);
	ck_assert_int_eq(dns_query_parse(m, 1, &q), -1);
	ck_assert_int_eq(dns_query_parse(m, 11, &q), DNS_RCODE_FORMERR);
	ck_assert_int_eq(dns_query_parse(m, n - 1, &q), DNS_RCODE_FORMERR);
	m[n] = 0;
	ck_assert_int_eq(dns_query_parse(m, n + 1, &q), DNS_RCODE_FORMERR);
	/* two questions */
	m[5] = 2;
	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_FORMERR);
	m[5] = 1;
	/* an answer in a query */
	m[7] = 1;
	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_FORMERR);
	m[7] = 0;
	/* compression pointer in the question */
	m[12] = 0xc0;
	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_FORMERR);
	/* label running past the end */
	m[12] = 60;
	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_FORMERR);
	/* bad byte in a label */
	n = query(m, "a b.test", DNS_TYPE_A, 0);
	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_FORMERR);
	/* a response is never answered */
	n = query(m, "a.test", DNS_TYPE_A, 0);
	m[2] |= 0x80;
	ck_assert_int_eq(dns_query_parse(m, n, &q), -1);
	/* other opcodes */
	n = query(m, "a.test", DNS_TYPE_A, 0);
	m[2] |= 0x28;
	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_NOTIMP);
	/* class CH */
	n = query(m, "a.test", DNS_TYPE_A, 0);
	m[n - 1] = 3;
	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_REFUSED);
	/* OPT with a bad option length */
	n = query(m, "a.test", DNS_TYPE_A, 1);
	m[n - 9] = 9;
	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_FORMERR);
}
END_TEST

START_TEST(test_long_names)
{
	uint8_t m[600];
	char name[300];
	struct dns_query q;
	size_t n;

	/* 4 labels of 63 = 255 wire bytes with the root: too long for text */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[255] = '\0';
	n = query(m, name, DNS_TYPE_A, 0);
	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_FORMERR);
	name[253] = '\0';		/* 253 characters: the maximum */
	n = query(m, name, DNS_TYPE_A, 0);
	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_NOERROR);
	ck_assert_uint_eq(strlen(q.name), 253);
	/* a 64-byte label */
	memset(name, 'b', 64);
	name[64] = '\0';
	n = query(m, name, DNS_TYPE_A, 0);
	ck_assert_int_eq(dns_query_parse(m, n, &q), DNS_RCODE_FORMERR);
}
END_TEST

START_TEST(test_answers)
{
	uint8_t m[512], a[DNS_ANSWER_MAX];
	struct dns_query q;
	size_t n, alen;

	n = query(m, "A.test", DNS_TYPE_A, 1);
	ck_assert_int_eq(dns_query_parse(m, n, &q), 0);
	alen = dns_build_response(m, n, &q, DNS_RCODE_NOERROR, 0xc6120001u, a,
	    sizeof(a));
	ck_assert_uint_eq(alen, 12 + q.question_len + 16);
	ck_assert_uint_eq(a[0], 0x12);
	ck_assert_uint_eq(a[2], 0x81);	/* QR, RD */
	ck_assert_uint_eq(a[3], 0x80);	/* RA, NOERROR */
	ck_assert_uint_eq(a[5], 1);
	ck_assert_uint_eq(a[7], 1);
	ck_assert_uint_eq(a[11], 0);	/* no OPT echoed */
	ck_assert(memcmp(a + 12, m + 12, q.question_len) == 0);
	ck_assert(memcmp(a + alen - 4, "\xc6\x12\x00\x01", 4) == 0);

	alen = dns_build_response(m, n, &q, DNS_RCODE_NXDOMAIN, 0, a, sizeof(a));
	ck_assert_uint_eq(alen, 12 + q.question_len);
	ck_assert_uint_eq(a[3] & 0xf, 3);
	ck_assert_uint_eq(a[7], 0);

	alen = dns_build_response(m, 11, NULL, DNS_RCODE_FORMERR, 0, a,
	    sizeof(a));
	ck_assert_uint_eq(alen, 12);
	ck_assert_uint_eq(a[3] & 0xf, 1);
	ck_assert_uint_eq(a[5], 0);
	ck_assert_uint_eq(dns_build_response(m, n, &q, 0, 1, a, 20), 0);
}
END_TEST

START_TEST(test_table)
{
	struct dns_table *t = malloc(sizeof(*t));
	char name[32];
	uint32_t a1, a2, last = 0;
	size_t i;

	ck_assert(t != NULL);
	dns_table_init(t);
	a1 = dns_table_address(t, "a.test");
	a2 = dns_table_address(t, "b.test");
	ck_assert_uint_eq(a1, 0xc6120001u);
	ck_assert_uint_ne(a1, a2);
	ck_assert_uint_eq(dns_table_address(t, "a.test"), a1);
	ck_assert_str_eq(dns_table_name(t, a2), "b.test");
	ck_assert_ptr_null(dns_table_name(t, 0xc6120000u));
	ck_assert_ptr_null(dns_table_name(t, 0x7f000001u));
	for (i = 2; i < DNS_TABLE_MAX; i++) {
		uint32_t a;

		snprintf(name, sizeof(name), "n%zu.test", i);
		a = dns_table_address(t, name);
		ck_assert(dns_is_synthetic(a));
		ck_assert_uint_ne(a & 0xff, 0);
		ck_assert_uint_ne(a & 0xff, 255);
		ck_assert_uint_gt(a, last);
		last = a;
		ck_assert_str_eq(dns_table_name(t, a), name);
	}
	/* full: known names still answer, new ones do not */
	ck_assert_uint_eq(dns_table_address(t, "new.test"), 0);
	ck_assert_uint_eq(dns_table_address(t, "b.test"), a2);
	/* the address of denied names is synthetic and never a table's */
	ck_assert(dns_is_synthetic(DNS_SYNTH_DENIED));
	ck_assert_uint_gt(DNS_SYNTH_DENIED, last);
	ck_assert_ptr_null(dns_table_name(t, DNS_SYNTH_DENIED));
	free(t);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("dns");
	TCase	*tc = tcase_create("parse");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_parse_a);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_long_names);
	tcase_add_test(tc, test_answers);
	tcase_add_test(tc, test_table);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
