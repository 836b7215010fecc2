/*
 * modelcall: what one model API call cost, read from the response body as
 * it streams through the proxy.
 *
 * The proxy forwards response bytes untouched and feeds a copy here; the
 * parser never buffers a body or an SSE event (data bytes go straight into
 * a streaming JSON scanner), so memory is a few KiB whatever the body.
 * Bodies are untrusted: a body that cannot be read is recorded as such
 * (unreadable and a short reason) with whatever was read before it, never
 * an error for the caller.
 */
#ifndef NETPROXY_MODELCALL_H
#define NETPROXY_MODELCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum model_api {
	MODEL_API_NONE = 0,
	MODEL_API_ANTHROPIC_MESSAGES,	/* POST api.anthropic.com /v1/messages */
	MODEL_API_OPENAI_RESPONSES,	/* POST api.openai.com /v1/responses */
	MODEL_API_OPENAI_CHAT,		/* POST api.openai.com /v1/chat/completions */
	MODEL_API_GEMINI,		/* POST generativelanguage.googleapis.com
					   /v1beta|/v1/models/<m>:generateContent
					   or :streamGenerateContent */
};

#define MODEL_NAME_MAX	128
#define MODEL_STOP_MAX	64
#define MODEL_TOOLS_MAX	256	/* tool names, comma-separated, truncated at a name boundary */
#define MODEL_WHY_MAX	96

struct model_usage {
	enum model_api api;
	char	 model[MODEL_NAME_MAX];	/* as the response names it; Gemini:
					   modelVersion, else from the path */
	uint64_t input_tokens;		/* uncached input (input rate) */
	uint64_t output_tokens;		/* incl. reasoning/thinking tokens */
	uint64_t cache_read_tokens;
	uint64_t cache_write_tokens;
	char	 stop_reason[MODEL_STOP_MAX];
	char	 tools[MODEL_TOOLS_MAX];
	uint32_t ntools;		/* tool calls seen (even if names truncated) */
	uint32_t skipped_events;	/* SSE events over the data bound */
	uint8_t	 streamed;		/* SSE */
	uint8_t	 has_usage;		/* usage fields were found */
	uint8_t	 unreadable;		/* could not be read: see why */
	char	 why[MODEL_WHY_MAX];	/* "" or e.g. "not JSON", "truncated" */
};

/*
 * Which API a request is.  host: lower case, no port; path: the request
 * target including the query, normalised by policyd (one trailing '/'
 * is the endpoint itself).  Anything not exactly one of the model call
 * endpoints (count_tokens, countTokens, "..", other methods) is NONE.
 */
enum model_api modelcall_classify(const char *host, const char *method,
	    const char *path, size_t pathlen);

struct modelcall;

/*
 * content_type: the response's Content-Type (may be NULL):
 * text/event-stream is read as SSE, application/json as JSON, anything
 * else makes the call unreadable ("content-type X").  path: the request
 * target, for Gemini's model name.  NULL only when out of memory (the
 * other functions accept NULL).
 */
struct modelcall *modelcall_new(enum model_api, const char *path,
	    size_t pathlen, const char *content_type);
/* Decoded body bytes (after chunked de-framing), split anywhere. */
void	modelcall_feed(struct modelcall *, const void *body, size_t len);
/* Give up on the body (e.g. "content-encoding gzip"): later bytes are
   ignored and the result is unreadable with this reason. */
void	modelcall_unreadable(struct modelcall *, const char *why);
/* body_complete false: the response was cut short. */
void	modelcall_finish(struct modelcall *, bool body_complete,
	    struct model_usage *out);
void	modelcall_free(struct modelcall *);

#endif
