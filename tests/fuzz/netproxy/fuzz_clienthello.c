/* libFuzzer: ClientHello / SNI / ALPN reader, on every prefix length. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "clienthello.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct clienthello ch;
	enum ch_result r;

	r = clienthello_parse(data, size, &ch);
	if (r == CH_OK) {
		/* the name is a bounded, NUL-terminated, lower-case string */
		if (ch.host_len == 0 || ch.host_len > CH_HOST_MAX ||
		    strlen(ch.host) != ch.host_len)
			__builtin_trap();
		if (ch.record_len > size)
			__builtin_trap();
	}
	if (ch.alpn_count > CH_ALPN_MAX)
		__builtin_trap();
	return 0;
}
