/*
 * relayhdr.c: strict reader of the guest relay's header line.
 */
#include <stdbool.h>
#include <string.h>

#include "relayhdr.h"

#define RELAYHDR_MAGIC		"CAPSEM/1 "
#define RELAYHDR_MAGIC_LEN	(sizeof(RELAYHDR_MAGIC) - 1)

/*
 * Read one decimal number in [p, end) up to the byte stop.  No sign, no
 * leading zero unless the number is "0", at most max.  Returns the end of
 * the number (pointing at stop) or NULL.
 */
static const uint8_t *
read_decimal(const uint8_t *p, const uint8_t *end, uint8_t stop,
    uint32_t max, uint32_t *out)
{
	const uint8_t	*start = p;
	uint32_t	 value = 0;

	while (p < end && *p != stop) {
		if (*p < '0' || *p > '9')
			return NULL;
		if (p - start >= 5)
			return NULL;
		value = value * 10 + (uint32_t)(*p - '0');
		p++;
	}
	if (p == start || p == end)
		return NULL;
	if (*start == '0' && p - start > 1)
		return NULL;
	if (value > max)
		return NULL;
	*out = value;
	return p;
}

enum relayhdr_result
relayhdr_parse(const uint8_t *buf, size_t len, struct relayhdr *hdr,
    size_t *hdrlen)
{
	const uint8_t	*nl, *p, *end;
	size_t		 n, i;
	uint32_t	 octet, addr = 0, port;

	/* Every byte seen so far must be possible in a header. */
	n = len < RELAYHDR_MAGIC_LEN ? len : RELAYHDR_MAGIC_LEN;
	if (memcmp(buf, RELAYHDR_MAGIC, n) != 0)
		return RELAYHDR_BAD;
	n = len < RELAYHDR_MAX ? len : RELAYHDR_MAX;
	for (i = RELAYHDR_MAGIC_LEN; i < n; i++) {
		if (buf[i] == '\n')
			break;
		if (!((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '.' ||
		    buf[i] == ' '))
			return RELAYHDR_BAD;
	}
	nl = n > 0 ? memchr(buf, '\n', n) : NULL;
	if (nl == NULL)
		return len >= RELAYHDR_MAX ? RELAYHDR_BAD : RELAYHDR_NEED_MORE;
	if ((size_t)(nl - buf) < RELAYHDR_MAGIC_LEN)
		return RELAYHDR_BAD;

	p = buf + RELAYHDR_MAGIC_LEN;
	end = nl;
	for (i = 0; i < 4; i++) {
		p = read_decimal(p, end, i < 3 ? '.' : ' ', 255, &octet);
		if (p == NULL)
			return RELAYHDR_BAD;
		addr = (addr << 8) | octet;
		p++;		/* the '.' or ' ' */
	}
	/* The port runs to the newline. */
	if (p >= end)
		return RELAYHDR_BAD;
	{
		const uint8_t *q = read_decimal(p, nl + 1, '\n', 65535, &port);
		if (q != nl || port == 0)
			return RELAYHDR_BAD;
	}
	hdr->addr = addr;
	hdr->port = (uint16_t)port;
	*hdrlen = (size_t)(nl - buf) + 1;
	return RELAYHDR_OK;
}
