/*
 * fake-model-api: just enough of three model APIs for one agent turn, as
 * the upstream of the agent-image tests (run inside the first-level guest,
 * which has no python).  mbedTLS server on ADDR:PORT with CERT/KEY, a
 * process per connection, one request per connection (Connection: close).
 *
 *   POST /v1/messages[?...]            Anthropic Messages: a message, or
 *                                      its event stream if the body asks
 *                                      for "stream":true
 *   POST /v1/messages/count_tokens     {"input_tokens":12}
 *   POST /v1beta/models/M:streamGenerateContent   Gemini, server-sent events
 *   POST /v1beta/models/M:generateContent         Gemini, one response
 *                                      (a JSON object if JSON is asked for)
 *   POST /v1beta/models/M:countTokens             {"totalTokens":12}
 *   POST /v1/responses                 OpenAI Responses, event stream
 *   anything else                      404
 *
 * Every answer's text is ANSWER.  Each request is printed as one line,
 *   FAKE <method> <path> <stream|once> key=<credential as it arrived>
 * (x-api-key, x-goog-api-key or authorization), so a test can check that
 * the proxy put the real key in and which calls the agent made.
 *
 *   fake-model-api ADDR PORT CERT KEY ANSWER
 */
#include <sys/types.h>

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tls_server.h"

#define HEAD_MAX	65536
#define BODY_MAX	(16 * 1024 * 1024)
#define OUT_MAX		16384
#define IO_TIMEOUT_MS	30000

struct fake {
	const char		*answer;
	struct tls_server	 srv;
	char			 head[HEAD_MAX + 1];
	char			*body;		/* BODY_MAX + 1 */
	size_t			 body_len;
};

struct out {
	char	 buf[OUT_MAX];
	size_t	 len;
	bool	 overflow;
};

static void __attribute__((format(printf, 2, 3)))
outf(struct out *o, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(o->buf) - o->len)
		o->overflow = true;
	else
		o->len += (size_t)n;
}

static int
read_some(mbedtls_ssl_context *ssl, void *buf, size_t len)
{
	int	 n;

	do
		n = mbedtls_ssl_read(ssl, buf, len);
	while (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE);
	return n;
}

/* The value of header name in the head, or NULL; *len its length. */
static const char *
header(const char *head, const char *name, size_t *len)
{
	const char *p = head;
	size_t	 nl = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) != 0 || p[nl] != ':')
			continue;
		p += nl + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		*len = strcspn(p, "\r\n");
		return p;
	}
	return NULL;
}

/* More raw body bytes after *raw (NUL-terminated); -1 if full or closed. */
static int
body_more(struct fake *f, mbedtls_ssl_context *ssl, size_t *raw)
{
	int	 n;

	if (*raw == BODY_MAX ||
	    (n = read_some(ssl, f->body + *raw, BODY_MAX - *raw)) <= 0)
		return -1;
	*raw += (size_t)n;
	f->body[*raw] = '\0';
	return 0;
}

/*
 * The request head into f->head and its body into f->body (Content-Length
 * or chunked).  Returns 0, or -1 on a short or malformed request.
 */
static int
read_request(struct fake *f, mbedtls_ssl_context *ssl)
{
	size_t	 have = 0, hlen, want, vlen;
	char	*end, *extra;
	const char *v;
	int	 n;

	for (;;) {
		if (have == HEAD_MAX)
			return -1;
		if ((n = read_some(ssl, f->head + have, HEAD_MAX - have)) <= 0)
			return -1;
		have += (size_t)n;
		f->head[have] = '\0';
		if ((end = strstr(f->head, "\r\n\r\n")) != NULL)
			break;
	}
	hlen = (size_t)(end - f->head) + 4;
	extra = f->head + hlen;
	f->body_len = have - hlen;
	memcpy(f->body, extra, f->body_len);
	end[2] = '\0';		/* the head ends with its last header's CRLF */
	if ((v = header(f->head, "Transfer-Encoding", &vlen)) != NULL &&
	    vlen == 7 && strncasecmp(v, "chunked", 7) == 0) {
		/* de-chunk in place: read until the last chunk and its CRLF */
		size_t	 raw = f->body_len, out = 0, pos = 0;

		for (;;) {
			char	*crlf, *stop;
			unsigned long size;

			f->body[raw] = '\0';
			while ((crlf = strstr(f->body + pos, "\r\n")) == NULL) {
				if (body_more(f, ssl, &raw) == -1)
					return -1;
			}
			size = strtoul(f->body + pos, &stop, 16);
			if (stop == f->body + pos || size > BODY_MAX)
				return -1;
			pos = (size_t)(crlf - f->body) + 2;
			while (raw - pos < size + 2)
				if (body_more(f, ssl, &raw) == -1)
					return -1;
			if (size == 0)
				break;		/* no trailers from the proxy */
			memmove(f->body + out, f->body + pos, size);
			out += size;
			pos += size + 2;
		}
		f->body_len = out;
	} else {
		want = 0;
		if ((v = header(f->head, "Content-Length", &vlen)) != NULL)
			want = strtoul(v, NULL, 10);
		if (want > BODY_MAX)
			return -1;
		while (f->body_len < want) {
			if ((n = read_some(ssl, f->body + f->body_len,
			    want - f->body_len)) <= 0)
				return -1;
			f->body_len += (size_t)n;
		}
	}
	f->body[f->body_len] = '\0';
	return 0;
}

/* One server-sent event: "event: NAME" (if any) and "data: JSON". */
static void
sse(struct out *o, const char *event, const char *json)
{
	if (event != NULL)
		outf(o, "event: %s\n", event);
	outf(o, "data: %s\n\n", json);
}

static void
anthropic(struct fake *f, struct out *o, bool stream)
{
	char	 j[2048];

	if (!stream) {
		outf(o, "{\"id\":\"msg_capsem_fake\",\"type\":\"message\","
		    "\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\","
		    "\"content\":[{\"type\":\"text\",\"text\":\"%s\"}],"
		    "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
		    "\"usage\":{\"input_tokens\":12,\"output_tokens\":5}}",
		    f->answer);
		return;
	}
	sse(o, "message_start", "{\"type\":\"message_start\",\"message\":"
	    "{\"id\":\"msg_capsem_fake\",\"type\":\"message\",\"role\":"
	    "\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],"
	    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":"
	    "{\"input_tokens\":12,\"output_tokens\":1}}}");
	sse(o, "content_block_start", "{\"type\":\"content_block_start\","
	    "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}");
	snprintf(j, sizeof(j), "{\"type\":\"content_block_delta\",\"index\":0,"
	    "\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}", f->answer);
	sse(o, "content_block_delta", j);
	sse(o, "content_block_stop",
	    "{\"type\":\"content_block_stop\",\"index\":0}");
	sse(o, "message_delta", "{\"type\":\"message_delta\",\"delta\":"
	    "{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
	    "\"usage\":{\"output_tokens\":5}}");
	sse(o, "message_stop", "{\"type\":\"message_stop\"}");
}

/*
 * A Gemini answer.  A request for JSON (the CLI's model router and its
 * next-speaker check ask for an object) gets an object with the fields
 * those read, as the text: the turn then goes on to the answer.
 */
static void
gemini(struct fake *f, struct out *o, bool stream)
{
	static const char json_text[] = "{\\\"reasoning\\\":\\\"capsem fake "
	    "model\\\",\\\"model_choice\\\":\\\"flash\\\",\\\"next_speaker\\\":"
	    "\\\"user\\\",\\\"complexity_reasoning\\\":\\\"capsem fake model\\\","
	    "\\\"complexity_score\\\":1}";
	char	 j[2048];
	bool	 want_json = strstr(f->body, "\"responseMimeType\":"
	    "\"application/json\"") != NULL ||
	    strstr(f->body, "\"responseJsonSchema\"") != NULL;

	snprintf(j, sizeof(j), "{\"candidates\":[{\"content\":{\"parts\":"
	    "[{\"text\":\"%s\"}],\"role\":\"model\"},\"finishReason\":\"STOP\","
	    "\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":12,"
	    "\"candidatesTokenCount\":5,\"totalTokenCount\":17},"
	    "\"modelVersion\":\"gemini-2.5-pro\"}",
	    want_json ? json_text : f->answer);
	if (stream)
		sse(o, NULL, j);
	else
		outf(o, "%s", j);
}

static void
openai(struct fake *f, struct out *o)
{
	char	 j[2048];

	sse(o, "response.created", "{\"type\":\"response.created\","
	    "\"response\":{\"id\":\"resp_capsem_fake\"}}");
	snprintf(j, sizeof(j), "{\"type\":\"response.output_item.done\","
	    "\"item\":{\"type\":\"message\",\"role\":\"assistant\",\"id\":"
	    "\"msg_capsem_fake\",\"content\":[{\"type\":\"output_text\","
	    "\"text\":\"%s\"}]}}", f->answer);
	sse(o, "response.output_item.done", j);
	sse(o, "response.completed", "{\"type\":\"response.completed\","
	    "\"response\":{\"id\":\"resp_capsem_fake\",\"usage\":{"
	    "\"input_tokens\":12,\"input_tokens_details\":null,"
	    "\"output_tokens\":5,\"output_tokens_details\":null,"
	    "\"total_tokens\":17}}}");
}

/* One connection, in a child process of its own (see main). */
static void
serve_one(struct fake *f, mbedtls_net_context *conn)
{
	mbedtls_net_context client = *conn;
	mbedtls_ssl_context ssl;
	struct out *o;
	char	 method[16], path[4096], resp[512];
	const char *key, *ctype = "application/json", *status = "200 OK";
	size_t	 klen = 0;
	bool	 stream = false;
	int	 ret, rlen;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		tls_server_die(&f->srv, "calloc", 0);
	if ((ret = tls_server_handshake(&f->srv, &client, &ssl)) != 0) {
		printf("FAKE-HANDSHAKE-FAILED -0x%04x\n", (unsigned)-ret);
		goto out;
	}
	if (read_request(f, &ssl) == -1 ||
	    sscanf(f->head, "%15s %4095s", method, path) != 2) {
		printf("FAKE-BAD-REQUEST\n");
		goto out;
	}
	if ((key = header(f->head, "x-api-key", &klen)) == NULL &&
	    (key = header(f->head, "x-goog-api-key", &klen)) == NULL &&
	    (key = header(f->head, "authorization", &klen)) == NULL)
		key = "-", klen = 1;
	if (strcmp(method, "POST") != 0) {
		status = "404 Not Found";
		outf(o, "{\"error\":{\"message\":\"fake-model-api: no %s\"}}",
		    method);
	} else if (strncmp(path, "/v1/messages/count_tokens", 25) == 0) {
		outf(o, "{\"input_tokens\":12}");
	} else if (strncmp(path, "/v1/messages", 12) == 0 &&
	    (path[12] == '\0' || path[12] == '?')) {
		stream = strstr(f->body, "\"stream\":true") != NULL;
		anthropic(f, o, stream);
	} else if (strncmp(path, "/v1beta/models/", 15) == 0 &&
	    strstr(path, ":streamGenerateContent") != NULL) {
		stream = true;
		gemini(f, o, true);
	} else if (strncmp(path, "/v1beta/models/", 15) == 0 &&
	    strstr(path, ":generateContent") != NULL) {
		gemini(f, o, false);
	} else if (strncmp(path, "/v1beta/models/", 15) == 0 &&
	    strstr(path, ":countTokens") != NULL) {
		outf(o, "{\"totalTokens\":12}");
	} else if (strcmp(path, "/v1/responses") == 0) {
		stream = true;
		openai(f, o);
	} else {
		status = "404 Not Found";
		outf(o, "{\"error\":{\"message\":\"fake-model-api: no such "
		    "path\"}}");
	}
	if (stream)
		ctype = "text/event-stream";
	printf("FAKE %s %s %s key=%.*s\n", method, path,
	    stream ? "stream" : "once", (int)(klen > 200 ? 200 : klen), key);
	if (o->overflow)
		tls_server_die(&f->srv, "answer too long", 0);
	rlen = snprintf(resp, sizeof(resp), "HTTP/1.1 %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", status, ctype, o->len);
	if (rlen > 0 && (size_t)rlen < sizeof(resp) &&
	    tls_write_all(&ssl, resp, (size_t)rlen) == 0 &&
	    tls_write_all(&ssl, o->buf, o->len) == 0)
		mbedtls_ssl_close_notify(&ssl);
out:
	fflush(stdout);
	mbedtls_ssl_free(&ssl);
	mbedtls_net_free(&client);
	free(o);
}

int
main(int argc, char *argv[])
{
	static struct fake f;
	struct sigaction sa;
	const char *p;

	if (argc != 6) {
		fprintf(stderr,
		    "usage: fake-model-api ADDR PORT CERT KEY ANSWER\n");
		return 2;
	}
	for (p = argv[5]; *p != '\0'; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 ||
		    p - argv[5] > 200) {
			fprintf(stderr, "fake-model-api: ANSWER: plain text "
			    "only, at most 200 bytes\n");
			return 2;
		}
	setvbuf(stdout, NULL, _IOLBF, 0);
	f.answer = argv[5];
	if ((f.body = malloc(BODY_MAX + 1)) == NULL) {
		fprintf(stderr, "fake-model-api: out of memory\n");
		return 1;
	}
	tls_server_init(&f.srv, "fake-model-api", argv[1], argv[2], argv[3],
	    argv[4], IO_TIMEOUT_MS);
	printf("FAKE-LISTEN %s:%s\n", argv[1], argv[2]);
	/*
	 * A process per connection: an agent may hold one connection idle
	 * while it makes its next request on another.  Children are not
	 * waited for (SA_NOCLDWAIT); each reseeds its DRBG.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = SA_NOCLDWAIT;
	if (sigaction(SIGCHLD, &sa, NULL) == -1) {
		perror("fake-model-api: sigaction");
		return 1;
	}
	for (;;) {
		mbedtls_net_context client;
		pid_t	 pid;

		tls_server_accept(&f.srv, &client);
		fflush(stdout);
		if ((pid = fork()) == -1) {
			perror("fake-model-api: fork");
			return 1;
		}
		if (pid == 0) {
			close(f.srv.listen.fd);	/* not shutdown(2): shared */
			if (mbedtls_ctr_drbg_reseed(&f.srv.drbg, NULL, 0) != 0)
				_exit(1);
			serve_one(&f, &client);
			_exit(0);
		}
		close(client.fd);	/* the child has it; no shutdown(2) */
	}
}
