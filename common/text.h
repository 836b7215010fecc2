/*
 * text.h: small pure helpers on bytes that several parsers share: the
 * value of a hex digit, UTF-8 encoding of a code point, one byte as JSON
 * string text in ASCII, the FNV-1a hash.
 * Header-only (static inline) so the parser libraries and fuzz targets
 * that link nothing from common/ can use them too.
 */
#ifndef CAPSEM_TEXT_H
#define CAPSEM_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* 0..15 for '0'-'9', 'a'-'f', 'A'-'F'; -1 for anything else (EOF too). */
static inline int
hex_digit_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#define UTF8_ENCODED_MAX	4

/*
 * Code point cp as UTF-8 into out (room for UTF8_ENCODED_MAX bytes, no
 * NUL); returns the length, 1 to 4.  The caller has ruled out values
 * above 0x10ffff if it must; surrogates are encoded as they are.
 */
static inline size_t
utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

#define JSON_BYTE_ESCAPED_MAX	6

/*
 * Byte c inside a JSON string, in printable ASCII only, into out (room
 * for JSON_BYTE_ESCAPED_MAX bytes, no NUL); returns the length.  '"' and
 * '\\' and control bytes are escaped, and every byte >= 0x7f becomes its
 * own \u00XX, so the original bytes (not UTF-8) can be recovered exactly.
 */
static inline size_t
json_escape_byte(unsigned char c, char *out)
{
	static const char hex[] = "0123456789abcdef";
	char	 short_form = 0;

	switch (c) {
	case '"': short_form = '"'; break;
	case '\\': short_form = '\\'; break;
	case '\n': short_form = 'n'; break;
	case '\r': short_form = 'r'; break;
	case '\t': short_form = 't'; break;
	case '\b': short_form = 'b'; break;
	case '\f': short_form = 'f'; break;
	default:
		break;
	}
	if (short_form != 0) {
		out[0] = '\\';
		out[1] = short_form;
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = '\\';
	out[1] = 'u';
	out[2] = '0';
	out[3] = '0';
	out[4] = hex[c >> 4];
	out[5] = hex[c & 0xf];
	return 6;
}

/* 32-bit FNV-1a of len bytes (a table hash, not a defence against floods). */
static inline uint32_t
fnv1a32(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t h = 2166136261u;
	size_t	 i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

#endif
