/*
 * dns.c: one DNS query in, one answer out (RFC 1035, RFC 6891 for OPT).
 */
#include <string.h>

#include "dns.h"
#include "text.h"

#define DNS_FLAG_QR	0x8000u
#define DNS_OPCODE(f)	(((f) >> 11) & 0xfu)
#define DNS_FLAG_TC	0x0200u
#define DNS_FLAG_RD	0x0100u
#define DNS_FLAG_RA	0x0080u

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Read an uncompressed name at msg[*off].  Into text (lower case, no
 * trailing dot) when text != NULL.  Returns 0, or -1 when malformed.
 * strict: labels limited to letters, digits, '-' and '_'.
 */
static int
read_name(const uint8_t *msg, size_t len, size_t *off, char *text,
    bool strict)
{
	size_t	 p = *off, wire = 0, out = 0, i;
	uint8_t	 l;

	for (;;) {
		if (p >= len)
			goto bad;
		l = msg[p++];
		wire++;
		if (l == 0)
			break;
		if (l & 0xc0)
			goto bad;	/* compression pointer or reserved */
		if (p + l > len || wire + l > 255 ||
		    out + (out > 0) + l > DNS_NAME_MAX)
			goto bad;
		if (out > 0 && text != NULL)
			text[out++] = '.';
		else if (out > 0)
			out++;
		for (i = 0; i < l; i++) {
			uint8_t c = msg[p + i];

			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			if (strict && !((c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_'))
				goto bad;
			if (text != NULL)
				text[out] = (char)c;
			out++;
		}
		p += l;
		wire += l;
	}
	if (text != NULL)
		text[out] = '\0';
	*off = p;
	return 0;
bad:
	if (text != NULL)
		text[0] = '\0';
	return -1;
}

/* The one additional record a query may carry: an EDNS(0) OPT record. */
static int
read_opt(const uint8_t *msg, size_t len, size_t *off)
{
	size_t	 p = *off;
	uint16_t rdlen;

	if (p + 11 > len)
		return -1;
	if (msg[p] != 0)			/* root name */
		return -1;
	if (get16(msg + p + 1) != DNS_TYPE_OPT)
		return -1;
	rdlen = get16(msg + p + 9);
	p += 11;
	if (rdlen > len - p)
		return -1;
	/* options: code, length, data; each must fit exactly */
	{
		size_t end = p + rdlen;

		while (p < end) {
			uint16_t olen;

			if (end - p < 4)
				return -1;
			olen = get16(msg + p + 2);
			p += 4;
			if (olen > end - p)
				return -1;
			p += olen;
		}
	}
	*off = p;
	return 0;
}

int
dns_query_parse(const uint8_t *msg, size_t len, struct dns_query *q)
{
	size_t	 off = DNS_HEADER_LEN, qstart;
	uint16_t qd, an, ns, ar;

	memset(q, 0, sizeof(*q));
	if (len < 2)
		return -1;
	q->id = get16(msg);
	if (len < DNS_HEADER_LEN || len > DNS_QUERY_MAX)
		return DNS_RCODE_FORMERR;
	q->flags = get16(msg + 2);
	if (q->flags & DNS_FLAG_QR)
		return -1;		/* a response: never answer one */
	if (DNS_OPCODE(q->flags) != 0)
		return DNS_RCODE_NOTIMP;
	if (q->flags & DNS_FLAG_TC)
		return DNS_RCODE_FORMERR;
	qd = get16(msg + 4);
	an = get16(msg + 6);
	ns = get16(msg + 8);
	ar = get16(msg + 10);
	if (qd != 1 || an != 0 || ns != 0 || ar > 1)
		return DNS_RCODE_FORMERR;
	qstart = off;
	if (read_name(msg, len, &off, q->name, true) == -1)
		return DNS_RCODE_FORMERR;
	if (len - off < 4)
		return DNS_RCODE_FORMERR;
	q->qtype = get16(msg + off);
	q->qclass = get16(msg + off + 2);
	off += 4;
	q->question_len = off - qstart;
	if (ar == 1 && read_opt(msg, len, &off) == -1)
		return DNS_RCODE_FORMERR;
	if (off != len)
		return DNS_RCODE_FORMERR;	/* trailing bytes */
	if (q->qclass != DNS_CLASS_IN || q->name[0] == '\0')
		return DNS_RCODE_REFUSED;
	return DNS_RCODE_NOERROR;
}

size_t
dns_build_response(const uint8_t *msg, size_t len, const struct dns_query *q,
    enum dns_rcode rcode, uint32_t addr, uint8_t *out, size_t outcap)
{
	size_t	 n = DNS_HEADER_LEN, qlen = 0;
	uint16_t flags, rd = 0;

	if (len >= 4)
		rd = get16(msg + 2) & DNS_FLAG_RD;
	if (q != NULL && q->question_len > 0) {
		qlen = q->question_len;
		if (DNS_HEADER_LEN + qlen > len)
			return 0;
	}
	if (outcap < DNS_HEADER_LEN + qlen + (addr ? 16 : 0))
		return 0;
	memset(out, 0, DNS_HEADER_LEN);
	put16(out, len >= 2 ? get16(msg) : 0);
	flags = (uint16_t)(DNS_FLAG_QR | rd | DNS_FLAG_RA | (rcode & 0xf));
	put16(out + 2, flags);
	put16(out + 4, qlen ? 1 : 0);
	put16(out + 6, addr ? 1 : 0);
	if (qlen) {
		memcpy(out + n, msg + DNS_HEADER_LEN, qlen);	/* case kept */
		n += qlen;
	}
	if (addr) {
		out[n++] = 0xc0;		/* pointer to the question name */
		out[n++] = DNS_HEADER_LEN;
		put16(out + n, DNS_TYPE_A);
		put16(out + n + 2, DNS_CLASS_IN);
		put16(out + n + 4, 0);
		put16(out + n + 6, DNS_TTL);
		put16(out + n + 8, 4);
		out[n + 10] = (uint8_t)(addr >> 24);
		out[n + 11] = (uint8_t)(addr >> 16);
		out[n + 12] = (uint8_t)(addr >> 8);
		out[n + 13] = (uint8_t)addr;
		n += 14;
	}
	return n;
}

void
dns_table_init(struct dns_table *t)
{
	memset(t, 0, sizeof(*t));
}

static size_t
name_hash(const char *name)
{
	return fnv1a32(name, strlen(name));
}

/* Entry k gets 198.18.0.0 + (k / 254) * 256 + k % 254 + 1. */
static uint32_t
entry_address(size_t k)
{
	return DNS_SYNTH_NET + (uint32_t)((k / 254) * 256 + k % 254 + 1);
}

bool
dns_is_synthetic(uint32_t addr)
{
	return (addr & DNS_SYNTH_MASK) == DNS_SYNTH_NET;
}

uint32_t
dns_table_address(struct dns_table *t, const char *name)
{
	const size_t nslots = sizeof(t->index) / sizeof(t->index[0]);
	size_t	 slot, len = strlen(name);

	if (len == 0 || len > DNS_NAME_MAX)
		return 0;
	for (slot = name_hash(name) % nslots; t->index[slot] != 0;
	    slot = (slot + 1) % nslots) {
		size_t k = t->index[slot] - 1u;

		if (strcmp(t->entries[k].name, name) == 0)
			return entry_address(k);
	}
	if (t->count == DNS_TABLE_MAX)
		return 0;
	memcpy(t->entries[t->count].name, name, len + 1);
	t->index[slot] = (uint16_t)(t->count + 1);
	return entry_address(t->count++);
}

const char *
dns_table_name(const struct dns_table *t, uint32_t addr)
{
	uint32_t off, low;
	size_t	 k;

	if (!dns_is_synthetic(addr))
		return NULL;
	off = addr - DNS_SYNTH_NET;
	low = off % 256;
	if (low == 0 || low == 255)
		return NULL;
	k = (size_t)(off / 256) * 254 + low - 1;
	if (k >= t->count)
		return NULL;
	return t->entries[k].name;
}
