/*
 * name: which names certd signs.  A name arrives from netproxy (which got
 * it from the guest's SNI), so every byte is checked before it gets near
 * a certificate.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ca.h"

static int
name_refuse(char *err, size_t errlen, const char *reason)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s", reason);
	return -1;
}

/* letters, digits, hyphen; and '_', which host names in use carry and
 * the policy accepts (a denied one is answered with an explained 403) */
static bool
is_ldh(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	    c == '_';
}

/* An IP literal: digits and dots only (IPv4), or contains ':' (IPv6). */
static int
name_check_ip(const char *text, bool colon, enum ca_name_kind *kind,
    char *err, size_t errlen)
{
	uint8_t addr[16];

	if (colon) {
		if (inet_pton(AF_INET6, text, addr) != 1)
			return name_refuse(err, errlen,
			    "invalid IPv6 literal (no brackets, no zone)");
		*kind = CA_NAME_IPV6;
		return 0;
	}
	if (inet_pton(AF_INET, text, addr) != 1)
		return name_refuse(err, errlen,
		    "numeric top-level label but not an IPv4 address");
	*kind = CA_NAME_IPV4;
	return 0;
}

int
ca_name_check(const uint8_t *name, size_t len, enum ca_name_kind *kind,
    char *err, size_t errlen)
{
	char text[CA_NAME_MAX + 1], buf[64];
	size_t i, label_start = 0, label_len;
	bool colon = false, last_numeric = true;

	if (len == 0)
		return name_refuse(err, errlen, "empty name");
	if (len > CA_NAME_MAX)
		return name_refuse(err, errlen, "name longer than 253 bytes");

	/* Byte classes first, so the reason names the worst byte. */
	for (i = 0; i < len; i++) {
		uint8_t c = name[i];

		if (c == '\0')
			return name_refuse(err, errlen, "NUL byte in name");
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			return name_refuse(err, errlen, "white space in name");
		if (c == '*')
			return name_refuse(err, errlen,
			    "wildcard '*' in name (certd mints exact names only)");
		if (c >= 'A' && c <= 'Z')
			return name_refuse(err, errlen,
			    "uppercase letter in name (names must be lowercase)");
		if (c == ':')
			colon = true;
	}

	memcpy(text, name, len);
	text[len] = '\0';
	if (colon)
		return name_check_ip(text, true, kind, err, errlen);

	for (i = 0; i <= len; i++) {
		if (i < len && name[i] != '.') {
			if (!is_ldh(name[i])) {
				if (name[i] >= 0x21 && name[i] < 0x7f)
					snprintf(buf, sizeof(buf),
					    "invalid character '%c' in name",
					    name[i]);
				else
					snprintf(buf, sizeof(buf),
					    "invalid byte 0x%02x in name",
					    name[i]);
				return name_refuse(err, errlen, buf);
			}
			continue;
		}
		/* End of a label at i. */
		label_len = i - label_start;
		if (label_len == 0)
			return name_refuse(err, errlen,
			    "empty label (leading, trailing or double dot)");
		if (label_len > CA_LABEL_MAX)
			return name_refuse(err, errlen,
			    "label longer than 63 bytes");
		if (name[label_start] == '-')
			return name_refuse(err, errlen,
			    "label starts with a hyphen");
		if (name[i - 1] == '-')
			return name_refuse(err, errlen,
			    "label ends with a hyphen");
		last_numeric = strspn(text + label_start, "0123456789") >=
		    label_len;
		label_start = i + 1;
	}
	if (last_numeric)
		return name_check_ip(text, false, kind, err, errlen);
	*kind = CA_NAME_DNS;
	return 0;
}
