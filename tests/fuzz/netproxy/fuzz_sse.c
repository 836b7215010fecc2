/*
 * libFuzzer: SSE reader.  Input: one byte choosing the data bound (small,
 * so that oversized events happen), then the stream.  The stream is read
 * whole and in pieces of 1..7 bytes; the events kept (data, type, size)
 * must be the same.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct digest {
	uint64_t	 cur;		/* the event being read */
	uint64_t	 all;		/* the events kept */
	uint64_t	 nevents;
	size_t		 curlen;
};

static uint64_t
mix(uint64_t h, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211u;
	return h;
}

static void
on_data(void *arg, const uint8_t *p, size_t n)
{
	struct digest *d = arg;

	d->cur = mix(d->cur, p, n);
	d->curlen += n;
}

static void
on_event(void *arg, const struct sse *s)
{
	struct digest *d = arg;

	if (s->namelen > SSE_NAME_MAX || strlen(s->name) != s->namelen ||
	    s->datalen > s->data_max || (!s->oversized &&
	    s->datalen != d->curlen))
		__builtin_trap();
	d->nevents++;
	if (!s->oversized) {
		d->all = mix(d->all, (const uint8_t *)&d->cur, sizeof(d->cur));
		d->all = mix(d->all, (const uint8_t *)s->name, s->namelen);
	} else
		d->all = mix(d->all, (const uint8_t *)"!", 1);
	d->cur = 14695981039346656037u;
	d->curlen = 0;
}

static void
read_stream(const uint8_t *p, size_t n, size_t max, size_t step,
    struct digest *d, struct sse *s)
{
	size_t i, k;

	memset(d, 0, sizeof(*d));
	d->cur = 14695981039346656037u;
	sse_init(s, max, on_data, on_event, d);
	for (i = 0; i < n; i += k) {
		k = step == 0 ? n - i : 1 + (i * 7 + step) % 7;
		if (k > n - i)
			k = n - i;
		sse_feed(s, p + i, k);
	}
	sse_flush(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct digest a, b;
	struct sse sa, sb;
	size_t max;

	if (size < 1)
		return 0;
	max = data[0] < 200 ? (size_t)data[0] * 4 : SSE_DATA_MAX;
	read_stream(data + 1, size - 1, max, 0, &a, &sa);
	read_stream(data + 1, size - 1, max, 3, &b, &sb);
	if (a.all != b.all || a.nevents != b.nevents ||
	    sa.events != sb.events || sa.skipped != sb.skipped ||
	    sa.events != a.nevents)
		__builtin_trap();
	return 0;
}
