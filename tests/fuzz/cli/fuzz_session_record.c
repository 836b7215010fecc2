/*
 * fuzz_session_record: session.json is a file capsemctl list reads back
 * from the user's session directory (any bytes may be there).  Whatever
 * the bytes, session_record_parse stays in bounds and, when it accepts
 * them, every string it returns is terminated within its field; the same
 * bytes through the JSON lookups list uses on audit lines.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonin.h"
#include "session_record.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_record r;
	char	*buf, out[8];
	unsigned long long v;

	/* the reader gets exactly size bytes, no terminator past them */
	if ((buf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	if (session_record_parse(buf, size, &r) == 0) {
		if (memchr(r.id, '\0', sizeof(r.id)) == NULL ||
		    memchr(r.name, '\0', sizeof(r.name)) == NULL ||
		    memchr(r.mode, '\0', sizeof(r.mode)) == NULL ||
		    memchr(r.what, '\0', sizeof(r.what)) == NULL ||
		    memchr(r.reason, '\0', sizeof(r.reason)) == NULL ||
		    r.id[0] == '\0')
			abort();
	}
	if (json_valid(buf, size)) {
		(void)json_get_string(buf, size, "verdict", out, sizeof(out));
		(void)json_get_uint(buf, size, "duration_us", &v);
		(void)json_get_string(buf, size, "files/rootfs.erofs/sha256",
		    out, sizeof(out));
	}
	free(buf);
	return 0;
}
