/*
 * capsem-policyd: holds the merged policy, answers verdicts, writes the
 * audit log.
 *
 * Life:
 *   start     (before the sandbox) warm up the time zone code;
 *   sandbox   empty network namespace, empty root, no capabilities,
 *             seccomp allowlist policyd.seccomp (no socket/open/execve);
 *   parent    MSG_POLICY_FILE (struct msg_policy_file + file bytes), once
 *             per origin (user, corp), then MSG_POLICY_COMMIT: parse both,
 *             build, swap -> MSG_POLICY_RESULT.  A bad file keeps the old
 *             policy and the result carries "file:line: message".
 *             A user file with present == 0 means "no user.toml": the
 *             built-in default for the agent named in msg_policy_file.name.
 *             MSG_AUDIT_FD: the fd of audit.jsonl (opened O_APPEND by the
 *             parent); every verdict and AUDIT_EVENT becomes one line.
 *             MSG_AUDIT_WORKSPACE (right after it, when a directory is
 *             shared): the first line and row, the directory and rw|ro.
 *   database  the session's db/ directory, bound into the empty root at
 *             SANDBOX_DIR by the sandbox (the parent passes it on
 *             PROC_DIR_FD): session.db there (store.h) gets a row per
 *             connection verdict, per outcome netproxy reports (request,
 *             DNS, refusal: each with the verdict it had) and per model
 *             call, with its cost from the price table (prices.h).
 *   netproxy  MSG_CONN_CHECK, MSG_REQUEST_CHECK -> MSG_VERDICT (peerid
 *             echoed); MSG_AUDIT_EVENT -> audit line and row;
 *             MSG_MODEL_EVENT -> model_calls row.
 * Until a policy is committed every check is denied (fail closed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit.h"
#include "child.h"
#include "config.h"
#include "log.h"
#include "modelcall.h"
#include "msg.h"
#include "netproxy_peers.h"
#include "policy.h"
#include "policyd_seccomp.h"
#include "prices.h"
#include "store.h"

#define POLICYD_PARENT_MAXLEN	(sizeof(struct msg_policy_file) + MSG_CONFIG_MAX)
#define POLICYD_NETPROXY_MAXLEN	(sizeof(struct msg_request_check) + MSG_PATH_MAX)

/* A file received for the next commit. */
struct pending_file {
	bool		 received;
	bool		 present;
	char		 name[MSG_FILE_MAX];
	char		*data;
	size_t		 len;
};

struct policyd {
	struct child	*child;
	struct policy	*policy;	/* NULL until the first commit */
	struct pending_file pending[2];	/* by enum msg_policy_origin */
	char		 user_name[MSG_FILE_MAX];
	char		 corp_name[MSG_FILE_MAX];
	int		 audit_fd;
	bool		 audit_failed;
	struct store	*store;		/* NULL if the database cannot open */
	uint64_t	 nmodel;
	uint64_t	 nbudget;	/* model calls refused: budget spent */
	uint64_t	 spent_tokens;	/* model calls of this session */
	uint64_t	 spent_pusd;	/* ... of priced models */
	struct netproxy_peers peers;
	uint64_t	 nallow;
	uint64_t	 ndeny;
	uint64_t	 naudit;
	uint64_t	 ncommits;
	char		 audit_line[AUDIT_LINE_MAX];
};

static const struct sandbox_spec policyd_sandbox = {
	.name = "policyd",
	.new_netns = true,
	.bind_dir = true,
	.nofile = 64,
	.rules = policyd_seccomp_rules,
	.nrules = POLICYD_SECCOMP_NRULES,
};

/* --- audit --------------------------------------------------------------- */

static void
audit(struct policyd *pd, const struct audit_record *r)
{
	size_t	 n;

	if (pd->audit_fd == -1)
		return;
	if ((n = audit_format(r, pd->audit_line, sizeof(pd->audit_line))) == 0) {
		log_warnx("audit line too long, not written");
		return;
	}
	if (audit_write(pd->audit_fd, pd->audit_line, n) == -1) {
		if (!pd->audit_failed)
			log_warn("audit log write");
		pd->audit_failed = true;
		return;
	}
	pd->naudit++;
}

static void
count_and_audit(struct policyd *pd, const char *event, const char *host,
    uint16_t port, const char *method, const char *path, size_t pathlen,
    const struct msg_verdict *v)
{
	struct audit_record r;

	if (v->allow == VERDICT_ALLOW)
		pd->nallow++;
	else
		pd->ndeny++;
	log_debug("%s %s:%u %s%s%.*s: %s (%s, %s:%u)", event, host, port,
	    method ? method : "", method ? " " : "", (int)(path ? pathlen : 0),
	    path ? path : "", v->allow ? "allow" : "deny", v->rule, v->file,
	    v->line);
	audit_from_verdict(&r, pd->child->session_id, event, host, port,
	    method, path, pathlen, v);
	audit(pd, &r);
	/* a request's row is its outcome (netproxy's AUDIT_EVENT) */
	if (pd->store != NULL && strcmp(event, "conn") == 0)
		store_event(pd->store, &r);
}

/* --- budgets ------------------------------------------------------------- */

/*
 * A model call when [budget] is spent: denied with 429, the rule naming
 * the budget and what was spent, the source its file:line.  What is spent
 * counts every call reported so far (a call still streaming is not).
 */
static void
budget_check(struct policyd *pd, struct msg_verdict *v)
{
	struct policy_budget b;
	char	 spent[32], limit[32];

	policy_budget(pd->policy, &b);
	if (b.tokens != 0 && pd->spent_tokens >= b.tokens) {
		snprintf(v->rule, sizeof(v->rule), "budget tokens = %llu: "
		    "%llu tokens spent", (unsigned long long)b.tokens,
		    (unsigned long long)pd->spent_tokens);
		if (snprintf(v->file, sizeof(v->file), "%s", b.tokens_file) < 0)
			v->file[0] = '\0';
		v->line = b.tokens_line;
	} else if (b.usd_file[0] != '\0' && pd->spent_pusd >= b.pusd) {
		snprintf(spent, sizeof(spent), "%llu.%06llu",
		    (unsigned long long)(pd->spent_pusd / PUSD_PER_USD),
		    (unsigned long long)(pd->spent_pusd % PUSD_PER_USD /
		    1000000));
		snprintf(limit, sizeof(limit), "%.24s", b.usd_text);
		snprintf(v->rule, sizeof(v->rule), "budget usd = \"%s\": $%s "
		    "spent", limit, spent);
		if (snprintf(v->file, sizeof(v->file), "%s", b.usd_file) < 0)
			v->file[0] = '\0';
		v->line = b.usd_line;
	} else
		return;
	v->allow = VERDICT_DENY;
	v->status = 429;
	pd->nbudget++;
}

/* --- netproxy channels --------------------------------------------------- */

static void
send_verdict(struct netproxy_peer *peer, uint32_t peerid,
    const struct msg_verdict *v)
{
	if (imsgev_compose(&peer->iev, MSG_VERDICT, peerid, -1, v,
	    sizeof(*v)) == -1)
		fatal("send to netproxy %u", peer->instance);
}

static void
netproxy_conn_check(void *ctx, struct imsg *imsg)
{
	struct netproxy_peer *peer = ctx;
	struct policyd	*pd = peer->ctx;
	struct msg_conn_check cc;
	struct msg_verdict v;

	memcpy(&cc, imsg->data, sizeof(cc));
	if (!imsg_str_ok(cc.host, sizeof(cc.host)) ||
	    !imsg_str_ok(cc.sni, sizeof(cc.sni)))
		fatalx("CONN_CHECK from netproxy %u: unterminated string",
		    peer->instance);
	policy_conn_check(pd->policy, cc.host, cc.sni, cc.port, &v);
	count_and_audit(pd, "conn", cc.host, cc.port, NULL, NULL, 0, &v);
	send_verdict(peer, imsg->hdr.peerid, &v);
}

static void
netproxy_request_check(void *ctx, struct imsg *imsg)
{
	struct netproxy_peer *peer = ctx;
	struct policyd	*pd = peer->ctx;
	struct msg_request_check rc;
	struct msg_verdict v;
	const char *path;
	char	 npath[MSG_PATH_MAX + 2];

	memcpy(&rc, imsg->data, sizeof(rc));
	if (rc.path_len != imsg->len - sizeof(rc))
		fatalx("REQUEST_CHECK from netproxy %u: path_len %u, %zu "
		    "bytes follow", peer->instance, rc.path_len,
		    imsg->len - sizeof(rc));
	if (!imsg_str_ok(rc.host, sizeof(rc.host)) ||
	    !imsg_str_ok(rc.method, sizeof(rc.method)))
		fatalx("REQUEST_CHECK from netproxy %u: unterminated string",
		    peer->instance);
	path = (const char *)imsg->data + sizeof(rc);
	policy_request_check_path(pd->policy, rc.host, rc.port, rc.method,
	    path, rc.path_len, npath, sizeof(npath), &v);
	if (v.allow == VERDICT_ALLOW && npath[0] == '/' &&
	    modelcall_classify(rc.host, rc.method, npath, strlen(npath)) !=
	    MODEL_API_NONE)
		budget_check(pd, &v);
	count_and_audit(pd, "request", rc.host, rc.port, rc.method, path,
	    rc.path_len, &v);
	/* an allowed request is forwarded with the path judged */
	if (v.allow == VERDICT_ALLOW && (npath[0] == '/' ||
	    strcmp(npath, "*") == 0)) {
		if (imsgev_compose2(&peer->iev, MSG_VERDICT, imsg->hdr.peerid,
		    -1, &v, sizeof(v), npath, strlen(npath)) == -1)
			fatal("send to netproxy %u", peer->instance);
	} else
		send_verdict(peer, imsg->hdr.peerid, &v);
}

static void
netproxy_audit_event(void *ctx, struct imsg *imsg)
{
	struct netproxy_peer *peer = ctx;
	struct policyd	*pd = peer->ctx;
	struct msg_audit_event ev;
	struct audit_record r;

	memcpy(&ev, imsg->data, sizeof(ev));
	if (!imsg_str_ok(ev.host, sizeof(ev.host)) ||
	    !imsg_str_ok(ev.method, sizeof(ev.method)) ||
	    !imsg_str_ok(ev.path, sizeof(ev.path)) ||
	    !imsg_str_ok(ev.rule, sizeof(ev.rule)) ||
	    !imsg_str_ok(ev.file, sizeof(ev.file)) ||
	    !imsg_str_ok(ev.reason, sizeof(ev.reason)))
		fatalx("AUDIT_EVENT from netproxy %u: unterminated string",
		    peer->instance);
	audit_from_event(&r, pd->child->session_id, &ev);
	audit(pd, &r);
	if (pd->store != NULL)
		store_event(pd->store, &r);
}

/* What a budget counts: every token, and the cost of priced calls. */
static void
spend(struct policyd *pd, const struct msg_model_event *m, int64_t cost)
{
	uint64_t t = m->input_tokens;

	if (__builtin_add_overflow(t, m->output_tokens, &t) ||
	    __builtin_add_overflow(t, m->cache_read_tokens, &t) ||
	    __builtin_add_overflow(t, m->cache_write_tokens, &t) ||
	    __builtin_add_overflow(pd->spent_tokens, t, &pd->spent_tokens))
		pd->spent_tokens = UINT64_MAX;
	if (cost > 0 && __builtin_add_overflow(pd->spent_pusd,
	    (uint64_t)cost, &pd->spent_pusd))
		pd->spent_pusd = UINT64_MAX;
}

static void
netproxy_model_event(void *ctx, struct imsg *imsg)
{
	struct netproxy_peer *peer = ctx;
	struct policyd	*pd = peer->ctx;
	struct msg_model_event me;
	const char	*source;
	int64_t		 cost;

	memcpy(&me, imsg->data, sizeof(me));
	if (!imsg_str_ok(me.host, sizeof(me.host)) ||
	    !imsg_str_ok(me.path, sizeof(me.path)) ||
	    !imsg_str_ok(me.model, sizeof(me.model)) ||
	    !imsg_str_ok(me.stop_reason, sizeof(me.stop_reason)) ||
	    !imsg_str_ok(me.tools, sizeof(me.tools)) ||
	    !imsg_str_ok(me.why, sizeof(me.why)))
		fatalx("MODEL_EVENT from netproxy %u: unterminated string",
		    peer->instance);
	if (me.api < MODEL_EVENT_ANTHROPIC_MESSAGES ||
	    me.api > MODEL_EVENT_GEMINI)
		fatalx("MODEL_EVENT from netproxy %u: api %u", peer->instance,
		    me.api);
	pd->nmodel++;
	cost = price_cost(&me, &source);
	spend(pd, &me, cost);
	log_debug("model call %s %s: in %llu out %llu cache r %llu w %llu, "
	    "cost %lld pUSD", me.host, me.model,
	    (unsigned long long)me.input_tokens,
	    (unsigned long long)me.output_tokens,
	    (unsigned long long)me.cache_read_tokens,
	    (unsigned long long)me.cache_write_tokens, (long long)cost);
	if (pd->store != NULL)
		store_model_call(pd->store, &me, cost, source);
}

static const struct imsg_handler netproxy_handlers[] = {
	{ MSG_CONN_CHECK, sizeof(struct msg_conn_check),
	    sizeof(struct msg_conn_check), IMSG_FD_NONE, netproxy_conn_check },
	{ MSG_REQUEST_CHECK, sizeof(struct msg_request_check),
	    POLICYD_NETPROXY_MAXLEN, IMSG_FD_NONE, netproxy_request_check },
	{ MSG_AUDIT_EVENT, sizeof(struct msg_audit_event),
	    sizeof(struct msg_audit_event), IMSG_FD_NONE,
	    netproxy_audit_event },
	{ MSG_MODEL_EVENT, sizeof(struct msg_model_event),
	    sizeof(struct msg_model_event), IMSG_FD_NONE,
	    netproxy_model_event },
};

static void
policyd_peer_channel(struct child *c, enum proc_id peer_id, uint32_t instance,
    int fd)
{
	struct policyd	*pd = c->ctx;

	netproxy_peers_add(&pd->peers, c->loop, c->id, peer_id, instance, fd,
	    POLICYD_NETPROXY_MAXLEN, netproxy_handlers,
	    sizeof(netproxy_handlers) / sizeof(netproxy_handlers[0]), pd);
	log_debug("netproxy %u connected", instance);
}

/* --- parent: policy files, commit, audit fd ------------------------------ */

static void
pending_clear(struct pending_file *pf)
{
	free(pf->data);
	memset(pf, 0, sizeof(*pf));
}

static void
parent_policy_file(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct policyd	*pd = c->ctx;
	struct msg_policy_file mf;
	struct pending_file *pf;
	size_t		 len = imsg->len - sizeof(mf);

	memcpy(&mf, imsg->data, sizeof(mf));
	if (mf.origin > POLICY_ORIGIN_CORP || mf.present > 1 ||
	    !imsg_str_ok(mf.name, sizeof(mf.name)) ||
	    (mf.present == 0 && len != 0))
		fatalx("POLICY_FILE: malformed");
	pf = &pd->pending[mf.origin];
	pending_clear(pf);
	pf->received = true;
	pf->present = mf.present == 1;
	memcpy(pf->name, mf.name, sizeof(pf->name));
	if (len > 0) {
		if ((pf->data = malloc(len)) == NULL)
			fatal("malloc");
		memcpy(pf->data, imsg->data + sizeof(mf), len);
		pf->len = len;
	}
}

/* Parse one pending file; NULL config (not present) is fine. */
static int
load_pending(struct pending_file *pf, struct config *cfg, bool *have,
    char *err, size_t errlen)
{
	*have = false;
	if (!pf->received || !pf->present)
		return 0;
	if (config_parse_buf(cfg, pf->name, pf->data ? pf->data : "",
	    pf->len, err, errlen) == -1)
		return -1;
	*have = true;
	return 0;
}

static void
parent_policy_commit(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct policyd	*pd = c->ctx;
	struct pending_file *up = &pd->pending[POLICY_ORIGIN_USER];
	struct pending_file *cp = &pd->pending[POLICY_ORIGIN_CORP];
	struct msg_policy_result res;
	struct config	 user, corp;
	struct policy	*np = NULL;
	bool		 have_user = false, have_corp = false;

	(void)imsg;
	memset(&res, 0, sizeof(res));
	config_init(&user);
	config_init(&corp);
	if (load_pending(up, &user, &have_user, res.error,
	    sizeof(res.error)) == -1 || load_pending(cp, &corp, &have_corp,
	    res.error, sizeof(res.error)) == -1)
		goto done;
	if (!have_user && policy_builtin_default(up->received ? up->name :
	    NULL, &user) == -1) {
		snprintf(res.error, sizeof(res.error), "out of memory");
		goto done;
	}
	np = policy_build(&user, have_corp ? &corp : NULL, res.error,
	    sizeof(res.error));
done:
	config_free(&user);
	config_free(&corp);
	if (np != NULL) {
		policy_free(pd->policy);
		pd->policy = np;
		pd->ncommits++;
		res.ok = 1;
		snprintf(pd->user_name, sizeof(pd->user_name), "%s",
		    have_user ? up->name : POLICY_BUILTIN_FILE);
		snprintf(pd->corp_name, sizeof(pd->corp_name), "%s",
		    have_corp ? cp->name : "(none)");
		log_info("policy loaded: user %s, corp %s", pd->user_name,
		    pd->corp_name);
	} else
		log_warnx("policy not loaded%s: %s", pd->policy ?
		    " (keeping the previous one)" : "", res.error);
	pending_clear(up);
	pending_clear(cp);
	child_send_parent(c, MSG_POLICY_RESULT, imsg->hdr.peerid, -1, &res,
	    sizeof(res));
}

static void
parent_audit_fd(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct policyd	*pd = c->ctx;

	if (pd->audit_fd != -1)
		close(pd->audit_fd);
	pd->audit_fd = imsg->fd;
	imsg->fd = -1;
	pd->audit_failed = false;
}

/* The session's first record: the directory shared at /workspace. */
static void
parent_audit_workspace(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct policyd	*pd = c->ctx;
	struct msg_audit_workspace aw;
	struct audit_record r;

	memcpy(&aw, imsg->data, sizeof(aw));
	if (memchr(aw.path, '\0', sizeof(aw.path)) == NULL ||
	    aw.path[0] != '/' || aw.readonly > 1)
		fatalx("parent: malformed AUDIT_WORKSPACE");
	audit_from_workspace(&r, c->session_id, aw.path, aw.readonly != 0);
	audit(pd, &r);
	if (pd->store != NULL)
		store_event(pd->store, &r);
}

static const struct imsg_handler policyd_parent_handlers[] = {
	{ MSG_POLICY_FILE, sizeof(struct msg_policy_file),
	    POLICYD_PARENT_MAXLEN, IMSG_FD_NONE, parent_policy_file },
	{ MSG_POLICY_COMMIT, 0, 0, IMSG_FD_NONE, parent_policy_commit },
	{ MSG_AUDIT_FD, 0, 0, IMSG_FD_REQUIRED, parent_audit_fd },
	{ MSG_AUDIT_WORKSPACE, sizeof(struct msg_audit_workspace),
	    sizeof(struct msg_audit_workspace), IMSG_FD_NONE,
	    parent_audit_workspace },
};

/* --- life ---------------------------------------------------------------- */

static void
policyd_pre_sandbox(struct child *c)
{
	struct policyd	*pd = c->ctx;
	struct tm	 tm;
	time_t		 now = time(NULL);

	pd->child = c;
	if (sqlite3_initialize() != SQLITE_OK)
		fatalx("sqlite3_initialize");
	/* gmtime_r may read zone files once: do it while files exist. */
	tzset();
	if (gmtime_r(&now, &tm) == NULL)
		fatalx("gmtime_r failed");
}

/* After the sandbox: the database in the one directory we can reach. */
static void
policyd_hello(struct child *c)
{
	struct policyd	*pd = c->ctx;
	char		 path[64], err[256];

	snprintf(path, sizeof(path), "%s/%s", sandbox_dir_path(&c->sandbox),
	    SESSION_DB_FILE);
	if ((pd->store = store_open(path, c->session_id, c->loop, err,
	    sizeof(err))) == NULL)
		log_warnx("session database: %s (audit.jsonl only)", err);
}

static void
policyd_status(struct child *c, struct msg_status *st)
{
	struct policyd	*pd = c->ctx;

	st->counters[0] = pd->nallow;
	st->counters[1] = pd->ndeny;
	st->counters[2] = pd->naudit;
	st->counters[3] = pd->ncommits;
	if (pd->policy == NULL)
		snprintf(st->detail, sizeof(st->detail),
		    "no policy loaded: denying everything");
	else
		/* a longer line is cut: the counters come first */
		if (snprintf(st->detail, sizeof(st->detail),
		    "allowed %llu, denied %llu, model calls %llu, over budget "
		    "%llu%s; user %.32s, corp %.32s",
		    (unsigned long long)pd->nallow,
		    (unsigned long long)pd->ndeny,
		    (unsigned long long)pd->nmodel,
		    (unsigned long long)pd->nbudget, pd->store == NULL ?
		    ", NO DATABASE" : store_failures(pd->store) > 0 ?
		    ", DATABASE FAILING" : "", pd->user_name, pd->corp_name) <
		    0)
			st->detail[0] = '\0';
}

static void
policyd_shutdown(struct child *c)
{
	struct policyd	*pd = c->ctx;

	netproxy_peers_close_all(&pd->peers);
	store_close(pd->store);
	pd->store = NULL;
	if (pd->audit_fd != -1) {
		close(pd->audit_fd);	/* write(2) went straight to the file */
		pd->audit_fd = -1;
	}
	policy_free(pd->policy);
	pd->policy = NULL;
	pending_clear(&pd->pending[0]);
	pending_clear(&pd->pending[1]);
}

static const struct child_def policyd_def = {
	.id = PROC_POLICYD,
	.sandbox = &policyd_sandbox,
	.parent_maxlen = POLICYD_PARENT_MAXLEN,
	.parent_handlers = policyd_parent_handlers,
	.nparent_handlers = sizeof(policyd_parent_handlers) /
	    sizeof(policyd_parent_handlers[0]),
	.pre_sandbox = policyd_pre_sandbox,
	.on_hello = policyd_hello,
	.on_peer_channel = policyd_peer_channel,
	.on_status = policyd_status,
	.on_shutdown = policyd_shutdown,
};

int
main(int argc, char *argv[])
{
	struct policyd	*pd;

	if ((pd = calloc(1, sizeof(*pd))) == NULL) {
		fprintf(stderr, "capsem-policyd: out of memory\n");
		return 1;
	}
	pd->audit_fd = -1;
	child_run(&policyd_def, pd, argc, argv);
}
