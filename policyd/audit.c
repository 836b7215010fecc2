/*
 * audit.c: JSON audit lines.  See audit.h for the format.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "text.h"

struct out {
	char	*buf;
	size_t	 cap;
	size_t	 len;
	bool	 overflow;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n >= o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Does byte c stand for itself inside a JSON string (json_escape_byte)? */
static bool
json_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static void
put_json_bytes(struct out *o, const char *s, size_t n)
{
	char	 esc[JSON_BYTE_ESCAPED_MAX];
	size_t	 i, run;

	put(o, "\"", 1);
	for (i = 0; i < n; i += run) {
		/* the bytes that need no escape, in one copy */
		for (run = 0; i + run < n && json_plain((unsigned char)s[i +
		    run]); run++)
			;
		if (run > 0)
			put(o, s + i, run);
		else {
			put(o, esc, json_escape_byte((unsigned char)s[i], esc));
			run = 1;
		}
	}
	put(o, "\"", 1);
}

/* v in decimal into out (room for 20 digits); returns the length. */
static size_t
u64_text(uint64_t v, char *out)
{
	char	 rev[20];
	size_t	 n = 0, i;

	do {
		rev[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		out[i] = rev[n - 1 - i];
	return n;
}

size_t
audit_time_text(const struct timespec *when, char *out)
{
	struct tm tm;
	time_t	 t = when->tv_sec;
	long	 ms = when->tv_nsec / 1000000;
	int	 year;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	year = tm.tm_year + 1900;
	if (year < 0 || year > 9999)
		year = 0;
	if (ms < 0 || ms > 999)
		ms = 0;
	/* YYYY-MM-DDTHH:MM:SS.mmmZ */
	out[0] = (char)('0' + year / 1000);
	out[1] = (char)('0' + year / 100 % 10);
	out[2] = (char)('0' + year / 10 % 10);
	out[3] = (char)('0' + year % 10);
	out[4] = '-';
	out[5] = (char)('0' + (tm.tm_mon + 1) / 10);
	out[6] = (char)('0' + (tm.tm_mon + 1) % 10);
	out[7] = '-';
	out[8] = (char)('0' + tm.tm_mday / 10);
	out[9] = (char)('0' + tm.tm_mday % 10);
	out[10] = 'T';
	out[11] = (char)('0' + tm.tm_hour / 10);
	out[12] = (char)('0' + tm.tm_hour % 10);
	out[13] = ':';
	out[14] = (char)('0' + tm.tm_min / 10);
	out[15] = (char)('0' + tm.tm_min % 10);
	out[16] = ':';
	out[17] = (char)('0' + tm.tm_sec / 10);
	out[18] = (char)('0' + tm.tm_sec % 10);
	out[19] = '.';
	out[20] = (char)('0' + ms / 100);
	out[21] = (char)('0' + ms / 10 % 10);
	out[22] = (char)('0' + ms % 10);
	out[23] = 'Z';
	out[24] = '\0';
	return AUDIT_TIME_LEN;
}

size_t
audit_source_text(const char *file, unsigned line, char *out, size_t outlen)
{
	size_t	 n = strlen(file);

	if (outlen < n + 22) {
		if (outlen > 0)
			out[0] = '\0';
		return 0;
	}
	memcpy(out, file, n);
	out[n++] = ':';
	n += u64_text(line, out + n);
	out[n] = '\0';
	return n;
}

static void
field_str(struct out *o, const char *key, const char *s, size_t n)
{
	put(o, ",\"", 2);
	puts_(o, key);
	put(o, "\":", 2);
	put_json_bytes(o, s, n);
}

static void
field_num(struct out *o, const char *key, uint64_t v)
{
	char	 num[20];

	put(o, ",\"", 2);
	puts_(o, key);
	put(o, "\":", 2);
	put(o, num, u64_text(v, num));
}

size_t
audit_format(const struct audit_record *r, char *buf, size_t buflen)
{
	struct out o = { buf, buflen, 0, false };
	char	 ts[AUDIT_TIME_LEN + 1], source[MSG_FILE_MAX + 24];
	size_t	 n;

	if (buflen == 0)
		return 0;
	n = audit_time_text(&r->when, ts);
	puts_(&o, "{\"time\":");
	put_json_bytes(&o, ts, n);
	field_str(&o, "session", r->session ? r->session : "",
	    r->session ? strlen(r->session) : 0);
	field_str(&o, "event", r->event, strlen(r->event));
	if (r->mode != NULL) {
		field_str(&o, "path", r->path, r->pathlen);
		field_str(&o, "mode", r->mode, strlen(r->mode));
		goto end;
	}
	field_str(&o, "host", r->host ? r->host : "",
	    r->host ? strlen(r->host) : 0);
	field_num(&o, "port", r->port);
	if (r->method != NULL)
		field_str(&o, "method", r->method, strlen(r->method));
	if (r->path != NULL)
		field_str(&o, "path", r->path, r->pathlen);
	field_str(&o, "verdict", r->allow ? "allow" : "deny",
	    r->allow ? 5 : 4);
	/* a line no rule decided (a refusal, a malformed request) has none */
	if (r->rule != NULL && r->rule[0] != '\0')
		field_str(&o, "rule", r->rule, strlen(r->rule));
	if (r->file != NULL && r->file[0] != '\0') {
		n = audit_source_text(r->file, r->line, source,
		    sizeof(source));
		field_str(&o, "source", source, n);
	}
	if (r->has_outcome) {
		field_num(&o, "status", r->status);
		field_num(&o, "bytes_in", r->bytes_in);
		field_num(&o, "bytes_out", r->bytes_out);
		field_num(&o, "duration_us", r->duration_us);
		if (r->reason != NULL && r->reason[0] != '\0')
			field_str(&o, "reason", r->reason, strlen(r->reason));
	}
end:
	put(&o, "}\n", 2);
	if (o.overflow) {
		buf[0] = '\0';
		return 0;
	}
	buf[o.len] = '\0';
	return o.len;
}

void
audit_from_verdict(struct audit_record *r, const char *session,
    const char *event, const char *host, uint16_t port, const char *method,
    const char *path, size_t pathlen, const struct msg_verdict *v)
{
	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_REALTIME, &r->when);
	r->session = session;
	r->event = event;
	r->host = host;
	r->port = port;
	r->method = method;
	r->path = path;
	r->pathlen = pathlen;
	r->allow = v->allow == VERDICT_ALLOW;
	r->rule = v->rule;
	r->file = v->file;
	r->line = v->line;
}

void
audit_from_event(struct audit_record *r, const char *session,
    const struct msg_audit_event *ev)
{
	static const char *const kinds[] = {
		[AUDIT_CONN] = "conn",
		[AUDIT_REQUEST] = "request",
		[AUDIT_DNS] = "dns",
		[AUDIT_REFUSED] = "refused",
	};

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_REALTIME, &r->when);
	r->session = session;
	r->event = ev->kind < sizeof(kinds) / sizeof(kinds[0]) ?
	    kinds[ev->kind] : "unknown";
	r->host = ev->host;
	r->port = ev->port;
	if (ev->method[0] != '\0')
		r->method = ev->method;
	if (ev->path[0] != '\0') {
		r->path = ev->path;
		r->pathlen = strlen(ev->path);
	}
	r->allow = ev->allow == VERDICT_ALLOW;
	r->rule = ev->rule;
	r->file = ev->file;
	r->line = ev->line;
	r->has_outcome = true;
	r->status = ev->status;
	r->bytes_in = ev->bytes_in;
	r->bytes_out = ev->bytes_out;
	r->duration_us = ev->duration_us;
	r->reason = ev->reason;
}

void
audit_from_workspace(struct audit_record *r, const char *session,
    const char *path, bool readonly)
{
	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_REALTIME, &r->when);
	r->session = session;
	r->event = "workspace";
	r->host = "";
	r->path = path;
	r->pathlen = strlen(path);
	r->allow = true;
	r->mode = readonly ? "ro" : "rw";
}

int
audit_write(int fd, const char *line, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, line, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		line += n;
		len -= (size_t)n;
	}
	return 0;
}
