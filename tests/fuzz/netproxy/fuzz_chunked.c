/* libFuzzer: chunked body decoder, whole and in small pieces. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Decode all of data in pieces of step bytes; returns the final result. */
static enum http_chunked_result
decode(const uint8_t *data, size_t size, size_t step, uint64_t *total)
{
	struct http_chunked ck;
	enum http_chunked_result r = CHUNKED_MORE;
	size_t pos = 0;

	http_chunked_init(&ck);
	*total = 0;
	while (pos < size) {
		size_t n = size - pos < step ? size - pos : step;
		size_t consumed, off, len;

		r = http_chunked_decode(&ck, data + pos, n, &consumed, &off,
		    &len);
		if (consumed > n || (r == CHUNKED_DATA &&
		    (off + len > consumed || len == 0)))
			__builtin_trap();
		if (r == CHUNKED_ERROR || r == CHUNKED_DONE)
			return r;
		if (r == CHUNKED_DATA)
			*total += len;
		pos += consumed;
		if (consumed == 0 && r != CHUNKED_DATA)
			__builtin_trap();
	}
	return r == CHUNKED_DATA ? CHUNKED_MORE : r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t t1, t2;
	enum http_chunked_result a, b;

	a = decode(data, size, size ? size : 1, &t1);
	b = decode(data, size, 3, &t2);
	if (a != b || (a == CHUNKED_DONE && t1 != t2))
		__builtin_trap();
	return 0;
}
