/*
 * sse: an incremental reader of Server-Sent Events (the WHATWG
 * "text/event-stream" format) from untrusted bytes.
 *
 * Lines may be split across feeds and end in CRLF, LF or CR.  The "data"
 * field bytes are not buffered: they are handed to a callback as they
 * arrive, lines of one event joined with "\n".  A blank line ends the event
 * and a second callback reports it.  An event whose data grows past
 * data_max stops being delivered and is reported with `oversized` set (the
 * consumer drops what it got of it); the stream goes on.
 */
#ifndef NETPROXY_SSE_H
#define NETPROXY_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSE_FIELD_MAX		16	/* bytes of a field name kept */
#define SSE_NAME_MAX		64	/* bytes of an event type kept */
#define SSE_DATA_MAX		(256 * 1024)	/* default data bound */

struct sse;

typedef void	(*sse_data_cb)(void *arg, const uint8_t *p, size_t n);
typedef void	(*sse_event_cb)(void *arg, const struct sse *);

struct sse {
	sse_data_cb	 data_cb;
	sse_event_cb	 event_cb;
	void		*arg;
	size_t		 data_max;
	uint8_t		 lstate;	/* where in a line */
	uint8_t		 cr;		/* last byte was CR: skip one LF */
	uint8_t		 fkind;		/* field being read */
	uint8_t		 fieldbad;	/* field name too long */
	size_t		 fieldlen;
	char		 field[SSE_FIELD_MAX];
	/* the event being read */
	char		 name[SSE_NAME_MAX + 1];	/* "event:" value */
	size_t		 namelen;
	uint8_t		 nametrunc;
	uint8_t		 oversized;
	uint32_t	 ndata;		/* data lines */
	size_t		 datalen;	/* data bytes delivered */
	/* totals */
	uint64_t	 events;	/* events reported */
	uint64_t	 skipped;	/* of those, oversized */
};

void	sse_init(struct sse *, size_t data_max, sse_data_cb, sse_event_cb,
	    void *);
void	sse_feed(struct sse *, const uint8_t *, size_t);
/*
 * End of stream: ends a last line and reports an event still open (the
 * standard drops it; a model API's last event is worth reading).  Returns
 * whether anything was pending.
 */
bool	sse_flush(struct sse *);

#endif
