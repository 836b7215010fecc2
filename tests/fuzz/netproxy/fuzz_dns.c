/* libFuzzer: DNS query parser and answer builder. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query q;
	uint8_t out[DNS_ANSWER_MAX];
	int rc;
	size_t n;

	rc = dns_query_parse(data, size, &q);
	if (rc == -1)
		return 0;
	if (strlen(q.name) > DNS_NAME_MAX)
		__builtin_trap();
	n = dns_build_response(data, size, rc == DNS_RCODE_FORMERR ? NULL : &q,
	    (enum dns_rcode)rc, rc == 0 ? 0xc6120001u : 0, out, sizeof(out));
	if (n > sizeof(out))
		__builtin_trap();
	if (rc == 0) {
		/* the answer must parse back as one question */
		if (n < DNS_HEADER_LEN + q.question_len)
			__builtin_trap();
	}
	return 0;
}
