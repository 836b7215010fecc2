/* Unit tests: the stub resolver's resolv.conf reader, query builder and
 * strict answer reader. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolv.h"

#define ID	0xbeef

/* An answer builder: header, our question, then records appended. */
struct msg {
	uint8_t	 b[RESOLV_ANSWER_MAX + 64];
	size_t	 n;
};

static void
put8(struct msg *m, uint8_t v)
{
	m->b[m->n++] = v;
}

static void
put16(struct msg *m, uint16_t v)
{
	put8(m, (uint8_t)(v >> 8));
	put8(m, (uint8_t)v);
}

static void
put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

static void
put_name(struct msg *m, const char *name)
{
	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		put8(m, (uint8_t)l);
		memcpy(m->b + m->n, name, l);
		m->n += l;
		name += l;
		if (*name == '.')
			name++;
	}
	put8(m, 0);
}

static void
header(struct msg *m, uint16_t id, uint16_t flags, uint16_t an)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, 1);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

static void
question(struct msg *m, const char *name)
{
	put_name(m, name);
	put16(m, 1);
	put16(m, 1);
}

static void
rr_a(struct msg *m, const char *owner, uint32_t ttl, uint32_t addr)
{
	if (owner == NULL) {		/* pointer to the question name */
		put8(m, 0xc0);
		put8(m, 12);
	} else
		put_name(m, owner);
	put16(m, 1);
	put16(m, 1);
	put32(m, ttl);
	put16(m, 4);
	put32(m, addr);
}

static void
rr_cname(struct msg *m, const char *owner, const char *target)
{
	size_t	 lenpos;

	put_name(m, owner);
	put16(m, 5);
	put16(m, 1);
	put32(m, 60);
	lenpos = m->n;
	put16(m, 0);
	put_name(m, target);
	m->b[lenpos] = (uint8_t)((m->n - lenpos - 2) >> 8);
	m->b[lenpos + 1] = (uint8_t)(m->n - lenpos - 2);
}

START_TEST(test_conf)
{
	static const char text[] =
	    "# comment\n"
	    "search example.com\n"
	    "nameserver 192.0.2.1\n"
	    "  nameserver\t2001:db8::53 # trailing\n"
	    "nameserver fe80::1%eth0\n"
	    "nameserver not-an-address\n"
	    "nameservers 10.0.0.1\n"
	    "nameserver 192.0.2.2\n"
	    "nameserver 192.0.2.3\n";
	struct resolv_conf rc;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;

	ck_assert_uint_eq(resolv_conf_parse(text, strlen(text), &rc), 3);
	sin = (struct sockaddr_in *)&rc.ns[0];
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0xc0000201u);
	ck_assert_uint_eq(ntohs(sin->sin_port), 53);
	sin6 = (struct sockaddr_in6 *)&rc.ns[1];
	ck_assert_int_eq(sin6->sin6_family, AF_INET6);
	ck_assert_uint_eq(rc.nslen[1], sizeof(*sin6));
	sin = (struct sockaddr_in *)&rc.ns[2];
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0xc0000202u);
	ck_assert_uint_eq(resolv_conf_parse("", 0, &rc), 0);
	ck_assert_uint_eq(resolv_conf_parse("nameserver", 10, &rc), 0);
	ck_assert_uint_eq(resolv_conf_parse("nameserver 127.0.0.1", 20, &rc),
	    1);
}
END_TEST

START_TEST(test_query)
{
	uint8_t	 q[RESOLV_QUERY_MAX];
	size_t	 n;
	char	 name[300];

	n = resolv_query_build(q, sizeof(q), ID, "api.example.com");
	ck_assert_uint_eq(n, 12 + 17 + 4);
	ck_assert_uint_eq(q[0], 0xbe);
	ck_assert_uint_eq(q[1], 0xef);
	ck_assert_uint_eq(q[2], 0x01);		/* RD */
	ck_assert_uint_eq(q[5], 1);
	ck_assert_int_eq(memcmp(q + 12, "\3api\7example\3com\0", 17), 0);
	ck_assert_uint_eq(q[n - 3], 1);		/* A */
	ck_assert_uint_eq(q[n - 1], 1);		/* IN */
	ck_assert_uint_eq(resolv_query_build(q, sizeof(q), ID, ""), 0);
	ck_assert_uint_eq(resolv_query_build(q, sizeof(q), ID, "a..b"), 0);
	ck_assert_uint_eq(resolv_query_build(q, sizeof(q), ID, ".a"), 0);
	ck_assert_uint_eq(resolv_query_build(q, sizeof(q), ID, "a."), 0);
	ck_assert_uint_eq(resolv_query_build(q, sizeof(q), ID, "A.b"), 0);
	ck_assert_uint_eq(resolv_query_build(q, sizeof(q), ID, "a b"), 0);
	ck_assert_uint_eq(resolv_query_build(q, 20, ID, "api.example.com"), 0);
	memset(name, 'a', 64);
	name[64] = '\0';
	ck_assert_uint_eq(resolv_query_build(q, sizeof(q), ID, name), 0);
	name[63] = '\0';
	ck_assert_uint_ne(resolv_query_build(q, sizeof(q), ID, name), 0);
}
END_TEST

START_TEST(test_answer_a)
{
	struct msg m;
	struct resolv_answer a;

	header(&m, ID, 0x8180, 2);
	question(&m, "api.example.com");
	rr_a(&m, NULL, 300, 0x5db8d822);
	rr_a(&m, "API.Example.COM", 30, 0x5db8d823);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_OK);
	ck_assert_uint_eq(a.naddrs, 2);
	ck_assert_uint_eq(a.addrs[0], 0x5db8d822);
	ck_assert_uint_eq(a.addrs[1], 0x5db8d823);
	ck_assert_uint_eq(a.ttl, 30);
}
END_TEST

START_TEST(test_answer_mismatch)
{
	struct msg m;
	struct resolv_answer a;

	/* wrong id */
	header(&m, ID ^ 1, 0x8180, 1);
	question(&m, "api.example.com");
	rr_a(&m, NULL, 60, 1);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_IGNORE);
	/* not a response */
	header(&m, ID, 0x0100, 1);
	question(&m, "api.example.com");
	rr_a(&m, NULL, 60, 1);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_IGNORE);
	/* another question */
	header(&m, ID, 0x8180, 1);
	question(&m, "evil.example.com");
	rr_a(&m, NULL, 60, 1);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_IGNORE);
	/* another qtype */
	header(&m, ID, 0x8180, 0);
	put_name(&m, "api.example.com");
	put16(&m, 28);
	put16(&m, 1);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_IGNORE);
	/* a record that runs past the end */
	header(&m, ID, 0x8180, 1);
	question(&m, "api.example.com");
	rr_a(&m, NULL, 60, 1);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n - 1, ID,
	    "api.example.com", &a), RESOLV_IGNORE);
	/* A record with rdlength 5 */
	header(&m, ID, 0x8180, 1);
	question(&m, "api.example.com");
	rr_a(&m, NULL, 60, 1);
	m.b[m.n - 5] = 5;
	put8(&m, 0);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_IGNORE);
	/* an A record for another name is not believed */
	header(&m, ID, 0x8180, 1);
	question(&m, "api.example.com");
	rr_a(&m, "evil.example.com", 60, 1);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_NODATA);
	/* two questions */
	header(&m, ID, 0x8180, 0);
	m.b[5] = 2;
	question(&m, "api.example.com");
	question(&m, "api.example.com");
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_IGNORE);
	/* short */
	ck_assert_int_eq(resolv_answer_parse(m.b, 11, ID, "api.example.com",
	    &a), RESOLV_IGNORE);
}
END_TEST

START_TEST(test_answer_rcodes)
{
	struct msg m;
	struct resolv_answer a;

	header(&m, ID, 0x8183, 0);
	question(&m, "nx.example.com");
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "nx.example.com",
	    &a), RESOLV_NXDOMAIN);
	header(&m, ID, 0x8182, 0);
	question(&m, "nx.example.com");
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "nx.example.com",
	    &a), RESOLV_SERVFAIL);
	header(&m, ID, 0x8180, 0);
	question(&m, "nx.example.com");
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "nx.example.com",
	    &a), RESOLV_NODATA);
	header(&m, ID, 0x8380, 0);		/* truncated, empty */
	question(&m, "nx.example.com");
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "nx.example.com",
	    &a), RESOLV_SERVFAIL);
	ck_assert(a.truncated);
}
END_TEST

START_TEST(test_answer_cname)
{
	struct msg m;
	struct resolv_answer a;

	header(&m, ID, 0x8180, 4);
	question(&m, "www.example.com");
	rr_a(&m, "cdn.example.net", 20, 0x01020304);
	rr_cname(&m, "www.example.com", "edge.example.org");
	rr_cname(&m, "edge.example.org", "cdn.example.net");
	rr_a(&m, "other.example.net", 20, 0x05060708);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "www.example.com",
	    &a), RESOLV_OK);
	ck_assert_uint_eq(a.naddrs, 1);
	ck_assert_uint_eq(a.addrs[0], 0x01020304);

	/* a CNAME loop ends; no address */
	header(&m, ID, 0x8180, 2);
	question(&m, "a.example.com");
	rr_cname(&m, "a.example.com", "b.example.com");
	rr_cname(&m, "b.example.com", "a.example.com");
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "a.example.com",
	    &a), RESOLV_NODATA);
}
END_TEST

START_TEST(test_compression)
{
	struct msg m;
	struct resolv_answer a;
	size_t	 p;

	/* forward pointer */
	header(&m, ID, 0x8180, 1);
	question(&m, "api.example.com");
	p = m.n;
	put8(&m, 0xc0);
	put8(&m, (uint8_t)(p + 2));
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 1);
	put16(&m, 4);
	put32(&m, 1);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_IGNORE);
	/* self pointer */
	m.b[p + 1] = (uint8_t)p;
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_IGNORE);
	/* pointer into the header */
	m.b[p + 1] = 2;
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_IGNORE);
	/* pointer to the middle of the question name: "example.com" */
	m.b[p + 1] = 16;
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_NODATA);
	/* a label with a dot inside cannot pass for two labels */
	header(&m, ID, 0x8180, 1);
	question(&m, "api.example.com");
	put8(&m, 11);
	memcpy(m.b + m.n, "api.example", 11);
	m.n += 11;
	put8(&m, 3);
	memcpy(m.b + m.n, "com", 3);
	m.n += 3;
	put8(&m, 0);
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 1);
	put16(&m, 4);
	put32(&m, 1);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_IGNORE);
}
END_TEST

START_TEST(test_ttl)
{
	struct msg m;
	struct resolv_answer a;

	header(&m, ID, 0x8180, 1);
	question(&m, "api.example.com");
	rr_a(&m, NULL, 0x80000000u, 1);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_OK);
	ck_assert_uint_eq(a.ttl, 0);
	header(&m, ID, 0x8180, 1);
	question(&m, "api.example.com");
	rr_a(&m, NULL, 999999, 1);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_OK);
	ck_assert_uint_eq(a.ttl, RESOLV_TTL_MAX);
}
END_TEST

START_TEST(test_many_records)
{
	struct msg m;
	struct resolv_answer a;
	int	 i;

	header(&m, ID, 0x8180, 40);
	question(&m, "api.example.com");
	for (i = 0; i < 40; i++)
		rr_a(&m, NULL, 60, (uint32_t)i + 1);
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_OK);
	ck_assert_uint_eq(a.naddrs, RESOLV_ADDR_MAX);
	/* the count says 41: the 41st record is missing */
	m.b[7] = 41;
	ck_assert_int_eq(resolv_answer_parse(m.b, m.n, ID, "api.example.com",
	    &a), RESOLV_IGNORE);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("resolv");
	TCase	*tc = tcase_create("core");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_conf);
	tcase_add_test(tc, test_query);
	tcase_add_test(tc, test_answer_a);
	tcase_add_test(tc, test_answer_mismatch);
	tcase_add_test(tc, test_answer_rcodes);
	tcase_add_test(tc, test_answer_cname);
	tcase_add_test(tc, test_compression);
	tcase_add_test(tc, test_ttl);
	tcase_add_test(tc, test_many_records);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
