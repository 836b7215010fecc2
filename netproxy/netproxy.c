/*
 * capsem-netproxy: the only process that parses guest network traffic and
 * the only one with host network access.
 *
 * Life: spawned by the session parent (fork + exec from libexec);
 * pre_sandbox reads the system trust store; child_run() enters the sandbox
 * (own network kept, seccomp allowlist netproxy.seccomp: no execve, no
 * open) and serves the parent channel.  Channels to certd and policyd
 * arrive as MSG_PEER_CHANNEL; streams as MSG_STREAM_NEW with an fd.
 *
 * Peers and their messages:
 *   parent  -> MSG_STREAM_NEW (+fd), MSG_PROXY_SETTINGS, MSG_CREDENTIAL
 *   certd   -> MSG_LEAF_KEY (once), MSG_MINT_RESPONSE / MSG_MINT_ERROR
 *   policyd -> MSG_VERDICT (peerid = stream id)
 *   netproxy -> certd: MSG_MINT_REQUEST; -> policyd: MSG_CONN_CHECK,
 *   MSG_REQUEST_CHECK, MSG_AUDIT_EVENT
 * A lost certd or policyd never becomes "allow": waiting streams are
 * refused and new ones are reset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "child.h"
#include "event.h"
#include "log.h"
#include "netproxy.h"
#include "netproxy_seccomp.h"

#define NP_TRUST_STORE	"/etc/ssl/certs/ca-certificates.crt"
#define NP_NOFILE	4096
#define NP_PEER_MAXLEN	(64u * 1024)

static struct np_conn *
np_conn_lookup(struct netproxy *np, uint32_t id)
{
	struct np_conn *c = np->conns[id & (NP_MAX_CONNS - 1)];

	return c != NULL && c->id == id ? c : NULL;
}

/* certd */
static void
certd_leaf_key(void *ctx, struct imsg *imsg)
{
	struct netproxy *np = ctx;

	if (tls_set_leaf_key(&np->tls, imsg->data, imsg->len) == -1)
		fatalx("certd: unusable or repeated leaf key");
	mbedtls_platform_zeroize((void *)imsg->data, imsg->len);
	log_debug("leaf key received");
}

static void
certd_mint_response(void *ctx, struct imsg *imsg)
{
	struct netproxy *np = ctx;
	struct msg_mint_response mr;
	struct np_conn	*c = np_conn_lookup(np, imsg->hdr.peerid);
	struct np_minted m;

	memcpy(&mr, imsg->data, sizeof(mr));
	if ((uint64_t)mr.leaf_len + mr.ca_len != imsg->len - sizeof(mr) ||
	    mr.leaf_len == 0)
		fatalx("certd: mint response lengths do not add up");
	if (c == NULL)
		return;			/* the stream went away */
	m.leaf = imsg->data + sizeof(mr);
	m.leaf_len = mr.leaf_len;
	m.ca = m.leaf + mr.leaf_len;
	m.ca_len = mr.ca_len;
	m.not_after = mr.not_after;
	conn_on_mint(c, &m, NULL);
}

static void
certd_mint_error(void *ctx, struct imsg *imsg)
{
	struct netproxy *np = ctx;
	struct np_conn	*c = np_conn_lookup(np, imsg->hdr.peerid);
	char		 err[128];
	size_t		 n = imsg->len < sizeof(err) - 1 ? imsg->len :
			    sizeof(err) - 1;

	if (!imsg_bytes_are_text(imsg->data, imsg->len))
		fatalx("certd: mint error is not text");
	memcpy(err, imsg->data, n);
	err[n] = '\0';
	if (c != NULL)
		conn_on_mint(c, NULL, err);
}

static const struct imsg_handler certd_handlers[] = {
	{ MSG_LEAF_KEY, 1, 8192, IMSG_FD_NONE, certd_leaf_key },
	{ MSG_MINT_RESPONSE, sizeof(struct msg_mint_response),
	    NP_PEER_MAXLEN, IMSG_FD_NONE, certd_mint_response },
	{ MSG_MINT_ERROR, 0, 1024, IMSG_FD_NONE, certd_mint_error },
};

/* policyd */
static void
policyd_verdict(void *ctx, struct imsg *imsg)
{
	struct netproxy *np = ctx;
	struct msg_verdict v;
	struct np_conn	*c = np_conn_lookup(np, imsg->hdr.peerid);
	const char	*npath = (const char *)imsg->data + sizeof(v);
	size_t		 npathlen = imsg->len - sizeof(v);

	memcpy(&v, imsg->data, sizeof(v));
	if (!imsg_str_ok(v.rule, sizeof(v.rule)) ||
	    !imsg_str_ok(v.file, sizeof(v.file)) ||
	    memchr(npath, '\0', npathlen) != NULL)
		fatalx("policyd: malformed verdict");
	if (v.allow != VERDICT_ALLOW)
		v.allow = VERDICT_DENY;		/* anything else denies */
	if (c != NULL)
		conn_on_verdict(c, &v, npath, npathlen);
}

static const struct imsg_handler policyd_handlers[] = {
	{ MSG_VERDICT, sizeof(struct msg_verdict),
	    sizeof(struct msg_verdict) + MSG_PATH_MAX + 1,
	    IMSG_FD_NONE, policyd_verdict },
};

static void
peer_lost(struct imsgev *iev, void *ctx)
{
	struct netproxy *np = ctx;
	bool		 was_policyd = iev == np->policyd;
	size_t		 i;

	log_warnx("lost %s: refusing traffic that needs it", iev->peername);
	if (was_policyd)
		np->policyd = NULL;
	else
		np->certd = NULL;
	imsgev_close(iev);
	for (i = 0; i < NP_MAX_CONNS; i++) {
		struct np_conn *c = np->conns[i];

		if (c == NULL)
			continue;
		if (was_policyd)
			conn_policyd_gone(c);
		else
			conn_certd_gone(c);
	}
}

/*
 * vmm: guest streams.  HTTPS and HTTP streams begin with the relay's
 * header line; DNS streams (1053) carry length-framed queries only.
 */
static void
vmm_stream_new(void *ctx, struct imsg *imsg)
{
	struct netproxy *np = ctx;
	struct msg_stream_new sn;
	int		 fd = imsg->fd;

	memcpy(&sn, imsg->data, sizeof(sn));
	imsg->fd = -1;
	/* what the guest relay does, whatever the vmm says */
	sn.has_header = sn.port == STREAM_DNS ? 0 : 1;
	if (np->policyd == NULL) {
		log_warnx("stream refused: no policy service");
		close(fd);
		return;
	}
	conn_new(np, &sn, fd);
}

static const struct imsg_handler vmm_handlers[] = {
	{ MSG_STREAM_NEW, sizeof(struct msg_stream_new),
	    sizeof(struct msg_stream_new), IMSG_FD_REQUIRED, vmm_stream_new },
};

static void
vmm_lost(struct imsgev *iev, void *ctx)
{
	struct netproxy *np = ctx;

	/* The vmm's end is the parent's to report; stop listening to it. */
	imsgev_close(iev);
	np->vmm = NULL;
	log_debug("vmm channel closed");
}

static void
on_peer_channel(struct child *child, enum proc_id peer, uint32_t instance,
    int fd)
{
	struct netproxy *np = child->ctx;
	struct imsgev	*iev;

	(void)instance;
	if (peer == PROC_VMM) {
		if (np->vmm != NULL)
			fatalx("second channel to %s", proc_name(peer));
		if ((iev = calloc(1, sizeof(*iev))) == NULL)
			fatal("calloc");
		imsgev_init(iev, child->loop, fd, IMSG_MAXLEN_DEFAULT, "vmm",
		    vmm_handlers, sizeof(vmm_handlers) /
		    sizeof(vmm_handlers[0]), np);
		iev->on_close = vmm_lost;
		np->vmm = iev;
		return;
	}
	if (peer != PROC_CERTD && peer != PROC_POLICYD)
		fatalx("unexpected channel to %s", proc_name(peer));
	if ((peer == PROC_CERTD && np->certd != NULL) ||
	    (peer == PROC_POLICYD && np->policyd != NULL))
		fatalx("second channel to %s", proc_name(peer));
	if ((iev = calloc(1, sizeof(*iev))) == NULL)
		fatal("calloc");
	if (peer == PROC_CERTD) {
		imsgev_init(iev, child->loop, fd, NP_PEER_MAXLEN, "certd",
		    certd_handlers, sizeof(certd_handlers) /
		    sizeof(certd_handlers[0]), np);
		np->certd = iev;
	} else {
		imsgev_init(iev, child->loop, fd, NP_PEER_MAXLEN, "policyd",
		    policyd_handlers, sizeof(policyd_handlers) /
		    sizeof(policyd_handlers[0]), np);
		np->policyd = iev;
	}
	iev->on_close = peer_lost;
}

/* parent */
static void
parent_stream_new(void *ctx, struct imsg *imsg)
{
	struct child	*child = ctx;
	struct netproxy *np = child->ctx;
	struct msg_stream_new sn;
	int		 fd = imsg->fd;

	memcpy(&sn, imsg->data, sizeof(sn));
	imsg->fd = -1;			/* ours now */
	if (sn.has_header > 1 || (sn.port == STREAM_DNS && sn.has_header))
		fatalx("parent: malformed stream (port %u, header %u)",
		    sn.port, sn.has_header);
	if (np->policyd == NULL) {
		log_warnx("stream refused: no policy service");
		close(fd);
		return;
	}
	conn_new(np, &sn, fd);
}

static void
parent_settings(void *ctx, struct imsg *imsg)
{
	struct child	*child = ctx;
	struct netproxy *np = child->ctx;
	struct msg_proxy_settings s;
	uint32_t	 i;

	memcpy(&s, imsg->data, sizeof(s));
	if (s.ca_len != imsg->len - sizeof(s) || s.nresolve > PROXY_RESOLVE_MAX)
		fatalx("parent: malformed proxy settings");
	for (i = 0; i < s.nresolve; i++)
		if (!imsg_str_ok(s.resolve[i].host, sizeof(s.resolve[i].host)) ||
		    !imsg_str_ok(s.resolve[i].addr, sizeof(s.resolve[i].addr)))
			fatalx("parent: malformed resolve pin");
	np->settings = s;
	np->have_settings = true;
	if (s.ca_len > 0 && tls_add_trust_pem(&np->tls,
	    imsg->data + sizeof(s), s.ca_len) == -1)
		log_warnx("[upstream] ca_file ignored");
	log_debug("settings: http %s, private addresses %s, %u resolve pins",
	    s.http_enabled ? "on" : "off", s.private_addresses ? "on" : "off",
	    s.nresolve);
}

static void
parent_credential(void *ctx, struct imsg *imsg)
{
	struct child	*child = ctx;
	struct netproxy *np = child->ctx;
	struct msg_credential mc;
	struct np_credential *cr;

	memcpy(&mc, imsg->data, sizeof(mc));
	if (mc.value_len != imsg->len - sizeof(mc) ||
	    mc.value_len > PROXY_CREDENTIAL_MAX ||
	    !imsg_str_ok(mc.host, sizeof(mc.host)) ||
	    !imsg_str_ok(mc.header, sizeof(mc.header)) ||
	    !imsg_bytes_are_text(imsg->data + sizeof(mc), mc.value_len))
		fatalx("parent: malformed credential");
	if (memchr(imsg->data + sizeof(mc), '\r', mc.value_len) != NULL ||
	    memchr(imsg->data + sizeof(mc), '\n', mc.value_len) != NULL)
		fatalx("parent: credential value with a line break");
	if (np->ncreds == NP_CREDENTIALS_MAX)
		fatalx("parent: too many credentials");
	cr = &np->creds[np->ncreds];
	if ((cr->value = malloc(mc.value_len + 1)) == NULL)
		fatal("malloc");
	memcpy(cr->value, imsg->data + sizeof(mc), mc.value_len);
	cr->value[mc.value_len] = '\0';
	cr->value_len = mc.value_len;
	snprintf(cr->host, sizeof(cr->host), "%s", mc.host);
	snprintf(cr->header, sizeof(cr->header), "%s", mc.header);
	np->ncreds++;
	mbedtls_platform_zeroize((void *)(imsg->data + sizeof(mc)),
	    mc.value_len);
}

static const struct imsg_handler parent_handlers[] = {
	{ MSG_STREAM_NEW, sizeof(struct msg_stream_new),
	    sizeof(struct msg_stream_new), IMSG_FD_REQUIRED, parent_stream_new },
	{ MSG_PROXY_SETTINGS, sizeof(struct msg_proxy_settings),
	    sizeof(struct msg_proxy_settings) + PROXY_CA_MAX, IMSG_FD_NONE,
	    parent_settings },
	{ MSG_CREDENTIAL, sizeof(struct msg_credential),
	    sizeof(struct msg_credential) + PROXY_CREDENTIAL_MAX, IMSG_FD_NONE,
	    parent_credential },
};

static void
sweep(void *arg)
{
	struct netproxy *np = arg;
	uint64_t	 now = event_now_ms();

	upstream_sweep(np, now);	/* connect timeouts answer 504 first */
	conn_sweep(np, now);
	np->sweep_timer = timer_add(np->loop, NP_SWEEP_MS, sweep, np);
}

static void
pre_sandbox(struct child *child)
{
	struct netproxy *np = child->ctx;

	tls_init(&np->tls);
	tls_load_trust_file(&np->tls, NP_TRUST_STORE);
	upstream_load(np);
}

static void
on_hello(struct child *child)
{
	struct netproxy *np = child->ctx;

	np->child = child;
	np->loop = child->loop;
	np->sweep_timer = timer_add(np->loop, NP_SWEEP_MS, sweep, np);
}

static void
on_status(struct child *child, struct msg_status *st)
{
	struct netproxy *np = child->ctx;
	size_t		 ncerts = tls_cert_count(&np->tls);

	memcpy(st->counters, np->counters, sizeof(st->counters));
	snprintf(st->detail, sizeof(st->detail),
	    "%zu streams, %zu idle upstreams, %zu certificates, %llu model "
	    "calls%s%s", np->nconns, np->npool, ncerts,
	    (unsigned long long)np->counters_model,
	    np->certd == NULL ? ", no certd" : "",
	    np->policyd == NULL ? ", no policyd" : "");
}

static void
on_shutdown(struct child *child)
{
	struct netproxy *np = child->ctx;
	size_t		 i;

	for (i = 0; i < NP_MAX_CONNS; i++)
		if (np->conns[i] != NULL)
			conn_free(np->conns[i]);
	if (np->policyd != NULL)
		(void)imsgbuf_flush(&np->policyd->ibuf);	/* audit */
	for (i = 0; i < np->ncreds; i++) {
		mbedtls_platform_zeroize(np->creds[i].value,
		    np->creds[i].value_len);
		free(np->creds[i].value);
	}
	np->ncreds = 0;
	upstream_shutdown(np);
}

static const struct sandbox_spec netproxy_sandbox = {
	.name = "netproxy",
	.new_netns = false,		/* the one process with network */
	.nofile = NP_NOFILE,
	.rules = netproxy_seccomp_rules,
	.nrules = NETPROXY_SECCOMP_NRULES,
};

static const struct child_def netproxy_def = {
	.id = PROC_NETPROXY,
	.sandbox = &netproxy_sandbox,
	.parent_maxlen = sizeof(struct msg_proxy_settings) + PROXY_CA_MAX,
	.parent_handlers = parent_handlers,
	.nparent_handlers = sizeof(parent_handlers) / sizeof(parent_handlers[0]),
	.pre_sandbox = pre_sandbox,
	.on_hello = on_hello,
	.on_peer_channel = on_peer_channel,
	.on_status = on_status,
	.on_shutdown = on_shutdown,
};

int
main(int argc, char *argv[])
{
	static struct netproxy np;	/* large: kept off the stack */

	child_run(&netproxy_def, &np, argc, argv);
}
