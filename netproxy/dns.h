/*
 * dns: strict reader of one DNS query (RFC 1035 4.1) and builder of the
 * answers netproxy gives: a synthetic A record from 198.18.0.0/15 (stable
 * for the session: a bounded name -> address table; denied names all get
 * DNS_SYNTH_DENIED, outside the table), an empty NOERROR answer for AAAA,
 * REFUSED for other types, FORMERR for malformed queries.  No query is ever sent to a resolver.
 */
#ifndef NETPROXY_DNS_H
#define NETPROXY_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN		12
#define DNS_QUERY_MAX		512	/* bytes of a query we read */
#define DNS_NAME_MAX		253	/* dotted text, no trailing dot */
#define DNS_ANSWER_MAX		(DNS_QUERY_MAX + 16)
#define DNS_TABLE_MAX		4096	/* names given an address per session */
#define DNS_SYNTH_NET		0xc6120000u	/* 198.18.0.0 */
#define DNS_SYNTH_MASK		0xfffe0000u	/* /15 */
#define DNS_SYNTH_DENIED	0xc613fffeu	/* 198.19.255.254: denied names */
#define DNS_TTL			60

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
};

#define DNS_TYPE_A	1
#define DNS_TYPE_AAAA	28
#define DNS_TYPE_OPT	41
#define DNS_CLASS_IN	1

struct dns_query {
	uint16_t	 id;
	uint16_t	 flags;		/* as received */
	uint16_t	 qtype;
	uint16_t	 qclass;
	size_t		 question_len;	/* wire bytes of the question */
	char		 name[DNS_NAME_MAX + 1];	/* lower case, no trailing dot */
};

/*
 * Parse a query message.  Returns DNS_RCODE_NOERROR when q is a well-formed
 * query for one question (an EDNS OPT record is allowed and ignored), or the
 * rcode to answer with: FORMERR (malformed; q->id is set when the message
 * had one), NOTIMP (opcode other than QUERY), REFUSED (a root name, a class
 * other than IN).  -1: not even a header; drop it.
 */
int	dns_query_parse(const uint8_t *msg, size_t len, struct dns_query *q);

/*
 * Build a response to the query in msg (parsed into q; q may be NULL when
 * the question could not be read: the answer then carries none).
 * addr: the A record to answer with (host order), or 0 for none.
 * Returns the length written to out, or 0 if it does not fit.
 */
size_t	dns_build_response(const uint8_t *msg, size_t len,
	    const struct dns_query *q, enum dns_rcode rcode, uint32_t addr,
	    uint8_t *out, size_t outcap);

/*
 * The session's name -> synthetic address table.  Entries are kept in the
 * order they were assigned (entry k has the k-th address), with a hash
 * index over them.  Addresses skip .0 and .255 of each /24.
 */
struct dns_table_entry {
	char		 name[DNS_NAME_MAX + 1];
};

struct dns_table {
	size_t		 count;
	uint16_t	 index[DNS_TABLE_MAX * 2];	/* entry + 1, 0: empty */
	struct dns_table_entry entries[DNS_TABLE_MAX];
};

void	dns_table_init(struct dns_table *);
/* Address for name, assigned on first use; 0 when the table is full. */
uint32_t dns_table_address(struct dns_table *, const char *name);
/* Name for a synthetic address, or NULL. */
const char *dns_table_name(const struct dns_table *, uint32_t addr);
bool	dns_is_synthetic(uint32_t addr);

#endif
