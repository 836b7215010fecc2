/*
 * http: strict HTTP/1.1 message heads (RFC 9112) read from untrusted bytes,
 * and a streaming chunked-body decoder.  Nothing here allocates; a parsed
 * head is a set of spans into the caller's buffer.
 *
 * Requests are read strictly and anything that could be read two ways by
 * two HTTP implementations (request smuggling shapes) is refused with an
 * error code: the proxy answers 400 (417 for an unknown expectation) and
 * closes the connection.
 */
#ifndef NETPROXY_HTTP_H
#define NETPROXY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_REQUEST_LINE_MAX	8192	/* request line, without CRLF */
#define HTTP_HEAD_MAX		16384	/* whole head including the final CRLF */
#define HTTP_HEADERS_MAX	100	/* header fields in one head */
#define HTTP_METHOD_MAX		31	/* bytes of a method name */
#define HTTP_LEADING_CRLF_MAX	2	/* empty lines ignored before a request */
#define HTTP_CHUNK_LINE_MAX	1024	/* chunk-size line with extensions */
#define HTTP_TRAILER_MAX	8192	/* trailer section of a chunked body */
#define HTTP_CHUNK_SIZE_MAX	(UINT64_C(1) << 62)

enum http_result {
	HTTP_ERROR = -1,
	HTTP_NEED_MORE = 0,
	HTTP_OK = 1,
};

enum http_error {
	HTTP_E_NONE = 0,
	HTTP_E_NUL,		/* NUL byte in the head */
	HTTP_E_BARE_LF,		/* LF not preceded by CR */
	HTTP_E_BARE_CR,		/* CR not followed by LF */
	HTTP_E_CTL,		/* other control byte where not allowed */
	HTTP_E_REQUEST_LINE_TOO_LONG,
	HTTP_E_HEAD_TOO_LARGE,
	HTTP_E_TOO_MANY_HEADERS,
	HTTP_E_REQUEST_LINE,	/* not METHOD SP target SP version */
	HTTP_E_METHOD,		/* not a token, or too long */
	HTTP_E_METHOD_CASE,	/* lower-case letters in the method */
	HTTP_E_CONNECT,		/* CONNECT is not proxied */
	HTTP_E_TARGET,		/* bad request-target */
	HTTP_E_VERSION,		/* not HTTP/1.0 or HTTP/1.1 */
	HTTP_E_OBS_FOLD,	/* line folding */
	HTTP_E_WS_BEFORE_COLON,
	HTTP_E_WS_AFTER_START_LINE,
	HTTP_E_NO_COLON,
	HTTP_E_HEADER_NAME,
	HTTP_E_HEADER_VALUE,
	HTTP_E_CL_INVALID,
	HTTP_E_CL_DUPLICATE,
	HTTP_E_CL_AND_TE,
	HTTP_E_TE_UNSUPPORTED,	/* Transfer-Encoding other than "chunked" */
	HTTP_E_TE_DUPLICATE,
	HTTP_E_TE_HTTP10,
	HTTP_E_HOST_MISSING,
	HTTP_E_HOST_DUPLICATE,
	HTTP_E_HOST_INVALID,
	HTTP_E_AUTHORITY_MISMATCH,	/* absolute-form authority != Host */
	HTTP_E_EXPECT,		/* expectation other than 100-continue */
	HTTP_E_UPGRADE,		/* upgrade to anything but websocket */
	HTTP_E_STATUS_LINE,	/* responses: bad status line */
	HTTP_E_CHUNK,		/* chunked framing */
	HTTP_E_MAX
};

/* A byte range of the caller's buffer. */
struct http_span {
	uint32_t	 off;
	uint32_t	 len;
};

struct http_field {
	struct http_span name;
	struct http_span value;	/* without surrounding whitespace */
};

enum http_body_kind {
	HTTP_BODY_NONE = 0,
	HTTP_BODY_LENGTH,	/* Content-Length bytes */
	HTTP_BODY_CHUNKED,
	HTTP_BODY_CLOSE,	/* responses only: until the connection closes */
};

/* Where a head scan stopped, so that more bytes do not rescan the start. */
struct http_scan {
	size_t		 pos;		/* next byte to look at */
	size_t		 line_start;	/* start of the current line */
	size_t		 start;		/* start of the start-line */
	unsigned	 lines;		/* complete non-empty lines seen */
};

struct http_head {
	struct http_scan scan;
	enum http_error	 error;
	size_t		 head_len;	/* bytes of the head, CRLFCRLF included */
	int		 version_minor;	/* 0 or 1 */
	size_t		 nfields;
	struct http_field fields[HTTP_HEADERS_MAX];
	enum http_body_kind body;
	uint64_t	 content_length;
	bool		 keep_alive;
	bool		 conn_upgrade;	/* Connection: upgrade */
	bool		 upgrade_websocket;
};

struct http_request {
	struct http_head head;
	struct http_span method;
	struct http_span target;	/* as sent */
	struct http_span origin;	/* path + query; len 0 means "/" */
	struct http_span path;		/* path without query; len 0 means "/" */
	struct http_span host;		/* Host header value */
	bool		 absolute_form;
	bool		 expect_continue;
};

struct http_response {
	struct http_head head;
	int		 status;
	struct http_span reason;
};

/* Prepare for the next message on a connection. */
void	http_request_reset(struct http_request *);
void	http_response_reset(struct http_response *);

/*
 * Parse a request head from buf[0..len) (the same bytes plus more on each
 * call, until HTTP_OK or HTTP_ERROR).  On HTTP_OK head.head_len bytes are
 * the head and the body (if any) follows.  On HTTP_ERROR head.error says why.
 */
enum http_result http_request_parse(struct http_request *, const uint8_t *buf,
	    size_t len);

/*
 * Parse a response head.  head_request: the request was HEAD (no body).
 */
enum http_result http_response_parse(struct http_response *, const uint8_t *buf,
	    size_t len, bool head_request);

/* The status to answer with for a request error (400, or 417). */
int	http_error_status(enum http_error);
const char *http_error_string(enum http_error);

/* Case-insensitive compare of a span of buf with a NUL-terminated string. */
bool	http_span_eq(const uint8_t *buf, struct http_span, const char *);

/*
 * Split a Host value (or absolute-form authority) into a lower-case name
 * without a trailing dot and a port (0 if none).  -1 if invalid or the
 * name does not fit in namecap bytes with its NUL.
 */
int	http_host_split(const uint8_t *val, size_t len, char *name,
	    size_t namecap, uint16_t *port);

/* Streaming decoder for a chunked body (RFC 9112 7.1). */
enum http_chunked_result {
	CHUNKED_ERROR = -1,
	CHUNKED_MORE = 0,	/* all input consumed; nothing to hand out */
	CHUNKED_DATA,		/* in[data_off .. data_off+data_len) is body */
	CHUNKED_DONE,		/* last chunk and trailers read */
};

struct http_chunked {
	int		 state;
	uint64_t	 remaining;	/* data bytes left in this chunk */
	size_t		 line_len;	/* bytes of the current line so far */
	size_t		 trailer_len;	/* bytes of trailers so far */
	unsigned	 digits;
	bool		 saw_ws;
	bool		 in_ext;
	bool		 line_nonempty;
};

void	http_chunked_init(struct http_chunked *);
/*
 * Consume from in[0..len).  *consumed: bytes used (framing and data).
 * CHUNKED_DATA: the span [*data_off, *data_off + *data_len) of in is body
 * data (within the consumed bytes); call again with the rest.
 */
enum http_chunked_result http_chunked_decode(struct http_chunked *,
	    const uint8_t *in, size_t len, size_t *consumed, size_t *data_off,
	    size_t *data_len);

/* Write a chunk header "<hex>\r\n" for n bytes; returns its length or 0. */
size_t	http_chunk_header(char *out, size_t cap, uint64_t n);
#define HTTP_CHUNK_TRAILER	"\r\n"
#define HTTP_CHUNK_LAST		"0\r\n\r\n"

#endif
