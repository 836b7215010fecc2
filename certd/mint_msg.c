/*
 * mint_msg: answers to MINT_REQUEST, and the reader of MINT_RESPONSE.
 */
#include <stdio.h>
#include <string.h>

#include "mint_msg.h"

static uint32_t
mint_error(uint8_t *out, size_t cap, size_t *outlen, const char *reason)
{
	size_t n = strlen(reason);

	if (n > cap)
		n = cap;
	memcpy(out, reason, n);
	*outlen = n;
	return MSG_MINT_ERROR;
}

uint32_t
mint_answer(struct ca_minter *minter, const uint8_t *payload, size_t len,
    time_t now, uint8_t *out, size_t cap, size_t *outlen)
{
	struct msg_mint_response resp;
	struct ca_leaf leaf;
	const uint8_t *ca_der;
	size_t ca_len, total;
	char err[CA_ERR_MAX];

	*outlen = 0;
	if (len > MINT_REQUEST_MAXLEN)
		return mint_error(out, cap, outlen, "name longer than 253 bytes");
	if (minter == NULL)
		return mint_error(out, cap, outlen, "no CA loaded");
	if (ca_mint(minter, payload, len, now, &leaf, err, sizeof(err)) == -1)
		return mint_error(out, cap, outlen, err);

	ca_der = ca_minter_ca_der(minter, &ca_len);
	total = sizeof(resp) + leaf.der_len + ca_len;
	if (leaf.der_len > UINT32_MAX || ca_len > UINT32_MAX || total > cap ||
	    total < ca_len)
		return mint_error(out, cap, outlen,
		    "certificate chain too large for a message");
	memset(&resp, 0, sizeof(resp));
	resp.leaf_len = (uint32_t)leaf.der_len;
	resp.ca_len = (uint32_t)ca_len;
	resp.not_after = leaf.not_after;
	memcpy(out, &resp, sizeof(resp));
	memcpy(out + sizeof(resp), leaf.der, leaf.der_len);
	memcpy(out + sizeof(resp) + leaf.der_len, ca_der, ca_len);
	*outlen = total;
	return MSG_MINT_RESPONSE;
}

int
mint_response_parse(const uint8_t *payload, size_t len, const uint8_t **leaf,
    size_t *leaf_len, const uint8_t **ca, size_t *ca_len, int64_t *not_after)
{
	struct msg_mint_response resp;

	if (len < sizeof(resp))
		return -1;
	memcpy(&resp, payload, sizeof(resp));
	if (resp.leaf_len == 0 || resp.ca_len == 0 ||
	    (uint64_t)resp.leaf_len + resp.ca_len != len - sizeof(resp))
		return -1;
	*leaf = payload + sizeof(resp);
	*leaf_len = resp.leaf_len;
	*ca = payload + sizeof(resp) + resp.leaf_len;
	*ca_len = resp.ca_len;
	*not_after = resp.not_after;
	return 0;
}
