/*
 * The real capsem-certd, spawned the way the session parent spawns it,
 * driven through its imsg channels; certificates checked with the real
 * openssl(1) and with mbedTLS in-process.
 *
 * CAPSEM_CERTD names the built binary (meson passes it).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "ca.h"
#include "certd_harness.h"
#include "mint_msg.h"

struct fixture {
	char		 dir[64];
	char		 ca_pem[128];
	char		 ca_key[128];
	struct certd_proc proc;
	struct imsgbuf	 np;
	uint8_t		 leaf_key[512];
	size_t		 leaf_key_len;
	mbedtls_x509_crt ca;
	uint32_t	 next_id;
};

/* One test's world: a fresh CA on disk, certd running, one netproxy. */
static void
fixture_start(struct fixture *f, bool load_ca)
{
	struct ca_rng *rng;
	struct ca_pem pem;
	struct msg_ready ready;
	const char *certd = getenv("CAPSEM_CERTD");
	char err[CA_ERR_MAX];

	memset(f, 0, sizeof(*f));
	f->next_id = 1;
	ck_assert_msg(certd != NULL, "CAPSEM_CERTD is not set");
	snprintf(f->dir, sizeof(f->dir), "/tmp/capsem-certd-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->ca_pem, sizeof(f->ca_pem), "%s/ca.pem", f->dir);
	snprintf(f->ca_key, sizeof(f->ca_key), "%s/ca.key", f->dir);

	ck_assert_ptr_nonnull(rng = ca_rng_new(err, sizeof(err)));
	ck_assert_int_eq(ca_generate(rng, "testhost", time(NULL), &pem, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(harness_write_file(f->ca_pem, pem.cert, pem.cert_len), 0);
	ck_assert_int_eq(harness_write_file(f->ca_key, pem.key, pem.key_len), 0);
	mbedtls_x509_crt_init(&f->ca);
	ck_assert_int_eq(mbedtls_x509_crt_parse(&f->ca,
	    (const unsigned char *)pem.cert, pem.cert_len + 1), 0);
	ca_pem_free(&pem);
	ca_rng_free(rng);

	ck_assert_int_eq(certd_spawn(certd, &f->proc), 0);
	ck_assert_int_eq(certd_hello(&f->proc, &ready), 0);
	ck_assert_int_eq(ready.sandbox.seccomp, 1);
	if (load_ca) {
		ck_assert_msg(certd_load_ca(&f->proc, f->ca_pem, f->ca_key, err,
		    sizeof(err)) == 0, "CA not loaded: %s", err);
	}
	ck_assert_int_eq(certd_add_netproxy(&f->proc, 1, &f->np, f->leaf_key,
	    sizeof(f->leaf_key), &f->leaf_key_len), 0);
}

static void
fixture_stop(struct fixture *f)
{
	char cmd[128];
	int status;

	imsgbuf_clear(&f->np);
	close(f->np.fd);
	status = certd_stop(&f->proc);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "certd ended with status %d", status);
	mbedtls_x509_crt_free(&f->ca);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Ask for name; returns the reply (MINT_RESPONSE or MINT_ERROR). */
static void
mint(struct fixture *f, const void *name, size_t len, struct harness_msg *msg)
{
	uint32_t id = f->next_id++;

	ck_assert_int_eq(harness_send(&f->np, MSG_MINT_REQUEST, id, -1, name,
	    len), 0);
	ck_assert_int_eq(harness_recv(&f->np, msg, 30000), 1);
	ck_assert_uint_eq(msg->peerid, id);
	ck_assert_int_eq(msg->fd, -1);
	ck_assert(msg->type == MSG_MINT_RESPONSE || msg->type == MSG_MINT_ERROR);
}

/* Run a shell command, capture stdout+stderr; returns the exit status. */
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
write_pem(const char *path, const uint8_t *der, size_t len)
{
	unsigned char pem[8192];
	size_t olen;

	ck_assert_int_eq(mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
	    "-----END CERTIFICATE-----\n", der, len, pem, sizeof(pem), &olen), 0);
	ck_assert_int_eq(harness_write_file(path, pem, strlen((char *)pem)), 0);
}

/* Mint name and write the leaf to dir/leafN.pem; returns not_after. */
static int64_t
mint_to_pem(struct fixture *f, const char *name, char *path, size_t pathlen)
{
	struct harness_msg msg;
	const uint8_t *leaf, *ca;
	size_t leaf_len, ca_len;
	int64_t not_after;

	mint(f, name, strlen(name), &msg);
	ck_assert_msg(msg.type == MSG_MINT_RESPONSE, "%s refused: %s", name,
	    (char *)msg.data);
	ck_assert_int_eq(mint_response_parse(msg.data, msg.len, &leaf, &leaf_len,
	    &ca, &ca_len, &not_after), 0);
	/* The chain's second part is our CA, byte for byte. */
	ck_assert_uint_eq(ca_len, f->ca.raw.len);
	ck_assert_mem_eq(ca, f->ca.raw.p, ca_len);
	snprintf(path, pathlen, "%s/leaf%u.pem", f->dir, f->next_id);
	write_pem(path, leaf, leaf_len);
	harness_msg_free(&msg);
	return not_after;
}

static time_t
parse_openssl_date(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	struct tm tm;

	ck_assert_msg(p != NULL, "%s missing in: %s", key, text);
	memset(&tm, 0, sizeof(tm));
	/* -dateopt iso_8601: "notBefore=2026-11-29 07:09:43Z" */
	ck_assert_ptr_nonnull(strptime(p + strlen(key), "%Y-%m-%d %H:%M:%SZ", &tm));
	return timegm(&tm);
}

/* --- tests ------------------------------------------------------------- */

START_TEST(test_sandboxed)
{
	struct fixture f;
	char path[64], buf[4096];
	FILE *fp;
	size_t n;

	fixture_start(&f, true);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)f.proc.pid);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	ck_assert_msg(strstr(buf, "CapEff:\t0000000000000000\n") != NULL,
	    "capabilities held: %s", buf);
	ck_assert_msg(strstr(buf, "NoNewPrivs:\t1\n") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "Seccomp:\t2\n") != NULL, "%s", buf);
	fixture_stop(&f);
}
END_TEST

/* The CA key's fd is read once and closed: open nowhere after loading. */
START_TEST(test_ca_key_fd_closed)
{
	struct fixture f;
	char dirpath[64], link[PATH_MAX], target[PATH_MAX];
	const char *procs[2];
	struct dirent *de;
	DIR *d;
	ssize_t n;
	int i;

	fixture_start(&f, true);
	snprintf(dirpath, sizeof(dirpath), "/proc/%d/fd", (int)f.proc.pid);
	procs[0] = dirpath;
	procs[1] = "/proc/self/fd";
	for (i = 0; i < 2; i++) {
		ck_assert_ptr_nonnull(d = opendir(procs[i]));
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(link, sizeof(link), "%s/%s", procs[i], de->d_name);
			if ((n = readlink(link, target, sizeof(target) - 1)) == -1)
				continue;
			target[n] = '\0';
			ck_assert_msg(strstr(target, "ca.key") == NULL,
			    "%s -> %s still open", link, target);
		}
		closedir(d);
	}
	fixture_stop(&f);
}
END_TEST

START_TEST(test_leaf_key_matches_leaves)
{
	struct fixture f;
	struct harness_msg msg;
	struct imsgbuf np2;
	mbedtls_pk_context key;
	mbedtls_x509_crt leaf;
	const uint8_t *der, *ca;
	size_t der_len, ca_len, key2_len;
	uint8_t key2[512];
	int64_t not_after;

	fixture_start(&f, true);
	mbedtls_pk_init(&key);
	ck_assert_int_eq(mbedtls_pk_parse_key(&key, f.leaf_key, f.leaf_key_len,
	    NULL, 0), 0);
	ck_assert(mbedtls_pk_get_type(&key) == MBEDTLS_PK_ECKEY);
	ck_assert_uint_eq(mbedtls_pk_get_bitlen(&key), 256);

	mint(&f, "example.com", 11, &msg);
	ck_assert_int_eq(msg.type, MSG_MINT_RESPONSE);
	ck_assert_int_eq(mint_response_parse(msg.data, msg.len, &der, &der_len,
	    &ca, &ca_len, &not_after), 0);
	mbedtls_x509_crt_init(&leaf);
	ck_assert_int_eq(mbedtls_x509_crt_parse_der(&leaf, der, der_len), 0);
	ck_assert_int_eq(mbedtls_pk_check_pair(&leaf.pk, &key), 0);
	mbedtls_x509_crt_free(&leaf);
	harness_msg_free(&msg);

	/* A second netproxy gets the same key once, and can mint too. */
	ck_assert_int_eq(certd_add_netproxy(&f.proc, 2, &np2, key2, sizeof(key2),
	    &key2_len), 0);
	ck_assert_uint_eq(key2_len, f.leaf_key_len);
	ck_assert_mem_eq(key2, f.leaf_key, key2_len);
	ck_assert_int_eq(harness_send(&np2, MSG_MINT_REQUEST, 99, -1, "b.test",
	    6), 0);
	ck_assert_int_eq(harness_recv(&np2, &msg, 30000), 1);
	ck_assert_int_eq(msg.type, MSG_MINT_RESPONSE);
	ck_assert_uint_eq(msg.peerid, 99);
	harness_msg_free(&msg);
	imsgbuf_clear(&np2);
	close(np2.fd);
	mbedtls_pk_free(&key);
	fixture_stop(&f);
}
END_TEST

static const char *good_names[] = {
	"example.com",
	"api.github.com",
	"xn--bcher-kva.example",
	"xn--80ak6aa92e.com",
	"localhost",
	"a.b-c.d9",
	"0day.example.org",
};

static void
check_openssl_leaf(struct fixture *f, const char *name, bool ip)
{
	char path[256], cmd[1024], out[16384], ca_text[8192], *aki;
	char want[300];
	time_t t0, t1, nb, na;

	t0 = time(NULL);
	mint_to_pem(f, name, path, sizeof(path));
	t1 = time(NULL);

	snprintf(cmd, sizeof(cmd), "openssl verify -x509_strict -CAfile %s %s %s %s 2>&1",
	    f->ca_pem, ip ? "-verify_ip" : "-verify_hostname", name, path);
	ck_assert_msg(run(cmd, out, sizeof(out)) == 0, "%s: %s", cmd, out);
	ck_assert_msg(strstr(out, ": OK") != NULL, "%s", out);

	/* And not for another name. */
	snprintf(cmd, sizeof(cmd), "openssl verify -x509_strict -CAfile %s %s %s %s 2>&1",
	    f->ca_pem, ip ? "-verify_ip" : "-verify_hostname",
	    ip ? "192.0.2.99" : "other.invalid", path);
	ck_assert_msg(run(cmd, out, sizeof(out)) != 0, "%s passed: %s", cmd, out);

	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -text 2>&1", path);
	ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
	if (!ip) {
		snprintf(want, sizeof(want), "DNS:%s\n", name);
		ck_assert_msg(strstr(out, want) != NULL, "no SAN %s in %s", want, out);
		snprintf(want, sizeof(want), "Subject: CN = %s\n", name);
		ck_assert_msg(strstr(out, want) != NULL, "no CN in %s", out);
	} else
		ck_assert_msg(strcasestr(out, "IP Address:") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "X509v3 Extended Key Usage: \n"
	    "                TLS Web Server Authentication\n") != NULL,
	    "EKU: %s", out);
	ck_assert_msg(strstr(out, "X509v3 Key Usage: critical\n"
	    "                Digital Signature\n") != NULL, "KU: %s", out);
	ck_assert_msg(strstr(out, "CA:FALSE") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "Signature Algorithm: ecdsa-with-SHA256") != NULL,
	    "%s", out);

	/* AKI of the leaf = SKI of the CA. */
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -ext "
	    "subjectKeyIdentifier 2>&1", f->ca_pem);
	ck_assert_int_eq(run(cmd, ca_text, sizeof(ca_text)), 0);
	ck_assert_ptr_nonnull(aki = strchr(ca_text, '\n'));
	aki += strspn(aki, " \n");
	aki[strcspn(aki, "\n")] = '\0';
	ck_assert_uint_gt(strlen(aki), 20);
	ck_assert_msg(strstr(out, aki) != NULL, "AKI %s missing: %s", aki, out);

	/* Validity: certd's now - 1 h .. now + 24 h, now within [t0, t1]. */
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -startdate "
	    "-enddate -dateopt iso_8601 2>&1", path);
	ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
	nb = parse_openssl_date(out, "notBefore=");
	na = parse_openssl_date(out, "notAfter=");
	ck_assert_msg(nb >= t0 - 3600 && nb <= t1 - 3600, "notBefore %lld",
	    (long long)nb);
	ck_assert_msg(na >= t0 + 86400 && na <= t1 + 86400, "notAfter %lld",
	    (long long)na);
}

START_TEST(test_names_verify_with_openssl)
{
	struct fixture f;
	size_t i;

	fixture_start(&f, true);
	for (i = 0; i < sizeof(good_names) / sizeof(good_names[0]); i++)
		check_openssl_leaf(&f, good_names[i], false);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_253_byte_name)
{
	struct fixture f;
	char name[254];

	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
	memset(name, 'a', 63);
	name[63] = '.';
	memset(name + 64, 'b', 63);
	name[127] = '.';
	memset(name + 128, 'c', 63);
	name[191] = '.';
	memset(name + 192, 'd', 61);
	name[253] = '\0';
	ck_assert_uint_eq(strlen(name), 253);
	fixture_start(&f, true);
	check_openssl_leaf(&f, name, false);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_ip_literals)
{
	static const struct {
		const char *name;
		const char *shown;	/* as openssl prints the SAN */
	} ips[] = {
		{ "127.0.0.1", "IP Address:127.0.0.1\n" },
		{ "10.1.2.3", "IP Address:10.1.2.3\n" },
		{ "::1", "IP Address:0:0:0:0:0:0:0:1\n" },
		{ "2001:db8::42", "IP Address:2001:DB8:0:0:0:0:0:42\n" },
	};
	struct fixture f;
	char path[256], cmd[512], out[8192];
	size_t i;

	fixture_start(&f, true);
	for (i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		check_openssl_leaf(&f, ips[i].name, true);
		mint_to_pem(&f, ips[i].name, path, sizeof(path));
		snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -ext "
		    "subjectAltName 2>&1", path);
		ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
		ck_assert_msg(strcasestr(out, ips[i].shown) != NULL,
		    "%s: %s", ips[i].name, out);
		ck_assert_msg(strstr(out, "DNS:") == NULL, "%s", out);
	}
	fixture_stop(&f);
}
END_TEST

START_TEST(test_serials_unique)
{
	struct fixture f;
	char path[256], cmd[512], out[512], serials[20][80], name[32];
	size_t i, j, len;

	fixture_start(&f, true);
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "s%zu.example.net", i);
		mint_to_pem(&f, name, path, sizeof(path));
		snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -text 2>&1",
		    path);
		ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
		/* "Serial Number:\n            4d:10:a5:..." */
		snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -serial",
		    path);
		ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
		ck_assert_msg(strncmp(out, "serial=", 7) == 0, "%s", out);
		len = strcspn(out + 7, "\n");
		/* positive, at least 64 bits: 16+ hex digits, no sign */
		ck_assert_msg(len >= 16 && out[7] != '-', "serial %s", out);
		ck_assert_uint_lt(len, sizeof(serials[i]));
		memcpy(serials[i], out + 7, len);
		serials[i][len] = '\0';
		for (j = 0; j < i; j++)
			ck_assert_str_ne(serials[i], serials[j]);
	}
	fixture_stop(&f);
}
END_TEST

static const struct {
	const char	*name;
	size_t		 len;		/* 0: strlen(name) */
	const char	*reason;	/* substring of certd's error */
} bad_names[] = {
	{ "", 0, "empty name" },
	{ "\0", 1, "NUL" },
	{ "a\0b.com", 7, "NUL" },
	{ "example.com\0", 12, "NUL" },
	{ "exa mple.com", 0, "white space" },
	{ " example.com", 0, "white space" },
	{ "example.com ", 0, "white space" },
	{ "\texample.com", 0, "white space" },
	{ "example.com\n", 0, "white space" },
	{ "example.com\r\n", 0, "white space" },
	{ "*.example.com", 0, "wildcard" },
	{ "*", 0, "wildcard" },
	{ "a.*.com", 0, "wildcard" },
	{ "Example.com", 0, "uppercase" },
	{ "EXAMPLE.COM", 0, "uppercase" },
	{ "exAmple.com", 0, "uppercase" },
	{ ".example.com", 0, "empty label" },
	{ "example.com.", 0, "empty label" },
	{ "example..com", 0, "empty label" },
	{ ".", 0, "empty label" },
	{ "..", 0, "empty label" },
	{ "-example.com", 0, "starts with a hyphen" },
	{ "example-.com", 0, "ends with a hyphen" },
	{ "a.-b.com", 0, "starts with a hyphen" },
	{ "xn--", 0, "ends with a hyphen" },
	{ "exa/mple.com", 0, "invalid character '/'" },
	{ "exa\\mple.com", 0, "invalid character" },
	{ "ex@mple.com", 0, "invalid character '@'" },
	{ "a,b.com", 0, "invalid character ','" },
	{ "a=b.com", 0, "invalid character '='" },
	{ "a;b.com", 0, "invalid character ';'" },
	{ "caf\xc3\xa9.com", 0, "invalid byte 0xc3" },
	{ "\xff", 0, "invalid byte 0xff" },
	{ "\x01" "a.com", 0, "invalid byte 0x01" },
	{ "example.com:443", 0, "IPv6" },
	{ "[::1]", 0, "IPv6" },
	{ "fe80::1%eth0", 0, "IPv6" },
	{ "::g", 0, "IPv6" },
	{ "http://a.com", 0, "IPv6" },
	{ "1.2.3", 0, "not an IPv4" },
	{ "256.1.1.1", 0, "not an IPv4" },
	{ "1.2.3.4.5", 0, "not an IPv4" },
	{ "01.2.3.4", 0, "not an IPv4" },
	{ "123", 0, "not an IPv4" },
	{ "example.123", 0, "not an IPv4" },
};

START_TEST(test_invalid_names_refused)
{
	struct fixture f;
	struct harness_msg msg;
	struct msg_status st;
	char label64[80], long254[300], long300[400], long1000[1100];
	size_t i;
	struct {
		const char *name;
		size_t len;
		const char *reason;
	} extra[4];

	memset(label64, 'a', 64);
	memcpy(label64 + 64, ".com", 5);
	memset(long254, 'a', 254);
	for (i = 50; i < 254; i += 50)
		long254[i] = '.';
	memset(long300, 'b', 300);
	memset(long1000, 'c', 1000);
	extra[0].name = label64; extra[0].len = 68;
	extra[0].reason = "label longer than 63";
	extra[1].name = long254; extra[1].len = 254;
	extra[1].reason = "longer than 253";
	extra[2].name = long300; extra[2].len = 300;
	extra[2].reason = "longer than 253";
	extra[3].name = long1000; extra[3].len = 1000;
	extra[3].reason = "longer than 253";

	ck_assert_uint_ge(sizeof(bad_names) / sizeof(bad_names[0]) + 4, 40);
	fixture_start(&f, true);
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]) + 4; i++) {
		const char *name, *reason;
		size_t len;

		if (i < sizeof(bad_names) / sizeof(bad_names[0])) {
			name = bad_names[i].name;
			len = bad_names[i].len ? bad_names[i].len : strlen(name);
			reason = bad_names[i].reason;
		} else {
			name = extra[i - sizeof(bad_names) / sizeof(bad_names[0])].name;
			len = extra[i - sizeof(bad_names) / sizeof(bad_names[0])].len;
			reason = extra[i - sizeof(bad_names) / sizeof(bad_names[0])].reason;
		}
		mint(&f, name, len, &msg);
		ck_assert_msg(msg.type == MSG_MINT_ERROR,
		    "bad name #%zu (%.*s) got a certificate", i, (int)len, name);
		ck_assert_uint_gt(msg.len, 0);
		ck_assert_msg(strstr((char *)msg.data, reason) != NULL,
		    "bad name #%zu: reason \"%s\", wanted \"%s\"", i,
		    (char *)msg.data, reason);
		harness_msg_free(&msg);
	}
	ck_assert_int_eq(certd_status(&f.proc, &st), 0);
	ck_assert_uint_eq(st.counters[0], 0);	/* nothing signed */
	ck_assert_uint_eq(st.counters[2], sizeof(bad_names) /
	    sizeof(bad_names[0]) + 4);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_no_ca_yet)
{
	struct fixture f;
	struct harness_msg msg;
	char err[CA_ERR_MAX];

	fixture_start(&f, false);
	mint(&f, "example.com", 11, &msg);
	ck_assert_int_eq(msg.type, MSG_MINT_ERROR);
	ck_assert_str_eq((char *)msg.data, "no CA loaded");
	harness_msg_free(&msg);
	ck_assert_int_eq(certd_load_ca(&f.proc, f.ca_pem, f.ca_key, err,
	    sizeof(err)), 0);
	mint(&f, "example.com", 11, &msg);
	ck_assert_int_eq(msg.type, MSG_MINT_RESPONSE);
	harness_msg_free(&msg);
	fixture_stop(&f);
}
END_TEST

START_TEST(test_wrong_key_refused)
{
	struct fixture f;
	struct ca_rng *rng;
	struct ca_pem other;
	struct msg_status st;
	char err[CA_ERR_MAX], other_key[160];

	fixture_start(&f, false);
	ck_assert_ptr_nonnull(rng = ca_rng_new(err, sizeof(err)));
	ck_assert_int_eq(ca_generate(rng, "other", time(NULL), &other, err,
	    sizeof(err)), 0);
	snprintf(other_key, sizeof(other_key), "%s/other.key", f.dir);
	ck_assert_int_eq(harness_write_file(other_key, other.key,
	    other.key_len), 0);
	ca_pem_free(&other);
	ca_rng_free(rng);

	ck_assert_int_eq(certd_load_ca(&f.proc, f.ca_pem, other_key, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "does not match") != NULL, "%s", err);
	ck_assert_int_eq(certd_load_ca(&f.proc, f.ca_pem, f.ca_pem, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot parse the CA key") != NULL, "%s", err);
	/* still alive, still no CA */
	ck_assert_int_eq(certd_status(&f.proc, &st), 0);
	ck_assert_msg(strstr(st.detail, "no CA loaded") != NULL, "%s", st.detail);
	ck_assert_int_eq(certd_load_ca(&f.proc, f.ca_pem, f.ca_key, err,
	    sizeof(err)), 0);
	fixture_stop(&f);
}
END_TEST

/*
 * 10,000 mints of 1,000 distinct names, 32 requests in flight.  Every
 * answer is a certificate for its name that verifies against the CA:
 * each distinct DER is verified with mbedtls_x509_crt_verify (a cached
 * answer repeats those exact bytes, which is checked), a sample with
 * openssl verify.
 */
#define STRESS_NAMES	1000
#define STRESS_MINTS	10000
#define STRESS_WINDOW	32

struct stress_name {
	char	 name[64];
	uint8_t	*der;
	size_t	 der_len;
	uint8_t	 serial[32];
	size_t	 serial_len;
};

static void
stress_check(struct fixture *f, struct stress_name *names, size_t idx,
    struct harness_msg *msg, size_t *verified)
{
	struct stress_name *sn = &names[idx];
	const uint8_t *der, *ca;
	size_t der_len, ca_len;
	int64_t not_after;
	mbedtls_x509_crt leaf;
	uint32_t flags = 0;

	ck_assert_msg(msg->type == MSG_MINT_RESPONSE, "%s: %s", sn->name,
	    (char *)msg->data);
	ck_assert_int_eq(mint_response_parse(msg->data, msg->len, &der,
	    &der_len, &ca, &ca_len, &not_after), 0);
	if (sn->der != NULL) {
		ck_assert_uint_eq(der_len, sn->der_len);
		ck_assert_mem_eq(der, sn->der, der_len);
		return;
	}
	mbedtls_x509_crt_init(&leaf);
	ck_assert_int_eq(mbedtls_x509_crt_parse_der(&leaf, der, der_len), 0);
	ck_assert_msg(mbedtls_x509_crt_verify(&leaf, &f->ca, NULL, sn->name,
	    &flags, NULL, NULL) == 0, "%s: verify flags %#x", sn->name, flags);
	ck_assert_uint_le(leaf.serial.len, sizeof(sn->serial));
	memcpy(sn->serial, leaf.serial.p, leaf.serial.len);
	sn->serial_len = leaf.serial.len;
	mbedtls_x509_crt_free(&leaf);
	ck_assert_ptr_nonnull(sn->der = malloc(der_len));
	memcpy(sn->der, der, der_len);
	sn->der_len = der_len;
	(*verified)++;
}

START_TEST(test_10000_mints)
{
	struct fixture f;
	struct stress_name *names;
	struct harness_msg msg;
	struct msg_status st;
	char path[256], cmd[1024], out[4096];
	size_t sent = 0, done = 0, verified = 0, i, j, idx;

	fixture_start(&f, true);
	ck_assert_ptr_nonnull(names = calloc(STRESS_NAMES, sizeof(*names)));
	for (i = 0; i < STRESS_NAMES; i++)
		snprintf(names[i].name, sizeof(names[i].name),
		    "host-%zu.zone%zu.example.test", i, i % 7);

	while (done < STRESS_MINTS) {
		while (sent < STRESS_MINTS && sent - done < STRESS_WINDOW) {
			/* request id = mint number + 1; name = id mod 1000 */
			idx = (sent * 7919) % STRESS_NAMES;
			ck_assert_int_eq(imsg_compose(&f.np, MSG_MINT_REQUEST,
			    (uint32_t)sent + 1, -1, names[idx].name,
			    strlen(names[idx].name)), 0);
			sent++;
		}
		ck_assert_int_eq(imsgbuf_flush(&f.np), 0);
		ck_assert_int_eq(harness_recv(&f.np, &msg, 30000), 1);
		/* certd answers in order */
		ck_assert_uint_eq(msg.peerid, done + 1);
		idx = (done * 7919) % STRESS_NAMES;
		stress_check(&f, names, idx, &msg, &verified);
		harness_msg_free(&msg);
		done++;
	}
	ck_assert_uint_eq(verified, STRESS_NAMES);

	/* Serials are unique across all 1,000 leaves. */
	for (i = 0; i < STRESS_NAMES; i++)
		for (j = i + 1; j < STRESS_NAMES; j++)
			ck_assert(names[i].serial_len != names[j].serial_len ||
			    memcmp(names[i].serial, names[j].serial,
			    names[i].serial_len) != 0);

	/* A sample through openssl too. */
	for (i = 0; i < STRESS_NAMES; i += 97) {
		snprintf(path, sizeof(path), "%s/stress%zu.pem", f.dir, i);
		write_pem(path, names[i].der, names[i].der_len);
		snprintf(cmd, sizeof(cmd), "openssl verify -x509_strict -CAfile %s "
		    "-verify_hostname %s %s 2>&1", f.ca_pem, names[i].name, path);
		ck_assert_msg(run(cmd, out, sizeof(out)) == 0, "%s", out);
	}

	ck_assert_int_eq(certd_status(&f.proc, &st), 0);
	ck_assert_uint_eq(st.counters[0], STRESS_NAMES);		/* signed */
	ck_assert_uint_eq(st.counters[1], STRESS_MINTS - STRESS_NAMES);	/* cached */
	ck_assert_uint_eq(st.counters[2], 0);
	for (i = 0; i < STRESS_NAMES; i++)
		free(names[i].der);
	free(names);
	fixture_stop(&f);
}
END_TEST

static Suite *
certd_suite(void)
{
	Suite *s = suite_create("certd");
	TCase *tc = tcase_create("process");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_sandboxed);
	tcase_add_test(tc, test_ca_key_fd_closed);
	tcase_add_test(tc, test_leaf_key_matches_leaves);
	tcase_add_test(tc, test_names_verify_with_openssl);
	tcase_add_test(tc, test_253_byte_name);
	tcase_add_test(tc, test_ip_literals);
	tcase_add_test(tc, test_serials_unique);
	tcase_add_test(tc, test_invalid_names_refused);
	tcase_add_test(tc, test_no_ca_yet);
	tcase_add_test(tc, test_wrong_key_refused);
	tcase_add_test(tc, test_10000_mints);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(certd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
