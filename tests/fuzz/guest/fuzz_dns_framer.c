/*
 * libFuzzer target: capsem-dns's stream framing. The input is split into
 * chunks (sizes taken from the input itself) and fed incrementally; the
 * messages it yields must equal those of a one-shot reference reading of the
 * same bytes, whatever the chunking.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_framer f;
	size_t	 pos, ref = 0, chunkseed;
	uint8_t	 prefix[2];

	if (size < 1)
		return 0;
	chunkseed = data[0];
	data++;
	size--;

	dns_framer_init(&f);
	pos = 0;
	while (pos < size && !f.error) {
		size_t	 chunk = (chunkseed % 7) + 1 + (data[pos] & 0x3f);

		chunkseed = chunkseed * 31 + 7;
		if (chunk > size - pos)
			chunk = size - pos;
		size_t	 end = pos + chunk;

		while (pos < end && !f.error) {
			size_t	 used = dns_framer_feed(&f, data + pos, end - pos);

			if (used > end - pos)
				abort();
			pos += used;
			if (f.ready) {
				/* reference: length prefix at ref, message after it */
				size_t	 len;

				if (ref + 2 > size)
					abort();
				len = ((size_t)data[ref] << 8) | data[ref + 1];
				if (len != f.want || len < DNS_HEADER_LEN ||
				    ref + 2 + len > size ||
				    memcmp(f.msg, data + ref + 2, len) != 0)
					abort();
				if (dns_frame_prefix(prefix, len) != 0 ||
				    memcmp(prefix, data + ref, 2) != 0)
					abort();
				ref += 2 + len;
				if (ref != pos)
					abort();
				dns_framer_next(&f);
			} else if (used == 0 && !f.error)
				abort();	/* no progress without a reason */
		}
	}
	if (f.error) {
		/* the announced length at ref must really be a runt */
		if (ref + 2 > size ||
		    (((size_t)data[ref] << 8) | data[ref + 1]) >= DNS_HEADER_LEN)
			abort();
	}
	return 0;
}
