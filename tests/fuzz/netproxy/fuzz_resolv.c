/*
 * libFuzzer: the stub resolver's answer reader and resolv.conf reader.
 * The first input byte picks the reader; for answers, the id and the name
 * asked for are fixed (the seeds use them), so the fuzzer explores the
 * paths past the id and question checks too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "resolv.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resolv_answer a;
	struct resolv_conf rc;
	enum resolv_result r;
	uint8_t	 q[RESOLV_QUERY_MAX];
	size_t	 i;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		if (resolv_conf_parse((const char *)data + 1, size - 1, &rc) >
		    RESOLV_NS_MAX)
			__builtin_trap();
		return 0;
	}
	r = resolv_answer_parse(data + 1, size - 1, 0x1234, "api.example.test",
	    &a);
	if (r == RESOLV_OK && (a.naddrs == 0 || a.naddrs > RESOLV_ADDR_MAX))
		__builtin_trap();
	if (r != RESOLV_OK && a.naddrs != 0)
		__builtin_trap();
	if (a.ttl > RESOLV_TTL_MAX)
		__builtin_trap();
	for (i = 0; i < a.naddrs; i++)
		(void)a.addrs[i];
	/* the builder must never write past its buffer, whatever the name */
	if (size - 1 < 300) {
		char	 name[300];

		memcpy(name, data + 1, size - 1);
		name[size - 1] = '\0';
		if (resolv_query_build(q, sizeof(q), 0x1234, name) > sizeof(q))
			__builtin_trap();
	}
	return 0;
}
