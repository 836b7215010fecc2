/*
 * policy.c: merge user.toml and corp.toml, match hosts and requests,
 * explain every verdict.  Semantics in policy.h and capsem.toml(5); the
 * request rules themselves (paths, methods) are rules.c.  (Over 800
 * lines: the merged policy's structures are private to this file, and
 * building, checking and showing them is the one job of holding it.)
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "agents.h"
#include "policy.h"
#include "rules.h"
#include "text.h"

#define SIDE_USER	0
#define SIDE_CORP	1

/* ---- hash sets of host names (exact, or wildcard suffixes) ---- */

struct hslot {
	const char	*key;		/* NULL: empty slot */
	uint32_t	 hash;
	uint32_t	 index;
};

struct hashset {
	struct hslot	*slots;
	size_t		 cap;		/* power of two, or 0 */
	size_t		 n;
};

static int
hashset_grow(struct hashset *hs)
{
	struct hslot *old = hs->slots, *slots;
	size_t	 oldcap = hs->cap, cap = oldcap ? oldcap * 2 : 16, i, j;

	if (cap < oldcap || (slots = calloc(cap, sizeof(*slots))) == NULL)
		return -1;
	for (i = 0; i < oldcap; i++) {
		if (old[i].key == NULL)
			continue;
		for (j = old[i].hash & (cap - 1); slots[j].key != NULL;
		    j = (j + 1) & (cap - 1))
			;
		slots[j] = old[i];
	}
	free(old);
	hs->slots = slots;
	hs->cap = cap;
	return 0;
}

static const struct hslot *
hashset_find(const struct hashset *hs, const char *key, size_t len)
{
	uint32_t h;
	size_t	 j;

	if (hs->cap == 0)
		return NULL;
	h = fnv1a32(key, len);
	for (j = h & (hs->cap - 1); hs->slots[j].key != NULL;
	    j = (j + 1) & (hs->cap - 1))
		if (hs->slots[j].hash == h &&
		    strncmp(hs->slots[j].key, key, len) == 0 &&
		    hs->slots[j].key[len] == '\0')
			return &hs->slots[j];
	return NULL;
}

/* Insert key -> index unless the key is there already (first one wins). */
static int
hashset_add(struct hashset *hs, const char *key, uint32_t index)
{
	size_t	 len = strlen(key), j;
	uint32_t h = fnv1a32(key, len);

	if (hashset_find(hs, key, len) != NULL)
		return 0;
	if ((hs->n + 1) * 2 > hs->cap && hashset_grow(hs) == -1)
		return -1;
	for (j = h & (hs->cap - 1); hs->slots[j].key != NULL;
	    j = (j + 1) & (hs->cap - 1))
		;
	hs->slots[j].key = key;
	hs->slots[j].hash = h;
	hs->slots[j].index = index;
	hs->n++;
	return 0;
}

/* ---- host lists ---- */

struct pentry {
	char		*pattern;	/* normalised; "*.x" for wildcards */
	char		 rule[MSG_RULE_MAX];
	const char	*file;
	unsigned	 line;
};

struct hostlist {
	struct pentry	*e;
	size_t		 n;
	size_t		 cap;
	bool		 set;		/* the key was in the file */
	unsigned	 line;		/* of the key */
	struct hashset	 exact;
	struct hashset	 wild;		/* keyed by the suffix after "*." */
};

static int
hostlist_add(struct hostlist *hl, const char *raw, const char *file,
    unsigned line, const char *what, char *err, size_t errlen)
{
	char	 norm[CONFIG_HOST_MAX + 1], msg[CONFIG_ERR_MAX];
	struct pentry *e;
	int	 rc;

	if (config_host_normalize(raw, true, norm, sizeof(norm), msg,
	    sizeof(msg)) == -1) {
		snprintf(err, errlen, "%s:%u: %s", file, line, msg);
		return -1;
	}
	if (hl->n >= UINT32_MAX)
		goto nomem;
	if (hl->n == hl->cap) {
		size_t cap = hl->cap ? hl->cap * 2 : 8;

		if ((e = reallocarray(hl->e, cap, sizeof(*e))) == NULL)
			goto nomem;
		hl->e = e;
		hl->cap = cap;
	}
	e = &hl->e[hl->n];
	memset(e, 0, sizeof(*e));
	if ((e->pattern = strdup(norm)) == NULL)
		goto nomem;
	snprintf(e->rule, sizeof(e->rule), "%s \"%.240s\"", what, norm);
	e->file = file;
	e->line = line;
	if (norm[0] == '*')
		rc = hashset_add(&hl->wild, e->pattern + 2, (uint32_t)hl->n);
	else
		rc = hashset_add(&hl->exact, e->pattern, (uint32_t)hl->n);
	hl->n++;
	if (rc == -1)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "%s:%u: out of memory", file, line);
	return -1;
}

/* The most specific entry matching a normalised host: exact, then the
 * wildcard with the longest suffix. */
static const struct pentry *
hostlist_match(const struct hostlist *hl, const char *host)
{
	const struct hslot *s;
	const char *p;
	size_t	 len = strlen(host);

	if (hl->n == 0)
		return NULL;
	if ((s = hashset_find(&hl->exact, host, len)) != NULL)
		return &hl->e[s->index];
	for (p = strchr(host, '.'); p != NULL; p = strchr(p + 1, '.'))
		if ((s = hashset_find(&hl->wild, p + 1,
		    len - (size_t)(p + 1 - host))) != NULL)
			return &hl->e[s->index];
	return NULL;
}

static void
hostlist_free(struct hostlist *hl)
{
	size_t	 i;

	for (i = 0; i < hl->n; i++)
		free(hl->e[i].pattern);
	free(hl->e);
	free(hl->exact.slots);
	free(hl->wild.slots);
	memset(hl, 0, sizeof(*hl));
}

struct ptable {
	char		 display[MSG_RULE_MAX];	/* [http."pattern"] */
	const char	*file;
	unsigned	 line;
	struct prule	*deny;
	size_t		 ndeny;
	struct prule	*allow;
	size_t		 nallow;
	bool		 allow_set;
	unsigned	 allow_line;
	int		 default_verdict;	/* -1 unset */
	unsigned	 default_line;
	int		 path_parameters;	/* -1 unset, 0, 1 */
	unsigned	 path_parameters_line;
};

/* What one file contributes. */
struct side {
	char		*file;
	bool		 present;
	struct hostlist	 allow;
	struct hostlist	 block;
	int		 default_verdict;	/* -1 unset */
	unsigned	 default_line;
	struct ptable	*tables;
	size_t		 ntables;
	struct hostlist	 table_index;	/* pattern -> tables[] */
};

struct policy {
	struct side	 side[2];
	int		 default_verdict;	/* merged */
	const char	*default_file;
	unsigned	 default_line;
	bool		 http;
	const char	*http_file;
	unsigned	 http_line;
	bool		 private_addresses;
	const char	*private_file;
	unsigned	 private_line;
	char		*ca_file;
	struct config_resolve *resolve;
	size_t		 nresolve;
	struct policy_credential *creds;
	size_t		 ncreds;
	int		 cpus;
	int		 memory_mb;
	struct policy_workspace ws;
	struct policy_budget budget;
};

/* ---- building ---- */

static int
verdict_word(const char *s)
{
	return strcmp(s, "allow") == 0 ? VERDICT_ALLOW : VERDICT_DENY;
}

static int
add_rules(struct prule **out, size_t *nout, const struct config_strlist *l,
    const char *file, char *err, size_t errlen)
{
	const char *why;
	size_t	 i;

	if (l->n == 0)
		return 0;
	if ((*out = calloc(l->n, sizeof(**out))) == NULL) {
		snprintf(err, errlen, "%s:%u: out of memory", file, l->line);
		return -1;
	}
	for (i = 0; i < l->n; i++) {
		if (rule_parse(l->v[i].s, &(*out)[i], &why) == -1) {
			snprintf(err, errlen, "%s:%u: rule \"%.80s\": %s", file,
			    l->v[i].line, l->v[i].s, why);
			return -1;
		}
		(*out)[i].file = file;
		(*out)[i].line = l->v[i].line;
		(*nout)++;
	}
	return 0;
}

static int
side_build(struct side *sd, const struct config *cfg, char *err, size_t errlen)
{
	char	 norm[CONFIG_HOST_MAX + 1], msg[CONFIG_ERR_MAX];
	size_t	 i;

	sd->default_verdict = -1;
	if (cfg == NULL)
		return 0;
	sd->present = true;
	if ((sd->file = strdup(cfg->filename)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (cfg->default_verdict.s != NULL) {
		sd->default_verdict = verdict_word(cfg->default_verdict.s);
		sd->default_line = cfg->default_verdict.line;
	}
	sd->allow.set = cfg->allow.set;
	sd->allow.line = cfg->allow.line;
	for (i = 0; i < cfg->allow.n; i++)
		if (hostlist_add(&sd->allow, cfg->allow.v[i].s, sd->file,
		    cfg->allow.v[i].line, "allow", err, errlen) == -1)
			return -1;
	sd->block.set = cfg->block.set;
	sd->block.line = cfg->block.line;
	for (i = 0; i < cfg->block.n; i++)
		if (hostlist_add(&sd->block, cfg->block.v[i].s, sd->file,
		    cfg->block.v[i].line, "block", err, errlen) == -1)
			return -1;
	if (cfg->nhttp_tables > 0 && (sd->tables = calloc(cfg->nhttp_tables,
	    sizeof(*sd->tables))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < cfg->nhttp_tables; i++) {
		const struct config_http *h = &cfg->http_tables[i];
		struct ptable *t = &sd->tables[i];

		sd->ntables++;
		if (config_host_normalize(h->pattern, true, norm, sizeof(norm),
		    msg, sizeof(msg)) == -1) {
			snprintf(err, errlen, "%s:%u: %s", sd->file, h->line,
			    msg);
			return -1;
		}
		snprintf(t->display, sizeof(t->display), "[http.\"%.240s\"]",
		    norm);
		t->file = sd->file;
		t->line = h->line;
		t->default_verdict = -1;
		t->path_parameters = h->path_parameters.set ?
		    h->path_parameters.v : -1;
		t->path_parameters_line = h->path_parameters.line;
		if (h->default_verdict.s != NULL) {
			t->default_verdict = verdict_word(h->default_verdict.s);
			t->default_line = h->default_verdict.line;
		}
		t->allow_set = h->allow.set;
		t->allow_line = h->allow.line;
		if (add_rules(&t->deny, &t->ndeny, &h->deny, sd->file, err,
		    errlen) == -1 || add_rules(&t->allow, &t->nallow,
		    &h->allow, sd->file, err, errlen) == -1)
			return -1;
		if (hostlist_add(&sd->table_index, h->pattern, sd->file,
		    h->line, "table", err, errlen) == -1)
			return -1;
	}
	return 0;
}

static void
side_free(struct side *sd)
{
	size_t	 i, j;

	hostlist_free(&sd->allow);
	hostlist_free(&sd->block);
	hostlist_free(&sd->table_index);
	for (i = 0; i < sd->ntables; i++) {
		for (j = 0; j < sd->tables[i].ndeny; j++)
			rule_free(&sd->tables[i].deny[j]);
		for (j = 0; j < sd->tables[i].nallow; j++)
			rule_free(&sd->tables[i].allow[j]);
		free(sd->tables[i].deny);
		free(sd->tables[i].allow);
	}
	free(sd->tables);
	free(sd->file);
	memset(sd, 0, sizeof(*sd));
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	side_free(&p->side[SIDE_USER]);
	side_free(&p->side[SIDE_CORP]);
	free(p->ca_file);
	free(p->resolve);
	free(p->creds);
	free(p);
}

/*
 * [workspace]: allow is user AND corp, readonly user OR corp; corp is
 * merged last, so only corp's own false / true replaces what is recorded:
 * the reason shown is corp's when both files decide.
 */
static void
merge_workspace(struct policy_workspace *ws, const struct config *cfg,
    const char *file)
{
	if (cfg->ws_allow.set && !cfg->ws_allow.v) {
		ws->allow = false;
		snprintf(ws->allow_file, sizeof(ws->allow_file), "%s", file);
		ws->allow_line = cfg->ws_allow.line;
	}
	if (cfg->ws_readonly.set && cfg->ws_readonly.v) {
		ws->readonly = true;
		snprintf(ws->ro_file, sizeof(ws->ro_file), "%s", file);
		ws->ro_line = cfg->ws_readonly.line;
	}
}

/* [budget]: the lower limit of the two files wins (corp is a ceiling). */
static void
merge_budget(struct policy_budget *b, const struct config *cfg,
    const char *file)
{
	uint64_t pusd;

	if (cfg->budget_tokens.set && cfg->budget_tokens.v > 0 &&
	    (b->tokens == 0 || (uint64_t)cfg->budget_tokens.v < b->tokens)) {
		b->tokens = (uint64_t)cfg->budget_tokens.v;
		snprintf(b->tokens_file, sizeof(b->tokens_file), "%s", file);
		b->tokens_line = cfg->budget_tokens.line;
	}
	/* the reader checked the amount: a zero is a limit of $0 */
	if (cfg->budget_usd.s != NULL &&
	    config_usd_parse(cfg->budget_usd.s, &pusd) == 0 &&
	    (b->usd_file[0] == '\0' || pusd < b->pusd)) {
		b->pusd = pusd;
		snprintf(b->usd_text, sizeof(b->usd_text), "%s",
		    cfg->budget_usd.s);
		snprintf(b->usd_file, sizeof(b->usd_file), "%s", file);
		b->usd_line = cfg->budget_usd.line;
	}
}

static int
merge_settings(struct policy *p, const struct config *cfg,
    const struct side *sd, char *err, size_t errlen)
{
	struct policy_credential *c;
	char	 msg[CONFIG_ERR_MAX], norm[CONFIG_HOST_MAX + 1];
	size_t	 i, j;

	if (cfg == NULL)
		return 0;
	if (cfg->http.set) {
		p->http = cfg->http.v;
		p->http_file = sd->file;
		p->http_line = cfg->http.line;
	}
	if (cfg->private_addresses.set) {
		p->private_addresses = cfg->private_addresses.v;
		p->private_file = sd->file;
		p->private_line = cfg->private_addresses.line;
	}
	if (cfg->ca_file.s != NULL) {
		free(p->ca_file);
		if ((p->ca_file = strdup(cfg->ca_file.s)) == NULL)
			goto nomem;
	}
	if (cfg->resolve.set) {
		free(p->resolve);
		p->resolve = NULL;
		p->nresolve = 0;
		if (cfg->resolve.n > 0 && (p->resolve = calloc(cfg->resolve.n,
		    sizeof(*p->resolve))) == NULL)
			goto nomem;
		for (i = 0; i < cfg->resolve.n; i++) {
			if (config_resolve_parse(cfg->resolve.v[i].s,
			    &p->resolve[i], msg, sizeof(msg)) == -1) {
				snprintf(err, errlen, "%s:%u: %s", sd->file,
				    cfg->resolve.v[i].line, msg);
				return -1;
			}
			p->nresolve++;
		}
	}
	if (cfg->cpus.set)
		p->cpus = (int)cfg->cpus.v;
	if (cfg->memory_mb.set)
		p->memory_mb = (int)cfg->memory_mb.v;
	merge_workspace(&p->ws, cfg, sd->file);
	merge_budget(&p->budget, cfg, sd->file);
	for (i = 0; i < cfg->ncredentials; i++) {
		const struct config_credential *cc = &cfg->credentials[i];

		if (config_host_normalize(cc->host, false, norm, sizeof(norm),
		    msg, sizeof(msg)) == -1) {
			snprintf(err, errlen, "%s:%u: %s", sd->file, cc->line,
			    msg);
			return -1;
		}
		if (cc->header.s == NULL || cc->env.s == NULL) {
			snprintf(err, errlen, "%s:%u: [credentials.\"%s\"] "
			    "needs both header and env", sd->file, cc->line,
			    norm);
			return -1;
		}
		for (j = 0; j < p->ncreds; j++)
			if (strcmp(p->creds[j].host, norm) == 0)
				break;
		if (j == p->ncreds) {
			if ((c = reallocarray(p->creds, p->ncreds + 1,
			    sizeof(*c))) == NULL)
				goto nomem;
			p->creds = c;
			p->ncreds++;
		}
		c = &p->creds[j];
		memset(c, 0, sizeof(*c));
		snprintf(c->host, sizeof(c->host), "%s", norm);
		if (strlen(cc->header.s) >= sizeof(c->header) ||
		    strlen(cc->env.s) >= sizeof(c->env)) {
			snprintf(err, errlen, "%s:%u: credential header or env "
			    "name too long", sd->file, cc->line);
			return -1;
		}
		snprintf(c->header, sizeof(c->header), "%s", cc->header.s);
		snprintf(c->env, sizeof(c->env), "%s", cc->env.s);
		c->file = sd->file;
		c->line = cc->line;
	}
	return 0;
nomem:
	snprintf(err, errlen, "%s: out of memory", sd->file);
	return -1;
}

struct policy *
policy_build(const struct config *user, const struct config *corp,
    char *err, size_t errlen)
{
	struct policy *p;
	const struct side *u, *c;

	if (errlen > 0)
		err[0] = '\0';
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->ws.allow = true;
	if (side_build(&p->side[SIDE_USER], user, err, errlen) == -1 ||
	    side_build(&p->side[SIDE_CORP], corp, err, errlen) == -1 ||
	    merge_settings(p, user, &p->side[SIDE_USER], err, errlen) == -1 ||
	    merge_settings(p, corp, &p->side[SIDE_CORP], err, errlen) == -1) {
		if (errlen > 0)
			config_error_oneline(err);
		policy_free(p);
		return NULL;
	}
	u = &p->side[SIDE_USER];
	c = &p->side[SIDE_CORP];
	p->default_verdict = VERDICT_DENY;
	p->default_file = POLICY_BUILTIN_FILE;
	p->default_line = 0;
	if (c->default_verdict != -1) {
		p->default_verdict = c->default_verdict;
		p->default_file = c->file;
		p->default_line = c->default_line;
	} else if (u->default_verdict != -1) {
		p->default_verdict = u->default_verdict;
		p->default_file = u->file;
		p->default_line = u->default_line;
	}
	if (p->http_file == NULL)
		p->http_file = POLICY_BUILTIN_FILE;
	if (p->private_file == NULL)
		p->private_file = POLICY_BUILTIN_FILE;
	return p;
}

int
policy_builtin_default(const char *agent, struct config *cfg)
{
	const struct agent *a = agent_find(agent);
	const char *host = a != NULL ? a->api_host : NULL;

	config_init(cfg);
	if ((cfg->filename = strdup(POLICY_BUILTIN_FILE)) == NULL ||
	    (cfg->default_verdict.s = strdup("deny")) == NULL)
		goto fail;
	cfg->has_network = true;
	cfg->allow.set = true;
	if (host != NULL) {
		if ((cfg->allow.v = calloc(1, sizeof(*cfg->allow.v))) == NULL ||
		    (cfg->allow.v[0].s = strdup(host)) == NULL)
			goto fail;
		cfg->allow.n = 1;
	}
	return 0;
fail:
	config_free(cfg);
	return -1;
}

/* ---- checks ---- */

static void
set_verdict(struct msg_verdict *v, int allow, const char *file,
    unsigned line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
set_verdict(struct msg_verdict *v, int allow, const char *file,
    unsigned line, const char *fmt, ...)
{
	va_list	 ap;

	memset(v, 0, sizeof(*v));
	v->allow = (uint32_t)allow;
	v->line = line;
	snprintf(v->file, sizeof(v->file), "%s", file);
	va_start(ap, fmt);
	vsnprintf(v->rule, sizeof(v->rule), fmt, ap);
	va_end(ap);
}

static void
entry_verdict(struct msg_verdict *v, int allow, const struct pentry *e)
{
	set_verdict(v, allow, e->file, e->line, "%s", e->rule);
}

/* Host part of a check; host already normalised. */
static void
host_verdict(const struct policy *p, const char *host, uint16_t port,
    struct msg_verdict *v)
{
	const struct side *u = &p->side[SIDE_USER], *c = &p->side[SIDE_CORP];
	const struct pentry *e;

	if ((e = hostlist_match(&c->block, host)) != NULL ||
	    (e = hostlist_match(&u->block, host)) != NULL) {
		entry_verdict(v, VERDICT_DENY, e);
		return;
	}
	if (c->allow.set && hostlist_match(&c->allow, host) == NULL) {
		set_verdict(v, VERDICT_DENY, c->file, c->allow.line,
		    "not in the corp allow list");
		return;
	}
	if (port == 80 && !p->http) {
		set_verdict(v, VERDICT_DENY, p->http_file, p->http_line,
		    "http = false (plain HTTP is not proxied)");
		return;
	}
	if ((e = hostlist_match(&u->allow, host)) != NULL) {
		entry_verdict(v, VERDICT_ALLOW, e);
		return;
	}
	set_verdict(v, p->default_verdict, p->default_file, p->default_line,
	    "default = \"%s\"", p->default_verdict == VERDICT_ALLOW ? "allow" :
	    "deny");
}

static bool
host_prepare(const char *host, uint16_t port, char *norm, size_t normlen,
    struct msg_verdict *v)
{
	char	 msg[CONFIG_ERR_MAX];

	if (host == NULL || config_host_normalize(host, false, norm, normlen,
	    msg, sizeof(msg)) == -1) {
		set_verdict(v, VERDICT_DENY, POLICY_BUILTIN_FILE, 0,
		    "invalid host name");
		return false;
	}
	if (port != 0 && port != 80 && port != 443) {
		set_verdict(v, VERDICT_DENY, POLICY_BUILTIN_FILE, 0,
		    "port %u is not proxied", port);
		return false;
	}
	return true;
}

void
policy_conn_check(const struct policy *p, const char *host, const char *sni,
    uint16_t port, struct msg_verdict *v)
{
	char	 norm[CONFIG_HOST_MAX + 1], snorm[CONFIG_HOST_MAX + 1];
	char	 msg[CONFIG_ERR_MAX];

	if (p == NULL) {
		set_verdict(v, VERDICT_DENY, POLICY_BUILTIN_FILE, 0,
		    "no policy loaded");
		return;
	}
	if (!host_prepare(host, port, norm, sizeof(norm), v))
		return;
	if (sni != NULL && sni[0] != '\0' && (config_host_normalize(sni, false,
	    snorm, sizeof(snorm), msg, sizeof(msg)) == -1 ||
	    strcmp(snorm, norm) != 0)) {
		set_verdict(v, VERDICT_DENY, POLICY_BUILTIN_FILE, 0,
		    "SNI does not match the host");
		return;
	}
	host_verdict(p, norm, port, v);
}

static const struct ptable *
table_for(const struct side *sd, const char *host)
{
	const struct pentry *e;

	if ((e = hostlist_match(&sd->table_index, host)) == NULL)
		return NULL;
	return &sd->tables[e - sd->table_index.e];
}

static const struct prule *
first_match(const struct prule *rules, size_t n, const char *method,
    const struct pathsegs *ps)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (rule_match(&rules[i], method, ps))
			return &rules[i];
	return NULL;
}

static void
rule_verdict(struct msg_verdict *v, int allow, const struct ptable *t,
    const struct prule *r)
{
	set_verdict(v, allow, r->file, r->line, "%s \"%s\" in %s",
	    allow ? "allow" : "deny", r->rule, t->display);
}

void
policy_request_check(const struct policy *p, const char *host, uint16_t port,
    const char *method, const char *path, size_t pathlen,
    struct msg_verdict *v)
{
	char	 npath[MSG_PATH_MAX + 2];

	policy_request_check_path(p, host, port, method, path, pathlen, npath,
	    sizeof(npath), v);
}

void
policy_request_check_path(const struct policy *p, const char *host,
    uint16_t port, const char *method, const char *path, size_t pathlen,
    char *npath, size_t npathlen, struct msg_verdict *v)
{
	char	 norm[CONFIG_HOST_MAX + 1];
	const char *why;
	const struct ptable *ut, *ct, *dt;
	const struct prule *r;
	struct pathsegs ps;
	bool	 params;

	npath[0] = '\0';
	if (p == NULL) {
		set_verdict(v, VERDICT_DENY, POLICY_BUILTIN_FILE, 0,
		    "no policy loaded");
		return;
	}
	if (!host_prepare(host, port, norm, sizeof(norm), v))
		return;
	host_verdict(p, norm, port, v);
	if (v->allow != VERDICT_ALLOW)
		return;
	if (method == NULL || !method_ok(method)) {
		set_verdict(v, VERDICT_DENY, POLICY_BUILTIN_FILE, 0,
		    "invalid method (methods are upper-case tokens)");
		return;
	}
	ct = table_for(&p->side[SIDE_CORP], norm);
	ut = table_for(&p->side[SIDE_USER], norm);
	/* ';' parameters: only where a table opts in, corp first */
	params = ct != NULL && ct->path_parameters != -1 ?
	    ct->path_parameters == 1 : ut != NULL && ut->path_parameters == 1;
	if (pathlen == 1 && path[0] == '*' && strcmp(method, "OPTIONS") == 0)
		snprintf(npath, npathlen, "*");	/* asterisk-form, RFC 9112 3.2.4 */
	else if (path_normalize(path, pathlen, npath, npathlen, &why,
	    params ? PATH_REQUEST_PARAMS : PATH_REQUEST) == -1) {
		npath[0] = '\0';
		set_verdict(v, VERDICT_DENY, POLICY_BUILTIN_FILE, 0,
		    "ambiguous path: %s", why);
		return;
	}
	if (!split_path(npath, &ps)) {
		npath[0] = '\0';
		set_verdict(v, VERDICT_DENY, POLICY_BUILTIN_FILE, 0,
		    "ambiguous path: too many segments");
		return;
	}
	if (params)
		strip_parameters(&ps);	/* matched without them */
	if (ct == NULL && ut == NULL)
		return;		/* no request rules: the host verdict */
	if (ct != NULL && (r = first_match(ct->deny, ct->ndeny, method,
	    &ps)) != NULL) {
		rule_verdict(v, VERDICT_DENY, ct, r);
		return;
	}
	if (ut != NULL && (r = first_match(ut->deny, ut->ndeny, method,
	    &ps)) != NULL) {
		rule_verdict(v, VERDICT_DENY, ut, r);
		return;
	}
	if (ct != NULL && ct->allow_set && first_match(ct->allow, ct->nallow,
	    method, &ps) == NULL) {
		set_verdict(v, VERDICT_DENY, ct->file, ct->allow_line,
		    "not allowed by the corp rules in %s", ct->display);
		return;
	}
	if (ut != NULL && (r = first_match(ut->allow, ut->nallow, method,
	    &ps)) != NULL) {
		rule_verdict(v, VERDICT_ALLOW, ut, r);
		return;
	}
	dt = ct != NULL && ct->default_verdict != -1 ? ct :
	    ut != NULL && ut->default_verdict != -1 ? ut : NULL;
	if (dt != NULL)
		set_verdict(v, dt->default_verdict, dt->file, dt->default_line,
		    "default = \"%s\" in %s", dt->default_verdict ==
		    VERDICT_ALLOW ? "allow" : "deny", dt->display);
	else {
		dt = ct != NULL ? ct : ut;
		set_verdict(v, VERDICT_DENY, dt->file, dt->line,
		    "no rule matched in %s (default deny)", dt->display);
	}
}

/* ---- show ---- */

static void
show_line(FILE *fp, const char *what, const char *file, unsigned line)
{
	fprintf(fp, "%-56s %s:%u\n", what, file, line);
}

static void
show_hosts(FILE *fp, const char *title, const struct hostlist *hl)
{
	char	 buf[MSG_RULE_MAX + 32];
	size_t	 i;

	for (i = 0; i < hl->n; i++) {
		snprintf(buf, sizeof(buf), "%s%s", title, hl->e[i].rule);
		show_line(fp, buf, hl->e[i].file, hl->e[i].line);
	}
}

static void
show_rules(FILE *fp, const struct ptable *t, const char *what,
    const struct prule *r, size_t n)
{
	char	 buf[2 * MSG_RULE_MAX + 16];
	size_t	 i;

	(void)t;
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "  %s \"%s\"", what, r[i].rule);
		show_line(fp, buf, r[i].file, r[i].line);
	}
}

void
policy_show(const struct policy *p, FILE *fp)
{
	const struct side *u = &p->side[SIDE_USER], *c = &p->side[SIDE_CORP];
	const struct side *sides[2] = { c, u };
	char	 buf[4 * MSG_RULE_MAX];
	size_t	 i, s;

	fprintf(fp, "# files: user %s, corp %s\n",
	    u->present ? u->file : "(none)", c->present ? c->file : "(none)");
	fprintf(fp, "[network]\n");
	snprintf(buf, sizeof(buf), "default = \"%s\"",
	    p->default_verdict == VERDICT_ALLOW ? "allow" : "deny");
	show_line(fp, buf, p->default_file, p->default_line);
	show_hosts(fp, "corp ", &c->block);
	show_hosts(fp, "", &u->block);
	if (c->allow.set) {
		show_line(fp, "corp allow list is a ceiling:", c->file,
		    c->allow.line);
		show_hosts(fp, "  ceiling ", &c->allow);
	}
	show_hosts(fp, "", &u->allow);
	snprintf(buf, sizeof(buf), "http = %s", p->http ? "true" : "false");
	show_line(fp, buf, p->http_file, p->http_line);
	snprintf(buf, sizeof(buf), "private_addresses = %s",
	    p->private_addresses ? "true" : "false");
	show_line(fp, buf, p->private_file, p->private_line);
	for (s = 0; s < 2; s++) {
		for (i = 0; i < sides[s]->ntables; i++) {
			const struct ptable *t = &sides[s]->tables[i];

			snprintf(buf, sizeof(buf), "%s%s", s == 0 ? "corp " :
			    "", t->display);
			show_line(fp, buf, t->file, t->line);
			show_rules(fp, t, "deny", t->deny, t->ndeny);
			show_rules(fp, t, "allow", t->allow, t->nallow);
			if (t->default_verdict != -1) {
				snprintf(buf, sizeof(buf), "  default = \"%s\"",
				    t->default_verdict == VERDICT_ALLOW ?
				    "allow" : "deny");
				show_line(fp, buf, t->file, t->default_line);
			}
			if (t->path_parameters != -1)
				show_line(fp, t->path_parameters ?
				    "  path_parameters = true" :
				    "  path_parameters = false", t->file,
				    t->path_parameters_line);
		}
	}
	for (i = 0; i < p->ncreds; i++) {
		snprintf(buf, sizeof(buf), "[credentials.\"%s\"] header %s "
		    "from $%s", p->creds[i].host, p->creds[i].header,
		    p->creds[i].env);
		show_line(fp, buf, p->creds[i].file, p->creds[i].line);
	}
	for (i = 0; i < p->nresolve; i++)
		fprintf(fp, "[upstream] resolve %s:%u -> %s port %u\n",
		    p->resolve[i].host, p->resolve[i].port, p->resolve[i].addr,
		    p->resolve[i].addr_port);
	if (p->ca_file != NULL)
		fprintf(fp, "[upstream] ca_file %s\n", p->ca_file);
	if (p->cpus != 0 || p->memory_mb != 0)
		fprintf(fp, "[vm] cpus %d memory_mb %d\n", p->cpus,
		    p->memory_mb);
	fprintf(fp, "[workspace]\n");
	show_line(fp, p->ws.allow ? "allow = true" : "allow = false",
	    p->ws.allow ? POLICY_BUILTIN_FILE : p->ws.allow_file,
	    p->ws.allow_line);
	show_line(fp, p->ws.readonly ? "readonly = true" : "readonly = false",
	    p->ws.readonly ? p->ws.ro_file : POLICY_BUILTIN_FILE,
	    p->ws.ro_line);
	if (p->budget.tokens != 0 || p->budget.usd_file[0] != '\0') {
		char	 what[64];

		fprintf(fp, "[budget]\n");
		if (p->budget.tokens != 0) {
			snprintf(what, sizeof(what), "tokens = %llu",
			    (unsigned long long)p->budget.tokens);
			show_line(fp, what, p->budget.tokens_file,
			    p->budget.tokens_line);
		}
		if (p->budget.usd_file[0] != '\0') {
			snprintf(what, sizeof(what), "usd = \"%s\"",
			    p->budget.usd_text);
			show_line(fp, what, p->budget.usd_file,
			    p->budget.usd_line);
		}
	}
}

/* ---- settings ---- */

bool
policy_http_enabled(const struct policy *p)
{
	return p->http;
}

bool
policy_private_addresses(const struct policy *p)
{
	return p->private_addresses;
}

const char *
policy_ca_file(const struct policy *p)
{
	return p->ca_file;
}

size_t
policy_nresolve(const struct policy *p)
{
	return p->nresolve;
}

const struct config_resolve *
policy_resolve(const struct policy *p, size_t i)
{
	return i < p->nresolve ? &p->resolve[i] : NULL;
}

void
policy_budget(const struct policy *p, struct policy_budget *b)
{
	if (p == NULL)
		memset(b, 0, sizeof(*b));
	else
		*b = p->budget;
}

int
policy_vm_cpus(const struct policy *p)
{
	return p->cpus;
}

int
policy_vm_memory_mb(const struct policy *p)
{
	return p->memory_mb;
}

void
policy_workspace(const struct policy *p, struct policy_workspace *out)
{
	*out = p->ws;
}

size_t
policy_ncredentials(const struct policy *p)
{
	return p->ncreds;
}

const struct policy_credential *
policy_credential(const struct policy *p, size_t i)
{
	return i < p->ncreds ? &p->creds[i] : NULL;
}

int
policy_url_parse(const char *url, char *host, size_t hostlen, uint16_t *port,
    const char **path, size_t *pathlen, const char **why)
{
	const char *h, *e, *colon;
	unsigned long v;
	char	*end;
	size_t	 n;

	if (strncasecmp(url, "https://", 8) == 0) {
		h = url + 8;
		*port = 443;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		h = url + 7;
		*port = 80;
	} else {
		*why = "URL must start with http:// or https://";
		return -1;
	}
	e = h + strcspn(h, "/?#");
	if ((colon = memchr(h, ':', (size_t)(e - h))) != NULL) {
		if (colon + 1 == e || !isdigit((unsigned char)colon[1])) {
			*why = "bad port in URL";
			return -1;
		}
		errno = 0;
		v = strtoul(colon + 1, &end, 10);
		if (errno != 0 || end != e || v == 0 || v > 65535) {
			*why = "bad port in URL";
			return -1;
		}
		*port = (uint16_t)v;
	} else
		colon = e;
	n = (size_t)(colon - h);
	if (n == 0 || n >= hostlen || memchr(h, '@', n) != NULL) {
		*why = "bad host in URL";
		return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	*path = *e == '/' ? e : "/";	/* a query alone: path "/" */
	*pathlen = strcspn(*path, "#");	/* a fragment is not sent */
	return 0;
}
