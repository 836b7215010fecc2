/*
 * resolv.c: resolv.conf nameserver lines, A queries, and strict reading of
 * the answers (RFC 1035 4.1, RFC 2181 for TTLs and CNAME chains).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "resolv.h"

#define DNS_FLAG_QR		0x8000u
#define DNS_FLAG_TC		0x0200u
#define DNS_FLAG_RD		0x0100u
#define DNS_OPCODE(f)		(((f) >> 11) & 0xfu)
#define DNS_RCODE(f)		((f) & 0xfu)
#define RCODE_NXDOMAIN		3
#define TYPE_A			1
#define TYPE_CNAME		5
#define CLASS_IN		1
#define HEADER_LEN		12
#define NAME_WIRE_MAX		255
#define POINTER_HOPS_MAX	16

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static void
add_nameserver(struct resolv_conf *rc, const char *tok, size_t n)
{
	char	 addr[INET6_ADDRSTRLEN + 1];
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	struct sockaddr_storage *ss;

	if (rc->count == RESOLV_NS_MAX || n == 0 || n >= sizeof(addr))
		return;
	memcpy(addr, tok, n);
	addr[n] = '\0';
	ss = &rc->ns[rc->count];
	memset(ss, 0, sizeof(*ss));
	sin = (struct sockaddr_in *)ss;
	sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(53);
		rc->nslen[rc->count++] = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(53);
		rc->nslen[rc->count++] = sizeof(*sin6);
	}
	/* anything else (a scope id, a name) is skipped */
}

size_t
resolv_conf_parse(const char *text, size_t len, struct resolv_conf *rc)
{
	static const char kw[] = "nameserver";
	size_t	 pos = 0;

	memset(rc, 0, sizeof(*rc));
	if (len > RESOLV_CONF_MAX)
		len = RESOLV_CONF_MAX;
	while (pos < len) {
		size_t	 eol = pos, p, tok;

		while (eol < len && text[eol] != '\n')
			eol++;
		p = pos;
		while (p < eol && is_space(text[p]))
			p++;
		if (eol - p > sizeof(kw) - 1 &&
		    memcmp(text + p, kw, sizeof(kw) - 1) == 0 &&
		    is_space(text[p + sizeof(kw) - 1])) {
			p += sizeof(kw) - 1;
			while (p < eol && is_space(text[p]))
				p++;
			tok = p;
			while (p < eol && !is_space(text[p]) && text[p] != '#' &&
			    text[p] != ';' && text[p] != '\0')
				p++;
			add_nameserver(rc, text + tok, p - tok);
		}
		pos = eol + 1;
	}
	return rc->count;
}

size_t
resolv_query_build(uint8_t *out, size_t cap, uint16_t id, const char *name)
{
	size_t	 nlen = strlen(name), n = HEADER_LEN, label = 0, i;

	if (nlen == 0 || nlen > RESOLV_NAME_MAX ||
	    cap < HEADER_LEN + nlen + 2 + 4)
		return 0;
	memset(out, 0, HEADER_LEN);
	put16(out, id);
	put16(out + 2, DNS_FLAG_RD);
	put16(out + 4, 1);
	/* labels: out[label] holds the length of the label being written */
	label = n++;
	for (i = 0; i <= nlen; i++) {
		char c = name[i];

		if (c == '.' || c == '\0') {
			size_t l = n - label - 1;

			if (l == 0 || l > 63)
				return 0;
			out[label] = (uint8_t)l;
			label = n++;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return 0;
		out[n++] = (uint8_t)c;
	}
	out[label] = 0;			/* the root label */
	put16(out + n, TYPE_A);
	put16(out + n + 2, CLASS_IN);
	return n + 4;
}

/*
 * Read a name at msg[*off], following compression pointers (backwards
 * only, at most POINTER_HOPS_MAX).  text: lower case, dotted, no trailing
 * dot.  A label holding '.', a control byte or a non-ASCII byte makes the
 * name unreadable: it could not be compared honestly.
 */
static int
name_read(const uint8_t *msg, size_t len, size_t *off, char *text)
{
	size_t	 p = *off, end = 0, out = 0, wire = 0, i;
	unsigned hops = 0;
	bool	 jumped = false;

	for (;;) {
		uint8_t	 l;

		if (p >= len)
			return -1;
		l = msg[p];
		if ((l & 0xc0) == 0xc0) {
			size_t target;

			if (len - p < 2)
				return -1;
			target = ((size_t)(l & 0x3f) << 8) | msg[p + 1];
			if (target >= p || target < HEADER_LEN ||
			    ++hops > POINTER_HOPS_MAX)
				return -1;
			if (!jumped) {
				end = p + 2;
				jumped = true;
			}
			p = target;
			continue;
		}
		if (l & 0xc0)
			return -1;		/* 0x40, 0x80: not defined */
		p++;
		wire += 1u + l;
		if (wire > NAME_WIRE_MAX)
			return -1;
		if (l == 0)
			break;
		if (l > len - p || out + (out > 0) + l > RESOLV_NAME_MAX)
			return -1;
		if (out > 0)
			text[out++] = '.';
		for (i = 0; i < l; i++) {
			uint8_t c = msg[p + i];

			if (c <= 0x20 || c >= 0x7f || c == '.')
				return -1;
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			text[out++] = (char)c;
		}
		p += l;
	}
	text[out] = '\0';
	*off = jumped ? end : p;
	return 0;
}

struct record {
	uint16_t	 type;
	uint32_t	 ttl;
	uint32_t	 addr;
	char		 owner[RESOLV_NAME_MAX + 1];
	char		 target[RESOLV_NAME_MAX + 1];
};

static uint32_t
ttl_clamp(uint32_t ttl)
{
	if (ttl & 0x80000000u)		/* RFC 2181 8: treat as zero */
		return 0;
	return ttl > RESOLV_TTL_MAX ? RESOLV_TTL_MAX : ttl;
}

enum resolv_result
resolv_answer_parse(const uint8_t *msg, size_t len, uint16_t id,
    const char *name, struct resolv_answer *ans)
{
	struct record	 rec[RESOLV_RECORDS_MAX];
	const char	*chain[RESOLV_CHAIN_MAX + 1];
	char		 qname[RESOLV_NAME_MAX + 1];
	size_t		 off = HEADER_LEN, nrec = 0, nchain = 1, i, k;
	uint16_t	 flags, qd, an;
	uint32_t	 ttl = RESOLV_TTL_MAX;

	memset(ans, 0, sizeof(*ans));
	if (len < HEADER_LEN || len > RESOLV_ANSWER_MAX || get16(msg) != id)
		return RESOLV_IGNORE;
	flags = get16(msg + 2);
	qd = get16(msg + 4);
	an = get16(msg + 6);
	if (!(flags & DNS_FLAG_QR) || DNS_OPCODE(flags) != 0 || qd != 1)
		return RESOLV_IGNORE;
	/* the question, echoed exactly (case aside) */
	if (name_read(msg, len, &off, qname) == -1 ||
	    strcmp(qname, name) != 0 || len - off < 4 ||
	    get16(msg + off) != TYPE_A || get16(msg + off + 2) != CLASS_IN)
		return RESOLV_IGNORE;
	off += 4;
	ans->rcode = DNS_RCODE(flags);
	ans->truncated = (flags & DNS_FLAG_TC) != 0;
	if (ans->rcode == RCODE_NXDOMAIN)
		return RESOLV_NXDOMAIN;
	if (ans->rcode != 0)
		return RESOLV_SERVFAIL;

	/* every answer record must be in bounds, whether we use it or not */
	for (i = 0; i < an; i++) {
		struct record *r = nrec < RESOLV_RECORDS_MAX ? &rec[nrec] : NULL;
		char	 owner[RESOLV_NAME_MAX + 1];
		uint16_t type, class, rdlen;
		uint32_t rttl;

		if (name_read(msg, len, &off, owner) == -1 || len - off < 10)
			return RESOLV_IGNORE;
		type = get16(msg + off);
		class = get16(msg + off + 2);
		rttl = ttl_clamp(get32(msg + off + 4));
		rdlen = get16(msg + off + 8);
		off += 10;
		if (rdlen > len - off)
			return RESOLV_IGNORE;
		if (class == CLASS_IN && type == TYPE_A) {
			if (rdlen != 4)
				return RESOLV_IGNORE;
			if (r != NULL) {
				r->addr = get32(msg + off);
				nrec++;
			}
		} else if (class == CLASS_IN && type == TYPE_CNAME) {
			size_t	 t = off;
			char	 target[RESOLV_NAME_MAX + 1];

			if (name_read(msg, off + rdlen, &t, target) == -1 ||
			    t != off + (size_t)rdlen)
				return RESOLV_IGNORE;
			if (r != NULL) {
				memcpy(r->target, target, sizeof(r->target));
				nrec++;
			}
		} else
			r = NULL;
		if (r != NULL) {
			r->type = type;
			r->ttl = rttl;
			memcpy(r->owner, owner, sizeof(r->owner));
		}
		off += rdlen;
	}

	/* follow the CNAME chain from the name we asked for */
	chain[0] = name;
	while (nchain <= RESOLV_CHAIN_MAX) {
		for (k = 0; k < nrec; k++)
			if (rec[k].type == TYPE_CNAME &&
			    strcmp(rec[k].owner, chain[nchain - 1]) == 0)
				break;
		if (k == nrec)
			break;
		chain[nchain++] = rec[k].target;
		if (rec[k].ttl < ttl)
			ttl = rec[k].ttl;
	}
	for (k = 0; k < nrec && ans->naddrs < RESOLV_ADDR_MAX; k++) {
		if (rec[k].type != TYPE_A)
			continue;
		for (i = 0; i < nchain; i++)
			if (strcmp(rec[k].owner, chain[i]) == 0)
				break;
		if (i == nchain)
			continue;		/* not on our path: ignored */
		ans->addrs[ans->naddrs++] = rec[k].addr;
		if (rec[k].ttl < ttl)
			ttl = rec[k].ttl;
	}
	ans->ttl = ttl;
	if (ans->naddrs == 0)
		return ans->truncated ? RESOLV_SERVFAIL : RESOLV_NODATA;
	return RESOLV_OK;
}

const char *
resolv_result_string(enum resolv_result r)
{
	switch (r) {
	case RESOLV_IGNORE:
		return "not an answer to the query";
	case RESOLV_OK:
		return "ok";
	case RESOLV_NXDOMAIN:
		return "no such name (NXDOMAIN)";
	case RESOLV_NODATA:
		return "no IPv4 address for the name";
	case RESOLV_SERVFAIL:
		return "name server failure";
	}
	return "?";
}
