/*
 * certd/ca library: name rules, CA creation, CA loading (ours and
 * company CAs made by openssl), the leaf cache, the MINT message format.
 */
#include <sys/wait.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "ca.h"
#include "mint_msg.h"

static char workdir[64];

static void
setup(void)
{
	snprintf(workdir, sizeof(workdir), "/tmp/capsem-ca-unit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(workdir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", workdir);
	ck_assert_int_eq(system(cmd), 0);
}

static int
run(const char *cmd, char *out, size_t cap)
{
	FILE *p;
	size_t n = 0, r;
	int status;

	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	while (n + 1 < cap && (r = fread(out + n, 1, cap - 1 - n, p)) > 0)
		n += r;
	out[n] = '\0';
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *f;

	ck_assert_ptr_nonnull(f = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE *f;
	uint8_t *buf;

	ck_assert_ptr_nonnull(f = fopen(path, "rb"));
	ck_assert_ptr_nonnull(buf = malloc(65536 + 1));
	*len = fread(buf, 1, 65536, f);
	buf[*len] = '\0';	/* for mbedTLS PEM parsing; not counted */
	fclose(f);
	return buf;
}

static int
check_name(const char *name, size_t len, enum ca_name_kind *kind, char *err)
{
	return ca_name_check((const uint8_t *)name, len, kind, err, CA_ERR_MAX);
}

/* --- names ----------------------------------------------------------- */

START_TEST(test_names_accepted)
{
	static const struct {
		const char *name;
		enum ca_name_kind kind;
	} ok[] = {
		{ "example.com", CA_NAME_DNS },
		{ "a", CA_NAME_DNS },
		{ "localhost", CA_NAME_DNS },
		{ "xn--bcher-kva.example", CA_NAME_DNS },
		{ "a-b.c-d.e9", CA_NAME_DNS },
		{ "a_b.example", CA_NAME_DNS },
		{ "_dmarc.example.com", CA_NAME_DNS },
		{ "0.example", CA_NAME_DNS },
		{ "1.2.3.com", CA_NAME_DNS },
		{ "127.0.0.1", CA_NAME_IPV4 },
		{ "255.255.255.255", CA_NAME_IPV4 },
		{ "::1", CA_NAME_IPV6 },
		{ "2001:db8::1", CA_NAME_IPV6 },
		{ "::ffff:192.0.2.1", CA_NAME_IPV6 },
	};
	char err[CA_ERR_MAX], name[260];
	enum ca_name_kind kind;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(check_name(ok[i].name, strlen(ok[i].name), &kind,
		    err) == 0, "%s: %s", ok[i].name, err);
		ck_assert_int_eq(kind, ok[i].kind);
	}
	/* 63-byte label, 253-byte name */
	memset(name, 'x', 63);
	ck_assert_int_eq(check_name(name, 63, &kind, err), 0);
	for (i = 0; i < 253; i++)
		name[i] = (i % 64 == 63) ? '.' : 'y';
	ck_assert_int_eq(check_name(name, 253, &kind, err), 0);
	ck_assert_int_eq(check_name(name, 254, &kind, err), -1);
}
END_TEST

START_TEST(test_names_refused)
{
	static const char *bad[] = {
		"", "*.a.com", "A.com", "a..b", ".a", "a.", "-a", "a-",
		"a b", "a/b", "1.2.3", "300.1.1.1", "[::1]", "::1%lo", "a:b",
		"caf\xc3\xa9", "a,cn=x", "a=b", "\x7f",
	};
	char err[CA_ERR_MAX];
	enum ca_name_kind kind;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(check_name(bad[i], strlen(bad[i]), &kind, err) == -1,
		    "accepted \"%s\"", bad[i]);
		ck_assert_msg(err[0] != '\0', "no reason for \"%s\"", bad[i]);
	}
	ck_assert_int_eq(check_name("a\0b", 3, &kind, err), -1);
	ck_assert_str_eq(err, "NUL byte in name");
	/* a tiny error buffer is still NUL-terminated and never overrun */
	ck_assert_int_eq(ca_name_check((const uint8_t *)"A", 1, &kind, err, 4), -1);
	ck_assert_uint_eq(strlen(err), 3);
}
END_TEST

/* --- CA creation --------------------------------------------------------- */

START_TEST(test_generate_ca)
{
	struct ca_rng *rng;
	struct ca_pem pem;
	mbedtls_x509_crt crt;
	char err[CA_ERR_MAX], path[128], cmd[1024], out[8192];
	time_t now = time(NULL);

	ck_assert_ptr_nonnull(rng = ca_rng_new(err, sizeof(err)));
	ck_assert_int_eq(ca_generate(rng, "build-host", now, &pem, err,
	    sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(pem.cert, "-----BEGIN CERTIFICATE-----"));
	ck_assert_ptr_nonnull(strstr(pem.key, "PRIVATE KEY-----"));

	mbedtls_x509_crt_init(&crt);
	ck_assert_int_eq(mbedtls_x509_crt_parse(&crt,
	    (const unsigned char *)pem.cert, pem.cert_len + 1), 0);
	ck_assert_int_eq(crt.ca_istrue, 1);
	ck_assert_int_eq(crt.max_pathlen, 1);	/* mbedTLS: pathlen + 1 */
	ck_assert_uint_eq(crt.key_usage, MBEDTLS_X509_KU_KEY_CERT_SIGN |
	    MBEDTLS_X509_KU_CRL_SIGN);
	ck_assert(mbedtls_pk_get_type(&crt.pk) == MBEDTLS_PK_ECKEY);
	ck_assert_uint_eq(mbedtls_pk_get_bitlen(&crt.pk), 256);
	ck_assert_int_ge(crt.valid_to.year - crt.valid_from.year, 10);
	ck_assert_uint_ge(crt.serial.len, 8);
	ck_assert_uint_lt(crt.serial.p[0], 0x80);
	mbedtls_x509_crt_free(&crt);

	snprintf(path, sizeof(path), "%s/ca.pem", workdir);
	write_file(path, pem.cert, pem.cert_len);
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -text 2>&1", path);
	ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "Subject: CN = \"capsem CA (build-host, ") != NULL,
	    "%s", out);
	ck_assert_msg(strstr(out, "X509v3 Basic Constraints: critical\n"
	    "                CA:TRUE, pathlen:0\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "X509v3 Key Usage: critical\n"
	    "                Certificate Sign, CRL Sign\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "X509v3 Subject Key Identifier") != NULL, "%s",
	    out);
	ck_assert_msg(strstr(out, "ecdsa-with-SHA256") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "NIST CURVE: P-256") != NULL, "%s", out);
	/* self-signed and valid as a trust anchor */
	snprintf(cmd, sizeof(cmd), "openssl verify -x509_strict -CAfile %s %s 2>&1", path, path);
	ck_assert_msg(run(cmd, out, sizeof(out)) == 0, "%s", out);

	ca_pem_free(&pem);
	ck_assert_ptr_null(pem.key);
	ca_rng_free(rng);
}
END_TEST

START_TEST(test_generate_sanitises_host)
{
	struct ca_rng *rng;
	struct ca_pem pem;
	mbedtls_x509_crt crt;
	char err[CA_ERR_MAX], dn[256];

	ck_assert_ptr_nonnull(rng = ca_rng_new(err, sizeof(err)));
	ck_assert_int_eq(ca_generate(rng, "evil,CN=x\\y", time(NULL), &pem, err,
	    sizeof(err)), 0);
	mbedtls_x509_crt_init(&crt);
	ck_assert_int_eq(mbedtls_x509_crt_parse(&crt,
	    (const unsigned char *)pem.cert, pem.cert_len + 1), 0);
	ck_assert_int_gt(mbedtls_x509_dn_gets(dn, sizeof(dn), &crt.subject), 0);
	ca_unescape_dn(dn);
	ck_assert_msg(strncmp(dn, "CN=capsem CA (evilCNxy, ", 24) == 0, "%s", dn);
	/* exactly one attribute in the subject */
	ck_assert_ptr_null(crt.subject.next);
	mbedtls_x509_crt_free(&crt);
	ca_pem_free(&pem);
	ca_rng_free(rng);
}
END_TEST

/* --- loading and minting ------------------------------------------------- */

struct world {
	struct ca_rng	*rng;
	struct ca_leaf_key *leaf_key;
	struct ca_pem	 pem;
};

static void
world_init(struct world *w)
{
	char err[CA_ERR_MAX];

	ck_assert_ptr_nonnull(w->rng = ca_rng_new(err, sizeof(err)));
	ck_assert_ptr_nonnull(w->leaf_key = ca_leaf_key_new(w->rng, err,
	    sizeof(err)));
	ck_assert_int_eq(ca_generate(w->rng, "h", time(NULL), &w->pem, err,
	    sizeof(err)), 0);
}

static void
world_free(struct world *w)
{
	ca_pem_free(&w->pem);
	ca_leaf_key_free(w->leaf_key);
	ca_rng_free(w->rng);
}

static struct ca_minter *
load(struct world *w, const void *cert, size_t cert_len, const void *key,
    size_t key_len, size_t cache_max, char *err)
{
	return ca_minter_new(w->rng, w->leaf_key, cert, cert_len, key, key_len,
	    cache_max, err, CA_ERR_MAX);
}

START_TEST(test_leaf_key)
{
	struct world w;
	mbedtls_pk_context pk;
	const uint8_t *der;
	size_t len;

	world_init(&w);
	der = ca_leaf_key_der(w.leaf_key, &len);
	mbedtls_pk_init(&pk);
	ck_assert_int_eq(mbedtls_pk_parse_key(&pk, der, len, NULL, 0), 0);
	ck_assert(mbedtls_pk_get_type(&pk) == MBEDTLS_PK_ECKEY);
	ck_assert(mbedtls_pk_ec(pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1);
	mbedtls_pk_free(&pk);
	world_free(&w);
}
END_TEST

START_TEST(test_load_errors)
{
	struct world w;
	struct ca_pem other;
	char err[CA_ERR_MAX], path[128], cmd[1024], out[4096];
	uint8_t *leaf_pem;
	size_t leaf_len;

	world_init(&w);
	ck_assert_ptr_null(load(&w, "", 0, w.pem.key, w.pem.key_len, 0, err));
	ck_assert_str_eq(err, "CA certificate is empty");
	ck_assert_ptr_null(load(&w, "junk", 4, w.pem.key, w.pem.key_len, 0, err));
	ck_assert_ptr_nonnull(strstr(err, "cannot parse the CA certificate"));
	ck_assert_ptr_null(load(&w, w.pem.cert, w.pem.cert_len, "", 0, 0, err));
	ck_assert_str_eq(err, "CA key is empty");
	ck_assert_ptr_null(load(&w, w.pem.cert, w.pem.cert_len, "junk", 4, 0, err));
	ck_assert_ptr_nonnull(strstr(err, "cannot parse the CA key"));

	ck_assert_int_eq(ca_generate(w.rng, "o", time(NULL), &other, err,
	    sizeof(err)), 0);
	ck_assert_ptr_null(load(&w, w.pem.cert, w.pem.cert_len, other.key,
	    other.key_len, 0, err));
	ck_assert_str_eq(err, "the CA key does not match the CA certificate");

	/* encrypted key */
	snprintf(path, sizeof(path), "%s/k.pem", workdir);
	write_file(path, other.key, other.key_len);
	snprintf(cmd, sizeof(cmd), "openssl ec -in %s -aes128 -passout pass:x "
	    "-out %s/enc.pem 2>&1", path, workdir);
	ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
	snprintf(path, sizeof(path), "%s/enc.pem", workdir);
	leaf_pem = read_file(path, &leaf_len);
	ck_assert_ptr_null(load(&w, other.cert, other.cert_len, leaf_pem,
	    leaf_len, 0, err));
	ck_assert_ptr_nonnull(strstr(err, "encrypted"));
	free(leaf_pem);

	/* a leaf certificate is not a CA */
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout %s/l.key -out %s/l.pem "
	    "-days 2 -subj /CN=leaf -addext basicConstraints=CA:FALSE 2>&1",
	    workdir, workdir);
	ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
	snprintf(path, sizeof(path), "%s/l.pem", workdir);
	leaf_pem = read_file(path, &leaf_len);
	ck_assert_ptr_null(load(&w, leaf_pem, leaf_len, w.pem.key,
	    w.pem.key_len, 0, err));
	ck_assert_ptr_nonnull(strstr(err, "not a CA"));
	free(leaf_pem);
	ca_pem_free(&other);
	world_free(&w);
}
END_TEST

/* Company CAs as openssl makes them: several RDNs, a comma, RSA. */
static void
company_ca(const char *keyopt, const char *subj, const char *name)
{
	struct world w;
	struct ca_minter *m;
	struct ca_leaf leaf;
	mbedtls_x509_crt ca, crt;
	char err[CA_ERR_MAX], cmd[1024], out[4096], path[128];
	uint8_t *cert, *key;
	size_t cert_len, key_len;
	uint32_t flags;
	FILE *f;

	world_init(&w);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 %s -nodes -keyout "
	    "%s/corp.key -out %s/corp.pem -days 30 -subj '%s' -addext "
	    "basicConstraints=critical,CA:TRUE -addext "
	    "keyUsage=critical,keyCertSign,cRLSign 2>&1", keyopt, workdir,
	    workdir, subj);
	ck_assert_msg(run(cmd, out, sizeof(out)) == 0, "%s", out);
	snprintf(path, sizeof(path), "%s/corp.pem", workdir);
	cert = read_file(path, &cert_len);
	snprintf(path, sizeof(path), "%s/corp.key", workdir);
	key = read_file(path, &key_len);
	m = load(&w, cert, cert_len, key, key_len, 0, err);
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_int_eq(ca_mint(m, (const uint8_t *)name, strlen(name),
	    time(NULL), &leaf, err, sizeof(err)), 0);

	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&crt);
	ck_assert_int_eq(mbedtls_x509_crt_parse(&ca, cert, cert_len + 1), 0);
	ck_assert_int_eq(mbedtls_x509_crt_parse_der(&crt, leaf.der,
	    leaf.der_len), 0);
	ck_assert_int_eq(mbedtls_x509_crt_verify(&crt, &ca, NULL, name, &flags,
	    NULL, NULL), 0);
	/* issuer bytes == CA subject bytes */
	ck_assert_uint_eq(crt.issuer_raw.len, ca.subject_raw.len);
	ck_assert_mem_eq(crt.issuer_raw.p, ca.subject_raw.p, ca.subject_raw.len);
	mbedtls_x509_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);

	snprintf(path, sizeof(path), "%s/leaf.der", workdir);
	ck_assert_ptr_nonnull(f = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(leaf.der, 1, leaf.der_len, f), leaf.der_len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "openssl x509 -inform der -in %s/leaf.der "
	    "-out %s/leaf.pem && openssl verify -x509_strict -CAfile %s/corp.pem "
	    "-verify_hostname %s %s/leaf.pem 2>&1", workdir, workdir, workdir,
	    name, workdir);
	ck_assert_msg(run(cmd, out, sizeof(out)) == 0, "%s", out);
	ca_minter_free(m);
	free(cert);
	free(key);
	world_free(&w);
}

START_TEST(test_company_ca_ec)
{
	company_ca("-newkey ec -pkeyopt ec_paramgen_curve:P-256",
	    "/C=DE/O=Corp, Inc./OU=IT/OU=Security/CN=Corp Root", "git.corp.example");
}
END_TEST

START_TEST(test_company_ca_rsa)
{
	company_ca("-newkey rsa:2048", "/O=Corp/CN=Corp RSA Root", "rsa.example");
}
END_TEST

START_TEST(test_der_input)
{
	struct world w;
	struct ca_minter *m;
	mbedtls_x509_crt crt;
	mbedtls_pk_context pk;
	uint8_t key_der[512];
	char err[CA_ERR_MAX];
	int n;

	world_init(&w);
	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&pk);
	ck_assert_int_eq(mbedtls_x509_crt_parse(&crt,
	    (const unsigned char *)w.pem.cert, w.pem.cert_len + 1), 0);
	ck_assert_int_eq(mbedtls_pk_parse_key(&pk,
	    (const unsigned char *)w.pem.key, w.pem.key_len + 1, NULL, 0), 0);
	n = mbedtls_pk_write_key_der(&pk, key_der, sizeof(key_der));
	ck_assert_int_gt(n, 0);
	m = load(&w, crt.raw.p, crt.raw.len,
	    key_der + sizeof(key_der) - n, (size_t)n, 0, err);
	ck_assert_msg(m != NULL, "%s", err);
	ca_minter_free(m);
	mbedtls_pk_free(&pk);
	mbedtls_x509_crt_free(&crt);
	world_free(&w);
}
END_TEST

START_TEST(test_cache_lru_and_remint)
{
	struct world w;
	struct ca_minter *m;
	struct ca_leaf leaf;
	struct ca_minter_stats st;
	char err[CA_ERR_MAX], name[16];
	uint8_t first_a[CA_DER_MAX];
	size_t first_a_len, i;
	time_t now = time(NULL);

	world_init(&w);
	m = load(&w, w.pem.cert, w.pem.cert_len, w.pem.key, w.pem.key_len, 4,
	    err);
	ck_assert_msg(m != NULL, "%s", err);

	ck_assert_int_eq(ca_mint(m, (const uint8_t *)"a.test", 6, now, &leaf,
	    err, sizeof(err)), 0);
	ck_assert(!leaf.from_cache);
	ck_assert_int_eq(leaf.not_after, (int64_t)now + 86400);
	memcpy(first_a, leaf.der, leaf.der_len);
	first_a_len = leaf.der_len;

	ck_assert_int_eq(ca_mint(m, (const uint8_t *)"a.test", 6, now + 60, &leaf,
	    err, sizeof(err)), 0);
	ck_assert(leaf.from_cache);
	ck_assert_uint_eq(leaf.der_len, first_a_len);
	ck_assert_mem_eq(leaf.der, first_a, first_a_len);

	/* Re-minted once within an hour of expiry. */
	ck_assert_int_eq(ca_mint(m, (const uint8_t *)"a.test", 6,
	    now + 86400 - 3601, &leaf, err, sizeof(err)), 0);
	ck_assert(leaf.from_cache);
	ck_assert_int_eq(ca_mint(m, (const uint8_t *)"a.test", 6,
	    now + 86400 - 3600, &leaf, err, sizeof(err)), 0);
	ck_assert(!leaf.from_cache);
	ck_assert_int_eq(leaf.not_after, (int64_t)now + 2 * 86400 - 3600);

	/* Bound of 4: b..e push a.test out. */
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "%c.test", (char)('b' + i));
		ck_assert_int_eq(ca_mint(m, (const uint8_t *)name, 6, now, &leaf,
		    err, sizeof(err)), 0);
	}
	ca_minter_stats(m, &st);
	ck_assert_uint_eq(st.cached, 4);
	ck_assert_int_eq(ca_mint(m, (const uint8_t *)"a.test", 6, now, &leaf,
	    err, sizeof(err)), 0);
	ck_assert(!leaf.from_cache);
	/* e.test was used last before a: still there; b.test went. */
	ck_assert_int_eq(ca_mint(m, (const uint8_t *)"e.test", 6, now, &leaf,
	    err, sizeof(err)), 0);
	ck_assert(leaf.from_cache);
	ck_assert_int_eq(ca_mint(m, (const uint8_t *)"b.test", 6, now, &leaf,
	    err, sizeof(err)), 0);
	ck_assert(!leaf.from_cache);

	ck_assert_int_eq(ca_mint(m, (const uint8_t *)"B.test", 6, now, &leaf,
	    err, sizeof(err)), -1);
	ck_assert_ptr_null(leaf.der);
	ca_minter_stats(m, &st);
	ck_assert_uint_eq(st.mints, 8);
	ck_assert_uint_eq(st.cache_hits, 3);
	ck_assert_uint_eq(st.refused, 1);
	ck_assert_uint_eq(st.cached, 4);
	ca_minter_free(m);
	world_free(&w);
}
END_TEST

static const uint8_t alg_ok[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
	0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t alg_null[] = { 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48,
	0xce, 0x3d, 0x04, 0x03, 0x02, 0x05, 0x00 };

static int
count_bytes(const uint8_t *hay, size_t len, const uint8_t *needle, size_t n)
{
	size_t i;
	int count = 0;

	for (i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			count++;
	return count;
}

START_TEST(test_mint_messages)
{
	struct world w;
	struct ca_minter *m;
	uint8_t out[MINT_ANSWER_MAX];
	const uint8_t *leaf, *ca, *ca_der;
	size_t len, leaf_len, ca_len, ca_der_len;
	int64_t not_after;
	char err[CA_ERR_MAX];
	struct msg_mint_response hdr;

	world_init(&w);
	ck_assert_uint_eq(mint_answer(NULL, (const uint8_t *)"a.b", 3, time(NULL),
	    out, sizeof(out), &len), MSG_MINT_ERROR);
	ck_assert_uint_eq(len, strlen("no CA loaded"));
	ck_assert_mem_eq(out, "no CA loaded", len);

	m = load(&w, w.pem.cert, w.pem.cert_len, w.pem.key, w.pem.key_len, 0, err);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(mint_answer(m, (const uint8_t *)"a.b", 3, time(NULL),
	    out, sizeof(out), &len), MSG_MINT_RESPONSE);
	ck_assert_int_eq(mint_response_parse(out, len, &leaf, &leaf_len, &ca,
	    &ca_len, &not_after), 0);
	ca_der = ca_minter_ca_der(m, &ca_der_len);
	ck_assert_uint_eq(ca_len, ca_der_len);
	ck_assert_mem_eq(ca, ca_der, ca_len);
	ck_assert_uint_eq(len, sizeof(hdr) + leaf_len + ca_len);
	/*
	 * ecdsa-with-SHA256 without parameters (RFC 5758 3.2; webpki and
	 * other strict verifiers refuse the NULL mbedTLS 2.28 would write),
	 * in the TBS and outer signature fields of leaf and CA alike.
	 */
	ck_assert_int_eq(count_bytes(leaf, leaf_len, alg_ok, sizeof(alg_ok)), 2);
	ck_assert_int_eq(count_bytes(leaf, leaf_len, alg_null,
	    sizeof(alg_null)), 0);
	ck_assert_int_eq(count_bytes(ca, ca_len, alg_ok, sizeof(alg_ok)), 2);
	ck_assert_int_eq(count_bytes(ca, ca_len, alg_null, sizeof(alg_null)), 0);

	/* Any length that does not add up is refused. */
	ck_assert_int_eq(mint_response_parse(out, len - 1, &leaf, &leaf_len, &ca,
	    &ca_len, &not_after), -1);
	ck_assert_int_eq(mint_response_parse(out, sizeof(hdr) - 1, &leaf,
	    &leaf_len, &ca, &ca_len, &not_after), -1);
	memcpy(&hdr, out, sizeof(hdr));
	hdr.leaf_len = UINT32_MAX;
	memcpy(out, &hdr, sizeof(hdr));
	ck_assert_int_eq(mint_response_parse(out, len, &leaf, &leaf_len, &ca,
	    &ca_len, &not_after), -1);

	ck_assert_uint_eq(mint_answer(m, (const uint8_t *)"a b", 3, time(NULL),
	    out, sizeof(out), &len), MSG_MINT_ERROR);
	ck_assert_uint_eq(mint_answer(m, out, MINT_REQUEST_MAXLEN + 1, time(NULL),
	    out, sizeof(out), &len), MSG_MINT_ERROR);
	/* error text never overruns a small buffer */
	ck_assert_uint_eq(mint_answer(m, (const uint8_t *)"A", 1, time(NULL), out,
	    5, &len), MSG_MINT_ERROR);
	ck_assert_uint_eq(len, 5);
	ca_minter_free(m);
	world_free(&w);
}
END_TEST

static Suite *
ca_suite(void)
{
	Suite *s = suite_create("ca");
	TCase *tc = tcase_create("ca");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_names_accepted);
	tcase_add_test(tc, test_names_refused);
	tcase_add_test(tc, test_generate_ca);
	tcase_add_test(tc, test_generate_sanitises_host);
	tcase_add_test(tc, test_leaf_key);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_company_ca_ec);
	tcase_add_test(tc, test_company_ca_rsa);
	tcase_add_test(tc, test_der_input);
	tcase_add_test(tc, test_cache_lru_and_remint);
	tcase_add_test(tc, test_mint_messages);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ca_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
