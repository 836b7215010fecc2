/*
 * e2e-upstream: the real HTTPS upstream of the end-to-end VM tests, run
 * inside the first-level guest (which has no python).  mbedTLS server on
 * ADDR:PORT with CERT/KEY; one connection at a time.  Every request it
 * receives is printed as one line "UPSTREAM <name> <method> <path>" (so a
 * test can prove that a denied request never reached it) and answered
 * "200" with the body "upstream <name> <method> <path>\n".
 *
 *   e2e-upstream NAME ADDR PORT CERT KEY
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#define HEAD_MAX	16384
#define BODY_MAX	(1024 * 1024)
#define IO_TIMEOUT_MS	10000

struct upstream {
	const char		*name;
	mbedtls_net_context	 listen;
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config	 conf;
	mbedtls_x509_crt	 cert;
	mbedtls_pk_context	 key;
};

static void
die(const char *what, int ret)
{
	char	 msg[160];

	mbedtls_strerror(ret, msg, sizeof(msg));
	fprintf(stderr, "e2e-upstream: %s: %s (-0x%04x)\n", what, msg,
	    (unsigned)-ret);
	exit(1);
}

/* Read until the end of the request head; returns the head length or -1. */
static int
read_head(mbedtls_ssl_context *ssl, char *buf, size_t cap, size_t *have)
{
	char	*end;
	int	 n;

	*have = 0;
	while (*have < cap - 1) {
		n = mbedtls_ssl_read(ssl, (unsigned char *)buf + *have,
		    cap - 1 - *have);
		if (n == MBEDTLS_ERR_SSL_WANT_READ ||
		    n == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (n <= 0)
			return -1;
		*have += (size_t)n;
		buf[*have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			return (int)(end - buf) + 4;
	}
	return -1;
}

static long
content_length(const char *head)
{
	const char *p = head;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, "Content-Length:", 15) == 0) {
			long v = strtol(p + 15, NULL, 10);

			return v < 0 || v > BODY_MAX ? -1 : v;
		}
	}
	return 0;
}

static int
write_all(mbedtls_ssl_context *ssl, const char *buf, size_t len)
{
	size_t	 off = 0;
	int	 n;

	while (off < len) {
		n = mbedtls_ssl_write(ssl, (const unsigned char *)buf + off,
		    len - off);
		if (n == MBEDTLS_ERR_SSL_WANT_READ ||
		    n == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* The x-api-key header as it arrived (the credential the proxy adds). */
static void
print_api_key(const char *head, const char *path)
{
	const char *p = head;
	size_t	 n;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, "x-api-key:", 10) != 0)
			continue;
		p += 10;
		while (*p == ' ')
			p++;
		n = strcspn(p, "\r\n");
		printf("UPSTREAM-KEY %s %.*s\n", path, (int)(n > 200 ? 200 : n),
		    p);
	}
}

static void
serve_one(struct upstream *u, mbedtls_net_context *client)
{
	mbedtls_ssl_context ssl;
	char	 head[HEAD_MAX], method[32], path[2048], body[2200], resp[2400];
	size_t	 have;
	long	 want, got;
	int	 hlen, ret, blen, rlen;
	unsigned char sink[4096];

	mbedtls_ssl_init(&ssl);
	if ((ret = mbedtls_ssl_setup(&ssl, &u->conf)) != 0)
		die("ssl_setup", ret);
	mbedtls_ssl_set_bio(&ssl, client, mbedtls_net_send, NULL,
	    mbedtls_net_recv_timeout);
	while ((ret = mbedtls_ssl_handshake(&ssl)) != 0) {
		if (ret != MBEDTLS_ERR_SSL_WANT_READ &&
		    ret != MBEDTLS_ERR_SSL_WANT_WRITE) {
			printf("UPSTREAM-HANDSHAKE-FAILED %s -0x%04x\n",
			    u->name, (unsigned)-ret);
			goto out;
		}
	}
	if ((hlen = read_head(&ssl, head, sizeof(head), &have)) == -1)
		goto out;
	if (sscanf(head, "%31s %2047s", method, path) != 2)
		goto out;
	printf("UPSTREAM %s %s %s\n", u->name, method, path);
	print_api_key(head, path);
	/* Drain the body so the proxy never sees a reset mid-request. */
	if ((want = content_length(head)) < 0)
		goto out;
	got = (long)have - hlen;
	while (got < want) {
		ret = mbedtls_ssl_read(&ssl, sink, sizeof(sink));
		if (ret <= 0)
			goto out;
		got += ret;
	}
	blen = snprintf(body, sizeof(body), "upstream %s %s %s\n", u->name,
	    method, path);
	rlen = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %d\r\n"
	    "Connection: close\r\n\r\n%s", blen, body);
	if (rlen > 0 && (size_t)rlen < sizeof(resp) &&
	    write_all(&ssl, resp, (size_t)rlen) == 0)
		mbedtls_ssl_close_notify(&ssl);
out:
	fflush(stdout);
	mbedtls_ssl_free(&ssl);
}

int
main(int argc, char *argv[])
{
	struct upstream u;
	mbedtls_net_context client;
	int	 ret;

	if (argc != 6) {
		fprintf(stderr, "usage: e2e-upstream NAME ADDR PORT CERT KEY\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&u, 0, sizeof(u));
	u.name = argv[1];
	mbedtls_net_init(&u.listen);
	mbedtls_entropy_init(&u.entropy);
	mbedtls_ctr_drbg_init(&u.drbg);
	mbedtls_ssl_config_init(&u.conf);
	mbedtls_x509_crt_init(&u.cert);
	mbedtls_pk_init(&u.key);
	if ((ret = mbedtls_ctr_drbg_seed(&u.drbg, mbedtls_entropy_func,
	    &u.entropy, (const unsigned char *)"e2e-upstream", 12)) != 0)
		die("drbg seed", ret);
	if ((ret = mbedtls_x509_crt_parse_file(&u.cert, argv[4])) != 0)
		die(argv[4], ret);
	if ((ret = mbedtls_pk_parse_keyfile(&u.key, argv[5], NULL)) != 0)
		die(argv[5], ret);
	if ((ret = mbedtls_ssl_config_defaults(&u.conf, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		die("ssl config", ret);
	mbedtls_ssl_conf_rng(&u.conf, mbedtls_ctr_drbg_random, &u.drbg);
	mbedtls_ssl_conf_read_timeout(&u.conf, IO_TIMEOUT_MS);
	if ((ret = mbedtls_ssl_conf_own_cert(&u.conf, &u.cert, &u.key)) != 0)
		die("own cert", ret);
	if ((ret = mbedtls_net_bind(&u.listen, argv[2], argv[3],
	    MBEDTLS_NET_PROTO_TCP)) != 0)
		die("bind", ret);
	printf("UPSTREAM-LISTEN %s %s:%s\n", u.name, argv[2], argv[3]);
	for (;;) {
		mbedtls_net_init(&client);
		if ((ret = mbedtls_net_accept(&u.listen, &client, NULL, 0,
		    NULL)) != 0)
			die("accept", ret);
		serve_one(&u, &client);
		mbedtls_net_free(&client);
	}
}
