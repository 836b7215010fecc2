/*
 * audit: one JSON object per line for every verdict and every request
 * outcome, appended to ~/.capsem/sessions/<id>/audit.jsonl through an fd
 * the parent opened.  Fields, in this order:
 *   time (RFC 3339, UTC, milliseconds), session, event (conn, request,
 *   dns, refused), host, port, method, path, verdict (allow|deny), rule,
 *   source ("file:line"), and for outcomes reported by netproxy: status,
 *   bytes_in, bytes_out, duration_us, reason.  The session's workspace
 *   (shared by the parent) is the one line with only time, session,
 *   event "workspace", path (the host directory) and mode (rw|ro).
 * Strings are escaped byte by byte: '"' '\\' and control bytes as JSON
 * escapes, and every byte >= 0x80 as \u00XX (one escape per byte), so the
 * line is ASCII and the original bytes can be recovered exactly.
 */
#ifndef CAPSEM_AUDIT_H
#define CAPSEM_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "msg.h"

#define AUDIT_LINE_MAX	(64 * 1024)

struct audit_record {
	struct timespec	 when;		/* CLOCK_REALTIME */
	const char	*session;
	const char	*event;		/* "conn", "request", "dns", "refused" */
	const char	*host;
	uint16_t	 port;
	const char	*method;	/* NULL: omitted */
	const char	*path;		/* NULL: omitted */
	size_t		 pathlen;
	bool		 allow;
	const char	*rule;
	const char	*file;
	unsigned	 line;
	bool		 has_outcome;	/* the fields below are present */
	uint32_t	 status;
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	uint64_t	 duration_us;
	const char	*reason;	/* NULL or "": omitted */
	const char	*mode;		/* workspace: "rw" or "ro"; else NULL */
};

/*
 * Format one line, '\n' included, NUL-terminated.  Returns its length, or
 * 0 if buflen is too small (nothing usable is in buf then).
 */
size_t	audit_format(const struct audit_record *, char *buf, size_t buflen);

#define AUDIT_TIME_LEN	24	/* YYYY-MM-DDTHH:MM:SS.mmmZ */

/* when (UTC, milliseconds) as AUDIT_TIME_LEN bytes and a NUL into out. */
size_t	audit_time_text(const struct timespec *when, char *out);

/*
 * "file:line" into out, NUL-terminated; its length, or 0 (out empty) if
 * outlen < strlen(file) + 22.
 */
size_t	audit_source_text(const char *file, unsigned line, char *out,
	    size_t outlen);

/* A record for a verdict policyd gave (times set to now). */
void	audit_from_verdict(struct audit_record *, const char *session,
	    const char *event, const char *host, uint16_t port,
	    const char *method, const char *path, size_t pathlen,
	    const struct msg_verdict *);

/* A record for an AUDIT_EVENT from netproxy; ev must outlive the record.
 * Its char arrays must be NUL-terminated (the caller checked). */
void	audit_from_event(struct audit_record *, const char *session,
	    const struct msg_audit_event *ev);

/* The record of the shared workspace (time set to now). */
void	audit_from_workspace(struct audit_record *, const char *session,
	    const char *path, bool readonly);

/* Write the whole line to fd (retrying short writes).  0 or -1. */
int	audit_write(int fd, const char *line, size_t len);

#endif
