/*
 * modeltap.c: a model-API call's usage, read from its response as it is
 * forwarded.  The request is classified when it goes upstream (by host,
 * method and target: modelcall_classify); the decoded body bytes pumped to
 * the client are fed, as a copy, to modelcall; when the exchange ends, in
 * any way, the call goes to policyd as MSG_MODEL_EVENT.  Nothing here can
 * hold or change a byte to the guest: a body that cannot be read is
 * recorded as unreadable.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "modelcall.h"
#include "netproxy.h"

/* MSG_MODEL_EVENT's api numbers are modelcall's */
_Static_assert(MODEL_EVENT_ANTHROPIC_MESSAGES ==
    (int)MODEL_API_ANTHROPIC_MESSAGES && MODEL_EVENT_OPENAI_RESPONSES ==
    (int)MODEL_API_OPENAI_RESPONSES && MODEL_EVENT_OPENAI_CHAT ==
    (int)MODEL_API_OPENAI_CHAT && MODEL_EVENT_GEMINI == (int)MODEL_API_GEMINI,
    "model API numbers differ");

bool
modeltap_request(struct np_conn *c, const uint8_t *buf)
{
	const struct http_request *req = &c->req;
	char	 target[MSG_PATH_MAX + 2];
	const uint8_t *query;
	size_t	 qlen = 0;
	int	 n;

	c->model_api = MODEL_API_NONE;
	if (c->kind != CONN_HTTPS || req->head.upgrade_websocket)
		return false;
	/* the target as it goes upstream: the judged path, the query */
	query = memchr(buf + req->origin.off, '?', req->origin.len);
	if (query != NULL)
		qlen = req->origin.len - (size_t)(query - (buf +
		    req->origin.off));
	n = snprintf(target, sizeof(target), "%s%.*s", c->npath, (int)qlen,
	    query != NULL ? (const char *)query : "");
	if (n < 0 || (size_t)n >= sizeof(target))
		return false;
	c->model_api = modelcall_classify(c->host, c->method, target,
	    (size_t)n);
	/* the record keeps the first bytes (msg_model_event.path) */
	if (c->model_api != MODEL_API_NONE &&
	    snprintf(c->model_target, sizeof(c->model_target), "%s", target) <
	    0)
		c->model_target[0] = '\0';
	return c->model_api != MODEL_API_NONE;
}

/* The value of a response field, NUL-terminated in out ("" if absent). */
static void
field_value(const struct http_response *resp, const uint8_t *buf,
    const char *name, char *out, size_t outlen)
{
	size_t	 i;

	out[0] = '\0';
	for (i = 0; i < resp->head.nfields; i++) {
		const struct http_field *f = &resp->head.fields[i];

		if (http_span_eq(buf, f->name, name)) {
			snprintf(out, outlen, "%.*s", (int)f->value.len,
			    (const char *)buf + f->value.off);
			return;
		}
	}
}

void
modeltap_response(struct np_conn *c, const uint8_t *buf)
{
	char	 ctype[128], cenc[64], why[96];

	if (c->model_api == MODEL_API_NONE || c->resp.status < 200)
		return;
	field_value(&c->resp, buf, "content-type", ctype, sizeof(ctype));
	field_value(&c->resp, buf, "content-encoding", cenc, sizeof(cenc));
	c->resp_body.model = modelcall_new(c->model_api, c->model_target,
	    strlen(c->model_target), ctype[0] != '\0' ? ctype : NULL);
	if (c->resp_body.model == NULL) {
		/* an unread call would escape the record and the budget */
		log_warnx("model call %s: out of memory, stream closed",
		    c->host);
		c->dead = true;
		return;
	}
	if (cenc[0] != '\0' && strcasecmp(cenc, "identity") != 0) {
		snprintf(why, sizeof(why), "content-encoding %.60s", cenc);
		modelcall_unreadable(c->resp_body.model, why);
	}
}

void
modeltap_feed(struct np_body *b, const uint8_t *data, size_t len)
{
	if (b->model != NULL && len > 0)
		modelcall_feed(b->model, data, len);
}

void
modeltap_end(struct np_conn *c, bool complete)
{
	struct msg_model_event me;
	struct model_usage u;

	if (c->resp_body.model == NULL)
		return;
	modelcall_finish(c->resp_body.model, complete, &u);
	modelcall_free(c->resp_body.model);
	c->resp_body.model = NULL;
	memset(&me, 0, sizeof(me));
	me.api = (uint32_t)u.api;
	me.status = (uint32_t)(c->status < 0 ? 0 : c->status);
	me.input_tokens = u.input_tokens;
	me.output_tokens = u.output_tokens;
	me.cache_read_tokens = u.cache_read_tokens;
	me.cache_write_tokens = u.cache_write_tokens;
	if (c->started_us != 0)
		me.duration_us = np_now_us() - c->started_us;
	me.ntools = u.ntools;
	me.streamed = u.streamed;
	me.has_usage = u.has_usage;
	me.unreadable = u.unreadable;
	snprintf(me.host, sizeof(me.host), "%s", c->host);
	snprintf(me.path, sizeof(me.path), "%s", c->model_target);
	snprintf(me.model, sizeof(me.model), "%s", u.model);
	snprintf(me.stop_reason, sizeof(me.stop_reason), "%s", u.stop_reason);
	snprintf(me.tools, sizeof(me.tools), "%s", u.tools);
	snprintf(me.why, sizeof(me.why), "%s", u.why);
	c->np->counters_model++;
	if (c->np->policyd != NULL)
		(void)np_send_policyd(c->np, MSG_MODEL_EVENT, 0, &me,
		    sizeof(me), NULL, 0);
}
