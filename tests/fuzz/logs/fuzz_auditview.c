/*
 * fuzz_auditview: audit lines are untrusted.  Whatever the bytes, the
 * rendering stays within its buffer, ends in '\n', and holds no control
 * byte but that '\n' and no byte >= 0x80; the same for the escaper; and
 * a line auditview_is_json accepts is printable ASCII.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auditview.h"

static void
check_safe(const char *s, size_t n, size_t newline_at)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == newline_at && c == '\n')
			continue;
		if (c < 0x20 || c >= 0x7f)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[AUDITVIEW_OUT_MAX];
	char	 small[64];
	size_t	 n;
	bool	 cut = size > 0 && (data[0] & 1);

	if (size > AUDITVIEW_LINE_MAX)
		return 0;
	n = auditview_render((const char *)data, size, cut, out, sizeof(out));
	if (n == 0 || n >= sizeof(out) || out[n] != '\0' || out[n - 1] != '\n')
		abort();
	check_safe(out, n, n - 1);
	/* A small buffer cuts the text but stays safe and terminated. */
	n = auditview_render((const char *)data, size, cut, small, sizeof(small));
	if (n == 0 || n >= sizeof(small) || small[n - 1] != '\n')
		abort();
	check_safe(small, n, n - 1);
	n = auditview_escape((const char *)data, size, out, sizeof(out));
	if (n >= sizeof(out) || out[n] != '\0')
		abort();
	check_safe(out, n, (size_t)-1);
	if (auditview_is_json((const char *)data, size))
		check_safe((const char *)data, size, (size_t)-1);
	return 0;
}
