/*
 * ca: make the per-install CA, load it, and mint leaf certificates with
 * it.  Certificates are written by x509w.c (our DER writer) and signed
 * with mbedTLS; every extension value is DER we encode here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <arpa/inet.h>

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "ca.h"
#include "cache.h"
#include "x509w.h"

#define CA_SKI_MAX		64	/* longest key identifier we copy */
#define CA_EXT_MAX		512	/* one extension value we write */
#define CA_KEY_DER_MAX		512	/* P-256 ECPrivateKey DER is ~121 bytes */
#define CA_PEM_MAX		4096
#define CA_SPKI_MAX		1024
#define CA_NAME_DER_MAX		512
#define CA_SELF_TEST_NAME	"self-test.capsem.invalid"

struct ca_rng {
	mbedtls_ctr_drbg_context drbg;
};

struct ca_leaf_key {
	mbedtls_pk_context pk;
	uint8_t		 der[CA_KEY_DER_MAX];	/* private key, for netproxy */
	size_t		 der_len;
	uint8_t		 spki[CA_SPKI_MAX];	/* public key, in every leaf */
	size_t		 spki_len;
	uint8_t		 ski[2 + 20];		/* OCTET STRING keyIdentifier */
};

struct ca_minter {
	struct ca_rng	*rng;		/* borrowed */
	struct ca_leaf_key *leaf_key;	/* borrowed */
	mbedtls_x509_crt ca_crt;
	mbedtls_pk_context ca_key;
	uint8_t		 aki[CA_EXT_MAX];
	size_t		 aki_len;	/* 0: the CA has no SKI, no AKI */
	char		 ca_subject[256];
	struct leaf_cache *cache;
	struct ca_minter_stats stats;
	uint8_t		 der_buf[CA_DER_MAX];
};

/* Extension values that never change (DER). */
static const uint8_t ext_bc_ca[] = {		/* CA:TRUE, pathlen:0 */
	0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00 };
static const uint8_t ext_bc_leaf[] = { 0x30, 0x00 };	/* CA:FALSE */
static const uint8_t ext_ku_ca[] = {		/* keyCertSign, cRLSign */
	0x03, 0x02, 0x01, 0x06 };
static const uint8_t ext_ku_leaf[] = {		/* digitalSignature */
	0x03, 0x02, 0x07, 0x80 };
static const uint8_t ext_eku_server[] = {	/* serverAuth */
	0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };

#define EXT(oid, crit, val, len) \
	{ oid, MBEDTLS_OID_SIZE(oid), crit, val, len }

static void
ca_err(char *err, size_t errlen, const char *what, int ret)
{
	char mbed[128];

	if (errlen == 0)
		return;
	if (ret == 0) {
		snprintf(err, errlen, "%s", what);
		return;
	}
	mbedtls_strerror(ret, mbed, sizeof(mbed));
	snprintf(err, errlen, "%s: %s", what, mbed);
}

/* --- randomness ------------------------------------------------------ */

static int
getrandom_entropy(void *unused, unsigned char *buf, size_t len)
{
	ssize_t n;

	(void)unused;
	while (len > 0) {
		n = getrandom(buf, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

struct ca_rng *
ca_rng_new(char *err, size_t errlen)
{
	static const char personal[] = "capsem-certd";
	struct ca_rng *rng;
	int ret;

	if ((rng = calloc(1, sizeof(*rng))) == NULL) {
		ca_err(err, errlen, "out of memory", 0);
		return NULL;
	}
	mbedtls_ctr_drbg_init(&rng->drbg);
	ret = mbedtls_ctr_drbg_seed(&rng->drbg, getrandom_entropy, NULL,
	    (const unsigned char *)personal, sizeof(personal) - 1);
	if (ret != 0) {
		ca_err(err, errlen, "seeding the random generator", ret);
		ca_rng_free(rng);
		return NULL;
	}
	return rng;
}

void
ca_rng_free(struct ca_rng *rng)
{
	if (rng == NULL)
		return;
	mbedtls_ctr_drbg_free(&rng->drbg);
	explicit_bzero(rng, sizeof(*rng));
	free(rng);
}

int
ca_rng_bytes(struct ca_rng *rng, uint8_t *buf, size_t len)
{
	size_t chunk;

	while (len > 0) {
		chunk = len > MBEDTLS_CTR_DRBG_MAX_REQUEST ?
		    MBEDTLS_CTR_DRBG_MAX_REQUEST : len;
		if (mbedtls_ctr_drbg_random(&rng->drbg, buf, chunk) != 0)
			return -1;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

/* --- shared certificate pieces ---------------------------------------- */

/* A positive 127-bit serial: 16 random bytes, top bit 0, next bit 1. */
static int
random_serial(struct ca_rng *rng, uint8_t serial[16])
{
	if (ca_rng_bytes(rng, serial, 16) == -1)
		return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
	serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40);
	return 0;
}

/* OCTET STRING keyIdentifier, the value of a subjectKeyIdentifier. */
static void
ski_value(const uint8_t keyid[20], uint8_t out[22])
{
	out[0] = MBEDTLS_ASN1_OCTET_STRING;
	out[1] = 20;
	memcpy(out + 2, keyid, 20);
}

/* AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING } */
static int
aki_value(const uint8_t *keyid, size_t keyid_len, uint8_t *out, size_t cap,
    size_t *outlen)
{
	unsigned char *p = out + cap;
	size_t len = 0;
	int ret;

	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, out,
	    keyid, keyid_len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, out, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, out,
	    MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, out, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, out,
	    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	memmove(out, p, len);
	*outlen = len;
	return 0;
}

static int
make_p256_key(mbedtls_pk_context *key, struct ca_rng *rng)
{
	int ret;

	ret = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (ret != 0)
		return ret;
	return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key),
	    mbedtls_ctr_drbg_random, &rng->drbg);
}

/* --- CA creation -------------------------------------------------------- */

void
ca_pem_free(struct ca_pem *pem)
{
	if (pem->key != NULL) {
		explicit_bzero(pem->key, pem->key_len);
		free(pem->key);
	}
	free(pem->cert);
	memset(pem, 0, sizeof(*pem));
}

static char *
dup_text(const uint8_t *text, size_t *len)
{
	char *copy;

	*len = strlen((const char *)text);
	if ((copy = malloc(*len + 1)) == NULL)
		return NULL;
	memcpy(copy, text, *len + 1);
	return copy;
}

int
ca_generate(struct ca_rng *rng, const char *host, time_t now,
    struct ca_pem *out, char *err, size_t errlen)
{
	mbedtls_pk_context key;
	struct x509w_cert cert;
	struct x509w_ext exts[4];
	uint8_t pem[CA_PEM_MAX], der_buf[CA_DER_MAX], name_buf[CA_NAME_DER_MAX];
	uint8_t spki[CA_SPKI_MAX], keyid[20], ski[22], aki[64], serial[16];
	const uint8_t *der, *name;
	char clean_host[65], date[48], cn[160];
	struct tm tm;
	size_t i, n = 0, spki_len, aki_len, olen;
	int ret, name_len;

	memset(out, 0, sizeof(*out));
	for (i = 0; host != NULL && host[i] != '\0' && n < sizeof(clean_host) - 1;
	    i++) {
		char c = host[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-')
			clean_host[n++] = c;
	}
	clean_host[n] = '\0';
	if (n == 0)
		snprintf(clean_host, sizeof(clean_host), "unknown-host");
	if (gmtime_r(&now, &tm) == NULL) {
		ca_err(err, errlen, "cannot convert the current time", 0);
		return -1;
	}
	snprintf(date, sizeof(date), "%04d-%02d-%02d", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday);
	snprintf(cn, sizeof(cn), "capsem CA (%s, %s)", clean_host, date);

	mbedtls_pk_init(&key);
	if ((ret = make_p256_key(&key, rng)) != 0) {
		ca_err(err, errlen, "generating the CA key", ret);
		goto fail;
	}
	if ((ret = x509w_spki(&key, spki, sizeof(spki), &spki_len, keyid)) != 0 ||
	    (ret = aki_value(keyid, sizeof(keyid), aki, sizeof(aki),
	    &aki_len)) != 0 ||
	    (ret = random_serial(rng, serial)) != 0 ||
	    (name_len = ret = x509w_cn_name(cn, name_buf, sizeof(name_buf),
	    &name)) < 0) {
		ca_err(err, errlen, "building the CA certificate", ret);
		goto fail;
	}
	ski_value(keyid, ski);
	exts[0] = (struct x509w_ext)EXT(MBEDTLS_OID_BASIC_CONSTRAINTS, 1,
	    ext_bc_ca, sizeof(ext_bc_ca));
	exts[1] = (struct x509w_ext)EXT(MBEDTLS_OID_KEY_USAGE, 1, ext_ku_ca,
	    sizeof(ext_ku_ca));
	exts[2] = (struct x509w_ext)EXT(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER, 0,
	    ski, sizeof(ski));
	exts[3] = (struct x509w_ext)EXT(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER, 0,
	    aki, aki_len);
	memset(&cert, 0, sizeof(cert));
	cert.serial = serial;
	cert.serial_len = sizeof(serial);
	cert.issuer = cert.subject = name;
	cert.issuer_len = cert.subject_len = (size_t)name_len;
	cert.not_before = now - CA_LEAF_BEFORE;
	cert.not_after = now + (time_t)(CA_VALIDITY_YEARS * 365 +
	    CA_VALIDITY_YEARS / 4) * 86400;
	cert.spki = spki;
	cert.spki_len = spki_len;
	cert.exts = exts;
	cert.nexts = 4;
	if ((ret = x509w_sign(&cert, &key, mbedtls_ctr_drbg_random, &rng->drbg,
	    der_buf, sizeof(der_buf), &der)) < 0) {
		ca_err(err, errlen, "signing the CA certificate", ret);
		goto fail;
	}
	if ((ret = mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
	    "-----END CERTIFICATE-----\n", der, (size_t)ret, pem, sizeof(pem),
	    &olen)) != 0) {
		ca_err(err, errlen, "writing the CA certificate", ret);
		goto fail;
	}
	if ((out->cert = dup_text(pem, &out->cert_len)) == NULL) {
		ca_err(err, errlen, "out of memory", 0);
		goto fail;
	}
	if ((ret = mbedtls_pk_write_key_pem(&key, pem, sizeof(pem))) != 0) {
		ca_err(err, errlen, "writing the CA key", ret);
		goto fail;
	}
	if ((out->key = dup_text(pem, &out->key_len)) == NULL) {
		ca_err(err, errlen, "out of memory", 0);
		goto fail;
	}
	explicit_bzero(pem, sizeof(pem));
	mbedtls_pk_free(&key);
	return 0;
fail:
	explicit_bzero(pem, sizeof(pem));
	mbedtls_pk_free(&key);
	ca_pem_free(out);
	return -1;
}

/* --- loading ---------------------------------------------------------- */

/*
 * mbedTLS parses PEM only from a NUL-terminated buffer whose length
 * counts the NUL, and DER only without one: make the right copy.
 */
static uint8_t *
parse_copy(const uint8_t *in, size_t len, size_t *outlen)
{
	static const char marker[] = "-----BEGIN ";
	uint8_t *copy;
	bool pem;

	if (len == 0 || len > 1024 * 1024)
		return NULL;
	pem = memmem(in, len, marker, sizeof(marker) - 1) != NULL;
	if ((copy = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(copy, in, len);
	copy[len] = '\0';
	*outlen = pem ? len + 1 : len;
	return copy;
}

/*
 * The CA's subjectKeyIdentifier, read from the raw extensions (mbedTLS
 * 2.28 does not keep it).  Returns its length, 0 when absent/unreadable.
 */
static size_t
find_ski(const mbedtls_x509_crt *crt, uint8_t *out, size_t cap)
{
	unsigned char *p = crt->v3_ext.p, *end, *ext_end, *val_end;
	size_t len;
	int critical;

	if (p == NULL || crt->v3_ext.len == 0)
		return 0;
	end = p + crt->v3_ext.len;
	if (mbedtls_asn1_get_tag(&p, end, &len,
	    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
		return 0;
	end = p + len;
	while (p < end) {
		if (mbedtls_asn1_get_tag(&p, end, &len,
		    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
			return 0;
		ext_end = p + len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OID) != 0)
			return 0;
		if (len != MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER) ||
		    memcmp(p, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER, len) != 0) {
			p = ext_end;
			continue;
		}
		p += len;
		(void)mbedtls_asn1_get_bool(&p, ext_end, &critical);
		if (mbedtls_asn1_get_tag(&p, ext_end, &len,
		    MBEDTLS_ASN1_OCTET_STRING) != 0)
			return 0;
		val_end = p + len;
		if (mbedtls_asn1_get_tag(&p, val_end, &len,
		    MBEDTLS_ASN1_OCTET_STRING) != 0 || len == 0 || len > cap ||
		    p + len != val_end)
			return 0;
		memcpy(out, p, len);
		return len;
	}
	return 0;
}

/* subjectAltName ::= SEQUENCE OF GeneralName: one dNSName or iPAddress */
static int
write_san(uint8_t *buf, size_t cap, const char *name, enum ca_name_kind kind,
    unsigned char **start)
{
	unsigned char *p = buf + cap;
	uint8_t addr[16];
	size_t len = 0;
	int ret;

	switch (kind) {
	case CA_NAME_IPV4:
	case CA_NAME_IPV6:
		if (inet_pton(kind == CA_NAME_IPV4 ? AF_INET : AF_INET6, name,
		    addr) != 1)
			return MBEDTLS_ERR_X509_BAD_INPUT_DATA;
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf,
		    addr, kind == CA_NAME_IPV4 ? 4 : 16));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
		    MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS));
		break;
	case CA_NAME_DNS:
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf,
		    (const unsigned char *)name, strlen(name)));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
		    MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME));
		break;
	default:
		return MBEDTLS_ERR_X509_BAD_INPUT_DATA;
	}
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
	    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	*start = p;
	return (int)len;
}

/*
 * Sign one leaf for a checked name into m->der_buf.  Returns the DER
 * length (> 0) and its start in *der, or a negative mbedTLS error.
 */
static int
leaf_sign(struct ca_minter *m, const char *name, enum ca_name_kind kind,
    time_t now, const uint8_t **der)
{
	struct x509w_cert cert;
	struct x509w_ext exts[6];
	uint8_t san[CA_EXT_MAX], subject_buf[CA_NAME_DER_MAX], serial[16];
	unsigned char *san_start;
	const uint8_t *subject;
	size_t nexts = 0;
	int ret, san_len, subject_len;

	if ((san_len = write_san(san, sizeof(san), name, kind, &san_start)) < 0)
		return san_len;
	if ((subject_len = x509w_cn_name(name, subject_buf, sizeof(subject_buf),
	    &subject)) < 0)
		return subject_len;
	if ((ret = random_serial(m->rng, serial)) != 0)
		return ret;
	exts[nexts++] = (struct x509w_ext)EXT(MBEDTLS_OID_BASIC_CONSTRAINTS, 0,
	    ext_bc_leaf, sizeof(ext_bc_leaf));
	exts[nexts++] = (struct x509w_ext)EXT(MBEDTLS_OID_KEY_USAGE, 1,
	    ext_ku_leaf, sizeof(ext_ku_leaf));
	exts[nexts++] = (struct x509w_ext)EXT(MBEDTLS_OID_EXTENDED_KEY_USAGE, 0,
	    ext_eku_server, sizeof(ext_eku_server));
	exts[nexts++] = (struct x509w_ext)EXT(MBEDTLS_OID_SUBJECT_ALT_NAME, 0,
	    san_start, (size_t)san_len);
	exts[nexts++] = (struct x509w_ext)EXT(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER,
	    0, m->leaf_key->ski, sizeof(m->leaf_key->ski));
	if (m->aki_len > 0)
		exts[nexts++] = (struct x509w_ext)EXT(
		    MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER, 0, m->aki, m->aki_len);

	memset(&cert, 0, sizeof(cert));
	cert.serial = serial;
	cert.serial_len = sizeof(serial);
	cert.issuer = m->ca_crt.subject_raw.p;
	cert.issuer_len = m->ca_crt.subject_raw.len;
	cert.subject = subject;
	cert.subject_len = (size_t)subject_len;
	cert.not_before = now - CA_LEAF_BEFORE;
	cert.not_after = now + CA_LEAF_LIFETIME;
	cert.spki = m->leaf_key->spki;
	cert.spki_len = m->leaf_key->spki_len;
	cert.exts = exts;
	cert.nexts = nexts;
	return x509w_sign(&cert, &m->ca_key, mbedtls_ctr_drbg_random,
	    &m->rng->drbg, m->der_buf, sizeof(m->der_buf), der);
}

/* Mint a leaf that is not cached and check it verifies against the CA. */
static int
self_test(struct ca_minter *m, char *err, size_t errlen)
{
	mbedtls_x509_crt leaf;
	const uint8_t *der;
	char info[256];
	uint32_t flags = 0;
	int ret;

	ret = leaf_sign(m, CA_SELF_TEST_NAME, CA_NAME_DNS, time(NULL), &der);
	if (ret < 0) {
		ca_err(err, errlen, "signing a test leaf with the CA key", ret);
		return -1;
	}
	mbedtls_x509_crt_init(&leaf);
	if ((ret = mbedtls_x509_crt_parse_der(&leaf, der, (size_t)ret)) != 0) {
		mbedtls_x509_crt_free(&leaf);
		ca_err(err, errlen, "reading back a test leaf", ret);
		return -1;
	}
	ret = mbedtls_x509_crt_verify(&leaf, &m->ca_crt, NULL, CA_SELF_TEST_NAME,
	    &flags, NULL, NULL);
	mbedtls_x509_crt_free(&leaf);
	if (ret != 0) {
		mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
		info[strcspn(info, "\n")] = '\0';
		snprintf(err, errlen, "a test leaf does not verify against the CA: %s",
		    info);
		return -1;
	}
	return 0;
}

struct ca_leaf_key *
ca_leaf_key_new(struct ca_rng *rng, char *err, size_t errlen)
{
	struct ca_leaf_key *lk;
	uint8_t buf[CA_KEY_DER_MAX], keyid[20];
	int ret;

	if ((lk = calloc(1, sizeof(*lk))) == NULL) {
		ca_err(err, errlen, "out of memory", 0);
		return NULL;
	}
	mbedtls_pk_init(&lk->pk);
	if ((ret = make_p256_key(&lk->pk, rng)) != 0) {
		ca_err(err, errlen, "generating the leaf key", ret);
		goto fail;
	}
	ret = mbedtls_pk_write_key_der(&lk->pk, buf, sizeof(buf));
	if (ret <= 0) {
		ca_err(err, errlen, "exporting the leaf key", ret);
		goto fail;
	}
	lk->der_len = (size_t)ret;
	memcpy(lk->der, buf + sizeof(buf) - lk->der_len, lk->der_len);
	explicit_bzero(buf, sizeof(buf));
	if ((ret = x509w_spki(&lk->pk, lk->spki, sizeof(lk->spki),
	    &lk->spki_len, keyid)) != 0) {
		ca_err(err, errlen, "exporting the leaf public key", ret);
		goto fail;
	}
	ski_value(keyid, lk->ski);
	return lk;
fail:
	explicit_bzero(buf, sizeof(buf));
	ca_leaf_key_free(lk);
	return NULL;
}

void
ca_leaf_key_free(struct ca_leaf_key *lk)
{
	if (lk == NULL)
		return;
	mbedtls_pk_free(&lk->pk);
	explicit_bzero(lk, sizeof(*lk));
	free(lk);
}

const uint8_t *
ca_leaf_key_der(const struct ca_leaf_key *lk, size_t *len)
{
	*len = lk->der_len;
	return lk->der;
}

void
ca_unescape_dn(char *dn)
{
	char *r, *w;

	for (r = w = dn; *r != '\0'; r++) {
		if (r[0] == '\\' && r[1] == ',')
			continue;
		*w++ = *r;
	}
	*w = '\0';
}

struct ca_minter *
ca_minter_new(struct ca_rng *rng, struct ca_leaf_key *leaf_key,
    const uint8_t *cert, size_t cert_len, const uint8_t *key, size_t key_len,
    size_t cache_max, char *err, size_t errlen)
{
	struct ca_minter *m;
	uint8_t *copy = NULL, ski[CA_SKI_MAX], seed[8];
	size_t copy_len = 0, ski_len;
	uint64_t seed64;
	int ret;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		ca_err(err, errlen, "out of memory", 0);
		return NULL;
	}
	mbedtls_x509_crt_init(&m->ca_crt);
	mbedtls_pk_init(&m->ca_key);
	m->rng = rng;
	m->leaf_key = leaf_key;

	/* The certificate. */
	if ((copy = parse_copy(cert, cert_len, &copy_len)) == NULL) {
		ca_err(err, errlen, cert_len == 0 ? "CA certificate is empty" :
		    "CA certificate too large or out of memory", 0);
		goto fail;
	}
	ret = mbedtls_x509_crt_parse(&m->ca_crt, copy, copy_len);
	free(copy);
	copy = NULL;
	if (ret != 0) {
		ca_err(err, errlen, "cannot parse the CA certificate",
		    ret < 0 ? ret : 0);
		goto fail;
	}
	if (!m->ca_crt.ca_istrue) {
		ca_err(err, errlen, "the CA certificate is not a CA "
		    "(basicConstraints CA:TRUE missing)", 0);
		goto fail;
	}

	/* The key: the copy is wiped whatever happens. */
	if ((copy = parse_copy(key, key_len, &copy_len)) == NULL) {
		ca_err(err, errlen, key_len == 0 ? "CA key is empty" :
		    "CA key too large or out of memory", 0);
		goto fail;
	}
	ret = mbedtls_pk_parse_key(&m->ca_key, copy, copy_len, NULL, 0);
	explicit_bzero(copy, key_len + 1);
	free(copy);
	copy = NULL;
	if (ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED) {
		ca_err(err, errlen, "the CA key is encrypted; certd needs it "
		    "unencrypted", 0);
		goto fail;
	}
	if (ret != 0) {
		ca_err(err, errlen, "cannot parse the CA key", ret);
		goto fail;
	}
	if ((ret = mbedtls_pk_check_pair(&m->ca_crt.pk, &m->ca_key)) != 0) {
		ca_err(err, errlen, "the CA key does not match the CA certificate",
		    0);
		goto fail;
	}

	if (mbedtls_x509_dn_gets(m->ca_subject, sizeof(m->ca_subject),
	    &m->ca_crt.subject) < 0)
		snprintf(m->ca_subject, sizeof(m->ca_subject), "?");
	ca_unescape_dn(m->ca_subject);
	ski_len = find_ski(&m->ca_crt, ski, sizeof(ski));
	if (ski_len > 0 && aki_value(ski, ski_len, m->aki, sizeof(m->aki),
	    &m->aki_len) != 0) {
		ca_err(err, errlen, "encoding leaf extensions", 0);
		goto fail;
	}

	if (ca_rng_bytes(m->rng, seed, sizeof(seed)) == -1) {
		ca_err(err, errlen, "random generator failed", 0);
		goto fail;
	}
	memcpy(&seed64, seed, sizeof(seed64));
	if ((m->cache = leaf_cache_new(cache_max ? cache_max : CA_CACHE_DEFAULT,
	    seed64)) == NULL) {
		ca_err(err, errlen, "cannot allocate the leaf cache", 0);
		goto fail;
	}
	if (self_test(m, err, errlen) == -1)
		goto fail;
	return m;
fail:
	ca_minter_free(m);
	return NULL;
}

void
ca_minter_free(struct ca_minter *m)
{
	if (m == NULL)
		return;
	leaf_cache_free(m->cache);
	mbedtls_x509_crt_free(&m->ca_crt);
	mbedtls_pk_free(&m->ca_key);
	explicit_bzero(m, sizeof(*m));
	free(m);
}

const uint8_t *
ca_minter_ca_der(const struct ca_minter *m, size_t *len)
{
	*len = m->ca_crt.raw.len;
	return m->ca_crt.raw.p;
}

const char *
ca_minter_ca_subject(const struct ca_minter *m)
{
	return m->ca_subject;
}

int
ca_mint(struct ca_minter *m, const uint8_t *name, size_t len, time_t now,
    struct ca_leaf *out, char *err, size_t errlen)
{
	struct leaf_cache_entry *e;
	enum ca_name_kind kind;
	const uint8_t *der;
	char text[CA_NAME_MAX + 1];
	int ret;

	memset(out, 0, sizeof(*out));
	if (ca_name_check(name, len, &kind, err, errlen) == -1) {
		m->stats.refused++;
		return -1;
	}
	e = leaf_cache_get(m->cache, name, len);
	if (e != NULL && e->not_after - (int64_t)now > CA_LEAF_REMINT) {
		m->stats.cache_hits++;
		out->from_cache = true;
	} else {
		memcpy(text, name, len);
		text[len] = '\0';
		if ((ret = leaf_sign(m, text, kind, now, &der)) < 0) {
			m->stats.errors++;
			ca_err(err, errlen, "signing the leaf", ret);
			return -1;
		}
		e = leaf_cache_put(m->cache, name, len, der, (size_t)ret,
		    (int64_t)now + CA_LEAF_LIFETIME);
		if (e == NULL) {
			m->stats.errors++;
			ca_err(err, errlen, "out of memory caching the leaf", 0);
			return -1;
		}
		m->stats.mints++;
	}
	out->der = e->der;
	out->der_len = e->der_len;
	out->not_after = e->not_after;
	return 0;
}

void
ca_minter_stats(const struct ca_minter *m, struct ca_minter_stats *stats)
{
	*stats = m->stats;
	stats->cached = leaf_cache_count(m->cache);
}
