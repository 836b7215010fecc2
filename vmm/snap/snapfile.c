/*
 * snapfile.c: the snapshot state container.  See snapfile.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "snap/crc32c.h"
#include "snap/snapfile.h"

/* header offsets */
#define H_MAGIC		0
#define H_VERSION	8
#define H_SIZE		12
#define H_BUILD		16
#define H_VENDOR	64
#define H_CPUID_SUM	76
#define H_RAM_BYTES	80
#define H_RAM_SUM	88
#define H_NSECTIONS	92
#define H_SECTIONS_LEN	96
#define H_ZERO		104
#define H_SUM		124

/* section header offsets */
#define S_TYPE		0
#define S_INSTANCE	4
#define S_LEN		8
#define S_SUM		16
#define S_ZERO		20

static int	refuse(char *why, size_t whylen, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

static int
refuse(char *why, size_t whylen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	while (n-- > 0)
		if (*p++ != 0)
			return false;
	return true;
}

/* A printable rendering of a fixed-size name from the file, for why. */
static void
shown(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	size_t	 i, o = 0;

	for (i = 0; i < n && p[i] != '\0' && o + 1 < outlen; i++)
		out[o++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	out[o] = '\0';
}

/* 8-byte padding after a payload of len bytes (len <= SNAP_SECTION_MAX). */
static size_t
pad8(size_t len)
{
	return (8 - (len & 7)) & 7;
}

/*
 * The section at *off of sf's sections: its header read and its bounds
 * checked (not its checksum).  0, or -1 with why.
 */
static int
section_at(const uint8_t *s, size_t slen, size_t *off, uint32_t k,
    struct snap_section *sec, uint32_t *sum, char *why, size_t whylen)
{
	const uint8_t *h;
	uint64_t len;
	size_t	 left = slen - *off;

	if (left < SNAP_SECTION_HEADER)
		return refuse(why, whylen, "truncated: section %u of the state "
		    "has %zu of its %d header bytes", k, left,
		    SNAP_SECTION_HEADER);
	h = s + *off;
	sec->type = le_get32(h + S_TYPE);
	sec->instance = le_get32(h + S_INSTANCE);
	len = le_get64(h + S_LEN);
	*sum = le_get32(h + S_SUM);
	if (sec->type == 0 || sec->type > SNAP_SEC_TYPE_MAX)
		return refuse(why, whylen, "corrupt: section %u has unknown "
		    "type %u", k, sec->type);
	if (le_get32(h + S_ZERO) != 0)
		return refuse(why, whylen, "corrupt: section %u's reserved "
		    "field is not zero", k);
	if (len > SNAP_SECTION_MAX)
		return refuse(why, whylen, "corrupt: section %u is %llu bytes, "
		    "over the %u-byte bound", k, (unsigned long long)len,
		    SNAP_SECTION_MAX);
	left -= SNAP_SECTION_HEADER;
	if (len + pad8((size_t)len) > left)
		return refuse(why, whylen, "truncated: section %u (type %u) "
		    "needs %llu bytes, %zu are left", k, sec->type,
		    (unsigned long long)(len + pad8((size_t)len)), left);
	sec->data = h + SNAP_SECTION_HEADER;
	sec->len = (size_t)len;
	*off += SNAP_SECTION_HEADER + sec->len + pad8(sec->len);
	return 0;
}

int
snapfile_parse(const void *buf, size_t len, const struct snap_identity *here,
    struct snapfile *sf, char *why, size_t whylen)
{
	const uint8_t *p = buf;
	struct snap_section sec;
	char	 a[SNAP_BUILD_MAX], b[SNAP_BUILD_MAX];
	uint64_t sections_len;
	uint32_t version, k, sum;
	size_t	 off;

	memset(sf, 0, sizeof(*sf));
	if (len < SNAP_HEADER_SIZE)
		return refuse(why, whylen, "truncated: %zu bytes, a state "
		    "header is %d", len, SNAP_HEADER_SIZE);
	if (memcmp(p + H_MAGIC, SNAP_MAGIC, 8) != 0)
		return refuse(why, whylen, "not a capsem snapshot state (bad "
		    "magic)");
	version = le_get32(p + H_VERSION);
	if (version != SNAP_VERSION)
		return refuse(why, whylen, "snapshot format version %u; this "
		    "vmm reads version %d", version, SNAP_VERSION);
	if (le_get32(p + H_SIZE) != SNAP_HEADER_SIZE)
		return refuse(why, whylen, "corrupt: header size %u, not %d",
		    le_get32(p + H_SIZE), SNAP_HEADER_SIZE);
	if (crc32c(0, p, H_SUM) != le_get32(p + H_SUM))
		return refuse(why, whylen, "corrupt: the header's checksum "
		    "does not match");
	if (!all_zero(p + H_ZERO, H_SUM - H_ZERO) ||
	    memchr(p + H_BUILD, '\0', SNAP_BUILD_MAX) == NULL)
		return refuse(why, whylen, "corrupt: malformed header");
	memcpy(sf->id.build, p + H_BUILD, SNAP_BUILD_MAX);
	memcpy(sf->id.vendor, p + H_VENDOR, SNAP_VENDOR_LEN);
	sf->id.cpuid_sum = le_get32(p + H_CPUID_SUM);
	if (strcmp(sf->id.build, here->build) != 0) {
		shown((const uint8_t *)sf->id.build, SNAP_BUILD_MAX, a,
		    sizeof(a));
		shown((const uint8_t *)here->build, SNAP_BUILD_MAX, b,
		    sizeof(b));
		return refuse(why, whylen, "written by vmm build %s; this is "
		    "build %s", a, b);
	}
	if (memcmp(sf->id.vendor, here->vendor, SNAP_VENDOR_LEN) != 0) {
		shown((const uint8_t *)sf->id.vendor, SNAP_VENDOR_LEN, a,
		    sizeof(a));
		shown((const uint8_t *)here->vendor, SNAP_VENDOR_LEN, b,
		    sizeof(b));
		return refuse(why, whylen, "made on a %s CPU; this host's is "
		    "%s", a, b);
	}
	if (sf->id.cpuid_sum != here->cpuid_sum)
		return refuse(why, whylen, "made with another CPUID table "
		    "(checksum 0x%08x; this host gives 0x%08x)",
		    sf->id.cpuid_sum, here->cpuid_sum);
	sf->ram_bytes = le_get64(p + H_RAM_BYTES);
	sf->ram_sum = le_get32(p + H_RAM_SUM);
	sf->nsections = le_get32(p + H_NSECTIONS);
	sections_len = le_get64(p + H_SECTIONS_LEN);
	if (sf->nsections > SNAP_SECTIONS_MAX)
		return refuse(why, whylen, "corrupt: %u sections, over the "
		    "bound of %d", sf->nsections, SNAP_SECTIONS_MAX);
	if (sections_len != len - SNAP_HEADER_SIZE)
		return refuse(why, whylen, "%s: the header says %llu bytes of "
		    "sections, the file has %zu", sections_len >
		    len - SNAP_HEADER_SIZE ? "truncated" : "corrupt",
		    (unsigned long long)sections_len, len - SNAP_HEADER_SIZE);
	sf->sections = p + SNAP_HEADER_SIZE;
	sf->sections_len = len - SNAP_HEADER_SIZE;
	for (k = 0, off = 0; k < sf->nsections; k++) {
		if (section_at(sf->sections, sf->sections_len, &off, k, &sec,
		    &sum, why, whylen) == -1)
			return -1;
		if (crc32c(crc32c(0, sec.data - SNAP_SECTION_HEADER, S_SUM),
		    sec.data, sec.len) != sum)
			return refuse(why, whylen, "corrupt: section %u (type "
			    "%u) does not match its checksum", k, sec.type);
		if (!all_zero(sec.data + sec.len, pad8(sec.len)))
			return refuse(why, whylen, "corrupt: section %u's "
			    "padding is not zero", k);
	}
	if (off != sf->sections_len)
		return refuse(why, whylen, "corrupt: %zu bytes after the last "
		    "section", sf->sections_len - off);
	return 0;
}

int
snapfile_next(const struct snapfile *sf, size_t *cursor,
    struct snap_section *sec)
{
	char	 why[SNAP_WHY_MAX];
	uint32_t sum;

	/* parse checked every section: this cannot fail on a parsed file */
	if (*cursor >= sf->sections_len)
		return 0;
	if (section_at(sf->sections, sf->sections_len, cursor, 0, sec, &sum,
	    why, sizeof(why)) == -1) {
		*cursor = sf->sections_len;
		return 0;
	}
	return 1;
}

int
snapfile_find(const struct snapfile *sf, uint32_t type, uint32_t instance,
    struct snap_section *sec)
{
	size_t	 cursor = 0;

	while (snapfile_next(sf, &cursor, sec) == 1)
		if (sec->type == type && sec->instance == instance)
			return 1;
	return 0;
}

int
snapfile_ram_check(const struct snapfile *sf, const void *ram, size_t len,
    char *why, size_t whylen)
{
	if (len != sf->ram_bytes)
		return refuse(why, whylen, "%s: the RAM file has %zu bytes, "
		    "the state says %llu", len < sf->ram_bytes ? "truncated" :
		    "corrupt", len, (unsigned long long)sf->ram_bytes);
	if (crc32c(0, ram, len) != sf->ram_sum)
		return refuse(why, whylen, "corrupt: the RAM file does not "
		    "match its checksum");
	return 0;
}

/* --- writing ----------------------------------------------------------- */

void
snapw_init(struct snapfile_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void
snapw_free(struct snapfile_writer *w)
{
	free(w->buf);
	snapw_init(w);
}

/* Room for n more bytes (zeroed).  0 or -1. */
static int
grow(struct snapfile_writer *w, size_t n)
{
	size_t	 cap;
	uint8_t	*p;

	if (n > SIZE_MAX - w->len)
		return -1;
	if (w->len + n > w->cap) {
		cap = w->cap > 0 ? w->cap : 4096;
		while (cap < w->len + n) {
			if (cap > SIZE_MAX / 2)
				return -1;
			cap *= 2;
		}
		if ((p = realloc(w->buf, cap)) == NULL)
			return -1;
		w->buf = p;
		w->cap = cap;
	}
	memset(w->buf + w->len, 0, n);
	return 0;
}

void
snapw_section(struct snapfile_writer *w, uint32_t type, uint32_t instance,
    const void *data, size_t len)
{
	uint8_t	*h;

	if (w->failed)
		return;
	if (w->len == 0 && grow(w, SNAP_HEADER_SIZE) == -1) {
		w->failed = true;
		return;
	}
	if (w->len == 0)
		w->len = SNAP_HEADER_SIZE;
	if (type == 0 || type > SNAP_SEC_TYPE_MAX || len > SNAP_SECTION_MAX ||
	    w->nsections >= SNAP_SECTIONS_MAX ||
	    grow(w, SNAP_SECTION_HEADER + len + pad8(len)) == -1) {
		w->failed = true;
		return;
	}
	h = w->buf + w->len;
	le_put32(h + S_TYPE, type);
	le_put32(h + S_INSTANCE, instance);
	le_put64(h + S_LEN, len);
	if (len > 0)
		memcpy(h + SNAP_SECTION_HEADER, data, len);
	le_put32(h + S_SUM, crc32c(crc32c(0, h, S_SUM), data, len));
	w->len += SNAP_SECTION_HEADER + len + pad8(len);
	w->nsections++;
}

int
snapw_finish(struct snapfile_writer *w, const struct snap_identity *id,
    uint64_t ram_bytes, uint32_t ram_sum, uint8_t **out, size_t *outlen)
{
	uint8_t	*h;

	*out = NULL;
	*outlen = 0;
	if (!w->failed && w->len == 0 && grow(w, SNAP_HEADER_SIZE) == 0)
		w->len = SNAP_HEADER_SIZE;
	if (w->failed || w->len == 0 ||
	    memchr(id->build, '\0', SNAP_BUILD_MAX) == NULL) {
		snapw_free(w);
		return -1;
	}
	h = w->buf;
	memcpy(h + H_MAGIC, SNAP_MAGIC, 8);
	le_put32(h + H_VERSION, SNAP_VERSION);
	le_put32(h + H_SIZE, SNAP_HEADER_SIZE);
	memset(h + H_BUILD, 0, SNAP_BUILD_MAX);
	memcpy(h + H_BUILD, id->build, strlen(id->build));
	memcpy(h + H_VENDOR, id->vendor, SNAP_VENDOR_LEN);
	le_put32(h + H_CPUID_SUM, id->cpuid_sum);
	le_put64(h + H_RAM_BYTES, ram_bytes);
	le_put32(h + H_RAM_SUM, ram_sum);
	le_put32(h + H_NSECTIONS, w->nsections);
	le_put64(h + H_SECTIONS_LEN, w->len - SNAP_HEADER_SIZE);
	memset(h + H_ZERO, 0, H_SUM - H_ZERO);
	le_put32(h + H_SUM, crc32c(0, h, H_SUM));
	*out = w->buf;
	*outlen = w->len;
	snapw_init(w);
	return 0;
}
