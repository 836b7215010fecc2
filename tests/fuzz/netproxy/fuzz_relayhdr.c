/* libFuzzer: guest relay header line. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "relayhdr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relayhdr h;
	size_t n;
	char again[RELAYHDR_MAX + 1];
	int len;

	if (relayhdr_parse(data, size, &h, &n) != RELAYHDR_OK)
		return 0;
	if (n > size || n > RELAYHDR_MAX || h.port == 0)
		__builtin_trap();
	/* an accepted header is exactly its canonical spelling */
	len = snprintf(again, sizeof(again), "CAPSEM/1 %u.%u.%u.%u %u\n",
	    h.addr >> 24, (h.addr >> 16) & 0xff, (h.addr >> 8) & 0xff,
	    h.addr & 0xff, h.port);
	if (len < 0 || (size_t)len != n || memcmp(again, data, n) != 0)
		__builtin_trap();
	return 0;
}
