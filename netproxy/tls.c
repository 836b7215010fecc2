/*
 * tls.c: mbedTLS 2.28 for both sides.  Guest side: TLS 1.2 server,
 * ECDHE-ECDSA with AES-GCM or ChaCha20-Poly1305, X25519 preferred, session
 * tickets (below) and a session-ID cache, ALPN http/1.1, the leaf chain minted by
 * certd chosen in the SNI callback.  Upstream side: TLS 1.2 client with the
 * system trust store plus [upstream] ca_file, hostname verified.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/platform_util.h>

#include "event.h"
#include "log.h"
#include "netproxy.h"

#define NP_TICKET_LIFETIME	86400
#define NP_CACHE_ENTRIES	4096
#define NP_CACHE_TIMEOUT	86400
#define NP_TICKET_IV_LEN	12
#define NP_TICKET_TAG_LEN	16
#define NP_TICKET_HEAD_LEN	(sizeof(((struct np_tls *)0)->ticket_id) + \
				    NP_TICKET_IV_LEN)

static const int server_suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	0
};

static const mbedtls_ecp_group_id curves[] = {
	MBEDTLS_ECP_DP_CURVE25519,
	MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_NONE
};

static const char *alpn_http11[] = { "http/1.1", NULL };

void
tls_strerror(int err, char *buf, size_t len)
{
	mbedtls_strerror(err, buf, len);
}

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct np_end	*e = ctx;
	ssize_t		 n;

	n = send(e->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

/* Bytes peeked before TLS started are handed to mbedTLS first. */
static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct np_end	*e = ctx;
	ssize_t		 n;

	if (e->pre_len > 0) {
		n = (ssize_t)(len < e->pre_len ? len : e->pre_len);
		memcpy(buf, e->pre + e->pre_off, (size_t)n);
		e->pre_off += (size_t)n;
		e->pre_len -= (size_t)n;
		if (e->pre_len == 0) {
			free(e->pre);
			e->pre = NULL;
			e->pre_off = 0;
		}
		return (int)n;
	}
	n = recv(e->fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* The chain for this connection was minted before the handshake began. */
static int
sni_callback(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name,
    size_t len)
{
	struct np_tls	*tls = arg;
	struct np_end	*e = ssl->p_bio;
	struct np_conn	*c = e != NULL ? e->conn : NULL;

	if (c == NULL || c->cert == NULL || !tls->have_key)
		return -1;
	if (len > 1 && name[len - 1] == '.')
		len--;		/* one trailing dot, as clienthello.c */
	if (len != strlen(c->sni) || strncasecmp((const char *)name, c->sni,
	    len) != 0)
		return -1;
	return mbedtls_ssl_set_hs_own_cert(ssl, &c->cert->chain,
	    &tls->leaf_key);
}

/*
 * Session tickets.  The session parent round-robins connections over N
 * netproxy instances, so a ticket issued by one must open in another:
 * mbedTLS 2.28's own ticket module keeps a random per-process key, and
 * cannot import one.  Every instance gets the same leaf key from certd, so
 * the ticket key is derived from it (HMAC-SHA-256 with a label; the leaf
 * key never leaves certd and the netproxies).  A ticket is
 *	key id (4) | IV (12) | AES-256-GCM(mbedtls_ssl_session_save) | tag (16)
 * with key id and IV as additional data.
 */
static int
ticket_write(void *arg, const mbedtls_ssl_session *session,
    unsigned char *start, const unsigned char *end, size_t *tlen,
    uint32_t *lifetime)
{
	struct np_tls	*tls = arg;
	size_t		 avail = (size_t)(end - start), plen;
	unsigned char	*iv = start + sizeof(tls->ticket_id);
	unsigned char	*body = start + NP_TICKET_HEAD_LEN;
	int		 r;

	*tlen = 0;
	if (!tls->have_ticket_key)
		return MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE;
	if (avail < NP_TICKET_HEAD_LEN + NP_TICKET_TAG_LEN + 1)
		return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
	memcpy(start, tls->ticket_id, sizeof(tls->ticket_id));
	if ((r = mbedtls_ctr_drbg_random(&tls->drbg, iv,
	    NP_TICKET_IV_LEN)) != 0)
		return r;
	if ((r = mbedtls_ssl_session_save(session, body,
	    avail - NP_TICKET_HEAD_LEN - NP_TICKET_TAG_LEN, &plen)) != 0)
		return r;
	if ((r = mbedtls_gcm_crypt_and_tag(&tls->ticket_gcm,
	    MBEDTLS_GCM_ENCRYPT, plen, iv, NP_TICKET_IV_LEN, start,
	    NP_TICKET_HEAD_LEN, body, body, NP_TICKET_TAG_LEN,
	    body + plen)) != 0)
		return r;
	*tlen = NP_TICKET_HEAD_LEN + plen + NP_TICKET_TAG_LEN;
	*lifetime = NP_TICKET_LIFETIME;
	return 0;
}

static int
ticket_parse(void *arg, mbedtls_ssl_session *session, unsigned char *buf,
    size_t len)
{
	struct np_tls	*tls = arg;
	unsigned char	*body = buf + NP_TICKET_HEAD_LEN;
	size_t		 plen;
	time_t		 now;
	int		 r;

	if (!tls->have_ticket_key ||
	    len < NP_TICKET_HEAD_LEN + NP_TICKET_TAG_LEN + 1)
		return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
	if (memcmp(buf, tls->ticket_id, sizeof(tls->ticket_id)) != 0)
		return MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;	/* not ours */
	plen = len - NP_TICKET_HEAD_LEN - NP_TICKET_TAG_LEN;
	if (mbedtls_gcm_auth_decrypt(&tls->ticket_gcm, plen,
	    buf + sizeof(tls->ticket_id), NP_TICKET_IV_LEN, buf,
	    NP_TICKET_HEAD_LEN, body + plen, NP_TICKET_TAG_LEN, body,
	    body) != 0)
		return MBEDTLS_ERR_SSL_INVALID_MAC;
	r = mbedtls_ssl_session_load(session, body, plen);
	mbedtls_platform_zeroize(body, plen);
	if (r != 0)
		return r;
	now = time(NULL);
	if (now < session->start ||
	    (uint64_t)(now - session->start) > NP_TICKET_LIFETIME)
		return MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
	return 0;
}

/* Ticket key and key id from the leaf key's DER bytes. */
static int
ticket_key_derive(struct np_tls *tls, const uint8_t *der, size_t len)
{
	static const char klabel[] = "capsem-netproxy session ticket key v1";
	static const char ilabel[] = "capsem-netproxy session ticket id v1";
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	unsigned char	 key[32], id[32];
	int		 r;

	if (md == NULL ||
	    mbedtls_md_hmac(md, der, len, (const unsigned char *)klabel,
	    sizeof(klabel) - 1, key) != 0 ||
	    mbedtls_md_hmac(md, der, len, (const unsigned char *)ilabel,
	    sizeof(ilabel) - 1, id) != 0)
		return -1;
	r = mbedtls_gcm_setkey(&tls->ticket_gcm, MBEDTLS_CIPHER_ID_AES, key,
	    256);
	mbedtls_platform_zeroize(key, sizeof(key));
	if (r != 0)
		return -1;
	memcpy(tls->ticket_id, id, sizeof(tls->ticket_id));
	tls->have_ticket_key = true;
	return 0;
}

void
tls_init(struct np_tls *tls)
{
	int	 r;

	mbedtls_entropy_init(&tls->entropy);
	mbedtls_ctr_drbg_init(&tls->drbg);
	if ((r = mbedtls_ctr_drbg_seed(&tls->drbg, mbedtls_entropy_func,
	    &tls->entropy, (const unsigned char *)"capsem-netproxy", 15)) != 0)
		fatalx("tls: cannot seed the random generator (-0x%04x)", -r);
	mbedtls_x509_crt_init(&tls->trust);
	mbedtls_pk_init(&tls->leaf_key);

	/* guest side */
	mbedtls_ssl_config_init(&tls->server);
	if (mbedtls_ssl_config_defaults(&tls->server, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		fatalx("tls: server defaults");
	mbedtls_ssl_conf_rng(&tls->server, mbedtls_ctr_drbg_random, &tls->drbg);
	mbedtls_ssl_conf_min_version(&tls->server, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(&tls->server, server_suites);
	mbedtls_ssl_conf_curves(&tls->server, curves);
	if (mbedtls_ssl_conf_alpn_protocols(&tls->server, alpn_http11) != 0)
		fatalx("tls: alpn");
	mbedtls_ssl_conf_sni(&tls->server, sni_callback, tls);
	mbedtls_ssl_conf_renegotiation(&tls->server,
	    MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	mbedtls_gcm_init(&tls->ticket_gcm);
	mbedtls_ssl_conf_session_tickets_cb(&tls->server, ticket_write,
	    ticket_parse, tls);
	mbedtls_ssl_cache_init(&tls->cache);
	mbedtls_ssl_cache_set_max_entries(&tls->cache, NP_CACHE_ENTRIES);
	mbedtls_ssl_cache_set_timeout(&tls->cache, NP_CACHE_TIMEOUT);
	mbedtls_ssl_conf_session_cache(&tls->server, &tls->cache,
	    mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);

	/* upstream side */
	mbedtls_ssl_config_init(&tls->client);
	if (mbedtls_ssl_config_defaults(&tls->client, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		fatalx("tls: client defaults");
	mbedtls_ssl_conf_rng(&tls->client, mbedtls_ctr_drbg_random, &tls->drbg);
	mbedtls_ssl_conf_min_version(&tls->client, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_authmode(&tls->client, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&tls->client, &tls->trust, NULL);
	mbedtls_ssl_conf_curves(&tls->client, curves);
	if (mbedtls_ssl_conf_alpn_protocols(&tls->client, alpn_http11) != 0)
		fatalx("tls: alpn");
}

/* Before the sandbox: the system trust store. */
void
tls_load_trust_file(struct np_tls *tls, const char *path)
{
	int	 r;

	r = mbedtls_x509_crt_parse_file(&tls->trust, path);
	if (r < 0) {
		log_warnx("tls: %s: cannot read trust store (-0x%04x)", path, -r);
		return;
	}
	if (r > 0)
		log_debug("tls: %s: %d certificates skipped", path, r);
	tls->have_trust = true;
}

int
tls_add_trust_pem(struct np_tls *tls, const uint8_t *pem, size_t len)
{
	unsigned char	*copy;
	int		 r;

	if (len == 0)
		return 0;
	if ((copy = malloc(len + 1)) == NULL)
		return -1;
	memcpy(copy, pem, len);
	copy[len] = '\0';
	r = mbedtls_x509_crt_parse(&tls->trust, copy, len + 1);
	free(copy);
	if (r < 0) {
		log_warnx("tls: [upstream] ca_file: no usable certificate "
		    "(-0x%04x)", -r);
		return -1;
	}
	tls->have_trust = true;
	return 0;
}

int
tls_set_leaf_key(struct np_tls *tls, const uint8_t *der, size_t len)
{
	int	 r;

	if (tls->have_key)
		return -1;
	r = mbedtls_pk_parse_key(&tls->leaf_key, der, len, NULL, 0);
	if (r != 0 || ticket_key_derive(tls, der, len) == -1)
		return -1;
	tls->have_key = true;
	return 0;
}

/*
 * The certificate cache: two LRU buckets, NP_CERT_CACHE_MAX leaves for
 * names the policy allowed and NP_CERT_DENIED_MAX for names it denied
 * (minted only to explain the 403), so that any number of denied names
 * cannot push the allowed working set out.  Inserting always succeeds:
 * the least recently used leaf of the bucket is dropped from the cache,
 * and freed when no connection holds it any more.
 */
static void
cert_free_if_unused(struct np_cert *c)
{
	if (c->cached || c->refs > 0)
		return;
	mbedtls_x509_crt_free(&c->chain);
	free(c);
}

static void
cert_uncache(struct np_cert **slot)
{
	struct np_cert *c = *slot;

	*slot = NULL;
	c->cached = false;
	cert_free_if_unused(c);
}

static struct np_cert **
cert_find(struct np_tls *tls, const char *host)
{
	size_t	 i;

	for (i = 0; i < NP_CERT_CACHE_MAX; i++)
		if (tls->certs[i] != NULL &&
		    strcmp(tls->certs[i]->host, host) == 0)
			return &tls->certs[i];
	for (i = 0; i < NP_CERT_DENIED_MAX; i++)
		if (tls->denied_certs[i] != NULL &&
		    strcmp(tls->denied_certs[i]->host, host) == 0)
			return &tls->denied_certs[i];
	return NULL;
}

/* A free slot of the bucket, else its least recently used one, emptied. */
static struct np_cert **
cert_make_room(struct np_cert **bucket, size_t n)
{
	struct np_cert **lru = NULL;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (bucket[i] == NULL)
			return &bucket[i];
		if (lru == NULL || bucket[i]->last_used < (*lru)->last_used)
			lru = &bucket[i];
	}
	cert_uncache(lru);
	return lru;
}

struct np_cert *
tls_cert_lookup(struct np_tls *tls, const char *host)
{
	int64_t	 now = (int64_t)time(NULL);
	struct np_cert **slot = cert_find(tls, host);

	if (slot == NULL)
		return NULL;
	if ((*slot)->not_after - 60 < now)
		return NULL;	/* about to expire: mint again */
	(*slot)->last_used = event_now_ms();
	return *slot;
}

struct np_cert *
tls_cert_insert(struct np_tls *tls, const char *host, bool denied,
    const uint8_t *leaf, size_t leaf_len, const uint8_t *ca, size_t ca_len,
    int64_t not_after, char *err, size_t errlen)
{
	struct np_cert	*c, **slot;
	int		 r;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mbedtls_x509_crt_init(&c->chain);
	if ((r = mbedtls_x509_crt_parse_der(&c->chain, leaf, leaf_len)) != 0 ||
	    (ca_len > 0 &&
	    (r = mbedtls_x509_crt_parse_der(&c->chain, ca, ca_len)) != 0)) {
		char	 e[96];

		mbedtls_strerror(r, e, sizeof(e));
		snprintf(err, errlen, "minted certificate unreadable: %s", e);
		mbedtls_x509_crt_free(&c->chain);
		free(c);
		return NULL;
	}
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->not_after = not_after;
	c->last_used = event_now_ms();
	c->cached = true;
	if ((slot = cert_find(tls, host)) != NULL)
		cert_uncache(slot);	/* an older one for the same name */
	if (denied)
		slot = cert_make_room(tls->denied_certs, NP_CERT_DENIED_MAX);
	else
		slot = cert_make_room(tls->certs, NP_CERT_CACHE_MAX);
	*slot = c;
	return c;
}

void
tls_cert_release(struct np_cert *c)
{
	if (c == NULL || c->refs <= 0)
		return;
	c->refs--;
	cert_free_if_unused(c);
}

size_t
tls_cert_count(const struct np_tls *tls)
{
	size_t	 i, n = 0;

	for (i = 0; i < NP_CERT_CACHE_MAX; i++)
		n += tls->certs[i] != NULL;
	for (i = 0; i < NP_CERT_DENIED_MAX; i++)
		n += tls->denied_certs[i] != NULL;
	return n;
}

static int
ssl_new(struct np_end *e, mbedtls_ssl_config *conf)
{
	e->ssl = malloc(sizeof(*e->ssl));
	if (e->ssl == NULL)
		return -1;
	mbedtls_ssl_init(e->ssl);
	if (mbedtls_ssl_setup(e->ssl, conf) != 0) {
		mbedtls_ssl_free(e->ssl);
		free(e->ssl);
		e->ssl = NULL;
		return -1;
	}
	mbedtls_ssl_set_bio(e->ssl, e, bio_send, bio_recv, NULL);
	return 0;
}

int
tls_server_start(struct np_tls *tls, struct np_end *e)
{
	return ssl_new(e, &tls->server);
}

int
tls_client_start(struct np_tls *tls, struct np_end *e, const char *host)
{
	if (ssl_new(e, &tls->client) == -1)
		return -1;
	if (mbedtls_ssl_set_hostname(e->ssl, host) != 0) {
		tls_end_free(e);
		return -1;
	}
	return 0;
}

void
tls_end_free(struct np_end *e)
{
	if (e->ssl == NULL)
		return;
	if (!e->failed && e->fd != -1)
		(void)mbedtls_ssl_close_notify(e->ssl);
	mbedtls_ssl_free(e->ssl);
	free(e->ssl);
	e->ssl = NULL;
}
