/*
 * ca: the per-install certificate authority and the leaf certificates
 * certd mints with it (mbedTLS 2.28).  No global state: everything lives
 * in struct ca_rng, struct ca_pem and struct ca_minter.
 *
 *   ca_generate()      new CA (ECDSA P-256) as PEM cert + PEM key
 *   ca_minter_new()    load a CA from PEM buffers, make the session leaf key
 *   ca_mint()          leaf for a validated name, from the LRU cache or new
 *   ca_name_check()    the name rules every request passes before minting
 */
#ifndef CAPSEM_CA_H
#define CAPSEM_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CA_NAME_MAX		253	/* DNS name, without a trailing dot */
#define CA_LABEL_MAX		63
#define CA_ERR_MAX		160	/* room for any error string we make */
#define CA_CACHE_DEFAULT	4096	/* leaves kept by name */
#define CA_LEAF_BEFORE		3600	/* leaf notBefore = now - 1 h */
#define CA_LEAF_LIFETIME	86400	/* leaf notAfter = now + 24 h */
#define CA_LEAF_REMINT		3600	/* re-mint a cached leaf this close to expiry */
#define CA_VALIDITY_YEARS	10
#define CA_DER_MAX		4096	/* largest certificate we write */

/* What a name is, once ca_name_check() accepted it. */
enum ca_name_kind {
	CA_NAME_DNS = 1,
	CA_NAME_IPV4,
	CA_NAME_IPV6,
};

/*
 * Check a requested name (len bytes, not NUL-terminated, may contain any
 * byte).  Returns 0 and sets *kind, or -1 with a one-line reason in err.
 * Rules: lowercase LDH labels of 1..63 bytes, hyphen not first or last,
 * total <= 253, no empty label (so no leading/trailing dot); or an IPv4
 * dotted quad; or an IPv6 literal without brackets.
 */
int	ca_name_check(const uint8_t *name, size_t len, enum ca_name_kind *kind,
	    char *err, size_t errlen);

/* A CTR_DRBG seeded from getrandom(2): no files opened, ever. */
struct ca_rng;
struct ca_rng *ca_rng_new(char *err, size_t errlen);
void	ca_rng_free(struct ca_rng *);
int	ca_rng_bytes(struct ca_rng *, uint8_t *buf, size_t len);

/* A CA as PEM text, NUL-terminated; len excludes the NUL. */
struct ca_pem {
	char		*cert;
	size_t		 cert_len;
	char		*key;		/* explicit_bzero'd by ca_pem_free */
	size_t		 key_len;
};

/*
 * Make a new CA: ECDSA P-256, subject "CN=capsem CA (<host>, <date>)",
 * basicConstraints CA:TRUE pathlen:0 (critical), keyUsage keyCertSign |
 * cRLSign (critical), SKI, valid from now - 1 h for 10 years, random
 * serial.  host is sanitised to [A-Za-z0-9.-].  Returns 0 or -1 + err.
 */
int	ca_generate(struct ca_rng *, const char *host, time_t now,
	    struct ca_pem *out, char *err, size_t errlen);
void	ca_pem_free(struct ca_pem *);

/* One minted leaf, as ca_mint() hands it out. */
struct ca_leaf {
	const uint8_t	*der;
	size_t		 der_len;
	int64_t		 not_after;
	bool		 from_cache;
};

struct ca_minter_stats {
	uint64_t	 mints;		/* leaves signed */
	uint64_t	 cache_hits;
	uint64_t	 refused;	/* names refused by ca_name_check */
	uint64_t	 errors;	/* signing failures */
	size_t		 cached;	/* entries in the cache now */
};

struct ca_minter;

/*
 * The session leaf key: one ECDSA P-256 key made when certd starts.
 * Every leaf carries its public half; netproxy gets the private half once.
 */
struct ca_leaf_key;
struct ca_leaf_key *ca_leaf_key_new(struct ca_rng *, char *err, size_t errlen);
void	ca_leaf_key_free(struct ca_leaf_key *);
/* The private key, DER (SEC1 ECPrivateKey). */
const uint8_t *ca_leaf_key_der(const struct ca_leaf_key *, size_t *len);

/*
 * Load the CA from PEM (or DER) buffers; they need no NUL terminator.
 * Checks: the certificate parses, is a CA, the key parses (unencrypted)
 * and matches the certificate's public key.  Then mints a self-test leaf
 * that must verify against the CA.  rng and leaf_key are borrowed and
 * must outlive the minter.  cache_max 0 means CA_CACHE_DEFAULT.
 * Returns NULL + err on failure; the key copy is wiped either way.
 */
struct ca_minter *ca_minter_new(struct ca_rng *, struct ca_leaf_key *,
	    const uint8_t *cert, size_t cert_len, const uint8_t *key,
	    size_t key_len, size_t cache_max, char *err, size_t errlen);
void	ca_minter_free(struct ca_minter *);

/* The CA certificate, DER. */
const uint8_t *ca_minter_ca_der(const struct ca_minter *, size_t *len);
/* mbedtls_x509_dn_gets writes "\\," for a comma in a value: show ",". */
void	ca_unescape_dn(char *dn);

/* The CA subject as text, for status lines. */
const char *ca_minter_ca_subject(const struct ca_minter *);

/*
 * A leaf for name (len bytes): checked with ca_name_check, then served
 * from the cache unless it expires within CA_LEAF_REMINT, else signed.
 * *out stays valid until the next ca_mint on this minter.  Returns 0, or
 * -1 with err (a refused name or a signing failure); never a leaf then.
 */
int	ca_mint(struct ca_minter *, const uint8_t *name, size_t len, time_t now,
	    struct ca_leaf *out, char *err, size_t errlen);

void	ca_minter_stats(const struct ca_minter *, struct ca_minter_stats *);

#endif
