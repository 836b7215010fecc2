/* Unit tests: ClientHello / SNI / ALPN reader. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clienthello.h"

/* A byte builder for hand-made ClientHellos. */
struct bb {
	uint8_t	 b[20000];
	size_t	 n;
};

static void
put(struct bb *bb, const void *p, size_t n)
{
	ck_assert_uint_le(bb->n + n, sizeof(bb->b));
	memcpy(bb->b + bb->n, p, n);
	bb->n += n;
}

static void
put8(struct bb *bb, unsigned v)
{
	uint8_t c = (uint8_t)v;

	put(bb, &c, 1);
}

static void
put16(struct bb *bb, unsigned v)
{
	put8(bb, v >> 8);
	put8(bb, v);
}

static void
set16(struct bb *bb, size_t at, size_t v)
{
	bb->b[at] = (uint8_t)(v >> 8);
	bb->b[at + 1] = (uint8_t)v;
}

/* extensions: raw bytes of the extensions block (without its length) */
static void
build(struct bb *bb, const uint8_t *exts, size_t extlen, int with_exts)
{
	static const uint8_t random[32];
	size_t rec, hs;

	bb->n = 0;
	put8(bb, 22);
	put16(bb, 0x0301);
	rec = bb->n;
	put16(bb, 0);
	put8(bb, 1);
	hs = bb->n;
	put8(bb, 0);
	put16(bb, 0);
	put16(bb, 0x0303);
	put(bb, random, 32);
	put8(bb, 0);		/* session id */
	put16(bb, 4);
	put16(bb, 0xc02b);
	put16(bb, 0xcca9);
	put8(bb, 1);
	put8(bb, 0);
	if (with_exts) {
		put16(bb, extlen);
		put(bb, exts, extlen);
	}
	set16(bb, rec, bb->n - rec - 2);
	bb->b[hs] = 0;
	set16(bb, hs + 1, bb->n - hs - 3);
}

static size_t
ext_sni(uint8_t *out, const char *name)
{
	size_t	 l = strlen(name), n = 0;

	out[n++] = 0; out[n++] = 0;
	out[n++] = (uint8_t)((l + 5) >> 8); out[n++] = (uint8_t)(l + 5);
	out[n++] = (uint8_t)((l + 3) >> 8); out[n++] = (uint8_t)(l + 3);
	out[n++] = 0;
	out[n++] = (uint8_t)(l >> 8); out[n++] = (uint8_t)l;
	memcpy(out + n, name, l);
	return n + l;
}

static size_t
ext_alpn(uint8_t *out, const char *const *protos, size_t nprotos)
{
	size_t	 n = 6, i, list = 0;

	for (i = 0; i < nprotos; i++) {
		size_t l = strlen(protos[i]);

		out[n++] = (uint8_t)l;
		memcpy(out + n, protos[i], l);
		n += l;
		list += l + 1;
	}
	out[0] = 0; out[1] = 16;
	out[2] = (uint8_t)((list + 2) >> 8); out[3] = (uint8_t)(list + 2);
	out[4] = (uint8_t)(list >> 8); out[5] = (uint8_t)list;
	return n;
}

START_TEST(test_sni_alpn)
{
	static const char *const protos[] = { "h2", "http/1.1" };
	struct bb bb;
	struct clienthello ch;
	uint8_t exts[512];
	size_t n, i;

	n = ext_sni(exts, "API.Example.COM");
	n += ext_alpn(exts + n, protos, 2);
	build(&bb, exts, n, 1);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_OK);
	ck_assert_str_eq(ch.host, "api.example.com");
	ck_assert_uint_eq(ch.host_len, 15);
	ck_assert(ch.alpn_present);
	ck_assert(ch.alpn_http11);
	ck_assert_uint_eq(ch.alpn_count, 2);
	ck_assert_str_eq(ch.alpn[0], "h2");
	ck_assert_uint_eq(ch.record_len, bb.n);
	/* every prefix is "need more", never a verdict */
	for (i = 0; i < bb.n; i++)
		ck_assert_int_eq(clienthello_parse(bb.b, i, &ch), CH_NEED_MORE);
}
END_TEST

START_TEST(test_no_sni)
{
	static const char *const protos[] = { "http/1.1" };
	struct bb bb;
	struct clienthello ch;
	uint8_t exts[64];
	size_t n;

	build(&bb, NULL, 0, 0);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_NO_SNI);
	n = ext_alpn(exts, protos, 1);
	build(&bb, exts, n, 1);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_NO_SNI);
	ck_assert(ch.alpn_http11);
}
END_TEST

START_TEST(test_not_tls)
{
	struct clienthello ch;

	ck_assert_int_eq(clienthello_parse((const uint8_t *)"GET / HTTP/1.1\r\n",
	    16, &ch), CH_NOT_TLS);
	ck_assert_int_eq(clienthello_parse((const uint8_t *)"\x16\x02", 2, &ch),
	    CH_NOT_TLS);
	ck_assert_int_eq(clienthello_parse((const uint8_t *)"\x16\x03\x09", 3,
	    &ch), CH_NOT_TLS);
	ck_assert_int_eq(clienthello_parse((const uint8_t *)"\x80\x2e\x01", 3,
	    &ch), CH_NOT_TLS);	/* SSLv2 compatible hello */
	ck_assert_int_eq(clienthello_parse((const uint8_t *)"\x16", 1, &ch),
	    CH_NEED_MORE);
}
END_TEST

START_TEST(test_bad_names)
{
	static const char *const bad[] = {
		"a..b", ".a", "a..", ".", "a b", "a/b", "a\xc3\xa9",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	};
	struct bb bb;
	struct clienthello ch;
	uint8_t exts[512];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = ext_sni(exts, bad[i]);
		build(&bb, exts, n, 1);
		ck_assert_msg(clienthello_parse(bb.b, bb.n, &ch) == CH_BAD,
		    "accepted %s", bad[i]);
	}
}
END_TEST

/* One trailing dot is the same name (capsem.toml(5)); issue 18. */
START_TEST(test_trailing_dot)
{
	struct bb bb;
	struct clienthello ch;
	uint8_t exts[512];
	size_t n;

	n = ext_sni(exts, "API.Example.test.");
	build(&bb, exts, n, 1);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_OK);
	ck_assert_str_eq(ch.host, "api.example.test");
	n = ext_sni(exts, "a_b.example.");
	build(&bb, exts, n, 1);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_OK);
	ck_assert_str_eq(ch.host, "a_b.example");
}
END_TEST

START_TEST(test_malformed)
{
	struct bb bb;
	struct clienthello ch;
	uint8_t exts[512];
	size_t n;

	/* two server_name extensions */
	n = ext_sni(exts, "a.test");
	n += ext_sni(exts + n, "b.test");
	build(&bb, exts, n, 1);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_BAD);

	/* two host_names in one extension */
	n = ext_sni(exts, "a.test");
	build(&bb, exts, n, 1);
	{
		/* append a second name inside the list */
		uint8_t e2[64];
		size_t m = 0;

		memcpy(e2, exts, n);
		m = n;
		e2[m++] = 0; e2[m++] = 0; e2[m++] = 1; e2[m++] = 'b';
		e2[2] = 0; e2[3] = (uint8_t)(m - 4);
		e2[4] = 0; e2[5] = (uint8_t)(m - 6);
		build(&bb, e2, m, 1);
		ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_BAD);
	}

	/* extension length running past the block */
	n = ext_sni(exts, "a.test");
	exts[3] += 1;
	build(&bb, exts, n, 1);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_BAD);

	/* extensions block length short by one */
	n = ext_sni(exts, "a.test");
	build(&bb, exts, n, 1);
	set16(&bb, 5 + 4 + 2 + 32 + 1 + 2 + 4 + 2, n - 1);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_BAD);

	/* empty server_name extension (only valid in ServerHello) */
	exts[0] = 0; exts[1] = 0; exts[2] = 0; exts[3] = 0;
	build(&bb, exts, 4, 1);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_BAD);

	/* session id longer than 32 */
	build(&bb, NULL, 0, 0);
	bb.b[5 + 4 + 2 + 32] = 33;
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_BAD);

	/* odd cipher suite length */
	build(&bb, NULL, 0, 0);
	set16(&bb, 5 + 4 + 2 + 32 + 1, 3);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_BAD);

	/* not a ClientHello handshake message */
	build(&bb, NULL, 0, 0);
	bb.b[5] = 2;
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_BAD);

	/* record length over 2^14 */
	build(&bb, NULL, 0, 0);
	set16(&bb, 3, 16385);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_BAD);

	/* handshake shorter than the record: trailing message */
	build(&bb, NULL, 0, 0);
	put8(&bb, 0);
	set16(&bb, 3, bb.n - 5);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_BAD);
}
END_TEST

START_TEST(test_fragmented)
{
	struct bb bb;
	struct clienthello ch;
	uint8_t exts[512];
	size_t n;

	n = ext_sni(exts, "a.test");
	build(&bb, exts, n, 1);
	/* cut the record after 20 bytes of handshake: the rest would follow
	 * in a second record */
	set16(&bb, 3, 20);
	ck_assert_int_eq(clienthello_parse(bb.b, 25, &ch), CH_FRAGMENTED);
}
END_TEST

START_TEST(test_alpn_bounds)
{
	struct bb bb;
	struct clienthello ch;
	uint8_t exts[64];

	/* ALPN with an empty protocol name */
	memcpy(exts, "\x00\x10\x00\x03\x00\x01\x00", 7);
	build(&bb, exts, 7, 1);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_BAD);
	/* ALPN name running past its list */
	memcpy(exts, "\x00\x10\x00\x04\x00\x02\x05h", 8);
	build(&bb, exts, 8, 1);
	ck_assert_int_eq(clienthello_parse(bb.b, bb.n, &ch), CH_BAD);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("clienthello");
	TCase	*tc = tcase_create("parse");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_sni_alpn);
	tcase_add_test(tc, test_no_sni);
	tcase_add_test(tc, test_not_tls);
	tcase_add_test(tc, test_bad_names);
	tcase_add_test(tc, test_trailing_dot);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_fragmented);
	tcase_add_test(tc, test_alpn_bounds);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
