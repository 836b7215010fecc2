/*
 * mint_msg: the MINT_REQUEST reader and the MINT_RESPONSE format, kept
 * apart from the process so that tests and the fuzzer drive them alone.
 *
 *   MSG_MINT_REQUEST   hostname bytes (1..253, no NUL); peerid = request id
 *   MSG_MINT_RESPONSE  struct msg_mint_response + leaf DER + CA DER
 *   MSG_MINT_ERROR     reason text (no NUL); peerid echoed
 */
#ifndef CAPSEM_CERTD_MINT_MSG_H
#define CAPSEM_CERTD_MINT_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ca.h"
#include "msg.h"

/* Longest MINT_REQUEST payload read at all; longer is a malformed message. */
#define MINT_REQUEST_MAXLEN	1024
/* Room for any answer: header + leaf + a CA certificate. */
#define MINT_ANSWER_MAX		(sizeof(struct msg_mint_response) + CA_DER_MAX + \
				    (32u * 1024))

/*
 * Answer one MINT_REQUEST payload: either the MSG_MINT_RESPONSE payload
 * or the MSG_MINT_ERROR text is written to out (cap bytes) and its type
 * returned; *outlen is set.  minter may be NULL (no CA loaded yet).
 */
uint32_t mint_answer(struct ca_minter *minter, const uint8_t *payload,
	    size_t len, time_t now, uint8_t *out, size_t cap, size_t *outlen);

/*
 * Read a MSG_MINT_RESPONSE payload (the netproxy side).  Returns 0 and
 * points leaf/ca into payload, or -1 if the lengths do not add up.
 */
int	mint_response_parse(const uint8_t *payload, size_t len,
	    const uint8_t **leaf, size_t *leaf_len, const uint8_t **ca,
	    size_t *ca_len, int64_t *not_after);

#endif
