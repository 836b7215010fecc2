/*
 * wire: the byte formats the guest programs speak (see guest/PROTOCOL).
 * Pure functions, no I/O: unit-tested and fuzzed.
 */
#ifndef CAPSEM_GUEST_WIRE_H
#define CAPSEM_GUEST_WIRE_H

#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Relay header line: "CAPSEM/1 <dotted-quad> <port>\n", at most 64 bytes. */
#define RELAY_HEADER_MAX	64

/*
 * Format the header for an original destination (address and port in network
 * byte order as in struct sockaddr_in). Returns its length (no NUL written
 * beyond it is counted), or -1 if port is 0 or out is too small.
 */
int	relay_header_format(char *out, size_t outlen, const struct sockaddr_in *dst);

/* DNS messages: shorter than a header is not a DNS message. */
#define DNS_HEADER_LEN		12
#define DNS_MESSAGE_MAX		65535

/*
 * DNS-over-stream framing (2-byte big-endian length, then the message), fed
 * incrementally. dns_framer_feed() consumes bytes from in and returns how many
 * it took; when a whole message is ready, `ready` is set and msg/msglen hold
 * it until dns_framer_next() is called (feeding stops at a message boundary).
 */
struct dns_framer {
	uint8_t	 lenbuf[2];
	size_t	 lenhave;	/* bytes of the length prefix seen (0..2) */
	size_t	 want;		/* message length announced */
	size_t	 have;		/* message bytes seen */
	bool	 ready;
	bool	 error;		/* a length below DNS_HEADER_LEN was announced */
	uint8_t	 msg[DNS_MESSAGE_MAX];
};

void	dns_framer_init(struct dns_framer *);
size_t	dns_framer_feed(struct dns_framer *, const uint8_t *in, size_t inlen);
void	dns_framer_next(struct dns_framer *);

/* Write the 2-byte length prefix for a message of len bytes; -1 if invalid. */
int	dns_frame_prefix(uint8_t out[2], size_t len);

#endif
