/*
 * tls_server.c: see tls_server.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>

#include "tls_server.h"

void
tls_server_die(const struct tls_server *s, const char *what, int ret)
{
	char	 msg[160];

	mbedtls_strerror(ret, msg, sizeof(msg));
	fprintf(stderr, "%s: %s: %s (-0x%04x)\n", s->prog, what, msg,
	    (unsigned)-ret);
	exit(1);
}

void
tls_server_init(struct tls_server *s, const char *prog, const char *addr,
    const char *port, const char *cert, const char *key,
    uint32_t read_timeout_ms)
{
	int	 ret;

	memset(s, 0, sizeof(*s));
	s->prog = prog;
	mbedtls_net_init(&s->listen);
	mbedtls_entropy_init(&s->entropy);
	mbedtls_ctr_drbg_init(&s->drbg);
	mbedtls_ssl_config_init(&s->conf);
	mbedtls_x509_crt_init(&s->cert);
	mbedtls_pk_init(&s->key);
	if ((ret = mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func,
	    &s->entropy, (const unsigned char *)prog, strlen(prog))) != 0)
		tls_server_die(s, "drbg seed", ret);
	if ((ret = mbedtls_x509_crt_parse_file(&s->cert, cert)) != 0)
		tls_server_die(s, cert, ret);
	if ((ret = mbedtls_pk_parse_keyfile(&s->key, key, NULL)) != 0)
		tls_server_die(s, key, ret);
	if ((ret = mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		tls_server_die(s, "ssl config", ret);
	mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &s->drbg);
	mbedtls_ssl_conf_read_timeout(&s->conf, read_timeout_ms);
	if ((ret = mbedtls_ssl_conf_own_cert(&s->conf, &s->cert, &s->key)) != 0)
		tls_server_die(s, "own cert", ret);
	if ((ret = mbedtls_net_bind(&s->listen, addr, port,
	    MBEDTLS_NET_PROTO_TCP)) != 0)
		tls_server_die(s, "bind", ret);
}

void
tls_server_accept(struct tls_server *s, mbedtls_net_context *client)
{
	int	 ret;

	mbedtls_net_init(client);
	if ((ret = mbedtls_net_accept(&s->listen, client, NULL, 0, NULL)) != 0)
		tls_server_die(s, "accept", ret);
}

int
tls_server_handshake(struct tls_server *s, mbedtls_net_context *client,
    mbedtls_ssl_context *ssl)
{
	int	 ret;

	mbedtls_ssl_init(ssl);
	if ((ret = mbedtls_ssl_setup(ssl, &s->conf)) != 0)
		tls_server_die(s, "ssl_setup", ret);
	mbedtls_ssl_set_bio(ssl, client, mbedtls_net_send, NULL,
	    mbedtls_net_recv_timeout);
	while ((ret = mbedtls_ssl_handshake(ssl)) != 0)
		if (ret != MBEDTLS_ERR_SSL_WANT_READ &&
		    ret != MBEDTLS_ERR_SSL_WANT_WRITE)
			return ret;
	return 0;
}

int
tls_write_all(mbedtls_ssl_context *ssl, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t	 off = 0;
	int	 n;

	while (off < len) {
		n = mbedtls_ssl_write(ssl, p + off, len - off);
		if (n == MBEDTLS_ERR_SSL_WANT_READ ||
		    n == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}
