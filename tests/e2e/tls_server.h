/*
 * tls_server: the mbedTLS server setup the test upstreams share
 * (e2e-upstream, fake-model-api): entropy, DRBG, certificate and key,
 * a listening socket, and the per-connection handshake.
 */
#ifndef CAPSEM_TEST_TLS_SERVER_H
#define CAPSEM_TEST_TLS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

struct tls_server {
	const char		*prog;		/* for messages */
	mbedtls_net_context	 listen;
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config	 conf;
	mbedtls_x509_crt	 cert;
	mbedtls_pk_context	 key;
};

/* "prog: what: mbedTLS's message (-0xNNNN)" on stderr, exit 1. */
void	tls_server_die(const struct tls_server *, const char *what, int ret)
	    __attribute__((noreturn));

/* Load CERT and KEY, listen on ADDR:PORT; exits on failure. */
void	tls_server_init(struct tls_server *, const char *prog,
	    const char *addr, const char *port, const char *cert,
	    const char *key, uint32_t read_timeout_ms);

/* Accept the next connection into *client; exits on failure. */
void	tls_server_accept(struct tls_server *, mbedtls_net_context *client);

/*
 * The TLS handshake on client, in *ssl (set up here; the caller frees it
 * with mbedtls_ssl_free).  Returns 0, or the handshake's error.
 */
int	tls_server_handshake(struct tls_server *, mbedtls_net_context *client,
	    mbedtls_ssl_context *ssl);

/* Write all of buf; 0, or -1 if the connection failed. */
int	tls_write_all(mbedtls_ssl_context *, const void *buf, size_t len);

#endif
