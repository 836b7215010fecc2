/*
 * relayhdr: the one-line header the guest relay writes at the start of every
 * stream it forwards (vsock 1443/1080):
 *
 *	CAPSEM/1 <dotted-quad IPv4> <port 1-65535>\n
 *
 * Single spaces, decimal without leading zeros (except "0" itself in an
 * octet), at most RELAYHDR_MAX bytes including the newline.  Anything else
 * is refused: netproxy resets the stream.
 */
#ifndef NETPROXY_RELAYHDR_H
#define NETPROXY_RELAYHDR_H

#include <stddef.h>
#include <stdint.h>

#define RELAYHDR_MAX	64

enum relayhdr_result {
	RELAYHDR_BAD = -1,	/* not a valid header: reset the stream */
	RELAYHDR_NEED_MORE = 0,	/* a valid prefix so far */
	RELAYHDR_OK = 1,
};

struct relayhdr {
	uint32_t	 addr;		/* IPv4, host byte order */
	uint16_t	 port;		/* 1..65535 */
};

/*
 * Look at the first len bytes of a stream.  On RELAYHDR_OK fills *hdr and
 * sets *hdrlen to the header's length including the newline.
 */
enum relayhdr_result relayhdr_parse(const uint8_t *buf, size_t len,
	    struct relayhdr *hdr, size_t *hdrlen);

#endif
