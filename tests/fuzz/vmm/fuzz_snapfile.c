/*
 * fuzz_snapfile: a snapshot state is read back from the user's disk, so
 * vmm/snap/snapfile.c's parser gets untrusted bytes.  Two ways in, by the
 * first byte: (0) the input as a state, its header checksum repaired and
 * the running identity taken from its own header, so that the section walk
 * is reached; (1) sections made with the writer from the input, then bytes
 * of the result changed at offsets the input names, the header checksum
 * repaired.  Whatever the bytes: no read outside the buffer (ASan), every
 * section a parsed state yields lies inside it, and a state the writer
 * made and nobody changed parses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "snap/crc32c.h"
#include "snap/snapfile.h"

static void
repair_header(uint8_t *buf, size_t len)
{
	uint32_t sum;

	if (len < SNAP_HEADER_SIZE)
		return;
	sum = crc32c(0, buf, 124);
	le_put32(buf + 124, sum);
}

static void
identity_of(const uint8_t *buf, size_t len, struct snap_identity *id)
{
	memset(id, 0, sizeof(*id));
	strcpy(id->build, "fuzz");
	if (len < SNAP_HEADER_SIZE)
		return;
	memcpy(id->build, buf + 16, SNAP_BUILD_MAX - 1);
	id->build[SNAP_BUILD_MAX - 1] = '\0';
	memcpy(id->vendor, buf + 64, SNAP_VENDOR_LEN);
	id->cpuid_sum = le_get32(buf + 76);
}

static void
walk(const uint8_t *buf, size_t len, const struct snap_identity *id,
    bool must_parse)
{
	struct snapfile sf;
	struct snap_section sec;
	char	 why[SNAP_WHY_MAX];
	size_t	 cursor = 0;
	uint32_t n = 0;

	if (snapfile_parse(buf, len, id, &sf, why, sizeof(why)) == -1) {
		if (must_parse || why[0] == '\0' || strchr(why, '\n') != NULL)
			abort();
		return;
	}
	while (snapfile_next(&sf, &cursor, &sec) == 1) {
		if (sec.data < buf || sec.len > len ||
		    sec.data + sec.len > buf + len)
			abort();
		(void)snapfile_find(&sf, sec.type, sec.instance, &sec);
		n++;
	}
	if (n != sf.nsections)
		abort();
	(void)snapfile_ram_check(&sf, buf, len, why, sizeof(why));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapfile_writer w;
	struct snap_identity id;
	uint8_t	*buf, *out;
	size_t	 i, n, outlen;

	if (size < 1 || size > (1u << 20))
		return 0;
	if ((data[0] & 1) == 0) {
		if ((buf = malloc(size - 1 + 1)) == NULL)
			return 0;
		memcpy(buf, data + 1, size - 1);
		repair_header(buf, size - 1);
		identity_of(buf, size - 1, &id);
		walk(buf, size - 1, &id, false);
		free(buf);
		return 0;
	}
	memset(&id, 0, sizeof(id));
	strcpy(id.build, "fuzz build");
	memcpy(id.vendor, "AuthenticAMD", SNAP_VENDOR_LEN);
	snapw_init(&w);
	/* records: type, instance, length, bytes; a 0xff type ends them */
	for (i = 1; i + 3 <= size && data[i] != 0xff; i += 3 + n) {
		n = data[i + 2];
		if (n > size - i - 3)
			n = size - i - 3;
		snapw_section(&w, data[i] % (SNAP_SEC_TYPE_MAX + 1), data[i + 1],
		    data + i + 3, n);
	}
	if (snapw_finish(&w, &id, 0, 0, &out, &outlen) == -1)
		return 0;
	walk(out, outlen, &id, true);
	/* then changes: (offset lo, offset hi, xor) each */
	for (i++; i + 3 <= size; i += 3) {
		size_t at = ((size_t)data[i] | (size_t)data[i + 1] << 8) %
		    outlen;

		out[at] ^= data[i + 2];
	}
	repair_header(out, outlen);
	walk(out, outlen, &id, false);
	free(out);
	return 0;
}
