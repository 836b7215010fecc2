/*
 * clienthello.c: bounded reader of a TLS ClientHello (RFC 5246 7.4.1.2,
 * RFC 8446 4.1.2) for its server_name (RFC 6066 3) and ALPN (RFC 7301)
 * extensions.  Every length field is checked against what encloses it.
 */
#include <string.h>

#include "clienthello.h"

#define TLS_CT_HANDSHAKE	22
#define TLS_HS_CLIENT_HELLO	1
#define TLS_EXT_SERVER_NAME	0
#define TLS_EXT_ALPN		16
#define TLS_SNI_HOST_NAME	0

/* A cursor over [p, end): every read checks the bytes are there. */
struct cursor {
	const uint8_t	*p;
	const uint8_t	*end;
};

static size_t
cur_left(const struct cursor *c)
{
	return (size_t)(c->end - c->p);
}

static int
cur_u8(struct cursor *c, size_t *v)
{
	if (cur_left(c) < 1)
		return -1;
	*v = c->p[0];
	c->p += 1;
	return 0;
}

static int
cur_u16(struct cursor *c, size_t *v)
{
	if (cur_left(c) < 2)
		return -1;
	*v = ((size_t)c->p[0] << 8) | c->p[1];
	c->p += 2;
	return 0;
}

static int
cur_skip(struct cursor *c, size_t n)
{
	if (cur_left(c) < n)
		return -1;
	c->p += n;
	return 0;
}

/* Take the next n bytes as a sub-cursor. */
static int
cur_sub(struct cursor *c, size_t n, struct cursor *sub)
{
	if (cur_left(c) < n)
		return -1;
	sub->p = c->p;
	sub->end = c->p + n;
	c->p += n;
	return 0;
}

/*
 * Host name: 1..253 bytes, labels 1..63 of letters, digits, '-', '_'; one
 * trailing dot (a fully qualified name) is dropped, as capsem.toml(5)
 * says names are matched.
 */
static int
copy_host(struct clienthello *ch, const uint8_t *name, size_t len)
{
	size_t	 i, label = 0;

	if (len > 1 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > CH_HOST_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		uint8_t b = name[i];

		if (b == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') ||
		    b == '-' || b == '_') {
			if (++label > 63)
				return -1;
		} else if (b >= 'A' && b <= 'Z') {
			if (++label > 63)
				return -1;
			b = (uint8_t)(b - 'A' + 'a');
		} else
			return -1;
		ch->host[i] = (char)b;
	}
	if (label == 0)		/* trailing dot */
		return -1;
	ch->host[len] = '\0';
	ch->host_len = len;
	return 0;
}

static int
parse_server_name(struct clienthello *ch, struct cursor *ext)
{
	struct cursor	 list, name;
	size_t		 list_len, type, name_len;
	int		 seen_host = 0;

	if (cur_u16(ext, &list_len) == -1 || list_len != cur_left(ext) ||
	    list_len == 0)
		return -1;
	if (cur_sub(ext, list_len, &list) == -1)
		return -1;
	while (cur_left(&list) > 0) {
		if (cur_u8(&list, &type) == -1 || cur_u16(&list, &name_len) == -1)
			return -1;
		if (name_len == 0 || cur_sub(&list, name_len, &name) == -1)
			return -1;
		if (type != TLS_SNI_HOST_NAME)
			continue;	/* no other type is defined */
		if (seen_host++)
			return -1;	/* one name per type (RFC 6066 3) */
		if (copy_host(ch, name.p, name_len) == -1)
			return -1;
	}
	return seen_host ? 0 : -1;
}

static int
parse_alpn(struct clienthello *ch, struct cursor *ext)
{
	struct cursor	 list;
	size_t		 list_len, name_len;

	if (cur_u16(ext, &list_len) == -1 || list_len != cur_left(ext) ||
	    list_len < 2)
		return -1;
	if (cur_sub(ext, list_len, &list) == -1)
		return -1;
	ch->alpn_present = true;
	while (cur_left(&list) > 0) {
		const uint8_t *name;

		if (cur_u8(&list, &name_len) == -1 || name_len == 0)
			return -1;
		name = list.p;
		if (cur_skip(&list, name_len) == -1)
			return -1;
		if (name_len == 8 && memcmp(name, "http/1.1", 8) == 0)
			ch->alpn_http11 = true;
		if (ch->alpn_count < CH_ALPN_MAX && name_len <= CH_ALPN_NAME_MAX) {
			memcpy(ch->alpn[ch->alpn_count], name, name_len);
			ch->alpn[ch->alpn_count][name_len] = '\0';
			ch->alpn_count++;
		}
	}
	return 0;
}

static enum ch_result
parse_body(struct clienthello *ch, struct cursor *body)
{
	struct cursor	 exts, ext;
	size_t		 version, sid_len, cs_len, comp_len, exts_len;
	size_t		 ext_type, ext_len;
	int		 seen_sni = 0, seen_alpn = 0;

	if (cur_u16(body, &version) == -1 || cur_skip(body, 32) == -1)
		return CH_BAD;
	ch->legacy_version = (uint16_t)version;
	if (cur_u8(body, &sid_len) == -1 || sid_len > 32 ||
	    cur_skip(body, sid_len) == -1)
		return CH_BAD;
	if (cur_u16(body, &cs_len) == -1 || cs_len < 2 || cs_len % 2 != 0 ||
	    cur_skip(body, cs_len) == -1)
		return CH_BAD;
	if (cur_u8(body, &comp_len) == -1 || comp_len < 1 ||
	    cur_skip(body, comp_len) == -1)
		return CH_BAD;
	if (cur_left(body) == 0)
		return CH_NO_SNI;	/* no extensions at all */
	if (cur_u16(body, &exts_len) == -1 || exts_len != cur_left(body))
		return CH_BAD;
	if (cur_sub(body, exts_len, &exts) == -1)
		return CH_BAD;
	while (cur_left(&exts) > 0) {
		if (cur_u16(&exts, &ext_type) == -1 ||
		    cur_u16(&exts, &ext_len) == -1 ||
		    cur_sub(&exts, ext_len, &ext) == -1)
			return CH_BAD;
		if (ext_type == TLS_EXT_SERVER_NAME) {
			if (seen_sni++ || parse_server_name(ch, &ext) == -1)
				return CH_BAD;
		} else if (ext_type == TLS_EXT_ALPN) {
			if (seen_alpn++ || parse_alpn(ch, &ext) == -1)
				return CH_BAD;
		}
	}
	return seen_sni ? CH_OK : CH_NO_SNI;
}

enum ch_result
clienthello_parse(const uint8_t *buf, size_t len, struct clienthello *ch)
{
	struct cursor	 rec, body;
	size_t		 rec_len, hs_len;

	memset(ch, 0, sizeof(*ch));
	if (len < 1)
		return CH_NEED_MORE;
	if (buf[0] != TLS_CT_HANDSHAKE)
		return CH_NOT_TLS;
	if (len < 2)
		return CH_NEED_MORE;
	if (buf[1] != 3)
		return CH_NOT_TLS;
	if (len < 3)
		return CH_NEED_MORE;
	if (buf[2] > 4)
		return CH_NOT_TLS;
	if (len < 5)
		return CH_NEED_MORE;
	rec_len = ((size_t)buf[3] << 8) | buf[4];
	if (rec_len < 4 || rec_len > CH_RECORD_MAX)
		return CH_BAD;
	if (len >= 6 && buf[5] != TLS_HS_CLIENT_HELLO)
		return CH_BAD;
	if (len < 9)
		return CH_NEED_MORE;
	hs_len = ((size_t)buf[6] << 16) | ((size_t)buf[7] << 8) | buf[8];
	if (hs_len + 4 > rec_len)
		return CH_FRAGMENTED;
	if (hs_len + 4 < rec_len)
		return CH_BAD;	/* another message after the ClientHello */
	if (len < 5 + rec_len)
		return CH_NEED_MORE;
	ch->record_len = 5 + rec_len;
	rec.p = buf + 9;
	rec.end = buf + 5 + rec_len;
	if (cur_sub(&rec, hs_len, &body) == -1)
		return CH_BAD;
	return parse_body(ch, &body);
}

const char *
clienthello_result_string(enum ch_result r)
{
	switch (r) {
	case CH_NEED_MORE:
		return "incomplete ClientHello";
	case CH_OK:
		return "ClientHello with SNI";
	case CH_NO_SNI:
		return "ClientHello without SNI";
	case CH_NOT_TLS:
		return "not TLS";
	case CH_BAD:
		return "malformed ClientHello";
	case CH_FRAGMENTED:
		return "ClientHello fragmented across records";
	}
	return "unknown";
}
