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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tls_server.h"

#define HEAD_MAX	16384
#define BODY_MAX	(1024 * 1024)
#define IO_TIMEOUT_MS	10000

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
serve_one(struct tls_server *srv, const char *name)
{
	mbedtls_net_context client;
	mbedtls_ssl_context ssl;
	char	 head[HEAD_MAX], method[32], path[2048], body[2200], resp[2400];
	size_t	 have;
	long	 want, got;
	int	 hlen, ret, blen, rlen;
	unsigned char sink[4096];

	tls_server_accept(srv, &client);
	if ((ret = tls_server_handshake(srv, &client, &ssl)) != 0) {
		printf("UPSTREAM-HANDSHAKE-FAILED %s -0x%04x\n", name,
		    (unsigned)-ret);
		goto out;
	}
	if ((hlen = read_head(&ssl, head, sizeof(head), &have)) == -1)
		goto out;
	if (sscanf(head, "%31s %2047s", method, path) != 2)
		goto out;
	printf("UPSTREAM %s %s %s\n", name, method, path);
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
	blen = snprintf(body, sizeof(body), "upstream %s %s %s\n", name,
	    method, path);
	rlen = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %d\r\n"
	    "Connection: close\r\n\r\n%s", blen, body);
	if (rlen > 0 && (size_t)rlen < sizeof(resp) &&
	    tls_write_all(&ssl, resp, (size_t)rlen) == 0)
		mbedtls_ssl_close_notify(&ssl);
out:
	fflush(stdout);
	mbedtls_ssl_free(&ssl);
	mbedtls_net_free(&client);
}

int
main(int argc, char *argv[])
{
	struct tls_server srv;

	if (argc != 6) {
		fprintf(stderr, "usage: e2e-upstream NAME ADDR PORT CERT KEY\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	tls_server_init(&srv, "e2e-upstream", argv[2], argv[3], argv[4],
	    argv[5], IO_TIMEOUT_MS);
	printf("UPSTREAM-LISTEN %s %s:%s\n", argv[1], argv[2], argv[3]);
	for (;;)
		serve_one(&srv, argv[1]);
}
