/*
 * fuzz_fs_req: the one parser of the guest's FUSE requests (fs_req.c) on
 * arbitrary bytes.  Whatever it accepts must point inside the input, name
 * NUL-terminated strings there, and carry exactly the bytes it says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
inside(const uint8_t *buf, size_t len, const void *p, size_t n)
{
	const uint8_t *q = p;

	if (q < buf || q > buf + len || n > (size_t)(buf + len - q))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_req	 r;
	uint8_t		*buf;
	char		 why[160], nb[24];
	size_t		 n;

	/* a copy of its own size, so ASan sees any read past it */
	if ((buf = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	switch (fs_req_parse(buf, size, &r, why, sizeof(why))) {
	case FS_REQ_MALFORMED:
		if (why[0] == '\0' || strlen(why) >= sizeof(why))
			abort();
		break;
	case FS_REQ_BADNAME:
		if (r.name_errno == 0)
			abort();
		/* FALLTHROUGH */
	case FS_REQ_UNKNOWN:
	case FS_REQ_OK:
		if (r.hdr.len != size)
			abort();
		if (r.name != NULL) {
			n = strlen(r.name);
			inside(buf, size, r.name, n + 1);
		}
		if (r.name2 != NULL) {
			n = strlen(r.name2);
			inside(buf, size, r.name2, n + 1);
		}
		if (r.data != NULL)
			inside(buf, size, r.data, r.datalen);
		if (r.forgets != NULL)
			inside(buf, size, r.forgets,
			    (size_t)r.nforgets * sizeof(struct fuse_forget_one));
		(void)fs_opcode_name(r.opcode, nb, sizeof(nb));
		break;
	}
	free(buf);
	return 0;
}
