/*
 * config_dump.c: a parsed config as JSON, for the tests (they compare it
 * with Python's tomllib reading the same file) and the fuzz target.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

struct dump {
	void	(*put)(void *, const char *, size_t);
	void	*arg;
	bool	 first;
};

static void
dput(struct dump *d, const char *s)
{
	d->put(d->arg, s, strlen(s));
}

static void
dstring(struct dump *d, const char *s)
{
	char	 esc[8];

	dput(d, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			d->put(d->arg, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			dput(d, esc);
		} else
			d->put(d->arg, s, 1);
	}
	dput(d, "\"");
}

static void
dkey(struct dump *d, const char *key)
{
	if (!d->first)
		dput(d, ",");
	d->first = false;
	dstring(d, key);
	dput(d, ":");
}

static void
dstr(struct dump *d, const char *key, const struct config_str *s)
{
	if (s->s == NULL)
		return;
	dkey(d, key);
	dstring(d, s->s);
}

static void
dlist(struct dump *d, const char *key, const struct config_strlist *l)
{
	size_t	 i;

	if (!l->set)
		return;
	dkey(d, key);
	dput(d, "[");
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			dput(d, ",");
		dstring(d, l->v[i].s);
	}
	dput(d, "]");
}

static void
dbool(struct dump *d, const char *key, const struct config_bool *b)
{
	if (!b->set)
		return;
	dkey(d, key);
	dput(d, b->v ? "true" : "false");
}

static void
dint(struct dump *d, const char *key, const struct config_int *n)
{
	char	 num[32];

	if (!n->set)
		return;
	dkey(d, key);
	snprintf(num, sizeof(num), "%" PRId64, n->v);
	dput(d, num);
}

static void
dopen(struct dump *d, const char *key)
{
	dkey(d, key);
	dput(d, "{");
	d->first = true;
}

static void
dclose(struct dump *d)
{
	dput(d, "}");
	d->first = false;
}

void
config_dump_json(const struct config *cfg, void (*put)(void *, const char *,
    size_t), void *arg)
{
	struct dump d = { put, arg, true };
	size_t	 i;

	dput(&d, "{");
	if (cfg->has_network) {
		dopen(&d, "network");
		dstr(&d, "default", &cfg->default_verdict);
		dlist(&d, "allow", &cfg->allow);
		dlist(&d, "block", &cfg->block);
		dbool(&d, "http", &cfg->http);
		dbool(&d, "private_addresses", &cfg->private_addresses);
		dclose(&d);
	}
	if (cfg->nhttp_tables > 0) {
		dopen(&d, "http");
		for (i = 0; i < cfg->nhttp_tables; i++) {
			const struct config_http *h = &cfg->http_tables[i];

			dopen(&d, h->pattern);
			dlist(&d, "allow", &h->allow);
			dlist(&d, "deny", &h->deny);
			dstr(&d, "default", &h->default_verdict);
			dbool(&d, "path_parameters", &h->path_parameters);
			dclose(&d);
		}
		dclose(&d);
	}
	if (cfg->ncredentials > 0) {
		dopen(&d, "credentials");
		for (i = 0; i < cfg->ncredentials; i++) {
			const struct config_credential *c = &cfg->credentials[i];

			dopen(&d, c->host);
			dstr(&d, "header", &c->header);
			dstr(&d, "env", &c->env);
			dclose(&d);
		}
		dclose(&d);
	}
	if (cfg->has_upstream) {
		dopen(&d, "upstream");
		dlist(&d, "resolve", &cfg->resolve);
		dstr(&d, "ca_file", &cfg->ca_file);
		dclose(&d);
	}
	if (cfg->has_vm) {
		dopen(&d, "vm");
		dint(&d, "cpus", &cfg->cpus);
		dint(&d, "memory_mb", &cfg->memory_mb);
		dclose(&d);
	}
	if (cfg->has_workspace) {
		dopen(&d, "workspace");
		dbool(&d, "allow", &cfg->ws_allow);
		dbool(&d, "readonly", &cfg->ws_readonly);
		dclose(&d);
	}
	if (cfg->has_budget) {
		dopen(&d, "budget");
		dint(&d, "tokens", &cfg->budget_tokens);
		dstr(&d, "usd", &cfg->budget_usd);
		dclose(&d);
	}
	dput(&d, "}\n");
}
