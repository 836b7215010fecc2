/*
 * crc32c.c: see crc32c.h.
 */
#include <string.h>

#include "snap/crc32c.h"

/*
 * CRC-32C of each 4-bit value, reflected polynomial 0x82f63b78 (the
 * fallback takes a byte as two nibbles: slow, and only for CPUs without
 * SSE4.2, which cannot run hardware KVM guests in practice).
 */
static const uint32_t crc32c_nibble[16] = {
	0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1,
	0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
	0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
	0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

uint32_t
crc32c_table(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	crc = ~crc;
	while (len-- > 0) {
		crc ^= *p++;
		crc = crc32c_nibble[crc & 0xf] ^ (crc >> 4);
		crc = crc32c_nibble[crc & 0xf] ^ (crc >> 4);
	}
	return ~crc;
}

__attribute__((target("sse4.2")))
static uint32_t
crc32c_sse42(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc & 0xffffffffu, word;

	while (len >= 8) {
		memcpy(&word, p, 8);
		c = __builtin_ia32_crc32di(c, word);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
	/* the compiler's CPU model, read once per process (no CPUID exit
	 * per call) */
	if (__builtin_cpu_supports("sse4.2"))
		return crc32c_sse42(crc, buf, len);
	return crc32c_table(crc, buf, len);
}
