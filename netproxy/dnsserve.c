/*
 * dnsserve.c: DNS-over-TCP framed queries on vsock 1053 (or proxy --dns).
 * One query at a time per stream: parse, ask policyd (CONN_CHECK, port 53)
 * for A and AAAA names, answer from the session's synthetic table.  A name
 * the policy denies resolves too, to the one address DNS_SYNTH_DENIED (the
 * audit line says deny), so that the agent's connection reaches netproxy
 * and gets the explained 403 instead of "could not resolve host"; only a
 * name that is no host name at all gets NXDOMAIN.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "netproxy.h"

static void
dns_audit(struct np_conn *c, int rcode, bool allow,
    const struct msg_verdict *v, const char *reason)
{
	struct msg_audit_event ev;

	if (c->np->policyd == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = AUDIT_DNS;
	ev.status = (uint32_t)rcode;
	ev.port = 53;
	ev.allow = allow ? VERDICT_ALLOW : VERDICT_DENY;
	snprintf(ev.host, sizeof(ev.host), "%s", c->dnsq.name);
	snprintf(ev.method, sizeof(ev.method), "%s",
	    c->dnsq.qtype == DNS_TYPE_A ? "A" :
	    c->dnsq.qtype == DNS_TYPE_AAAA ? "AAAA" : "other");
	if (v != NULL) {
		snprintf(ev.rule, sizeof(ev.rule), "%s", v->rule);
		snprintf(ev.file, sizeof(ev.file), "%s", v->file);
		ev.line = v->line;
	}
	snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
	(void)np_send_policyd(c->np, MSG_AUDIT_EVENT, 0, &ev, sizeof(ev),
	    NULL, 0);
}

static void
answer(struct np_conn *c, const struct dns_query *q, enum dns_rcode rcode,
    uint32_t addr)
{
	uint8_t	 out[2 + DNS_ANSWER_MAX];
	size_t	 n;

	n = dns_build_response(c->dnsmsg, c->dnslen, q, rcode, addr, out + 2,
	    sizeof(out) - 2);
	if (n == 0) {
		c->dead = true;
		return;
	}
	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
	if (buf_append(&c->client.out, out, n + 2) == -1)
		c->dead = true;
}

static void
handle_query(struct np_conn *c)
{
	struct msg_conn_check cc;
	int	 rc = dns_query_parse(c->dnsmsg, c->dnslen, &c->dnsq);

	c->np->counters[NP_CTR_REQUESTS]++;
	if (rc == -1)
		return;				/* not a query: dropped */
	if (rc != DNS_RCODE_NOERROR) {
		answer(c, rc == DNS_RCODE_FORMERR ? NULL : &c->dnsq, rc, 0);
		dns_audit(c, rc, false, NULL, "malformed or refused query");
		return;
	}
	if (c->dnsq.qtype != DNS_TYPE_A && c->dnsq.qtype != DNS_TYPE_AAAA) {
		answer(c, &c->dnsq, DNS_RCODE_REFUSED, 0);
		dns_audit(c, DNS_RCODE_REFUSED, false, NULL,
		    "query type not served");
		return;
	}
	memset(&cc, 0, sizeof(cc));
	cc.port = 0;		/* a name, not a connection: any proxied port */
	snprintf(cc.host, sizeof(cc.host), "%s", c->dnsq.name);
	if (np_send_policyd(c->np, MSG_CONN_CHECK, c->id, &cc, sizeof(cc),
	    NULL, 0) == -1) {
		answer(c, &c->dnsq, DNS_RCODE_SERVFAIL, 0);
		return;
	}
	c->state = CS_DNS_CHECK;
}

/*
 * policyd's verdict on a name that is no host name (policy.c host_prepare:
 * built-in, "invalid host name").  The reader in dns.c already refuses
 * most such names (FORMERR); this catches what it lets through.
 */
static bool
verdict_no_host_name(const struct msg_verdict *v)
{
	return v->line == 0 && strcmp(v->file, "(built-in)") == 0 &&
	    strcmp(v->rule, "invalid host name") == 0;
}

void
dns_conn_verdict(struct np_conn *c, const struct msg_verdict *v)
{
	uint32_t addr = 0;

	c->state = CS_DNS;
	if (v->allow != VERDICT_ALLOW) {
		if (verdict_no_host_name(v)) {
			answer(c, &c->dnsq, DNS_RCODE_NXDOMAIN, 0);
			dns_audit(c, DNS_RCODE_NXDOMAIN, false, v,
			    "not a host name");
			return;
		}
		/* one address for all of them: the table is not spent */
		answer(c, &c->dnsq, DNS_RCODE_NOERROR,
		    c->dnsq.qtype == DNS_TYPE_A ? DNS_SYNTH_DENIED : 0);
		dns_audit(c, DNS_RCODE_NOERROR, false, v,
		    "denied name: its connections are answered 403");
		return;
	}
	if (c->dnsq.qtype == DNS_TYPE_AAAA) {
		answer(c, &c->dnsq, DNS_RCODE_NOERROR, 0);
		dns_audit(c, DNS_RCODE_NOERROR, true, v, "no IPv6");
		return;
	}
	if (c->np->dns == NULL) {
		if ((c->np->dns = malloc(sizeof(*c->np->dns))) == NULL) {
			answer(c, &c->dnsq, DNS_RCODE_SERVFAIL, 0);
			return;
		}
		dns_table_init(c->np->dns);
	}
	addr = dns_table_address(c->np->dns, c->dnsq.name);
	if (addr == 0) {
		answer(c, &c->dnsq, DNS_RCODE_SERVFAIL, 0);
		dns_audit(c, DNS_RCODE_SERVFAIL, true, v, "address table full");
		return;
	}
	answer(c, &c->dnsq, DNS_RCODE_NOERROR, addr);
	dns_audit(c, DNS_RCODE_NOERROR, true, v, "");
}

/* Read framed queries while no answer is pending. */
void
dns_conn_run(struct np_conn *c)
{
	struct np_buf	*in = &c->client.in;
	ssize_t		 n;
	size_t		 mlen;

	while (c->state == CS_DNS && !c->dead) {
		if (in->len >= 2) {
			mlen = ((size_t)in->data[in->off] << 8) |
			    in->data[in->off + 1];
			if (mlen == 0 || mlen > DNS_QUERY_MAX) {
				log_debug("stream %u: DNS message of %zu bytes "
				    "refused", c->id, mlen);
				c->dead = true;
				return;
			}
			if (in->len >= 2 + mlen) {
				memcpy(c->dnsmsg, in->data + in->off + 2, mlen);
				c->dnslen = mlen;
				buf_consume(in, 2 + mlen);
				handle_query(c);
				continue;
			}
		}
		n = end_fill(&c->client);
		if (n == -1) {
			if (c->client.out.len == 0)
				c->dead = true;
			else
				c->state = CS_CLOSING;
			return;
		}
		if (n == 0)
			return;
	}
}
