/*
 * wire.c: relay header line and DNS stream framing (see guest/PROTOCOL).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "wire.h"

int
relay_header_format(char *out, size_t outlen, const struct sockaddr_in *dst)
{
	uint32_t addr = ntohl(dst->sin_addr.s_addr);
	uint16_t port = ntohs(dst->sin_port);
	int	 n;

	if (port == 0)
		return -1;
	/* %u of each octet: no leading zeros, "0" for zero. */
	n = snprintf(out, outlen, "CAPSEM/1 %u.%u.%u.%u %u\n",
	    (addr >> 24) & 0xffu, (addr >> 16) & 0xffu, (addr >> 8) & 0xffu,
	    addr & 0xffu, (unsigned)port);
	if (n < 0 || (size_t)n >= outlen || n > RELAY_HEADER_MAX)
		return -1;
	return n;
}

void
dns_framer_init(struct dns_framer *f)
{
	f->lenhave = 0;
	f->want = 0;
	f->have = 0;
	f->ready = false;
	f->error = false;
}

size_t
dns_framer_feed(struct dns_framer *f, const uint8_t *in, size_t inlen)
{
	size_t	 used = 0;

	while (used < inlen && !f->ready && !f->error) {
		if (f->lenhave < 2) {
			f->lenbuf[f->lenhave++] = in[used++];
			if (f->lenhave == 2) {
				f->want = ((size_t)f->lenbuf[0] << 8) | f->lenbuf[1];
				f->have = 0;
				if (f->want < DNS_HEADER_LEN)
					f->error = true;
			}
			continue;
		}
		size_t	 take = f->want - f->have;

		if (take > inlen - used)
			take = inlen - used;
		memcpy(f->msg + f->have, in + used, take);
		f->have += take;
		used += take;
		if (f->have == f->want)
			f->ready = true;
	}
	return used;
}

void
dns_framer_next(struct dns_framer *f)
{
	f->lenhave = 0;
	f->want = 0;
	f->have = 0;
	f->ready = false;
}

int
dns_frame_prefix(uint8_t out[2], size_t len)
{
	if (len < DNS_HEADER_LEN || len > DNS_MESSAGE_MAX)
		return -1;
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)(len & 0xffu);
	return 0;
}
