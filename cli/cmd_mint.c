/*
 * cmd_mint.c: `capsemctl ca mint HOST`.  Runs a short session of one
 * child: capsem-certd in its sandbox, given the CA the same way a full
 * session gives it; capsemctl stands in as its netproxy peer, asks for one
 * leaf and prints the chain as PEM.  The CA key is never read here.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/base64.h>

#include "cmd_ca.h"
#include "imsg.h"
#include "log.h"
#include "msg.h"
#include "proc.h"

#define MINT_WAIT_MS	15000

/* Next message on ibuf, waiting up to MINT_WAIT_MS. 1, or -1 + message. */
static int
next_msg(struct imsgbuf *ibuf, struct imsg *m, const char *what)
{
	struct pollfd pfd;
	ssize_t	 n;
	int	 r;

	for (;;) {
		if ((r = imsg_get(ibuf, m)) == 1)
			return 1;
		if (r == -1) {
			fprintf(stderr, "capsemctl: malformed message from %s\n",
			    what);
			return -1;
		}
		pfd.fd = ibuf->fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, MINT_WAIT_MS)) == 0) {
			fprintf(stderr, "capsemctl: %s did not answer\n", what);
			return -1;
		}
		if (r == -1 && errno != EINTR)
			return -1;
		if ((n = imsgbuf_read(ibuf)) == 0) {
			fprintf(stderr, "capsemctl: %s closed its channel\n",
			    what);
			return -1;
		}
		if (n == -1 && errno != EAGAIN)
			return -1;
	}
}

static void
print_pem(const uint8_t *der, size_t len)
{
	unsigned char	*b64;
	size_t		 olen = 0, i;

	mbedtls_base64_encode(NULL, 0, &olen, der, len);
	if ((b64 = malloc(olen)) == NULL ||
	    mbedtls_base64_encode(b64, olen, &olen, der, len) != 0)
		fatalx("base64");
	printf("-----BEGIN CERTIFICATE-----\n");
	for (i = 0; i < olen; i += 64)
		printf("%.*s\n", (int)(olen - i < 64 ? olen - i : 64), b64 + i);
	printf("-----END CERTIFICATE-----\n");
	free(b64);
}

static char *
read_pem(const char *path, size_t *len)
{
	char	*buf;
	FILE	*f;

	if ((f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "capsemctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(MSG_CONFIG_MAX)) == NULL)
		fatal("malloc");
	*len = fread(buf, 1, MSG_CONFIG_MAX, f);
	fclose(f);
	if (*len == 0 || *len == MSG_CONFIG_MAX) {
		fprintf(stderr, "capsemctl: %s: empty or too large\n", path);
		free(buf);
		return NULL;
	}
	return buf;
}

int
cmd_ca_mint(const char *host)
{
	struct imsgbuf	 parent, peer;
	struct imsg	 m;
	struct msg_hello hello;
	struct msg_peer_channel pc;
	struct msg_mint_response resp;
	char		 pem[PATH_MAX], key[PATH_MAX], *cert;
	size_t		 cert_len, hostlen = strlen(host);
	int		 corp, chan, keyfd, sp[2], status, rc = 1;
	bool		 ready = false, loaded = false;
	pid_t		 pid;

	if (hostlen == 0 || hostlen > 253) {
		fprintf(stderr, "capsemctl: ca mint: name must be 1-253 bytes\n");
		return 2;
	}
	if (ca_ensure() == -1 ||
	    ca_paths(pem, sizeof(pem), key, sizeof(key), &corp) == -1)
		return 1;
	if ((cert = read_pem(pem, &cert_len)) == NULL)
		return 1;
	if ((keyfd = open(key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		fprintf(stderr, "capsemctl: %s: %s\n", key, strerror(errno));
		free(cert);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((pid = proc_spawn(PROC_CERTD, 0, -1, -1, NULL, &chan)) == -1)
		fatal("spawn %s/capsem-certd", proc_libexec_dir());
	imsgbuf_init(&parent, chan, IMSG_MAXLEN_DEFAULT + MSG_CONFIG_MAX);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	imsgbuf_init(&peer, sp[0], IMSG_MAXLEN_DEFAULT);

	memset(&hello, 0, sizeof(hello));
	hello.verbose = log_getverbose();
	snprintf(hello.session_id, sizeof(hello.session_id), "mint");
	memset(&pc, 0, sizeof(pc));
	pc.proc = PROC_NETPROXY;
	if (imsg_compose(&parent, MSG_HELLO, 0, -1, &hello, sizeof(hello)) ||
	    imsg_compose(&parent, MSG_CA_CERT, 0, -1, cert, cert_len) ||
	    imsg_compose(&parent, MSG_CA_KEY, 0, keyfd, NULL, 0) ||
	    imsg_compose(&parent, MSG_PEER_CHANNEL, 0, sp[1], &pc, sizeof(pc)) ||
	    imsgbuf_flush(&parent) == -1)
		fatal("talk to certd");
	free(cert);

	while (!ready || !loaded) {
		if (next_msg(&parent, &m, "certd") != 1)
			goto out;
		if (m.hdr.type == MSG_READY)
			ready = true;
		else if (m.hdr.type == MSG_CA_LOADED) {
			if (m.len > 0) {
				fprintf(stderr, "capsemctl: certd: %.*s\n",
				    (int)m.len, (const char *)m.data);
				goto out;
			}
			loaded = true;
		} else {
			fprintf(stderr, "capsemctl: unexpected message %u "
			    "from certd\n", m.hdr.type);
			goto out;
		}
		imsg_free(&m);
	}
	/* As netproxy would: the leaf key comes first; we do not keep it. */
	if (next_msg(&peer, &m, "certd") != 1)
		goto out;
	if (m.hdr.type != MSG_LEAF_KEY) {
		fprintf(stderr, "capsemctl: certd sent %u, not the leaf key\n",
		    m.hdr.type);
		goto out;
	}
	explicit_bzero((void *)m.data, m.len);
	if (imsg_compose(&peer, MSG_MINT_REQUEST, 1, -1, host, hostlen) ||
	    imsgbuf_flush(&peer) == -1)
		fatal("mint request");
	if (next_msg(&peer, &m, "certd") != 1)
		goto out;
	if (m.hdr.peerid != 1) {
		fprintf(stderr, "capsemctl: certd answered request %u\n",
		    m.hdr.peerid);
		goto out;
	}
	if (m.hdr.type == MSG_MINT_ERROR) {
		fprintf(stderr, "capsemctl: ca mint %s: %.*s\n", host,
		    (int)(m.len > 200 ? 200 : m.len), (const char *)m.data);
		goto out;
	}
	if (m.hdr.type != MSG_MINT_RESPONSE || m.len < sizeof(resp)) {
		fprintf(stderr, "capsemctl: bad answer from certd\n");
		goto out;
	}
	memcpy(&resp, m.data, sizeof(resp));
	if ((size_t)resp.leaf_len + resp.ca_len != m.len - sizeof(resp) ||
	    resp.leaf_len == 0 || resp.ca_len == 0) {
		fprintf(stderr, "capsemctl: bad lengths from certd\n");
		goto out;
	}
	print_pem(m.data + sizeof(resp), resp.leaf_len);
	print_pem(m.data + sizeof(resp) + resp.leaf_len, resp.ca_len);
	fflush(stdout);
	rc = 0;
out:
	imsg_compose(&parent, MSG_SHUTDOWN, 0, -1, NULL, 0);
	imsgbuf_flush(&parent);
	imsgbuf_clear(&parent);
	imsgbuf_clear(&peer);
	close(chan);
	close(sp[0]);
	if (waitpid(pid, &status, 0) == pid && rc == 0 &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		fprintf(stderr, "capsemctl: certd ended badly (status 0x%x)\n",
		    (unsigned)status);
		rc = 1;
	}
	return rc;
}
