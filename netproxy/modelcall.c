/*
 * modelcall.c: model name, token counts, stop reason and tool calls from
 * the responses of the Anthropic Messages, OpenAI Responses, OpenAI Chat
 * Completions and Gemini APIs, JSON or SSE, read as the body streams.
 *
 * Each API is a table of key paths ("usage", "choices[].finish_reason")
 * matched against the scanner's path.  Values that must be read together
 * (a usage object's counts, a content block's type and name, a streamed
 * document's type and status) are collected in small scratch records and
 * applied when their object or document ends.  In SSE mode the result is
 * snapshotted before an event first changes it, so that an event dropped
 * for being too large can be undone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "modelcall.h"
#include "sse.h"

enum {				/* modelcall.mode */
	MODE_JSON,
	MODE_SSE,
	MODE_OFF,		/* unreadable: bytes are ignored */
};

/* What a place in a body means. */
enum field {
	F_NONE,
	F_MODEL,		/* string: the model */
	F_STOP,			/* string: the stop reason as is */
	F_STATUS,		/* Responses: status */
	F_INCOMPLETE,		/* Responses: incomplete_details.reason */
	F_TYPE,			/* the document's "type" */
	F_CODE,			/* the document's "code" (Responses error) */
	F_ERR_TYPE,		/* error.type / error.status */
	F_ERR_CODE,		/* error.code */
	F_FAIL_CODE,		/* Responses: response.error.code */
	F_TOOLNAME,		/* string: a tool call's name */
	F_USAGE,		/* object: token counts */
	F_TOOLOBJ,		/* object with "type", "name": maybe a call */
	F_ITEMOBJ,		/* same, counted if the document is a .done */
	T_TYPE,			/* in a tool object */
	T_NAME,
	U_IN,			/* in a usage object: */
	U_OUT,
	U_CREAD,
	U_CWRITE,
	U_CACHED,		/* the cached part of U_IN */
	U_THOUGHTS,		/* output billed beside U_OUT */
};
#define U_N	(U_THOUGHTS - U_IN + 1)

struct pat {
	const char	*path;
	enum field	 f;
};

static const struct pat anthropic_pats[] = {
	{ "model", F_MODEL },
	{ "message.model", F_MODEL },
	{ "stop_reason", F_STOP },
	{ "message.stop_reason", F_STOP },
	{ "delta.stop_reason", F_STOP },
	{ "usage", F_USAGE },
	{ "message.usage", F_USAGE },
	{ "content[]", F_TOOLOBJ },
	{ "content_block", F_TOOLOBJ },
	{ "error.type", F_ERR_TYPE },
	{ NULL, F_NONE }
};

static const struct pat anthropic_usage[] = {
	{ "input_tokens", U_IN },
	{ "output_tokens", U_OUT },
	{ "cache_read_input_tokens", U_CREAD },
	{ "cache_creation_input_tokens", U_CWRITE },
	{ NULL, F_NONE }
};

static const struct pat responses_pats[] = {
	{ "model", F_MODEL },
	{ "response.model", F_MODEL },
	{ "status", F_STATUS },
	{ "response.status", F_STATUS },
	{ "incomplete_details.reason", F_INCOMPLETE },
	{ "response.incomplete_details.reason", F_INCOMPLETE },
	{ "usage", F_USAGE },
	{ "response.usage", F_USAGE },
	{ "output[]", F_TOOLOBJ },
	{ "item", F_ITEMOBJ },
	{ "type", F_TYPE },
	{ "code", F_CODE },
	{ "error.type", F_ERR_TYPE },
	{ "error.code", F_ERR_CODE },
	{ "response.error.code", F_FAIL_CODE },
	{ NULL, F_NONE }
};

static const struct pat responses_usage[] = {
	{ "input_tokens", U_IN },
	{ "output_tokens", U_OUT },
	{ "input_tokens_details.cached_tokens", U_CACHED },
	{ NULL, F_NONE }
};

static const struct pat chat_pats[] = {
	{ "model", F_MODEL },
	{ "choices[].finish_reason", F_STOP },
	{ "choices[].delta.tool_calls[].function.name", F_TOOLNAME },
	{ "choices[].message.tool_calls[].function.name", F_TOOLNAME },
	{ "choices[].delta.tool_calls[].custom.name", F_TOOLNAME },
	{ "choices[].message.tool_calls[].custom.name", F_TOOLNAME },
	{ "choices[].delta.function_call.name", F_TOOLNAME },
	{ "choices[].message.function_call.name", F_TOOLNAME },
	{ "usage", F_USAGE },
	{ "error.type", F_ERR_TYPE },
	{ "error.code", F_ERR_CODE },
	{ NULL, F_NONE }
};

static const struct pat chat_usage[] = {
	{ "prompt_tokens", U_IN },
	{ "completion_tokens", U_OUT },
	{ "prompt_tokens_details.cached_tokens", U_CACHED },
	{ NULL, F_NONE }
};

static const struct pat gemini_pats[] = {
	{ "modelVersion", F_MODEL },
	{ "candidates[].finishReason", F_STOP },
	{ "candidates[].content.parts[].functionCall.name", F_TOOLNAME },
	{ "usageMetadata", F_USAGE },
	{ "error.status", F_ERR_TYPE },
	{ NULL, F_NONE }
};

static const struct pat gemini_usage[] = {
	{ "promptTokenCount", U_IN },
	{ "candidatesTokenCount", U_OUT },
	{ "cachedContentTokenCount", U_CACHED },
	{ "thoughtsTokenCount", U_THOUGHTS },
	{ NULL, F_NONE }
};

static const struct pat tool_pats[] = {
	{ "type", T_TYPE },
	{ "name", T_NAME },
	{ NULL, F_NONE }
};

/* What an SSE event may undo. */
struct acc {
	struct model_usage u;
	uint8_t		 tools_full;	/* a name did not fit: no more names */
};

struct usage_scratch {
	uint8_t		 active;
	size_t		 level;		/* the usage object's level */
	uint64_t	 v[U_N];
	uint8_t		 have[U_N];
};

struct tool_scratch {
	uint8_t		 active;
	uint8_t		 item;		/* F_ITEMOBJ */
	uint8_t		 name_set;
	uint8_t		 name_trunc;
	size_t		 level;
	size_t		 namelen;
	char		 type[48];
	char		 name[JSON_STR_MAX];
};

/* One JSON document: a body, or the data of one SSE event. */
struct doc_scratch {
	char		 type[64];
	char		 status[32];
	char		 incomplete[40];
	char		 code[40];
	char		 err_type[40];
	char		 err_code[40];
	char		 fail_code[40];
	uint8_t		 item_pending;
	uint8_t		 item_trunc;
	size_t		 itemlen;
	char		 item[JSON_STR_MAX];
};

struct modelcall {
	enum model_api	 api;
	int		 mode;
	uint8_t		 finished;
	uint8_t		 snapped;
	const struct pat *pats;
	const struct pat *upats;
	struct acc	 acc;
	struct acc	 snap;		/* before the current SSE event */
	char		 pathmodel[MODEL_NAME_MAX];
	size_t		 base;		/* levels above the response object */
	enum field	 want;		/* field of the string being read */
	struct usage_scratch us;
	struct tool_scratch tl;
	struct doc_scratch doc;
	uint8_t		 head[8];	/* first data bytes of an SSE event */
	size_t		 headlen;
	struct jsonscan	 js;
	struct sse	 sse;
};

static uint64_t
sat_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Before the current SSE event first changes the result. */
static void
touch(struct modelcall *mc)
{
	if (mc->mode == MODE_SSE && !mc->snapped) {
		mc->snap = mc->acc;
		mc->snapped = 1;
	}
}

/* Record that the body could not be read; the first reason is kept. */
static void
note(struct modelcall *mc, const char *why)
{
	struct model_usage *u = &mc->acc.u;

	if (u->unreadable)
		return;
	u->unreadable = 1;
	jsonscan_clean(u->why, sizeof(u->why), why, strlen(why), false, false);
}

static void
set_field(struct modelcall *mc, char *dst, size_t size, const char *s)
{
	if (strcmp(dst, s) == 0)
		return;
	touch(mc);
	snprintf(dst, size, "%s", s);
}

static void
add_tool(struct modelcall *mc, const char *name, size_t len, bool trunc)
{
	struct acc *a = &mc->acc;
	char clean[MODEL_TOOLS_MAX];
	size_t have, need;

	touch(mc);
	if (a->u.ntools < UINT32_MAX)
		a->u.ntools++;
	if (a->tools_full || len == 0)
		return;
	if (trunc || !jsonscan_clean(clean, sizeof(clean), name, len, false,
	    true)) {
		a->tools_full = 1;
		return;
	}
	have = strlen(a->u.tools);
	need = strlen(clean) + (have > 0 ? 1 : 0);
	if (need >= sizeof(a->u.tools) - have) {
		a->tools_full = 1;
		return;
	}
	snprintf(a->u.tools + have, sizeof(a->u.tools) - have, "%s%s",
	    have > 0 ? "," : "", clean);
}

static enum field
match(const struct jsonscan *js, size_t from, const struct pat *t)
{
	for (; t->path != NULL; t++)
		if (jsonscan_path(js, from, t->path))
			return t->f;
	return F_NONE;
}

static enum field
lookup(const struct modelcall *mc, const struct jsonscan *js)
{
	if (mc->us.active && js->depth > mc->us.level)
		return match(js, mc->us.level, mc->upats);
	if (mc->tl.active && js->depth > mc->tl.level)
		return match(js, mc->tl.level, tool_pats);
	if (js->depth < mc->base)
		return F_NONE;
	return match(js, mc->base, mc->pats);
}

/* A usage object ended: apply its counts by the API's rules. */
static void
usage_end(struct modelcall *mc)
{
	struct usage_scratch *us = &mc->us;
	struct model_usage *u = &mc->acc.u;
	const uint64_t *v = us->v;
	const uint8_t *h = us->have;
	size_t i;
	bool any = false;

	us->active = 0;
	for (i = 0; i < U_N; i++)
		any = any || h[i];
	if (!any)
		return;
	touch(mc);
	u->has_usage = 1;
#define V(f)	v[(f) - U_IN]
#define H(f)	h[(f) - U_IN]
	switch (mc->api) {
	case MODEL_API_ANTHROPIC_MESSAGES:
		/* uncached input already; output is cumulative in streams */
		if (H(U_IN))
			u->input_tokens = V(U_IN);
		if (H(U_CREAD))
			u->cache_read_tokens = V(U_CREAD);
		if (H(U_CWRITE))
			u->cache_write_tokens = V(U_CWRITE);
		if (H(U_OUT) && V(U_OUT) > u->output_tokens)
			u->output_tokens = V(U_OUT);
		break;
	case MODEL_API_GEMINI:
		/* each usageMetadata replaces the one before */
		u->input_tokens = sat_sub(V(U_IN), V(U_CACHED));
		u->cache_read_tokens = V(U_CACHED);
		u->cache_write_tokens = 0;
		u->output_tokens = sat_add(V(U_OUT), V(U_THOUGHTS));
		break;
	default:
		/* OpenAI: the input count includes the cached part */
		if (H(U_IN))
			u->input_tokens = sat_sub(V(U_IN), V(U_CACHED));
		if (H(U_CACHED))
			u->cache_read_tokens = V(U_CACHED);
		if (H(U_OUT))
			u->output_tokens = V(U_OUT);
		break;
	}
#undef V
#undef H
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* An object with "type" and "name" ended: was it a tool call? */
static void
tool_end(struct modelcall *mc)
{
	struct tool_scratch *tl = &mc->tl;
	struct doc_scratch *d = &mc->doc;
	const char *name = tl->name;
	size_t len = tl->namelen, n;
	bool trunc = tl->name_trunc;
	char derived[sizeof(tl->type)];

	tl->active = 0;
	if (mc->api == MODEL_API_ANTHROPIC_MESSAGES) {
		/* tool_use, server_tool_use, mcp_tool_use */
		if (!ends_with(tl->type, "tool_use"))
			return;
	} else if (strcmp(tl->type, "function_call") == 0 ||
	    strcmp(tl->type, "custom_tool_call") == 0 ||
	    strcmp(tl->type, "mcp_call") == 0) {
		/* named by the model's tool definition */
	} else if (strcmp(tl->type, "local_shell_call") == 0) {
		name = "local_shell";
		len = strlen(name);
		trunc = false;
	} else if (ends_with(tl->type, "_call")) {
		/* built-in tools: web_search_call -> web_search */
		n = strlen(tl->type) - 5;
		memcpy(derived, tl->type, n);
		derived[n] = '\0';
		name = derived;
		len = n;
		trunc = false;
	} else
		return;
	if (!tl->item) {
		add_tool(mc, name, len, trunc);
		return;
	}
	/* a streamed item: counted once, when its document is a .done */
	d->item_pending = 1;
	d->item_trunc = trunc;
	d->itemlen = len;
	memcpy(d->item, name, len);
}

/* The top-level value of a body or of an SSE event ended. */
static void
doc_end(struct modelcall *mc)
{
	struct doc_scratch *d = &mc->doc;
	char buf[MODEL_STOP_MAX];

	if (mc->api == MODEL_API_OPENAI_RESPONSES && d->status[0] != '\0') {
		if (d->incomplete[0] != '\0')
			snprintf(buf, sizeof(buf), "incomplete:%s",
			    d->incomplete);
		else if (strcmp(d->status, "failed") == 0 &&
		    d->fail_code[0] != '\0')
			snprintf(buf, sizeof(buf), "failed:%s", d->fail_code);
		else
			snprintf(buf, sizeof(buf), "%s", d->status);
		set_field(mc, mc->acc.u.stop_reason, MODEL_STOP_MAX, buf);
	}
	if (d->err_type[0] != '\0' || d->err_code[0] != '\0') {
		snprintf(buf, sizeof(buf), "error:%s",
		    d->err_type[0] != '\0' ? d->err_type : d->err_code);
		set_field(mc, mc->acc.u.stop_reason, MODEL_STOP_MAX, buf);
	} else if (mc->api == MODEL_API_OPENAI_RESPONSES &&
	    strcmp(d->type, "error") == 0 && d->code[0] != '\0') {
		snprintf(buf, sizeof(buf), "error:%s", d->code);
		set_field(mc, mc->acc.u.stop_reason, MODEL_STOP_MAX, buf);
	}
	if (d->item_pending &&
	    strcmp(d->type, "response.output_item.done") == 0)
		add_tool(mc, d->item, d->itemlen, d->item_trunc);
	memset(d, 0, sizeof(*d));
}

static bool
is_string_field(enum field f)
{
	return (f >= F_MODEL && f <= F_TOOLNAME) || f == T_TYPE ||
	    f == T_NAME;
}

static void
on_string(struct modelcall *mc, const struct jsonscan *js)
{
	struct doc_scratch *d = &mc->doc;
	char tmp[MODEL_NAME_MAX];
	char *dst = NULL;
	size_t size = 0;

	switch (mc->want) {
	case F_MODEL:
	case F_STOP:
		if (js->strlen == 0)
			return;
		jsonscan_clean(tmp, mc->want == F_MODEL ? MODEL_NAME_MAX :
		    MODEL_STOP_MAX, js->str, js->strlen, js->strtrunc, false);
		if (mc->want == F_MODEL)
			set_field(mc, mc->acc.u.model, MODEL_NAME_MAX, tmp);
		else
			set_field(mc, mc->acc.u.stop_reason, MODEL_STOP_MAX,
			    tmp);
		return;
	case F_TOOLNAME:
		/* a streamed call's name is in its first delta only */
		if (js->strlen > 0)
			add_tool(mc, js->str, js->strlen, js->strtrunc);
		return;
	case T_NAME:
		memcpy(mc->tl.name, js->str, js->strlen);
		mc->tl.namelen = js->strlen;
		mc->tl.name_trunc = js->strtrunc;
		mc->tl.name_set = 1;
		return;
	case T_TYPE:
		dst = mc->tl.type, size = sizeof(mc->tl.type);
		break;
	case F_TYPE:
		dst = d->type, size = sizeof(d->type);
		break;
	case F_STATUS:
		dst = d->status, size = sizeof(d->status);
		break;
	case F_INCOMPLETE:
		dst = d->incomplete, size = sizeof(d->incomplete);
		break;
	case F_CODE:
		dst = d->code, size = sizeof(d->code);
		break;
	case F_ERR_TYPE:
		dst = d->err_type, size = sizeof(d->err_type);
		break;
	case F_ERR_CODE:
		dst = d->err_code, size = sizeof(d->err_code);
		break;
	case F_FAIL_CODE:
		dst = d->fail_code, size = sizeof(d->fail_code);
		break;
	default:
		return;
	}
	jsonscan_clean(dst, size, js->str, js->strlen, js->strtrunc, false);
}

static int
on_json(void *arg, const struct jsonscan *js, enum json_ev ev)
{
	struct modelcall *mc = arg;
	enum field f;

	switch (ev) {
	case JSON_EV_BEGIN:
		if (js->depth == 0) {
			/* Gemini streamed without SSE: an array of responses */
			mc->base = mc->api == MODEL_API_GEMINI && !js->ev_obj;
			return 0;
		}
		if (!js->ev_obj)
			return 0;
		f = lookup(mc, js);
		if (f == F_USAGE && !mc->us.active) {
			memset(&mc->us, 0, sizeof(mc->us));
			mc->us.active = 1;
			mc->us.level = js->depth;
		} else if ((f == F_TOOLOBJ || f == F_ITEMOBJ) &&
		    !mc->tl.active) {
			memset(&mc->tl, 0, sizeof(mc->tl));
			mc->tl.active = 1;
			mc->tl.item = f == F_ITEMOBJ;
			mc->tl.level = js->depth;
		}
		return 0;
	case JSON_EV_END:
		if (mc->us.active && js->depth == mc->us.level)
			usage_end(mc);
		if (mc->tl.active && js->depth == mc->tl.level)
			tool_end(mc);
		return 0;
	case JSON_EV_WANT:
		mc->want = lookup(mc, js);
		return is_string_field(mc->want);
	case JSON_EV_STRING:
		on_string(mc, js);
		return 0;
	case JSON_EV_NUMBER:
		if (!js->num_ok || !mc->us.active)
			return 0;
		f = lookup(mc, js);
		if (f >= U_IN && f <= U_THOUGHTS) {
			mc->us.v[f - U_IN] = js->num;
			mc->us.have[f - U_IN] = 1;
		}
		return 0;
	case JSON_EV_DONE:
		doc_end(mc);
		return 0;
	case JSON_EV_LITERAL:
		return 0;
	}
	return 0;
}

/* Forget the scratch of a document (a new SSE event starts). */
static void
doc_reset(struct modelcall *mc)
{
	jsonscan_reset(&mc->js);
	memset(&mc->us, 0, sizeof(mc->us));
	memset(&mc->tl, 0, sizeof(mc->tl));
	memset(&mc->doc, 0, sizeof(mc->doc));
	mc->base = 0;
	mc->headlen = 0;
}

static void
on_sse_data(void *arg, const uint8_t *p, size_t n)
{
	struct modelcall *mc = arg;
	size_t k = sizeof(mc->head) - mc->headlen;

	if (k > n)
		k = n;
	memcpy(mc->head + mc->headlen, p, k);
	mc->headlen += k;
	jsonscan_feed(&mc->js, p, n);
}

static void
on_sse_event(void *arg, const struct sse *s)
{
	struct modelcall *mc = arg;
	char why[MODEL_WHY_MAX];

	if (s->oversized) {
		/* dropped: undo what its first bytes did */
		if (mc->snapped)
			mc->acc = mc->snap;
		if (mc->acc.u.skipped_events < UINT32_MAX)
			mc->acc.u.skipped_events++;
	} else if (jsonscan_end(&mc->js) == JSON_ERROR &&
	    mc->js.err != JSON_E_EMPTY &&
	    !(s->datalen == 6 && memcmp(mc->head, "[DONE]", 6) == 0)) {
		snprintf(why, sizeof(why), "event %s",
		    jsonscan_strerror(mc->js.err));
		note(mc, why);
	}
	mc->snapped = 0;
	doc_reset(mc);
}

/* Where the model name sits in a Gemini path: models/<model>:method */
static void
gemini_path_model(char *dst, size_t size, const char *path, size_t len)
{
	const char *q = memchr(path, '?', len), *m, *colon;
	size_t plen = q != NULL ? (size_t)(q - path) : len;

	dst[0] = '\0';
	for (m = path; m + 7 <= path + plen; m++)
		if (memcmp(m, "models/", 7) == 0)
			break;
	if (m + 7 > path + plen)
		return;
	m += 7;
	colon = memchr(m, ':', plen - (size_t)(m - path));
	if (colon == NULL)
		return;
	jsonscan_clean(dst, size, m, (size_t)(colon - m), false, false);
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool
span_ieq(const char *p, size_t n, const char *s)
{
	size_t i;

	if (strlen(s) != n)
		return false;
	for (i = 0; i < n; i++)
		if (lower(p[i]) != s[i])
			return false;
	return true;
}

struct modelcall *
modelcall_new(enum model_api api, const char *path, size_t pathlen,
    const char *content_type)
{
	struct modelcall *mc;
	const char *p, *e;
	char why[MODEL_WHY_MAX], media[64];

	if ((mc = calloc(1, sizeof(*mc))) == NULL)
		return NULL;
	mc->api = mc->acc.u.api = api;
	switch (api) {
	case MODEL_API_ANTHROPIC_MESSAGES:
		mc->pats = anthropic_pats, mc->upats = anthropic_usage;
		break;
	case MODEL_API_OPENAI_RESPONSES:
		mc->pats = responses_pats, mc->upats = responses_usage;
		break;
	case MODEL_API_OPENAI_CHAT:
		mc->pats = chat_pats, mc->upats = chat_usage;
		break;
	case MODEL_API_GEMINI:
		mc->pats = gemini_pats, mc->upats = gemini_usage;
		if (path != NULL)
			gemini_path_model(mc->pathmodel,
			    sizeof(mc->pathmodel), path, pathlen);
		break;
	default:
		mc->mode = MODE_OFF;
		note(mc, "not a model API");
		return mc;
	}
	jsonscan_init(&mc->js, on_json, mc);
	sse_init(&mc->sse, SSE_DATA_MAX, on_sse_data, on_sse_event, mc);
	if (content_type == NULL) {
		mc->mode = MODE_OFF;
		note(mc, "no content-type");
		return mc;
	}
	/* the media type, without parameters or blanks */
	for (p = content_type; *p == ' ' || *p == '\t'; p++)
		;
	for (e = p; *e != '\0' && *e != ';'; e++)
		;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (span_ieq(p, (size_t)(e - p), "text/event-stream")) {
		mc->mode = MODE_SSE;
		mc->acc.u.streamed = 1;
	} else if (span_ieq(p, (size_t)(e - p), "application/json"))
		mc->mode = MODE_JSON;
	else {
		mc->mode = MODE_OFF;
		jsonscan_clean(media, sizeof(media), p, (size_t)(e - p), false,
		    false);
		snprintf(why, sizeof(why), "content-type %s", media);
		note(mc, why);
	}
	return mc;
}

void
modelcall_feed(struct modelcall *mc, const void *body, size_t len)
{
	if (mc == NULL || mc->finished || body == NULL || len == 0)
		return;
	if (mc->mode == MODE_JSON) {
		if (jsonscan_feed(&mc->js, body, len) == JSON_ERROR) {
			note(mc, mc->js.done ? "data after JSON" :
			    jsonscan_strerror(mc->js.err));
			mc->mode = MODE_OFF;
		}
	} else if (mc->mode == MODE_SSE)
		sse_feed(&mc->sse, body, len);
}

void
modelcall_unreadable(struct modelcall *mc, const char *why)
{
	if (mc == NULL || mc->finished)
		return;
	note(mc, why != NULL ? why : "unreadable");
	mc->mode = MODE_OFF;
}

void
modelcall_finish(struct modelcall *mc, bool body_complete,
    struct model_usage *out)
{
	if (mc == NULL) {
		memset(out, 0, sizeof(*out));
		out->unreadable = 1;
		snprintf(out->why, sizeof(out->why), "out of memory");
		return;
	}
	if (!mc->finished) {
		mc->finished = 1;
		if (!body_complete)
			note(mc, "truncated");
		if (mc->mode == MODE_JSON) {
			if (jsonscan_end(&mc->js) == JSON_ERROR)
				note(mc, jsonscan_strerror(mc->js.err));
		} else if (mc->mode == MODE_SSE)
			sse_flush(&mc->sse);
		if (mc->acc.u.model[0] == '\0')
			snprintf(mc->acc.u.model, sizeof(mc->acc.u.model),
			    "%s", mc->pathmodel);
	}
	*out = mc->acc.u;
}

void
modelcall_free(struct modelcall *mc)
{
	free(mc);
}

/* Whether the span p[0..n) is exactly s. */
static bool
span_eq(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

static bool
gemini_method_path(const char *p, size_t n)
{
	size_t pre, i;

	if (n > 15 && memcmp(p, "/v1beta/models/", 15) == 0)
		pre = 15;
	else if (n > 11 && memcmp(p, "/v1/models/", 11) == 0)
		pre = 11;
	else
		return false;
	/* the model: a name of [A-Za-z0-9._-] starting with a letter/digit */
	for (i = pre; i < n && p[i] != ':'; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') ||
		    (i > pre && (c == '.' || c == '-' || c == '_'))))
			return false;
	}
	if (i == pre || i == n)
		return false;
	return span_eq(p + i, n - i, ":generateContent") ||
	    span_eq(p + i, n - i, ":streamGenerateContent");
}

enum model_api
modelcall_classify(const char *host, const char *method, const char *path,
    size_t pathlen)
{
	const char *q;
	size_t n;

	if (host == NULL || method == NULL || path == NULL ||
	    strcmp(method, "POST") != 0)
		return MODEL_API_NONE;
	q = memchr(path, '?', pathlen);
	n = q != NULL ? (size_t)(q - path) : pathlen;
	/*
	 * The judged path keeps one trailing '/' (policyd refuses "//"): an
	 * endpoint with it counts as the endpoint, whether or not the API
	 * serves it, so that no spelling escapes the record or the budget.
	 */
	if (n > 1 && path[n - 1] == '/')
		n--;
	if (strcmp(host, "api.anthropic.com") == 0)
		return span_eq(path, n, "/v1/messages") ?
		    MODEL_API_ANTHROPIC_MESSAGES : MODEL_API_NONE;
	if (strcmp(host, "api.openai.com") == 0) {
		if (span_eq(path, n, "/v1/responses"))
			return MODEL_API_OPENAI_RESPONSES;
		if (span_eq(path, n, "/v1/chat/completions"))
			return MODEL_API_OPENAI_CHAT;
		return MODEL_API_NONE;
	}
	if (strcmp(host, "generativelanguage.googleapis.com") == 0 &&
	    gemini_method_path(path, n))
		return MODEL_API_GEMINI;
	return MODEL_API_NONE;
}
