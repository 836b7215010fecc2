/*
 * libFuzzer target: certd's MINT_REQUEST reader (mint_answer, which runs
 * the name validator and, for accepted names, mints through the cache)
 * and the MINT_RESPONSE reader (mint_response_parse).
 *
 * Invariants checked: an accepted name is made of the allowed bytes only;
 * a certificate comes back only for an accepted name and parses, names
 * exactly that name, and verifies against the CA; an error is non-empty
 * text; the response reader never points outside its input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/x509_crt.h>

#include "ca.h"
#include "mint_msg.h"

struct fuzz_world {
	struct ca_rng	*rng;
	struct ca_leaf_key *leaf_key;
	struct ca_minter *minter;
	mbedtls_x509_crt ca;
};

static struct fuzz_world *
world(void)
{
	static struct fuzz_world *w;
	struct ca_pem pem;
	char err[CA_ERR_MAX];

	if (w != NULL)
		return w;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->rng = ca_rng_new(err, sizeof(err))) == NULL ||
	    (w->leaf_key = ca_leaf_key_new(w->rng, err, sizeof(err))) == NULL ||
	    ca_generate(w->rng, "fuzz", time(NULL), &pem, err, sizeof(err)) != 0)
		abort();
	w->minter = ca_minter_new(w->rng, w->leaf_key, (uint8_t *)pem.cert,
	    pem.cert_len, (uint8_t *)pem.key, pem.key_len, 64, err, sizeof(err));
	if (w->minter == NULL)
		abort();
	mbedtls_x509_crt_init(&w->ca);
	if (mbedtls_x509_crt_parse(&w->ca, (uint8_t *)pem.cert,
	    pem.cert_len + 1) != 0)
		abort();
	ca_pem_free(&pem);
	return w;
}

static void
check_accepted(const uint8_t *data, size_t size, enum ca_name_kind kind)
{
	size_t i;

	if (size == 0 || size > CA_NAME_MAX)
		abort();
	for (i = 0; i < size; i++) {
		uint8_t c = data[i];

		if (kind == CA_NAME_DNS &&
		    !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.'))
			abort();
		if (kind != CA_NAME_DNS &&
		    !((c >= 'a' && c <= 'f') || (c >= '0' && c <= '9') ||
		    c == ':' || c == '.'))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_world *w = world();
	static uint8_t out[MINT_ANSWER_MAX];
	enum ca_name_kind kind;
	char err[CA_ERR_MAX], name[CA_NAME_MAX + 1];
	const uint8_t *leaf, *ca;
	size_t len, leaf_len, ca_len;
	int64_t not_after;
	uint32_t type, flags;
	int accepted;
	mbedtls_x509_crt crt;

	accepted = ca_name_check(data, size, &kind, err, sizeof(err)) == 0;
	if (accepted)
		check_accepted(data, size, kind);
	else if (err[0] == '\0' || strlen(err) >= sizeof(err))
		abort();

	type = mint_answer(w->minter, data, size, time(NULL), out, sizeof(out),
	    &len);
	if (type == MSG_MINT_ERROR) {
		if (accepted || len == 0 || memchr(out, '\0', len) != NULL)
			abort();
	} else if (type == MSG_MINT_RESPONSE) {
		if (!accepted)
			abort();
		if (mint_response_parse(out, len, &leaf, &leaf_len, &ca, &ca_len,
		    &not_after) != 0)
			abort();
		memcpy(name, data, size);
		name[size] = '\0';
		mbedtls_x509_crt_init(&crt);
		if (mbedtls_x509_crt_parse_der(&crt, leaf, leaf_len) != 0)
			abort();
		if (kind == CA_NAME_DNS &&
		    mbedtls_x509_crt_verify(&crt, &w->ca, NULL, name, &flags,
		    NULL, NULL) != 0)
			abort();
		mbedtls_x509_crt_free(&crt);
	} else
		abort();

	/* The other direction: arbitrary bytes as a MINT_RESPONSE. */
	if (mint_response_parse(data, size, &leaf, &leaf_len, &ca, &ca_len,
	    &not_after) == 0) {
		if (leaf < data || ca + ca_len > data + size ||
		    leaf + leaf_len != ca || leaf_len == 0 || ca_len == 0)
			abort();
	}
	return 0;
}
