/*
 * Unit tests: model call accounting from API response bodies (JSON and
 * SSE, every API), fed whole, split at every byte and byte by byte; hostile
 * bodies; endpoint classification; the SSE reader and JSON scanner.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "modelcall.h"
#include "sse.h"

/* Realistic bodies, written from the public API documentation. */
static const char body_anthropic_json[] =
    "{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role"
    "\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\""
    ":[{\"type\":\"thinking\",\"thinking\":\"Let me think \\u2014 about \\"
    "\"this\\\"\\n\\tand that.\",\"signature\":\"EqQBCgIYAhIMzLw==\"},{\""
    "type\":\"text\",\"text\":\"I'll check the weather in Z\\u00fcrich \\"
    "ud83c\\udf26. PAD\"},{\"type\":\"tool_use\",\"id\":\"toolu_01A09q90q"
    "w90lq917835lq9\",\"name\":\"get_weather\",\"input\":{\"location\":\""
    "Z\\u00fcrich\",\"unit\":\"celsius\",\"model\":\"not-this\",\"usage\""
    ":{\"input_tokens\":999999},\"nested\":[1,2.5,-3e2,{\"a\":null,\"b\":"
    "true,\"c\":false},[[],{}]]}},{\"type\":\"server_tool_use\",\"id\":\""
    "srvtoolu_01\",\"name\":\"web_search\",\"input\":{\"query\":\"weather"
    "\"}},{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"srvtoolu"
    "_01\",\"content\":[]},{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"n"
    "ame\":\"search_docs\",\"input\":{}}],\"stop_reason\":\"tool_use\",\""
    "stop_sequence\":null,\"usage\":{\"input_tokens\":2095,\"cache_creati"
    "on_input_tokens\":1024,\"cache_read_input_tokens\":4096,\"cache_crea"
    "tion\":{\"ephemeral_5m_input_tokens\":1024,\"ephemeral_1h_input_toke"
    "ns\":0},\"output_tokens\":503,\"server_tool_use\":{\"web_search_requ"
    "ests\":1},\"service_tier\":\"standard\"}}\n";

static const char body_anthropic_sse[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1nZdL29x"
    "x5MUA1yADyHTEsnR8uuvGzszyY\",\"type\":\"message\",\"role\":\"assista"
    "nt\",\"content\":[],\"model\":\"claude-opus-4-1-20250805\",\"stop_re"
    "ason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\""
    "cache_creation_input_tokens\":0,\"cache_read_input_tokens\":12288,\""
    "output_tokens\":2}}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\""
    ":{\"type\":\"thinking\",\"thinking\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"typ"
    "e\":\"thinking_delta\",\"thinking\":\"The user wants a listing. PAD\""
    "}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\""
    ":{\"type\":\"text\",\"text\":\"\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"typ"
    "e\":\"text_delta\",\"text\":\"Okay, let\\u0027s see \\ud83d\\ude00 \\"
    "\\ \\\"quoted\\\" PAD\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\""
    ":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\""
    "name\":\"Bash\",\"input\":{}}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"typ"
    "e\":\"input_json_delta\",\"partial_json\":\"{\\\"command\\\": \\\"ls"
    " -la\\\", \\\"usage\\\": {\\\"output_tokens\\\": 7}}\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":2}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_"
    "use\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":472,\"cach"
    "e_creation_input_tokens\":0,\"cache_read_input_tokens\":12288,\"outp"
    "ut_tokens\":89}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

static const char body_responses_json[] =
    "{\"id\":\"resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b\",\""
    "object\":\"response\",\"created_at\":1741476542,\"status\":\"complet"
    "ed\",\"error\":null,\"incomplete_details\":null,\"instructions\":nul"
    "l,\"max_output_tokens\":null,\"model\":\"gpt-5-2025-08-07\",\"output"
    "\":[{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]},{\"type\""
    ":\"message\",\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"as"
    "sistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Sure \\u"
    "2014 calling tools. PAD\",\"annotations\":[]}]},{\"type\":\"function"
    "_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"get_curren"
    "t_weather\",\"arguments\":\"{\\\"location\\\":\\\"Boston, MA\\\"}\","
    "\"status\":\"completed\"},{\"type\":\"local_shell_call\",\"id\":\"ls"
    "h_1\",\"call_id\":\"call_2\",\"action\":{\"type\":\"exec\",\"command"
    "\":[\"ls\"]},\"status\":\"completed\"},{\"type\":\"web_search_call\""
    ",\"id\":\"ws_1\",\"status\":\"completed\"}],\"parallel_tool_calls\":"
    "true,\"previous_response_id\":null,\"reasoning\":{\"effort\":\"mediu"
    "m\",\"summary\":null},\"store\":true,\"temperature\":1.0,\"text\":{\""
    "format\":{\"type\":\"text\"}},\"tool_choice\":\"auto\",\"tools\":[{\""
    "type\":\"function\",\"name\":\"get_current_weather\",\"parameters\":"
    "{}}],\"top_p\":1.0,\"truncation\":\"disabled\",\"usage\":{\"input_to"
    "kens\":1328,\"input_tokens_details\":{\"cached_tokens\":1024},\"outp"
    "ut_tokens\":450,\"output_tokens_details\":{\"reasoning_tokens\":256}"
    ",\"total_tokens\":1778},\"user\":null,\"metadata\":{}}";

static const char body_responses_sse[] =
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"respons"
    "e\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":174129"
    "0958,\"status\":\"in_progress\",\"error\":null,\"incomplete_details\""
    ":null,\"model\":\"gpt-4.1-2025-04-14\",\"output\":[],\"usage\":null}"
    "}\n"
    "\n"
    "event: response.in_progress\n"
    "data: {\"type\":\"response.in_progress\",\"sequence_number\":1,\"res"
    "ponse\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_p"
    "rogress\",\"model\":\"gpt-4.1-2025-04-14\",\"output\":[],\"usage\":n"
    "ull}}\n"
    "\n"
    "event: response.output_item.added\n"
    "data: {\"type\":\"response.output_item.added\",\"sequence_number\":2"
    ",\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\","
    "\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n"
    "\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":3"
    ",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delt"
    "a\":\"Hi \\u00e9\\u4e16\\u754c PAD\"}\n"
    "\n"
    "event: response.output_item.added\n"
    "data: {\"type\":\"response.output_item.added\",\"sequence_number\":5"
    ",\"output_index\":1,\"item\":{\"id\":\"fc_1\",\"type\":\"function_ca"
    "ll\",\"status\":\"in_progress\",\"arguments\":\"\",\"call_id\":\"cal"
    "l_1\",\"name\":\"get_weather\"}}\n"
    "\n"
    "event: response.function_call_arguments.delta\n"
    "data: {\"type\":\"response.function_call_arguments.delta\",\"sequenc"
    "e_number\":6,\"item_id\":\"fc_1\",\"output_index\":1,\"delta\":\"{\\"
    "\"location\\\":\"}\n"
    "\n"
    "event: response.output_item.done\n"
    "data: {\"type\":\"response.output_item.done\",\"sequence_number\":7,"
    "\"output_index\":1,\"item\":{\"id\":\"fc_1\",\"type\":\"function_cal"
    "l\",\"status\":\"completed\",\"arguments\":\"{\\\"location\\\":\\\"P"
    "aris\\\"}\",\"call_id\":\"call_1\",\"name\":\"get_weather\"}}\n"
    "\n"
    "event: response.output_item.done\n"
    "data: {\"item\":{\"name\":\"apply_patch\",\"type\":\"custom_tool_cal"
    "l\",\"id\":\"ctc_1\",\"input\":\"*** Begin Patch\"},\"output_index\""
    ":2,\"sequence_number\":8,\"type\":\"response.output_item.done\"}\n"
    "\n"
    "event: response.completed\n"
    "data: {\"type\":\"response.completed\",\"sequence_number\":9,\"respo"
    "nse\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"comple"
    "ted\",\"error\":null,\"incomplete_details\":null,\"model\":\"gpt-4.1"
    "-2025-04-14\",\"output\":[{\"id\":\"fc_1\",\"type\":\"function_call\""
    ",\"name\":\"get_weather\",\"arguments\":\"{}\"}],\"usage\":{\"input_"
    "tokens\":37,\"input_tokens_details\":{\"cached_tokens\":0},\"output_"
    "tokens\":11,\"output_tokens_details\":{\"reasoning_tokens\":0},\"tot"
    "al_tokens\":48}}}\n"
    "\n";

static const char body_chat_json[] =
    "{\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat"
    ".completion\",\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\""
    ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"con"
    "tent\":\"PAD\",\"tool_calls\":[{\"id\":\"call_abc\",\"type\":\"funct"
    "ion\",\"function\":{\"name\":\"get_current_weather\",\"arguments\":\""
    "{\\\"location\\\": \\\"Boston, MA\\\"}\"}},{\"id\":\"call_def\",\"ty"
    "pe\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":"
    "\"{}\"}}],\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"f"
    "inish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":1117,\""
    "completion_tokens\":46,\"total_tokens\":1163,\"prompt_tokens_details"
    "\":{\"cached_tokens\":1024,\"audio_tokens\":0},\"completion_tokens_d"
    "etails\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_predi"
    "ction_tokens\":0,\"rejected_prediction_tokens\":0}},\"service_tier\""
    ":\"default\",\"system_fingerprint\":\"fp_fc9f1d7035\"}\n";

static const char body_chat_sse[] =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\""
    "created\":1694268190,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_f"
    "ingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0"
    ",\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"re"
    "ad_file\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\""
    ":null}],\"usage\":null}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\""
    "created\":1694268190,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_f"
    "ingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"content\":\"PAD\"},\"logprobs\":null,\"finish_reason\":null}],\"us"
    "age\":null}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\""
    "created\":1694268190,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_f"
    "ingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"path"
    "\\\":\"}}]},\"finish_reason\":null}],\"usage\":null}\n"
    "\n"
    ": keep-alive\n"
    "\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\""
    "created\":1694268190,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_f"
    "ingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"type\":\"function\""
    ",\"function\":{\"name\":\"write_file\",\"arguments\":\"\"}}]},\"fini"
    "sh_reason\":null}],\"usage\":null}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\""
    "created\":1694268190,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_f"
    "ingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{"
    "},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":nul"
    "l}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\""
    "created\":1694268190,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_f"
    "ingerprint\":\"fp_44709d6fcb\",\"choices\":[],\"usage\":{\"prompt_to"
    "kens\":2000,\"completion_tokens\":120,\"total_tokens\":2120,\"prompt"
    "_tokens_details\":{\"cached_tokens\":1920},\"completion_tokens_detai"
    "ls\":{\"reasoning_tokens\":64}}}\n"
    "\n"
    "data: [DONE]\n"
    "\n";

static const char body_gemini_json[] =
    "{\n"
    "  \"candidates\": [\n"
    "    {\n"
    "      \"content\": {\n"
    "        \"parts\": [\n"
    "          {\n"
    "            \"text\": \"Let me look that up. PAD\",\n"
    "            \"thought\": false\n"
    "          },\n"
    "          {\n"
    "            \"functionCall\": {\n"
    "              \"name\": \"find_theaters\",\n"
    "              \"args\": {\n"
    "                \"location\": \"Mountain View, CA\",\n"
    "                \"movie\": \"Barbie\"\n"
    "              }\n"
    "            }\n"
    "          },\n"
    "          {\n"
    "            \"functionCall\": {\n"
    "              \"name\": \"get_showtimes\",\n"
    "              \"args\": {}\n"
    "            }\n"
    "          }\n"
    "        ],\n"
    "        \"role\": \"model\"\n"
    "      },\n"
    "      \"finishReason\": \"STOP\",\n"
    "      \"index\": 0,\n"
    "      \"safetyRatings\": [\n"
    "        {\"category\": \"HARM_CATEGORY_HATE_SPEECH\", \"probability\""
    ": \"NEGLIGIBLE\"}\n"
    "      ]\n"
    "    }\n"
    "  ],\n"
    "  \"usageMetadata\": {\n"
    "    \"promptTokenCount\": 9000,\n"
    "    \"candidatesTokenCount\": 52,\n"
    "    \"totalTokenCount\": 9852,\n"
    "    \"cachedContentTokenCount\": 8192,\n"
    "    \"thoughtsTokenCount\": 800,\n"
    "    \"promptTokensDetails\": [\n"
    "      {\"modality\": \"TEXT\", \"tokenCount\": 9000}\n"
    "    ]\n"
    "  },\n"
    "  \"modelVersion\": \"gemini-2.5-pro\",\n"
    "  \"responseId\": \"mGvNaP3XA5ywz7IPl8ixsQs\"\n"
    "}\n";

static const char body_gemini_sse[] =
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The\""
    "}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptT"
    "okenCount\": 12,\"totalTokenCount\": 12,\"promptTokensDetails\": [{\""
    "modality\": \"TEXT\",\"tokenCount\": 12}]},\"modelVersion\": \"gemin"
    "i-2.5-flash\",\"responseId\": \"x1\"}\r\n"
    "\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" qui"
    "ck brown \\u00fc PAD\"}],\"role\": \"model\"},\"index\": 0}],\"usage"
    "Metadata\": {\"promptTokenCount\": 12,\"candidatesTokenCount\": 5,\""
    "totalTokenCount\": 47,\"thoughtsTokenCount\": 30},\"modelVersion\": "
    "\"gemini-2.5-flash\",\"responseId\": \"x1\"}\r\n"
    "\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\""
    ": {\"name\": \"run_code\",\"args\": {\"code\": \"print(1)\"}}}],\"ro"
    "le\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMe"
    "tadata\": {\"promptTokenCount\": 12,\"candidatesTokenCount\": 20,\"t"
    "otalTokenCount\": 82,\"thoughtsTokenCount\": 50},\"modelVersion\": \""
    "gemini-2.5-flash\",\"responseId\": \"x1\"}\r\n"
    "\r\n";

static const char body_gemini_array[] =
    "[{\n"
    "  \"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Sure. PAD"
    "\"}], \"role\": \"model\"}, \"index\": 0}],\n"
    "  \"usageMetadata\": {\"promptTokenCount\": 100, \"candidatesTokenCo"
    "unt\": 3, \"totalTokenCount\": 103, \"cachedContentTokenCount\": 50}"
    ",\n"
    "  \"modelVersion\": \"gemini-2.0-flash-001\"\n"
    "}\n"
    ",\n"
    "{\n"
    "  \"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\""
    "name\": \"lookup\", \"args\": {\"q\": \"[{\\\"x\\\"}]\"}}}], \"role\""
    ": \"model\"}, \"finishReason\": \"MAX_TOKENS\", \"index\": 0}],\n"
    "  \"usageMetadata\": {\"promptTokenCount\": 100, \"candidatesTokenCo"
    "unt\": 40, \"totalTokenCount\": 140, \"cachedContentTokenCount\": 50"
    "},\n"
    "  \"modelVersion\": \"gemini-2.0-flash-001\"\n"
    "}\n"
    "]";

#define CT_JSON	"application/json"
#define CT_SSE	"text/event-stream; charset=utf-8"

/* Feed body whole (at == len), in two pieces at at, or in steps of step. */
static void
run(enum model_api api, const char *path, const char *ct, const char *body,
    size_t len, size_t at, size_t step, bool complete, struct model_usage *out)
{
	struct modelcall *mc = modelcall_new(api, path, strlen(path), ct);
	size_t i, n;

	ck_assert_ptr_nonnull(mc);
	if (step > 0) {
		for (i = 0; i < len; i += n) {
			n = len - i < step ? len - i : step;
			modelcall_feed(mc, body + i, n);
		}
	} else {
		modelcall_feed(mc, body, at);
		modelcall_feed(mc, body + at, len - at);
	}
	modelcall_finish(mc, complete, out);
	modelcall_free(mc);
}

static void
same(const struct model_usage *g, const struct model_usage *w,
    const char *how, size_t at)
{
#define EQS(f) ck_assert_msg(strcmp(g->f, w->f) == 0, \
	"%s %zu: " #f " \"%s\", want \"%s\"", how, at, g->f, w->f)
#define EQU(f) ck_assert_msg(g->f == w->f, "%s %zu: " #f " %llu, want %llu", \
	how, at, (unsigned long long)g->f, (unsigned long long)w->f)
	EQS(model);
	EQU(input_tokens);
	EQU(output_tokens);
	EQU(cache_read_tokens);
	EQU(cache_write_tokens);
	EQS(stop_reason);
	EQS(tools);
	EQU(ntools);
	EQU(streamed);
	EQU(has_usage);
	EQU(unreadable);
	EQS(why);
	EQU(api);
	EQU(skipped_events);
#undef EQS
#undef EQU
}

/* Unrelated text (with escapes) that bodies carry where "PAD" is. */
static const char pad_text[] = "Lorem ipsum dolor sit amet, \\\"consectetur\\\" "
    "adipiscing elit \\u00e9\\u4e16 \\ud83d\\ude00. ";
#define PAD_TIMES	12

/* A body template with each "PAD" replaced by PAD_TIMES copies of pad. */
static char *
expand(const char *tmpl)
{
	size_t n = strlen(tmpl), np = strlen(pad_text), o = 0, k;
	const char *p;
	char *b;

	for (p = strstr(tmpl, "PAD"); p != NULL; p = strstr(p + 3, "PAD"))
		n += np * PAD_TIMES;
	b = malloc(n + 1);
	ck_assert_ptr_nonnull(b);
	for (p = tmpl; *p != '\0'; ) {
		if (strncmp(p, "PAD", 3) == 0) {
			for (k = 0; k < PAD_TIMES; k++, o += np)
				memcpy(b + o, pad_text, np);
			p += 3;
		} else
			b[o++] = *p++;
	}
	b[o] = '\0';
	return b;
}

/* The body read whole, split at every byte, and a byte at a time. */
static void
check_body(enum model_api api, const char *path, const char *ct,
    const char *tmpl, const struct model_usage *want)
{
	struct model_usage got;
	char *body = expand(tmpl);
	size_t len = strlen(body), at;

	run(api, path, ct, body, len, len, 0, true, &got);
	same(&got, want, "whole", len);
	for (at = 0; at <= len; at++) {
		run(api, path, ct, body, len, at, 0, true, &got);
		same(&got, want, "split at", at);
	}
	run(api, path, ct, body, len, 0, 1, true, &got);
	same(&got, want, "bytewise", 1);
	run(api, path, ct, body, len, 0, 7, true, &got);
	same(&got, want, "steps of", 7);
	free(body);
}

static struct model_usage
result(enum model_api api, const char *path, const char *ct, const char *body,
    size_t len, bool complete)
{
	struct model_usage u;

	run(api, path, ct, body, len, len, 0, complete, &u);
	return u;
}

#define ANTHROPIC	MODEL_API_ANTHROPIC_MESSAGES
#define RESPONSES	MODEL_API_OPENAI_RESPONSES
#define CHAT		MODEL_API_OPENAI_CHAT
#define GEMINI		MODEL_API_GEMINI
#define P_ANTHROPIC	"/v1/messages?beta=true"
#define P_RESPONSES	"/v1/responses"
#define P_CHAT		"/v1/chat/completions"
#define P_GEMINI	"/v1beta/models/gemini-2.5-pro:generateContent"
#define P_GEMINI_SSE	"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
#define P_GEMINI_ARR	"/v1/models/gemini-2.0-flash-001:streamGenerateContent"

START_TEST(test_anthropic_json)
{
	struct model_usage w = { .api = ANTHROPIC,
	    .model = "claude-sonnet-4-5-20250929", .input_tokens = 2095,
	    .output_tokens = 503, .cache_read_tokens = 4096,
	    .cache_write_tokens = 1024, .stop_reason = "tool_use",
	    .tools = "get_weather,web_search,search_docs", .ntools = 3,
	    .has_usage = 1 };

	check_body(ANTHROPIC, P_ANTHROPIC, CT_JSON, body_anthropic_json, &w);
}
END_TEST

START_TEST(test_anthropic_sse)
{
	struct model_usage w = { .api = ANTHROPIC,
	    .model = "claude-opus-4-1-20250805", .input_tokens = 472,
	    .output_tokens = 89, .cache_read_tokens = 12288,
	    .stop_reason = "tool_use", .tools = "Bash", .ntools = 1,
	    .streamed = 1, .has_usage = 1 };

	check_body(ANTHROPIC, P_ANTHROPIC, CT_SSE, body_anthropic_sse, &w);
}
END_TEST

START_TEST(test_responses_json)
{
	struct model_usage w = { .api = RESPONSES, .model = "gpt-5-2025-08-07",
	    .input_tokens = 304, .output_tokens = 450,
	    .cache_read_tokens = 1024, .stop_reason = "completed",
	    .tools = "get_current_weather,local_shell,web_search",
	    .ntools = 3, .has_usage = 1 };

	check_body(RESPONSES, P_RESPONSES, "Application/JSON; charset=utf-8",
	    body_responses_json, &w);
}
END_TEST

START_TEST(test_responses_sse)
{
	struct model_usage w = { .api = RESPONSES,
	    .model = "gpt-4.1-2025-04-14", .input_tokens = 37,
	    .output_tokens = 11, .stop_reason = "completed",
	    .tools = "get_weather,apply_patch", .ntools = 2, .streamed = 1,
	    .has_usage = 1 };

	check_body(RESPONSES, P_RESPONSES, CT_SSE, body_responses_sse, &w);
}
END_TEST

START_TEST(test_chat_json)
{
	struct model_usage w = { .api = CHAT, .model = "gpt-4o-2024-08-06",
	    .input_tokens = 93, .output_tokens = 46, .cache_read_tokens = 1024,
	    .stop_reason = "tool_calls", .tools = "get_current_weather,get_time",
	    .ntools = 2, .has_usage = 1 };

	check_body(CHAT, P_CHAT, CT_JSON, body_chat_json, &w);
}
END_TEST

START_TEST(test_chat_sse)
{
	struct model_usage w = { .api = CHAT, .model = "gpt-4o-mini-2024-07-18",
	    .input_tokens = 80, .output_tokens = 120,
	    .cache_read_tokens = 1920, .stop_reason = "tool_calls",
	    .tools = "read_file,write_file", .ntools = 2, .streamed = 1,
	    .has_usage = 1 };

	check_body(CHAT, P_CHAT, CT_SSE, body_chat_sse, &w);
}
END_TEST

START_TEST(test_gemini_json)
{
	struct model_usage w = { .api = GEMINI, .model = "gemini-2.5-pro",
	    .input_tokens = 808, .output_tokens = 852,
	    .cache_read_tokens = 8192, .stop_reason = "STOP",
	    .tools = "find_theaters,get_showtimes", .ntools = 2,
	    .has_usage = 1 };

	check_body(GEMINI, P_GEMINI, CT_JSON, body_gemini_json, &w);
}
END_TEST

START_TEST(test_gemini_sse)
{
	struct model_usage w = { .api = GEMINI, .model = "gemini-2.5-flash",
	    .input_tokens = 12, .output_tokens = 70, .stop_reason = "STOP",
	    .tools = "run_code", .ntools = 1, .streamed = 1, .has_usage = 1 };

	check_body(GEMINI, P_GEMINI_SSE, "text/event-stream", body_gemini_sse,
	    &w);
}
END_TEST

START_TEST(test_gemini_array)
{
	struct model_usage w = { .api = GEMINI, .model = "gemini-2.0-flash-001",
	    .input_tokens = 50, .output_tokens = 40, .cache_read_tokens = 50,
	    .stop_reason = "MAX_TOKENS", .tools = "lookup", .ntools = 1,
	    .has_usage = 1 };

	check_body(GEMINI, P_GEMINI_ARR, CT_JSON, body_gemini_array, &w);
}
END_TEST

/* No modelVersion: the model comes from the path. */
START_TEST(test_gemini_path_model)
{
	const char *b = "{\"candidates\":[{\"finishReason\":\"SAFETY\"}],"
	    "\"usageMetadata\":{\"promptTokenCount\":5}}";
	struct model_usage u = result(GEMINI, P_GEMINI, CT_JSON, b, strlen(b),
	    true);

	ck_assert_str_eq(u.model, "gemini-2.5-pro");
	ck_assert_str_eq(u.stop_reason, "SAFETY");
	ck_assert_uint_eq(u.input_tokens, 5);
	ck_assert_uint_eq(u.has_usage, 1);
	ck_assert_uint_eq(u.unreadable, 0);
}
END_TEST

START_TEST(test_error_bodies)
{
	const char *a = "{\"type\":\"error\",\"error\":{\"type\":"
	    "\"overloaded_error\",\"message\":\"Overloaded\"}}";
	const char *as = "event: message_start\ndata: {\"type\":"
	    "\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":"
	    "{\"input_tokens\":3,\"output_tokens\":1}}}\n\nevent: error\n"
	    "data: {\"type\": \"error\", \"error\": {\"type\": "
	    "\"overloaded_error\", \"message\": \"Overloaded\"}}\n\n";
	const char *o = "{\"error\":{\"message\":\"Rate limit\",\"type\":"
	    "\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
	const char *g = "{\"error\":{\"code\":429,\"message\":\"Quota\","
	    "\"status\":\"RESOURCE_EXHAUSTED\"}}";
	const char *ri = "{\"model\":\"gpt-5\",\"status\":\"incomplete\","
	    "\"incomplete_details\":{\"reason\":\"max_output_tokens\"},"
	    "\"usage\":{\"input_tokens\":10,\"output_tokens\":20}}";
	const char *rf = "data: {\"type\":\"response.failed\",\"response\":{"
	    "\"model\":\"gpt-5\",\"status\":\"failed\",\"error\":{\"code\":"
	    "\"server_error\",\"message\":\"x\"}}}\n\n";
	const char *re = "data: {\"type\":\"error\",\"code\":\"ERR_X\","
	    "\"message\":\"bad\",\"param\":null}\n\n";
	struct model_usage u;

	u = result(ANTHROPIC, P_ANTHROPIC, CT_JSON, a, strlen(a), true);
	ck_assert_str_eq(u.stop_reason, "error:overloaded_error");
	ck_assert_uint_eq(u.has_usage, 0);
	ck_assert_uint_eq(u.unreadable, 0);
	u = result(ANTHROPIC, P_ANTHROPIC, CT_SSE, as, strlen(as), true);
	ck_assert_str_eq(u.stop_reason, "error:overloaded_error");
	ck_assert_str_eq(u.model, "claude-x");
	ck_assert_uint_eq(u.input_tokens, 3);
	u = result(CHAT, P_CHAT, CT_JSON, o, strlen(o), true);
	ck_assert_str_eq(u.stop_reason, "error:requests");
	u = result(GEMINI, P_GEMINI, CT_JSON, g, strlen(g), true);
	ck_assert_str_eq(u.stop_reason, "error:RESOURCE_EXHAUSTED");
	ck_assert_str_eq(u.model, "gemini-2.5-pro");
	u = result(RESPONSES, P_RESPONSES, CT_JSON, ri, strlen(ri), true);
	ck_assert_str_eq(u.stop_reason, "incomplete:max_output_tokens");
	ck_assert_uint_eq(u.input_tokens, 10);
	u = result(RESPONSES, P_RESPONSES, CT_SSE, rf, strlen(rf), true);
	ck_assert_str_eq(u.stop_reason, "failed:server_error");
	u = result(RESPONSES, P_RESPONSES, CT_SSE, re, strlen(re), true);
	ck_assert_str_eq(u.stop_reason, "error:ERR_X");
}
END_TEST

START_TEST(test_truncated)
{
	char *aj = expand(body_anthropic_json), *as = expand(body_anthropic_sse);
	char *rs = expand(body_responses_sse);
	const char *b = aj;
	size_t len = strlen(b);
	struct model_usage u;

	/* cut after the model, mid-JSON, but the framing said complete */
	u = result(ANTHROPIC, P_ANTHROPIC, CT_JSON, b, len / 2, true);
	ck_assert_uint_eq(u.unreadable, 1);
	ck_assert_str_eq(u.why, "truncated");
	ck_assert_str_eq(u.model, "claude-sonnet-4-5-20250929");
	ck_assert_uint_eq(u.has_usage, 0);
	/* whole JSON, but the response was cut (framing) */
	u = result(ANTHROPIC, P_ANTHROPIC, CT_JSON, b, len, false);
	ck_assert_uint_eq(u.unreadable, 1);
	ck_assert_str_eq(u.why, "truncated");
	ck_assert_uint_eq(u.input_tokens, 2095);
	ck_assert_uint_eq(u.has_usage, 1);
	/* SSE cut in the middle of an event */
	b = as;
	len = strstr(b, "event: message_delta") - b + 60;
	u = result(ANTHROPIC, P_ANTHROPIC, CT_SSE, b, len, false);
	ck_assert_uint_eq(u.unreadable, 1);
	ck_assert_str_eq(u.why, "truncated");
	ck_assert_str_eq(u.model, "claude-opus-4-1-20250805");
	ck_assert_uint_eq(u.input_tokens, 472);
	ck_assert_uint_eq(u.output_tokens, 2);
	ck_assert_str_eq(u.tools, "Bash");
	/* the same with complete framing: the last event's JSON is cut */
	u = result(ANTHROPIC, P_ANTHROPIC, CT_SSE, b, len, true);
	ck_assert_uint_eq(u.unreadable, 1);
	ck_assert_str_eq(u.why, "event truncated");
	/* Responses stream cut after response.created */
	b = rs;
	len = strstr(b, "event: response.in_progress") - b;
	u = result(RESPONSES, P_RESPONSES, CT_SSE, b, len, false);
	ck_assert_str_eq(u.stop_reason, "in_progress");
	ck_assert_str_eq(u.model, "gpt-4.1-2025-04-14");
	ck_assert_uint_eq(u.unreadable, 1);
	/* a last event without its blank line is still read */
	b = "data: {\"model\":\"m\",\"usage\":{\"prompt_tokens\":4}}";
	u = result(CHAT, P_CHAT, CT_SSE, b, strlen(b), true);
	ck_assert_uint_eq(u.unreadable, 0);
	ck_assert_uint_eq(u.input_tokens, 4);
	ck_assert_str_eq(u.model, "m");
	free(aj);
	free(as);
	free(rs);
}
END_TEST

START_TEST(test_unreadable)
{
	const char *html = "<html><body>502 Bad Gateway</body></html>";
	const char *trail = "{\"model\":\"a\"} x";
	struct model_usage u;
	struct modelcall *mc;

	u = result(CHAT, P_CHAT, CT_JSON, html, strlen(html), true);
	ck_assert_uint_eq(u.unreadable, 1);
	ck_assert_str_eq(u.why, "not JSON");
	u = result(CHAT, P_CHAT, CT_JSON, trail, strlen(trail), true);
	ck_assert_str_eq(u.why, "data after JSON");
	ck_assert_str_eq(u.model, "a");
	u = result(CHAT, P_CHAT, "text/html; charset=utf-8", html,
	    strlen(html), true);
	ck_assert_str_eq(u.why, "content-type text/html");
	u = result(CHAT, P_CHAT, CT_JSON, "", 0, true);
	ck_assert_str_eq(u.why, "empty body");
	mc = modelcall_new(CHAT, P_CHAT, strlen(P_CHAT), NULL);
	modelcall_feed(mc, html, strlen(html));
	modelcall_finish(mc, true, &u);
	modelcall_free(mc);
	ck_assert_str_eq(u.why, "no content-type");
	mc = modelcall_new(CHAT, P_CHAT, strlen(P_CHAT), CT_JSON);
	modelcall_feed(mc, "{\"model\":\"b\",", 13);
	modelcall_unreadable(mc, "content-encoding gzip");
	modelcall_feed(mc, "\"usage\":{\"prompt_tokens\":1}}", 28);
	modelcall_finish(mc, true, &u);
	modelcall_free(mc);
	ck_assert_str_eq(u.why, "content-encoding gzip");
	ck_assert_str_eq(u.model, "b");
	ck_assert_uint_eq(u.has_usage, 0);
	/* a complete body without usage is not unreadable */
	u = result(CHAT, P_CHAT, CT_JSON, "{\"model\":\"c\"}", 13, true);
	ck_assert_uint_eq(u.unreadable, 0);
	ck_assert_uint_eq(u.has_usage, 0);
	modelcall_finish(NULL, true, &u);
	ck_assert_uint_eq(u.unreadable, 1);
	modelcall_feed(NULL, "x", 1);
	modelcall_free(NULL);
}
END_TEST

START_TEST(test_deep)
{
	size_t n = 10000, i;
	char *b = malloc(n + 200);
	struct model_usage u;
	int len;

	ck_assert_ptr_nonnull(b);
	memset(b, '[', n);
	u = result(GEMINI, P_GEMINI, CT_JSON, b, n, true);
	ck_assert_uint_eq(u.unreadable, 1);
	ck_assert_str_eq(u.why, "too deep");
	/* 64 levels are fine, 65 are not */
	for (i = 0; i < 2; i++) {
		size_t d = 63 + i, k;

		len = snprintf(b, n, "{\"model\":\"m\",\"x\":");
		for (k = 0; k < d; k++)
			b[len++] = '[';
		for (k = 0; k < d; k++)
			b[len++] = ']';
		len += snprintf(b + len, n - len, "}");
		u = result(CHAT, P_CHAT, CT_JSON, b, len, true);
		ck_assert_uint_eq(u.unreadable, i);
	}
	/* in one SSE event: that event is unreadable, the stream goes on */
	len = snprintf(b, n, "data: ");
	memset(b + len, '[', 100);
	len += 100;
	len += snprintf(b + len, n - len, "\n\ndata: {\"model\":\"z\","
	    "\"usage\":{\"completion_tokens\":9}}\n\n");
	u = result(CHAT, P_CHAT, CT_SSE, b, len, true);
	ck_assert_uint_eq(u.unreadable, 1);
	ck_assert_str_eq(u.why, "event too deep");
	ck_assert_str_eq(u.model, "z");
	ck_assert_uint_eq(u.output_tokens, 9);
	free(b);
}
END_TEST

/* A 10 MB text value, JSON and SSE: skipped, the rest still read. */
START_TEST(test_huge_string)
{
	const size_t big = 10 * 1024 * 1024;
	const char *pre = "{\"model\":\"claude-h\",\"content\":[{\"type\":"
	    "\"text\",\"text\":\"";
	const char *post = "\"}],\"stop_reason\":\"end_turn\",\"usage\":"
	    "{\"input_tokens\":1,\"output_tokens\":2}}";
	size_t np = strlen(pre), nq = strlen(post), len = np + big + nq, i;
	char *b = malloc(len + 1);
	struct model_usage u;

	ck_assert_ptr_nonnull(b);
	memcpy(b, pre, np);
	for (i = 0; i < big; i++)
		b[np + i] = "ab\\n\\u00e9 "[i % 11];
	/* keep the escapes whole at the end */
	memcpy(b + np + big - 11, "ab\\n\\u00e9 ", 11);
	memcpy(b + np + big, post, nq + 1);
	run(ANTHROPIC, P_ANTHROPIC, CT_JSON, b, len, 0, 65536, true, &u);
	ck_assert_uint_eq(u.unreadable, 0);
	ck_assert_str_eq(u.model, "claude-h");
	ck_assert_str_eq(u.stop_reason, "end_turn");
	ck_assert_uint_eq(u.output_tokens, 2);
	free(b);
}
END_TEST

/* An SSE event over the data bound is dropped, undone and counted. */
START_TEST(test_sse_oversized)
{
	const char *e1 = "event: message_start\ndata: {\"type\":\"message_start"
	    "\",\"message\":{\"model\":\"claude-a\",\"usage\":{\"input_tokens\""
	    ":5,\"output_tokens\":1}}}\n\n";
	const char *e2 = "event: message_delta\ndata: {\"type\":\"message_delta"
	    "\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\""
	    "output_tokens\":999},\"pad\":\"";
	const char *e3 = "\"}\n\nevent: message_delta\ndata: {\"type\":"
	    "\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
	    "\"usage\":{\"output_tokens\":30}}\n\n";
	size_t pad = SSE_DATA_MAX + 100, n1 = strlen(e1), n2 = strlen(e2);
	size_t n3 = strlen(e3), len = n1 + n2 + pad + n3;
	char *b = malloc(len);
	struct model_usage u;

	ck_assert_ptr_nonnull(b);
	memcpy(b, e1, n1);
	memcpy(b + n1, e2, n2);
	memset(b + n1 + n2, 'x', pad);
	memcpy(b + n1 + n2 + pad, e3, n3);
	run(ANTHROPIC, P_ANTHROPIC, CT_SSE, b, len, 0, 4096, true, &u);
	ck_assert_uint_eq(u.skipped_events, 1);
	ck_assert_uint_eq(u.unreadable, 0);
	ck_assert_str_eq(u.stop_reason, "end_turn");
	ck_assert_uint_eq(u.output_tokens, 30);
	ck_assert_uint_eq(u.input_tokens, 5);
	free(b);
}
END_TEST

START_TEST(test_numbers)
{
	const char *a = "{\"usage\":{\"input_tokens\":18446744073709551616,"
	    "\"output_tokens\":18446744073709551615,"
	    "\"cache_read_input_tokens\":12.5,"
	    "\"cache_creation_input_tokens\":-4}}";
	const char *b = "{\"usage\":{\"input_tokens\":\"12\",\"output_tokens\""
	    ":1e3,\"cache_read_input_tokens\":null,"
	    "\"cache_creation_input_tokens\":0}}";
	const char *c = "{\"usage\":{\"prompt_tokens\":5,\"prompt_tokens_details"
	    "\":{\"cached_tokens\":9}}}";
	const char *d = "{\"usageMetadata\":{\"candidatesTokenCount\":"
	    "18446744073709551615,\"thoughtsTokenCount\":2}}";
	const char *bad[] = { "{\"a\":01}", "{\"a\":-}", "{\"a\":1.}",
	    "{\"a\":1e}", "{\"a\":.5}", "{\"a\":tru}", "{\"a\":1,}", "[1 2]",
	    "{\"a\"}", "{1:2}", "\"\\x\"", "\"\\u12G4\"", "{\"a\":1}}" };
	struct model_usage u;
	size_t i;

	u = result(ANTHROPIC, P_ANTHROPIC, CT_JSON, a, strlen(a), true);
	ck_assert_uint_eq(u.input_tokens, 0);
	ck_assert_uint_eq(u.output_tokens, UINT64_MAX);
	ck_assert_uint_eq(u.cache_read_tokens, 0);
	ck_assert_uint_eq(u.cache_write_tokens, 0);
	ck_assert_uint_eq(u.has_usage, 1);
	ck_assert_uint_eq(u.unreadable, 0);
	u = result(ANTHROPIC, P_ANTHROPIC, CT_JSON, b, strlen(b), true);
	ck_assert_uint_eq(u.input_tokens, 0);
	ck_assert_uint_eq(u.output_tokens, 0);
	ck_assert_uint_eq(u.has_usage, 1);
	/* more cached than input: saturates at 0 */
	u = result(CHAT, P_CHAT, CT_JSON, c, strlen(c), true);
	ck_assert_uint_eq(u.input_tokens, 0);
	ck_assert_uint_eq(u.cache_read_tokens, 9);
	u = result(GEMINI, P_GEMINI, CT_JSON, d, strlen(d), true);
	ck_assert_uint_eq(u.output_tokens, UINT64_MAX);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		u = result(CHAT, P_CHAT, CT_JSON, bad[i], strlen(bad[i]), true);
		ck_assert_msg(u.unreadable == 1, "accepted %s", bad[i]);
	}
	u = result(CHAT, P_CHAT, CT_JSON, " -0.5e+10 ", 10, true);
	ck_assert_uint_eq(u.unreadable, 0);
	u = result(CHAT, P_CHAT, CT_JSON, "12", 2, true);
	ck_assert_uint_eq(u.unreadable, 0);
}
END_TEST

/* Escapes, unicode, control characters and bounds of captured strings. */
START_TEST(test_strings)
{
	const char *a = "{\"m\\u006fdel\":\"x\\u0000y\\n\\ud83d\\ude00\\ud800z"
	    "\\udc00\\u00e9\\/\\\"\",\"content\":[{\"name\":\"a,b\",\"type\":"
	    "\"tool_use\"},{\"type\":\"tool_use\",\"name\":\"\\u4e16\"}]}";
	const char *raw = "{\"model\":\"bad\xff\xc3(\x01ok\xe2\x82\xac\"}";
	char b[8192], name[300];
	struct model_usage u;
	int len, i;

	u = result(ANTHROPIC, P_ANTHROPIC, CT_JSON, a, strlen(a), true);
	ck_assert_str_eq(u.model, "x?y?\xf0\x9f\x98\x80?z?\xc3\xa9/\"");
	ck_assert_str_eq(u.tools, "a?b,\xe4\xb8\x96");
	ck_assert_uint_eq(u.ntools, 2);
	u = result(ANTHROPIC, P_ANTHROPIC, CT_JSON, raw, strlen(raw), true);
	ck_assert_str_eq(u.model, "bad?" "?(?ok\xe2\x82\xac");
	/* a long model name is cut at a character boundary */
	len = snprintf(b, sizeof(b), "{\"model\":\"");
	for (i = 0; i < 100; i++)
		len += snprintf(b + len, sizeof(b) - len, "\\u00e9");
	len += snprintf(b + len, sizeof(b) - len, "\"}");
	u = result(CHAT, P_CHAT, CT_JSON, b, len, true);
	ck_assert_uint_eq(strlen(u.model), MODEL_NAME_MAX - 1 - 1);
	/* many tool calls: names cut at a name boundary, all counted */
	len = snprintf(b, sizeof(b), "{\"choices\":[{\"message\":{"
	    "\"tool_calls\":[");
	for (i = 0; i < 50; i++)
		len += snprintf(b + len, sizeof(b) - len, "%s{\"function\":"
		    "{\"name\":\"tool_number_%02d\"}}", i ? "," : "", i);
	len += snprintf(b + len, sizeof(b) - len, "]}}]}");
	u = result(CHAT, P_CHAT, CT_JSON, b, len, true);
	ck_assert_uint_eq(u.ntools, 50);
	ck_assert_uint_eq(strlen(u.tools), 15 * 17 - 1);
	ck_assert(strncmp(u.tools + strlen(u.tools) - 14, "tool_number_16",
	    14) == 0);
	/* a name longer than the list is counted, not kept */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	len = snprintf(b, sizeof(b), "{\"candidates\":[{\"content\":{\"parts\":"
	    "[{\"functionCall\":{\"name\":\"%s\"}},{\"functionCall\":{\"name\":"
	    "\"short\"}}]}}]}", name);
	u = result(GEMINI, P_GEMINI, CT_JSON, b, len, true);
	ck_assert_uint_eq(u.ntools, 2);
	ck_assert_str_eq(u.tools, "");
}
END_TEST

START_TEST(test_garbage)
{
	uint8_t b[4096];
	uint32_t x = 12345;
	struct model_usage u;
	size_t i, k;

	for (k = 0; k < 200; k++) {
		for (i = 0; i < sizeof(b); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			b[i] = (k & 1) ? "{}[]\":,0123456789-.eEtrufalsn \\u"[x % 33] :
			    (uint8_t)x;
		}
		run((enum model_api)(1 + k % 4), P_GEMINI, k % 3 ? CT_JSON :
		    CT_SSE, (const char *)b, sizeof(b), 0, 1 + k % 17, true, &u);
		ck_assert(strlen(u.why) < MODEL_WHY_MAX);
		ck_assert(strlen(u.tools) < MODEL_TOOLS_MAX);
	}
}
END_TEST

START_TEST(test_classify)
{
	static const struct {
		const char	*host, *method, *path;
		enum model_api	 want;
	} c[] = {
		{ "api.anthropic.com", "POST", "/v1/messages", ANTHROPIC },
		{ "api.anthropic.com", "POST", "/v1/messages?beta=true", ANTHROPIC },
		{ "api.anthropic.com", "POST", "/v1/messages/count_tokens", 0 },
		{ "api.anthropic.com", "POST", "/v1/messages/count_tokens?beta=true", 0 },
		{ "api.anthropic.com", "POST", "/v1/messagesX", 0 },
		{ "api.anthropic.com", "POST", "/v1/messages/../x", 0 },
		{ "api.anthropic.com", "POST", "//v1/messages", 0 },
		{ "api.anthropic.com", "GET", "/v1/messages", 0 },
		{ "api.anthropic.com", "post", "/v1/messages", 0 },
		{ "api.anthropic.com.evil.test", "POST", "/v1/messages", 0 },
		{ "api.openai.com", "POST", "/v1/messages", 0 },
		{ "api.openai.com", "POST", "/v1/responses", RESPONSES },
		{ "api.openai.com", "POST", "/v1/responses?x=1", RESPONSES },
		{ "api.openai.com", "POST", "/v1/responses/resp_1", 0 },
		{ "api.openai.com", "GET", "/v1/responses", 0 },
		{ "api.openai.com", "POST", "/v1/chat/completions", CHAT },
		{ "api.openai.com", "POST", "/v1/chat/completions/", CHAT },
		{ "api.openai.com", "POST", "/v1/responses/?stream=1", RESPONSES },
		{ "api.anthropic.com", "POST", "/v1/messages/", ANTHROPIC },
		{ "api.anthropic.com", "POST", "/v1/messages/count_tokens/", 0 },
		{ "generativelanguage.googleapis.com", "POST",
		    "/v1beta/models/gemini-2.5-pro:generateContent/", GEMINI },
		{ "api.openai.com", "POST", "/", 0 },
		{ "api.openai.com", "POST", "/v1/chat/completionsX", 0 },
		{ "api.anthropic.com", "POST", "/v1/chat/completions", 0 },
		{ "generativelanguage.googleapis.com", "POST",
		    "/v1beta/models/gemini-2.5-pro:generateContent", GEMINI },
		{ "generativelanguage.googleapis.com", "POST",
		    "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
		    GEMINI },
		{ "generativelanguage.googleapis.com", "POST",
		    "/v1/models/gemini-2.0-flash-001:streamGenerateContent", GEMINI },
		{ "generativelanguage.googleapis.com", "POST",
		    "/v1beta/models/gemini-2.5-pro:countTokens", 0 },
		{ "generativelanguage.googleapis.com", "POST",
		    "/v1beta/models/gemini-2.5-pro:generateContentX", 0 },
		{ "generativelanguage.googleapis.com", "POST",
		    "/v1beta/models/../x:generateContent", 0 },
		{ "generativelanguage.googleapis.com", "POST",
		    "/v1beta/models/a/b:generateContent", 0 },
		{ "generativelanguage.googleapis.com", "POST",
		    "/v1beta/models/:generateContent", 0 },
		{ "generativelanguage.googleapis.com", "POST",
		    "/v2/models/g:generateContent", 0 },
		{ "generativelanguage.googleapis.com", "GET",
		    "/v1beta/models/g:generateContent", 0 },
		{ "api.openai.com", "POST", "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ck_assert_msg(modelcall_classify(c[i].host, c[i].method,
		    c[i].path, strlen(c[i].path)) == c[i].want, "%s %s %s",
		    c[i].method, c[i].host, c[i].path);
	/* the length bounds the path: a NUL or bytes past it don't count */
	ck_assert_int_eq(modelcall_classify("api.openai.com", "POST",
	    "/v1/responsesXYZ", 13), RESPONSES);
	ck_assert_int_eq(modelcall_classify("api.openai.com", "POST",
	    "/v1/responses\0", 14), 0);
	ck_assert_int_eq(modelcall_classify(NULL, "POST", "/", 1), 0);
}
END_TEST

/* The SSE reader on its own: what data and events it reports. */
struct sse_log {
	char	 buf[512];
	size_t	 len;
	size_t	 start;		/* where the current event's data began */
};

static void
log_data(void *arg, const uint8_t *p, size_t n)
{
	struct sse_log *l = arg;

	ck_assert(n <= sizeof(l->buf) - 1 - l->len);
	memcpy(l->buf + l->len, p, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

static void
log_event(void *arg, const struct sse *s)
{
	struct sse_log *l = arg;
	char tail[SSE_NAME_MAX + 16];
	int n;

	if (s->oversized)
		l->len = l->start;	/* a consumer drops what it got */
	n = snprintf(tail, sizeof(tail), "|%s%s#", s->name,
	    s->oversized ? "!" : "");
	ck_assert((size_t)n <= sizeof(l->buf) - 1 - l->len);
	memcpy(l->buf + l->len, tail, n);
	l->len += n;
	l->buf[l->len] = '\0';
	l->start = l->len;
}

START_TEST(test_sse_reader)
{
	const char *in = ": comment\r\nevent: a\rdata: one\ndata:two\r\n"
	    "id: 7\nretry: 10\n\ndata\n\nevent: only-name\n\n"
	    "averyveryverylongfieldname: x\ndata: 0123456789\n\n"
	    "data: small\nevent:b\n\ndata: tail";
	const char *want = "one\ntwo|a#|#|!#small|b#tail|#";
	struct sse_log l;
	struct sse s;
	size_t len = strlen(in), at, i;

	for (at = 0; at <= len; at++) {
		memset(&l, 0, sizeof(l));
		sse_init(&s, 8, log_data, log_event, &l);
		sse_feed(&s, (const uint8_t *)in, at);
		for (i = at; i < len; i++)
			sse_feed(&s, (const uint8_t *)in + i, 1);
		ck_assert(sse_flush(&s));
		ck_assert_msg(strcmp(l.buf, want) == 0, "at %zu: %s", at,
		    l.buf);
		ck_assert_uint_eq(s.events, 5);
		ck_assert_uint_eq(s.skipped, 1);
		ck_assert(!sse_flush(&s));
	}
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("modelcall");
	TCase	*tc = tcase_create("modelcall");
	SRunner	*sr;
	int	 failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_anthropic_json);
	tcase_add_test(tc, test_anthropic_sse);
	tcase_add_test(tc, test_responses_json);
	tcase_add_test(tc, test_responses_sse);
	tcase_add_test(tc, test_chat_json);
	tcase_add_test(tc, test_chat_sse);
	tcase_add_test(tc, test_gemini_json);
	tcase_add_test(tc, test_gemini_sse);
	tcase_add_test(tc, test_gemini_array);
	tcase_add_test(tc, test_gemini_path_model);
	tcase_add_test(tc, test_error_bodies);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_unreadable);
	tcase_add_test(tc, test_deep);
	tcase_add_test(tc, test_huge_string);
	tcase_add_test(tc, test_sse_oversized);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_classify);
	tcase_add_test(tc, test_sse_reader);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
