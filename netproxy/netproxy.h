/*
 * netproxy.h: the process that parses all guest network traffic.
 * State lives in one struct netproxy; each client stream is a struct
 * np_conn with two ends (guest side, upstream side).
 *
 * Layers, top to bottom.  A file calls only files below it; an answer to
 * a higher layer goes through a function pointer it was handed (struct
 * upstream_hooks, resolver_cb), never a direct call.
 *
 *   netproxy.c   main, peers (parent, vmm, certd, policyd), dispatch by id
 *   conn.c       one stream: relay header, ClientHello, policy and
 *                certificate waits, TLS with the guest, request heads
 *   exchange.c   a request and its response over a connected upstream
 *   dnsserve.c   DNS-over-TCP streams
 *   respond.c    netproxy's own answers and the audit lines
 *   upstream.c   connect to host:port: pins, lookups, connect, TLS, pool
 *   resolver.c   upstream.c's UDP lookups and their cache
 *   services.c   sends to certd and policyd, the clock, the timeouts
 *   io.c, tls.c  buffers and ends; TLS contexts and the certificate cache
 *   parsers      http.c clienthello.c relayhdr.c resolv.c dns.c
 */
#ifndef NETPROXY_NETPROXY_H
#define NETPROXY_NETPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/gcm.h>
#include <mbedtls/x509_crt.h>

#include "child.h"
#include "clienthello.h"
#include "dns.h"
#include "http.h"
#include "msg.h"
#include "relayhdr.h"
#include "resolv.h"
#include "settings.h"

#define NP_MAX_CONNS		1024	/* slots; power of two */
#define NP_IN_SIZE		(CH_PEEK_MAX + 64)	/* holds a ClientHello or a head */
#define NP_OUT_SIZE		(HTTP_HEAD_MAX + PROXY_CREDENTIAL_MAX + 8192)
#define NP_UP_IN_SIZE		(HTTP_HEAD_MAX + 4096)
#define NP_IDLE_MS		60000
#define NP_CONNECT_MS		10000
#define NP_HANDSHAKE_MS		10000	/* stream start to TLS up */
#define NP_HEAD_MS		30000	/* a request head's first byte to its end */
#define NP_SWEEP_MS		1000
#define NP_POOL_MAX		64	/* idle upstream connections kept */
#define NP_POOL_IDLE_MS		30000
#define NP_INTERIM_MAX		16	/* 1xx heads forwarded per request */
#define NP_CERT_CACHE_MAX	256	/* leaves for allowed names, LRU */
#define NP_CERT_DENIED_MAX	32	/* leaves for denied names, LRU */
#define NP_CREDENTIALS_MAX	64
#define NP_QUERIES_MAX		256	/* upstream name lookups in flight */
#define NP_RESOLVE_TRY_MS	1500	/* one UDP attempt */
#define NP_RESOLVE_TRIES	4	/* attempts, rotating over servers */
#define NP_RCACHE_MAX		256	/* names cached */
#define NP_RCACHE_TTL_MAX	300	/* seconds */

/* counters in MSG_STATUS_RESPONSE */
#define NP_CTR_STREAMS		0
#define NP_CTR_REQUESTS		1
#define NP_CTR_DENIED		2
#define NP_CTR_ERRORS		3

struct netproxy;
struct np_conn;

/* A byte buffer: data[off .. off+len) is pending. */
struct np_buf {
	uint8_t		*data;
	size_t		 cap;
	size_t		 off;
	size_t		 len;
};

/* One side of a connection: a socket, optionally with TLS on it. */
struct np_end {
	int		 fd;
	mbedtls_ssl_context *ssl;
	struct np_conn	*conn;		/* NULL for an idle pooled upstream */
	struct np_upstream *up;		/* set on upstream ends */
	struct np_buf	 in;		/* raw before TLS, plaintext after */
	struct np_buf	 out;		/* plaintext to send */
	uint8_t		*pre;		/* raw bytes peeked before TLS started */
	size_t		 pre_off;
	size_t		 pre_len;
	uint32_t	 events;	/* registered interest */
	bool		 eof;
	bool		 failed;
	bool		 ssl_want_write;
	bool		 ssl_want_read;
	bool		 closed_notify;
};

/*
 * A leaf certificate chain minted by certd for one host.  Each connection
 * using it holds a reference, the cache another (cached): a leaf evicted
 * from the cache lives on until its last connection lets go, so the cache
 * never refuses.
 */
struct np_cert {
	char		 host[MSG_HOST_MAX];
	mbedtls_x509_crt chain;
	int64_t		 not_after;
	uint64_t	 last_used;
	int		 refs;
	bool		 cached;
};

/* A chain as certd sent it (DER), its lengths checked by netproxy.c. */
struct np_minted {
	const uint8_t	*leaf;
	size_t		 leaf_len;
	const uint8_t	*ca;
	size_t		 ca_len;
	int64_t		 not_after;
};

struct np_tls {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config server;
	mbedtls_ssl_config client;
	mbedtls_gcm_context ticket_gcm;	/* session tickets, see tls.c */
	uint8_t		 ticket_id[4];
	bool		 have_ticket_key;
	mbedtls_ssl_cache_context cache;
	mbedtls_x509_crt trust;		/* system store + [upstream] ca_file */
	mbedtls_pk_context leaf_key;
	bool		 have_key;
	bool		 have_trust;
	struct np_cert	*certs[NP_CERT_CACHE_MAX];	/* allowed names */
	struct np_cert	*denied_certs[NP_CERT_DENIED_MAX];
};

enum up_state { UP_RESOLVING, UP_CONNECTING, UP_HANDSHAKE, UP_READY };

/*
 * How an upstream reaches the connection using it (conn.c's two entry
 * points, handed to upstream_open).  opened: the one answer to
 * upstream_open, u connected (status 0) or NULL with the HTTP status to
 * answer (403 refused address, 502, 504) and why; when it comes from
 * within upstream_open the caller runs the connection, otherwise run
 * follows.  run: an event on the upstream end while the connection has it.
 */
struct upstream_hooks {
	void	(*opened)(struct np_conn *, struct np_upstream *u, int status,
		    const char *reason);
	void	(*run)(struct np_conn *);
};

struct np_upstream {
	struct np_end	 end;
	enum up_state	 state;
	char		 host[MSG_HOST_MAX];
	uint16_t	 port;
	bool		 tls;
	const struct upstream_hooks *hooks;
	struct np_query	*query;		/* UP_RESOLVING */
	bool		 in_open;	/* inside upstream_open() */
	uint64_t	 deadline;	/* connect + handshake */
	uint64_t	 idle_since;	/* in the pool */
	struct np_upstream *pool_next;
	struct np_upstream *open_next;	/* on np->opening until connected */
	struct netproxy	*np;
	char		 error[1024];
};

typedef void resolver_cb(void *arg, enum resolv_result,
    const struct resolv_answer *, const char *error);

/* One upstream name lookup (resolver.c). */
struct np_query {
	struct netproxy	*np;
	bool		 used;
	resolver_cb	*done;		/* NULL: nobody waits any more */
	void		*arg;
	char		 name[MSG_HOST_MAX];
	uint16_t	 dns_id;
	int		 fd;
	unsigned	 tries;
	uint64_t	 timer;
	char		 error[384];
};

struct np_rcache {
	bool		 used;
	char		 name[MSG_HOST_MAX];
	uint32_t	 addrs[RESOLV_ADDR_MAX];
	size_t		 naddrs;
	uint64_t	 expires_ms;
};

struct np_resolver {
	struct resolv_conf conf;
	char		 conf_path[256];
	struct np_query	 q[NP_QUERIES_MAX];
	struct np_rcache cache[NP_RCACHE_MAX];
};

enum conn_kind { CONN_HTTPS, CONN_HTTP, CONN_DNS };

enum conn_state {
	CS_RELAY_HEADER,	/* reading the guest relay's header line */
	CS_PEEK,		/* reading the ClientHello */
	CS_CONN_CHECK,		/* waiting for policyd */
	CS_MINT,		/* waiting for certd */
	CS_HANDSHAKE,		/* TLS with the client */
	CS_REQ_HEAD,		/* reading a request head */
	CS_HOST_CHECK,		/* plain HTTP: CONN_CHECK for the Host */
	CS_REQ_CHECK,		/* waiting for policyd on the request */
	CS_UPSTREAM,		/* waiting for upstream_open: lookup, TCP, TLS */
	CS_EXCHANGE,		/* request body up, response back */
	CS_TUNNEL,		/* WebSocket after 101: raw relay */
	CS_CLOSING,		/* flushing a final answer, then close */
	CS_DNS,			/* DNS-over-TCP framed queries */
	CS_DNS_CHECK,		/* waiting for policyd on a DNS name */
};

/* Body framing while streaming one message. */
struct modelcall;

struct np_body {
	enum http_body_kind kind;
	uint64_t	 remaining;	/* HTTP_BODY_LENGTH */
	struct http_chunked ck;
	bool		 reframe;	/* write chunked framing to the peer */
	bool		 done;
	struct modelcall *model;	/* a model call's response: read a copy */
};

struct np_conn {
	struct netproxy	*np;
	uint32_t	 id;		/* peerid for policyd/certd */
	enum conn_kind	 kind;
	enum conn_state	 state;
	struct np_end	 client;
	struct np_upstream *up;
	bool		 up_idle;	/* up kept between requests */
	bool		 has_header;
	struct relayhdr	 dest;		/* from the relay header */
	uint16_t	 port;		/* destination port (443, 80) */
	char		 sni[MSG_HOST_MAX];
	char		 host[MSG_HOST_MAX];	/* checked host of this connection */
	bool		 host_checked;	/* CONN_CHECK done for host */
	bool		 host_denied;	/* denied at CONN_CHECK: answer 403 */
	struct msg_verdict conn_verdict;
	struct np_cert	*cert;
	struct http_request req;
	struct http_response resp;
	bool		 resp_head_sent;
	unsigned	 interim;	/* 1xx heads of this request so far */
	struct np_body	 req_body;
	struct np_body	 resp_body;
	bool		 client_keep_alive;
	bool		 head_request;
	char		 method[MSG_METHOD_MAX];
	char		 path[1024];
	struct msg_verdict req_verdict;
	bool		 req_allowed;	/* this request passed REQUEST_CHECK */
	bool		 req_audited;	/* this request's outcome line is sent */
	char		 npath[MSG_PATH_MAX + 2];	/* the path it passed with */
	int		 model_api;	/* enum model_api of this request */
	char		 model_target[512];	/* its target, for the record */
	uint64_t	 started_us;	/* this request */
	uint64_t	 bytes_in;	/* this request, from the guest */
	uint64_t	 bytes_out;	/* this request, to the guest */
	uint64_t	 last_active_ms;
	uint64_t	 handshake_deadline_ms;	/* 0: none (TLS up, or plain) */
	uint64_t	 head_deadline_ms;	/* 0: no head begun */
	int		 status;	/* answered status, for audit */
	bool		 in_run;
	bool		 dead;
	char		 reason[128];
	/* DNS */
	struct dns_query dnsq;
	uint8_t		 dnsmsg[DNS_QUERY_MAX];
	size_t		 dnslen;
};

struct np_credential {
	char		 host[MSG_HOST_MAX];
	char		 header[PROXY_HEADER_NAME_MAX];
	char		*value;
	size_t		 value_len;
};

struct netproxy {
	struct child	*child;
	struct event_loop *loop;
	struct imsgev	*certd;
	struct imsgev	*policyd;
	struct imsgev	*vmm;		/* guest streams, when a VM runs */
	struct msg_proxy_settings settings;
	bool		 have_settings;
	struct np_credential creds[NP_CREDENTIALS_MAX];
	size_t		 ncreds;
	struct np_tls	 tls;
	struct np_conn	*conns[NP_MAX_CONNS];
	size_t		 nconns;
	uint32_t	 next_gen;
	struct np_upstream *pool;
	size_t		 npool;
	struct np_upstream *opening;	/* upstream_open in progress */
	struct dns_table *dns;
	struct np_resolver resolver;
	uint64_t	 counters[4];
	uint64_t	 counters_model;	/* model calls reported */
	uint64_t	 sweep_timer;
};

/* services.c */
int	np_send_certd(struct netproxy *, uint32_t type, uint32_t peerid,
	    const void *, size_t);
int	np_send_policyd(struct netproxy *, uint32_t type, uint32_t peerid,
	    const void *, size_t, const void *, size_t);
uint32_t np_idle_ms(const struct netproxy *);
uint32_t np_connect_ms(const struct netproxy *);
uint32_t np_handshake_ms(const struct netproxy *);
uint32_t np_head_ms(const struct netproxy *);
uint64_t np_now_us(void);

/* modeltap.c: a model call's usage from its response (modelcall.h) */
bool	modeltap_request(struct np_conn *, const uint8_t *reqbuf);
void	modeltap_response(struct np_conn *, const uint8_t *respbuf);
void	modeltap_feed(struct np_body *, const uint8_t *, size_t);
void	modeltap_end(struct np_conn *, bool complete);

/* tls.c */
void	tls_init(struct np_tls *);
void	tls_load_trust_file(struct np_tls *, const char *path);
int	tls_add_trust_pem(struct np_tls *, const uint8_t *pem, size_t len);
int	tls_set_leaf_key(struct np_tls *, const uint8_t *der, size_t len);
struct np_cert *tls_cert_lookup(struct np_tls *, const char *host);
struct np_cert *tls_cert_insert(struct np_tls *, const char *host,
	    bool denied, const uint8_t *leaf, size_t leaf_len, const uint8_t *ca,
	    size_t ca_len, int64_t not_after, char *err, size_t errlen);
void	tls_cert_release(struct np_cert *);
size_t	tls_cert_count(const struct np_tls *);
int	tls_server_start(struct np_tls *, struct np_end *);
int	tls_client_start(struct np_tls *, struct np_end *, const char *host);
void	tls_end_free(struct np_end *);
void	tls_strerror(int, char *, size_t);

/* io.c: buffers and ends */
int	buf_alloc(struct np_buf *, size_t cap);
void	buf_free(struct np_buf *);
size_t	buf_room(struct np_buf *);	/* compacts as needed */
int	buf_append(struct np_buf *, const void *, size_t);
int	buf_printf(struct np_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	buf_consume(struct np_buf *, size_t);
ssize_t	end_fill(struct np_end *);	/* >0 read, 0 nothing, -1 eof/error */
ssize_t	end_flush(struct np_end *);	/* bytes written, -1 error */
void	end_close(struct netproxy *, struct np_end *);
void	end_set_nodelay(int fd);	/* TCP sockets only */

/* conn.c */
void	conn_new(struct netproxy *, const struct msg_stream_new *, int fd);
void	conn_on_verdict(struct np_conn *, const struct msg_verdict *,
	    const char *npath, size_t npathlen);
void	conn_on_mint(struct np_conn *, const struct np_minted *,
	    const char *error);
void	conn_policyd_gone(struct np_conn *);
void	conn_certd_gone(struct np_conn *);
void	conn_sweep(struct netproxy *, uint64_t now_ms);
void	conn_free(struct np_conn *);

/* exchange.c */
void	exchange_start(struct np_conn *);
bool	exchange_step(struct np_conn *);
bool	exchange_tunnel(struct np_conn *);

/* dnsserve.c */
void	dns_conn_run(struct np_conn *);
void	dns_conn_verdict(struct np_conn *, const struct msg_verdict *);

/* respond.c */
void	respond(struct np_conn *, int status, const char *reason,
	    const struct msg_verdict *);
void	audit_stream(struct np_conn *, uint32_t kind, int status, bool allow,
	    const struct msg_verdict *, const char *reason);
void	audit_unfinished(struct np_conn *);

/* upstream.c */
void	upstream_load(struct netproxy *);
void	upstream_shutdown(struct netproxy *);
void	upstream_open(struct netproxy *, struct np_conn *, const char *host,
	    uint16_t port, bool tls, const struct upstream_hooks *);
void	upstream_abandon(struct netproxy *, struct np_conn *);
void	upstream_release(struct netproxy *, struct np_upstream *, bool reuse);
bool	upstream_reusable(struct np_upstream *);
bool	upstream_idle_alive(struct np_upstream *);
void	upstream_sweep(struct netproxy *, uint64_t now_ms);
bool	upstream_addr_private(const struct sockaddr *);

/* resolver.c */
void	resolver_load(struct np_resolver *);
bool	resolver_cached(struct netproxy *, const char *name, uint32_t *addrs,
	    size_t *naddrs);
struct np_query *resolver_start(struct netproxy *, const char *name,
	    resolver_cb *, void *arg, char *err, size_t errlen);
void	resolver_forget(struct np_query *);
void	resolver_shutdown(struct netproxy *);

#endif
