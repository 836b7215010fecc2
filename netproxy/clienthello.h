/*
 * clienthello: look at the first bytes of a stream, without consuming them,
 * and tell whether they are a TLS ClientHello, and if so which server name
 * (SNI host_name, RFC 6066) and which ALPN protocols it asks for.
 *
 * The ClientHello must fit in one TLS record: mbedTLS 2.28 (our TLS server)
 * refuses a ClientHello fragmented across records, so we refuse it here
 * explicitly (CH_FRAGMENTED) rather than hand mbedTLS something it rejects.
 */
#ifndef NETPROXY_CLIENTHELLO_H
#define NETPROXY_CLIENTHELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CH_RECORD_MAX		16384	/* TLSPlaintext.length limit (2^14) */
#define CH_PEEK_MAX		(5 + CH_RECORD_MAX)
#define CH_HOST_MAX		253	/* bytes of a host name, no trailing dot */
#define CH_ALPN_MAX		8	/* protocols we keep */
#define CH_ALPN_NAME_MAX	32	/* bytes of one protocol name we keep */

enum ch_result {
	CH_NEED_MORE = 0,	/* a valid prefix; read more */
	CH_OK,			/* ClientHello with an SNI host_name */
	CH_NO_SNI,		/* valid ClientHello without server_name */
	CH_NOT_TLS,		/* does not start like a TLS handshake record */
	CH_BAD,			/* TLS record, but a malformed ClientHello */
	CH_FRAGMENTED,		/* ClientHello split across records: refused */
};

struct clienthello {
	char		 host[CH_HOST_MAX + 1];	/* lower case, NUL-terminated */
	size_t		 host_len;
	size_t		 alpn_count;		/* protocols kept in alpn[] */
	char		 alpn[CH_ALPN_MAX][CH_ALPN_NAME_MAX + 1];
	bool		 alpn_present;		/* the extension was there */
	bool		 alpn_http11;		/* "http/1.1" offered */
	uint16_t	 legacy_version;	/* client_version */
	size_t		 record_len;		/* bytes of the whole record */
};

/* Decide on the first len bytes of a stream. */
enum ch_result	clienthello_parse(const uint8_t *buf, size_t len,
		    struct clienthello *);

const char	*clienthello_result_string(enum ch_result);

#endif
