/*
 * resolv: the untrusted-input side of netproxy's own stub resolver for
 * upstream names (getaddrinfo would open files, which the sandbox kills).
 *
 *   resolv_conf_parse    "nameserver ADDR" lines of resolv.conf(5)
 *   resolv_query_build   one A query (RD set), our random id
 *   resolv_answer_parse  a UDP answer, read strictly: id, QR, opcode, the
 *                        question echoed exactly, every record in bounds,
 *                        compression pointers bounded; A records of the
 *                        name or of its CNAME chain inside the answer.
 *
 * Nothing here allocates or does I/O; resolver.c sends and waits.
 */
#ifndef NETPROXY_RESOLV_H
#define NETPROXY_RESOLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RESOLV_NS_MAX		3	/* as resolv.conf(5): MAXNS */
#define RESOLV_ADDR_MAX		8	/* A records kept from one answer */
#define RESOLV_NAME_MAX		253	/* dotted text, no trailing dot */
#define RESOLV_QUERY_MAX	(12 + RESOLV_NAME_MAX + 2 + 4)
#define RESOLV_ANSWER_MAX	4096	/* bytes of an answer we read */
#define RESOLV_RECORDS_MAX	32	/* answer records looked at */
#define RESOLV_CHAIN_MAX	8	/* CNAME links followed */
#define RESOLV_TTL_MAX		3600
#define RESOLV_CONF_MAX		(64u * 1024)

struct resolv_conf {
	size_t		 count;
	struct sockaddr_storage ns[RESOLV_NS_MAX];
	socklen_t	 nslen[RESOLV_NS_MAX];
};

/*
 * Read nameserver lines (numeric IPv4 or IPv6, port 53) from resolv.conf
 * text.  Other lines, comments and unusable addresses are skipped.
 * Returns the number of nameservers found.
 */
size_t	resolv_conf_parse(const char *text, size_t len, struct resolv_conf *);

/*
 * Build an A query for name (lower-case dotted text, no trailing dot).
 * Returns its length, or 0 if the name is not a valid host name or does
 * not fit.
 */
size_t	resolv_query_build(uint8_t *out, size_t cap, uint16_t id,
	    const char *name);

enum resolv_result {
	RESOLV_IGNORE = -1,	/* not an answer to our query: keep waiting */
	RESOLV_OK = 0,		/* addrs[0 .. naddrs) */
	RESOLV_NXDOMAIN,	/* the name does not exist */
	RESOLV_NODATA,		/* the name exists, no A record */
	RESOLV_SERVFAIL,	/* another rcode, or truncated: ask elsewhere */
};

struct resolv_answer {
	size_t		 naddrs;
	uint32_t	 addrs[RESOLV_ADDR_MAX];	/* host byte order */
	uint32_t	 ttl;		/* smallest TTL on the path, capped */
	int		 rcode;
	bool		 truncated;
};

enum resolv_result resolv_answer_parse(const uint8_t *msg, size_t len,
	    uint16_t id, const char *name, struct resolv_answer *);

const char *resolv_result_string(enum resolv_result);

#endif
