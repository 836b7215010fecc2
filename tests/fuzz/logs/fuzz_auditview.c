/*
 * fuzz_auditview: the session database's values are untrusted (written
 * for processes that handle guest traffic).  The input is split at NUL
 * bytes into the event's values (an empty value after a 0xff byte is an
 * SQL NULL).  Whatever the bytes, the readable rendering stays within its
 * buffer, ends in '\n' and holds no control byte but that '\n' and no
 * byte >= 0x80; the JSON rendering fits the size it asked for, is
 * printable ASCII and one object; the same for the escaper.
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
	struct auditview_event ev;
	const char *p = (const char *)data, *end = p + size, *nul;
	char	 small[64], *json;
	size_t	 n, need;
	int	 i;

	if (size > 64 * 1024)
		return 0;
	memset(&ev, 0, sizeof(ev));
	for (i = 0; i < AUDITVIEW_NFIELDS && p < end; i++) {
		if ((unsigned char)*p == 0xff) {	/* NULL */
			p++;
			continue;
		}
		nul = memchr(p, '\0', (size_t)(end - p));
		ev.v[i] = p;
		ev.len[i] = (size_t)((nul != NULL ? nul : end) - p);
		p += ev.len[i] + (nul != NULL);
	}
	n = auditview_render(&ev, out, sizeof(out));
	if (n == 0 || n >= sizeof(out) || out[n] != '\0' || out[n - 1] != '\n')
		abort();
	check_safe(out, n, n - 1);
	/* A small buffer cuts the text but stays safe and terminated. */
	n = auditview_render(&ev, small, sizeof(small));
	if (n == 0 || n >= sizeof(small) || small[n - 1] != '\n')
		abort();
	check_safe(small, n, n - 1);
	need = auditview_json_size(&ev, "0123abcd");
	if (need == 0 || (json = malloc(need)) == NULL)
		abort();
	n = auditview_json(&ev, "0123abcd", json, need);
	if (n == 0 || n >= need || json[n] != '\0' || json[n - 1] != '\n' ||
	    json[0] != '{' || json[n - 2] != '}')
		abort();
	check_safe(json, n, n - 1);
	if (auditview_json(&ev, "0123abcd", json, need - 1) != 0)
		abort();	/* less room than it asked for: refused */
	free(json);
	n = auditview_escape((const char *)data, size, out, sizeof(out));
	if (n >= sizeof(out) || out[n] != '\0')
		abort();
	check_safe(out, n, (size_t)-1);
	return 0;
}
