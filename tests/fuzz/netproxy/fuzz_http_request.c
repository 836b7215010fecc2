/* libFuzzer: HTTP/1.1 request head parser, fed whole and byte by byte. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_span(struct http_span sp, size_t len)
{
	if ((size_t)sp.off + sp.len > len)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_request whole, step;
	static struct http_response resp;
	enum http_result r1, r2 = HTTP_NEED_MORE;
	size_t i;

	http_request_reset(&whole);
	r1 = http_request_parse(&whole, data, size);
	if (r1 == HTTP_OK) {
		if (whole.head.head_len > size || whole.head.nfields >
		    HTTP_HEADERS_MAX)
			__builtin_trap();
		check_span(whole.method, size);
		check_span(whole.target, size);
		check_span(whole.path, size);
		check_span(whole.origin, size);
		check_span(whole.host, size);
		for (i = 0; i < whole.head.nfields; i++) {
			check_span(whole.head.fields[i].name, size);
			check_span(whole.head.fields[i].value, size);
		}
	}
	/* incremental parsing must reach the same verdict */
	http_request_reset(&step);
	for (i = 0; i <= size && i <= 4096; i++) {
		r2 = http_request_parse(&step, data, i);
		if (r2 != HTTP_NEED_MORE)
			break;
	}
	if (size <= 4096 && r1 != r2)
		__builtin_trap();
	if (r1 == HTTP_OK && r2 == HTTP_OK &&
	    whole.head.head_len != step.head.head_len)
		__builtin_trap();

	http_response_reset(&resp);
	(void)http_response_parse(&resp, data, size, size > 0 && data[0] & 1);
	return 0;
}
