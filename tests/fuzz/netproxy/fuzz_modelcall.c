/*
 * libFuzzer: model call accounting.  Input: one byte choosing the API,
 * JSON or SSE and whether the body is complete; one byte seeding the sizes
 * of the pieces the body is fed in; the body.  The body is also fed whole
 * and the two results must be the same.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "modelcall.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *paths[] = {
	"/v1/messages?beta=true",
	"/v1/responses",
	"/v1/chat/completions",
	"/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
};

static void
read_body(enum model_api api, bool sse, bool complete, const uint8_t *body,
    size_t len, uint8_t seed, struct model_usage *out)
{
	const char *path = paths[api - 1];
	struct modelcall *mc;
	uint32_t x = seed * 2654435761u + 1;
	size_t i, n;

	mc = modelcall_new(api, path, strlen(path),
	    sse ? "text/event-stream" : "application/json");
	if (mc == NULL)
		__builtin_trap();
	for (i = 0; i < len; i += n) {
		if (seed == 0)
			n = len - i;
		else {
			x = x * 1103515245u + 12345u;
			n = 1 + (x >> 16) % (1 + seed % 64);
			if (n > len - i)
				n = len - i;
		}
		modelcall_feed(mc, body + i, n);
	}
	modelcall_finish(mc, complete, out);
	modelcall_free(mc);
}

static bool
cstr_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model_usage a, b;
	enum model_api api;
	bool sse, complete;
	static const char *hosts[] = { "api.anthropic.com", "api.openai.com",
	    "generativelanguage.googleapis.com" };
	size_t i;

	if (size < 2)
		return 0;
	for (i = 0; i < 3; i++)
		(void)modelcall_classify(hosts[i], "POST",
		    (const char *)data + 2, size - 2);
	api = (enum model_api)(1 + (data[0] & 3));
	sse = (data[0] & 4) != 0;
	complete = (data[0] & 8) == 0;
	read_body(api, sse, complete, data + 2, size - 2, 0, &a);
	read_body(api, sse, complete, data + 2, size - 2, data[1] | 1, &b);
	if (!cstr_ok(a.model, sizeof(a.model)) ||
	    !cstr_ok(a.stop_reason, sizeof(a.stop_reason)) ||
	    !cstr_ok(a.tools, sizeof(a.tools)) ||
	    !cstr_ok(a.why, sizeof(a.why)))
		__builtin_trap();
	/* the result must not depend on how the body was split */
	if (strcmp(a.model, b.model) != 0 ||
	    strcmp(a.stop_reason, b.stop_reason) != 0 ||
	    strcmp(a.tools, b.tools) != 0 || strcmp(a.why, b.why) != 0 ||
	    a.input_tokens != b.input_tokens ||
	    a.output_tokens != b.output_tokens ||
	    a.cache_read_tokens != b.cache_read_tokens ||
	    a.cache_write_tokens != b.cache_write_tokens ||
	    a.ntools != b.ntools || a.has_usage != b.has_usage ||
	    a.unreadable != b.unreadable || a.streamed != b.streamed ||
	    a.skipped_events != b.skipped_events)
		__builtin_trap();
	if (a.unreadable != (a.why[0] != '\0'))
		__builtin_trap();
	return 0;
}
