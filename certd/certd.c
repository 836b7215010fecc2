/*
 * capsem-certd: the only process that holds the CA private key.
 *
 * Life:
 *   start     (before the sandbox) seed the random generator, make the
 *             session leaf key, warm up the time zone code;
 *   sandbox   empty network namespace, empty root, no capabilities,
 *             seccomp allowlist certd.seccomp (no socket/open/execve);
 *   parent    MSG_CA_CERT (PEM bytes), MSG_CA_KEY (fd: read once, closed,
 *             parsed, buffer wiped) -> MSG_CA_LOADED (empty or error text);
 *   netproxy  each channel gets MSG_LEAF_KEY once, then MSG_MINT_REQUEST
 *             -> MSG_MINT_RESPONSE or MSG_MINT_ERROR (peerid echoed).
 *
 * It never reads a file path and never sends the CA key anywhere.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "certd_seccomp.h"
#include "child.h"
#include "log.h"
#include "mint_msg.h"
#include "msg.h"
#include "netproxy_peers.h"

#define CERTD_CA_CERT_MAX	(256u * 1024)	/* PEM, may carry a chain */
#define CERTD_CA_KEY_MAX	(64u * 1024)	/* key file bytes */

struct certd {
	struct child	*child;
	struct ca_rng	*rng;
	struct ca_leaf_key *leaf_key;
	struct ca_minter *minter;
	uint8_t		*ca_cert;		/* from MSG_CA_CERT, until the key */
	size_t		 ca_cert_len;
	struct netproxy_peers peers;
	uint64_t	 early_refused;		/* requests before a CA loaded */
	uint8_t		 answer[MINT_ANSWER_MAX];
};

static const struct sandbox_spec certd_sandbox = {
	.name = "certd",
	.new_netns = true,
	.nofile = 64,
	.rules = certd_seccomp_rules,
	.nrules = CERTD_SECCOMP_NRULES,
};

/* --- netproxy channels --------------------------------------------------- */

static void
netproxy_mint_request(void *ctx, struct imsg *imsg)
{
	struct netproxy_peer *peer = ctx;
	struct certd	*certd = peer->ctx;
	size_t		 len;
	uint32_t	 type;

	type = mint_answer(certd->minter, imsg->data, imsg->len, time(NULL),
	    certd->answer, sizeof(certd->answer), &len);
	if (type == MSG_MINT_ERROR) {
		if (certd->minter == NULL)
			certd->early_refused++;
		log_debug("mint refused (request %u): %.*s", imsg->hdr.peerid,
		    (int)len, (const char *)certd->answer);
	}
	if (imsgev_compose(&peer->iev, type, imsg->hdr.peerid, -1,
	    certd->answer, len) == -1)
		fatal("send to netproxy %u", peer->instance);
}

static const struct imsg_handler netproxy_handlers[] = {
	{ MSG_MINT_REQUEST, 0, MINT_REQUEST_MAXLEN, IMSG_FD_NONE,
	    netproxy_mint_request },
};

static void
certd_peer_channel(struct child *c, enum proc_id peer_id, uint32_t instance,
    int fd)
{
	struct certd	*certd = c->ctx;
	struct netproxy_peer *peer;
	const uint8_t	*der;
	size_t		 len;

	peer = netproxy_peers_add(&certd->peers, c->loop, c->id, peer_id,
	    instance, fd, IMSG_MAXLEN_DEFAULT, netproxy_handlers,
	    sizeof(netproxy_handlers) / sizeof(netproxy_handlers[0]), certd);
	der = ca_leaf_key_der(certd->leaf_key, &len);
	if (imsgev_compose(&peer->iev, MSG_LEAF_KEY, 0, -1, der, len) == -1)
		fatal("send leaf key to netproxy %u", instance);
	log_debug("netproxy %u connected, leaf key sent", instance);
}

/* --- parent messages ----------------------------------------------------- */

static void
ca_loaded_reply(struct child *c, const char *error)
{
	child_send_parent(c, MSG_CA_LOADED, 0, -1, error,
	    error == NULL ? 0 : strlen(error));
}

static void
certd_ca_cert(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct certd	*certd = c->ctx;

	free(certd->ca_cert);
	if ((certd->ca_cert = malloc(imsg->len)) == NULL)
		fatal("malloc");
	memcpy(certd->ca_cert, imsg->data, imsg->len);
	certd->ca_cert_len = imsg->len;
}

/* Read the whole key file from fd into buf; -1 with a reason on error. */
static ssize_t
read_key_fd(int fd, uint8_t *buf, size_t cap, const char **why)
{
	size_t	 have = 0;
	ssize_t	 n;

	for (;;) {
		if (have == cap) {
			*why = "CA key file larger than 64 KiB";
			return -1;
		}
		n = read(fd, buf + have, cap - have);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			*why = "cannot read the CA key fd";
			return -1;
		}
		if (n == 0)
			return (ssize_t)have;
		have += (size_t)n;
	}
}

static void
certd_ca_key(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct certd	*certd = c->ctx;
	struct ca_minter *minter;
	uint8_t		*key;
	const char	*why = NULL;
	char		 err[CA_ERR_MAX + 32];
	ssize_t		 n;

	if ((key = malloc(CERTD_CA_KEY_MAX)) == NULL)
		fatal("malloc");
	n = read_key_fd(imsg->fd, key, CERTD_CA_KEY_MAX, &why);
	close(imsg->fd);
	imsg->fd = -1;
	if (n == -1) {
		explicit_bzero(key, CERTD_CA_KEY_MAX);
		free(key);
		ca_loaded_reply(c, why);
		return;
	}
	if (certd->ca_cert == NULL) {
		explicit_bzero(key, CERTD_CA_KEY_MAX);
		free(key);
		ca_loaded_reply(c, "CA key arrived before the CA certificate");
		return;
	}
	minter = ca_minter_new(certd->rng, certd->leaf_key, certd->ca_cert,
	    certd->ca_cert_len, key, (size_t)n, 0, err, sizeof(err));
	explicit_bzero(key, CERTD_CA_KEY_MAX);
	free(key);
	free(certd->ca_cert);
	certd->ca_cert = NULL;
	certd->ca_cert_len = 0;
	if (minter == NULL) {
		log_warnx("CA not loaded: %s", err);
		ca_loaded_reply(c, err);
		return;
	}
	ca_minter_free(certd->minter);	/* a reload replaces the CA */
	certd->minter = minter;
	log_info("CA loaded: %s", ca_minter_ca_subject(minter));
	ca_loaded_reply(c, NULL);
}

static const struct imsg_handler certd_parent_handlers[] = {
	{ MSG_CA_CERT, 1, CERTD_CA_CERT_MAX, IMSG_FD_NONE, certd_ca_cert },
	{ MSG_CA_KEY, 0, 0, IMSG_FD_REQUIRED, certd_ca_key },
};

/* --- life ---------------------------------------------------------------- */

static void
certd_pre_sandbox(struct child *c)
{
	struct certd	*certd = c->ctx;
	char		 err[CA_ERR_MAX];
	struct tm	 tm;
	time_t		 now = time(NULL);

	certd->child = c;
	/* gmtime_r reads the zone files once: do it while files exist. */
	tzset();
	if (gmtime_r(&now, &tm) == NULL)
		fatalx("gmtime_r failed");
	if ((certd->rng = ca_rng_new(err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if ((certd->leaf_key = ca_leaf_key_new(certd->rng, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
}

static void
certd_status(struct child *c, struct msg_status *st)
{
	struct certd	*certd = c->ctx;
	struct ca_minter_stats stats;
	size_t		 npeers = netproxy_peers_count(&certd->peers);

	if (certd->minter == NULL) {
		st->counters[2] = certd->early_refused;
		snprintf(st->detail, sizeof(st->detail),
		    "no CA loaded; netproxy channels %zu", npeers);
		return;
	}
	ca_minter_stats(certd->minter, &stats);
	st->counters[0] = stats.mints;
	st->counters[1] = stats.cache_hits;
	st->counters[2] = stats.refused + stats.errors + certd->early_refused;
	st->counters[3] = stats.cached;
	snprintf(st->detail, sizeof(st->detail),
	    "mints %llu, cache hits %llu, errors %llu, cached %zu; CA %.60s",
	    (unsigned long long)stats.mints,
	    (unsigned long long)stats.cache_hits,
	    (unsigned long long)st->counters[2], stats.cached,
	    ca_minter_ca_subject(certd->minter));
}

static void
certd_shutdown(struct child *c)
{
	struct certd	*certd = c->ctx;

	netproxy_peers_close_all(&certd->peers);
	ca_minter_free(certd->minter);
	certd->minter = NULL;
	ca_leaf_key_free(certd->leaf_key);
	certd->leaf_key = NULL;
	ca_rng_free(certd->rng);
	certd->rng = NULL;
}

static const struct child_def certd_def = {
	.id = PROC_CERTD,
	.sandbox = &certd_sandbox,
	.parent_maxlen = CERTD_CA_CERT_MAX,
	.parent_handlers = certd_parent_handlers,
	.nparent_handlers = sizeof(certd_parent_handlers) /
	    sizeof(certd_parent_handlers[0]),
	.pre_sandbox = certd_pre_sandbox,
	.on_peer_channel = certd_peer_channel,
	.on_status = certd_status,
	.on_shutdown = certd_shutdown,
};

int
main(int argc, char *argv[])
{
	struct certd	*certd;

	if ((certd = calloc(1, sizeof(*certd))) == NULL) {
		fprintf(stderr, "capsem-certd: out of memory\n");
		return 1;
	}
	child_run(&certd_def, certd, argc, argv);
}
