/*
 * x509w: a small X.509 v3 certificate writer (RFC 5280 4.1).
 *
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
 * TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature,
 *     issuer, validity, subject, subjectPublicKeyInfo, [3] extensions }
 * Everything is written back to front, as the asn1write functions do.
 */
#include <string.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509.h>

#include "x509w.h"

#define X509W_TBS_MAX	4096

/* SEQUENCE header in front of len bytes already written at *p. */
static int
write_seq_header(unsigned char **p, unsigned char *start, size_t len)
{
	int ret;
	size_t n = 0;

	MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_len(p, start, len));
	MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_tag(p, start,
	    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	return (int)n;
}

/* UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
static int
write_time(unsigned char **p, unsigned char *start, time_t t)
{
	struct tm tm;
	char text[32];
	int ret, year, n;
	size_t len = 0;

	if (gmtime_r(&t, &tm) == NULL)
		return MBEDTLS_ERR_X509_INVALID_DATE;
	year = tm.tm_year + 1900;
	if (year < 1950 || year > 9999)
		return MBEDTLS_ERR_X509_INVALID_DATE;
	if (year < 2050)
		n = snprintf(text, sizeof(text), "%02d%02d%02d%02d%02d%02dZ",
		    year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
	else
		n = snprintf(text, sizeof(text), "%04d%02d%02d%02d%02d%02dZ",
		    year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
	if (n < 0 || (size_t)n >= sizeof(text))
		return MBEDTLS_ERR_X509_INVALID_DATE;
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start,
	    (const unsigned char *)text, (size_t)n));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start,
	    year < 2050 ? MBEDTLS_ASN1_UTC_TIME : MBEDTLS_ASN1_GENERALIZED_TIME));
	return (int)len;
}

/* ecdsa-with-SHA256 has no parameters; sha256WithRSAEncryption has NULL. */
static int
write_sig_alg(unsigned char **p, unsigned char *start, mbedtls_pk_context *signer)
{
	int ret;
	size_t len = 0;

	if (mbedtls_pk_can_do(signer, MBEDTLS_PK_ECDSA)) {
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start,
		    MBEDTLS_OID_ECDSA_SHA256,
		    MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256)));
	} else if (mbedtls_pk_can_do(signer, MBEDTLS_PK_RSA)) {
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_null(p, start));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start,
		    MBEDTLS_OID_PKCS1_SHA256,
		    MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS1_SHA256)));
	} else
		return MBEDTLS_ERR_X509_FEATURE_UNAVAILABLE;
	MBEDTLS_ASN1_CHK_ADD(len, write_seq_header(p, start, len));
	return (int)len;
}

static int
write_extensions(unsigned char **p, unsigned char *start,
    const struct x509w_ext *exts, size_t nexts)
{
	int ret;
	size_t len = 0, one, i;

	for (i = nexts; i-- > 0;) {
		const struct x509w_ext *e = &exts[i];

		one = 0;
		MBEDTLS_ASN1_CHK_ADD(one, mbedtls_asn1_write_raw_buffer(p, start,
		    e->value, e->value_len));
		MBEDTLS_ASN1_CHK_ADD(one, mbedtls_asn1_write_len(p, start, one));
		MBEDTLS_ASN1_CHK_ADD(one, mbedtls_asn1_write_tag(p, start,
		    MBEDTLS_ASN1_OCTET_STRING));
		if (e->critical)
			MBEDTLS_ASN1_CHK_ADD(one, mbedtls_asn1_write_bool(p, start, 1));
		MBEDTLS_ASN1_CHK_ADD(one, mbedtls_asn1_write_oid(p, start, e->oid,
		    e->oid_len));
		MBEDTLS_ASN1_CHK_ADD(one, write_seq_header(p, start, one));
		len += one;
	}
	MBEDTLS_ASN1_CHK_ADD(len, write_seq_header(p, start, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start,
	    MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3));
	return (int)len;
}

static int
write_tbs(const struct x509w_cert *c, mbedtls_pk_context *signer,
    unsigned char **p, unsigned char *start)
{
	int ret;
	size_t len = 0, sub;

	if (c->serial_len == 0 || c->serial[0] >= 0x80)
		return MBEDTLS_ERR_X509_BAD_INPUT_DATA;
	if (c->nexts > 0)
		MBEDTLS_ASN1_CHK_ADD(len, write_extensions(p, start, c->exts,
		    c->nexts));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start,
	    c->spki, c->spki_len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start,
	    c->subject, c->subject_len));
	sub = 0;
	MBEDTLS_ASN1_CHK_ADD(sub, write_time(p, start, c->not_after));
	MBEDTLS_ASN1_CHK_ADD(sub, write_time(p, start, c->not_before));
	MBEDTLS_ASN1_CHK_ADD(sub, write_seq_header(p, start, sub));
	len += sub;
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start,
	    c->issuer, c->issuer_len));
	MBEDTLS_ASN1_CHK_ADD(len, write_sig_alg(p, start, signer));
	sub = 0;
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_raw_buffer(p, start,
	    c->serial, c->serial_len));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_len(p, start, sub));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_tag(p, start,
	    MBEDTLS_ASN1_INTEGER));
	len += sub;
	/* [0] EXPLICIT Version v3 (2) */
	sub = 0;
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_int(p, start, 2));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_len(p, start, sub));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_tag(p, start,
	    MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0));
	len += sub;
	MBEDTLS_ASN1_CHK_ADD(len, write_seq_header(p, start, len));
	return (int)len;
}

int
x509w_sign(const struct x509w_cert *c, mbedtls_pk_context *signer,
    int (*f_rng)(void *, unsigned char *, size_t), void *p_rng,
    uint8_t *buf, size_t cap, const uint8_t **der)
{
	unsigned char tbs_buf[X509W_TBS_MAX], *tp = tbs_buf + sizeof(tbs_buf);
	unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE], hash[32];
	unsigned char *p = buf + cap;
	size_t sig_len = 0, len = 0, tbs_len;
	int ret;

	if ((ret = write_tbs(c, signer, &tp, tbs_buf)) < 0)
		return ret;
	tbs_len = (size_t)ret;
	if ((ret = mbedtls_sha256_ret(tp, tbs_len, hash, 0)) != 0 ||
	    (ret = mbedtls_pk_sign(signer, MBEDTLS_MD_SHA256, hash, sizeof(hash),
	    sig, &sig_len, f_rng, p_rng)) != 0)
		return ret;
	if (sig_len > sizeof(sig))
		return MBEDTLS_ERR_X509_BAD_INPUT_DATA;

	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_bitstring(&p, buf, sig,
	    sig_len * 8));
	MBEDTLS_ASN1_CHK_ADD(len, write_sig_alg(&p, buf, signer));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf, tp,
	    tbs_len));
	MBEDTLS_ASN1_CHK_ADD(len, write_seq_header(&p, buf, len));
	*der = p;
	return (int)len;
}

int
x509w_cn_name(const char *cn, uint8_t *buf, size_t cap, const uint8_t **der)
{
	unsigned char *p = buf + cap;
	size_t len = 0;
	int ret;

	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_utf8_string(&p, buf, cn,
	    strlen(cn)));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(&p, buf,
	    MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN)));
	MBEDTLS_ASN1_CHK_ADD(len, write_seq_header(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
	    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET));
	MBEDTLS_ASN1_CHK_ADD(len, write_seq_header(&p, buf, len));
	*der = p;
	return (int)len;
}

int
x509w_spki(mbedtls_pk_context *key, uint8_t *spki, size_t cap,
    size_t *spki_len, uint8_t keyid[20])
{
	unsigned char *p, *end;
	size_t len;
	int ret;

	if ((ret = mbedtls_pk_write_pubkey_der(key, spki, cap)) <= 0)
		return ret < 0 ? ret : MBEDTLS_ERR_X509_BAD_INPUT_DATA;
	*spki_len = (size_t)ret;
	memmove(spki, spki + cap - *spki_len, *spki_len);

	/* SEQUENCE { AlgorithmIdentifier, BIT STRING subjectPublicKey } */
	p = spki;
	end = spki + *spki_len;
	if ((ret = mbedtls_asn1_get_tag(&p, end, &len,
	    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) != 0 ||
	    (ret = mbedtls_asn1_get_tag(&p, end, &len,
	    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) != 0)
		return ret;
	p += len;
	if ((ret = mbedtls_asn1_get_tag(&p, end, &len,
	    MBEDTLS_ASN1_BIT_STRING)) != 0)
		return ret;
	if (len < 1)
		return MBEDTLS_ERR_X509_BAD_INPUT_DATA;
	/* skip the unused-bits octet */
	return mbedtls_sha1_ret(p + 1, len - 1, keyid);
}
