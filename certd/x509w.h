/*
 * x509w: write and sign an X.509 v3 certificate from parts.  Our own
 * writer (asn1write + pk_sign) rather than mbedtls_x509write_crt, because
 * mbedTLS 2.28 puts a NULL parameter in ecdsa-with-SHA256 algorithm
 * identifiers, which RFC 5758 forbids and strict verifiers (webpki)
 * reject, and because the issuer must be the CA's subject byte for byte.
 */
#ifndef CAPSEM_CERTD_X509W_H
#define CAPSEM_CERTD_X509W_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <mbedtls/pk.h>

struct x509w_ext {
	const char	*oid;		/* DER OID contents (MBEDTLS_OID_*) */
	size_t		 oid_len;
	int		 critical;
	const uint8_t	*value;		/* DER, the OCTET STRING's contents */
	size_t		 value_len;
};

struct x509w_cert {
	const uint8_t	*serial;	/* big-endian, positive (first byte < 0x80) */
	size_t		 serial_len;
	const uint8_t	*issuer;	/* DER Name */
	size_t		 issuer_len;
	const uint8_t	*subject;	/* DER Name */
	size_t		 subject_len;
	time_t		 not_before;
	time_t		 not_after;
	const uint8_t	*spki;		/* DER SubjectPublicKeyInfo */
	size_t		 spki_len;
	const struct x509w_ext *exts;
	size_t		 nexts;
};

/*
 * Sign cert with signer (ECDSA or RSA, SHA-256) into buf.  Returns the
 * certificate's length (> 0) with *der pointing into buf, or a negative
 * mbedTLS error code.
 */
int	x509w_sign(const struct x509w_cert *, mbedtls_pk_context *signer,
	    int (*f_rng)(void *, unsigned char *, size_t), void *p_rng,
	    uint8_t *buf, size_t cap, const uint8_t **der);

/* DER Name with one RDN: commonName as UTF8String.  Length or < 0. */
int	x509w_cn_name(const char *cn, uint8_t *buf, size_t cap,
	    const uint8_t **der);

/*
 * The key's SubjectPublicKeyInfo (DER) and its key identifier (SHA-1 of
 * the subjectPublicKey bits, RFC 5280 4.2.1.2 method 1).  0 or < 0.
 */
int	x509w_spki(mbedtls_pk_context *key, uint8_t *spki, size_t cap,
	    size_t *spki_len, uint8_t keyid[20]);

#endif
