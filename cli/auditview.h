/*
 * auditview: the session database's event rows (capsem-policyd(8),
 * table events) made safe and readable for a terminal, and as JSON text.
 * The values come from sandboxed processes that handle guest traffic, so
 * they are untrusted bytes: nothing here lets a control byte or a byte
 * >= 0x80 through; the terminal gets \xHH, JSON gets \u00XX per byte.
 * Pure functions, no I/O: fuzzed by tests/fuzz/logs.
 */
#ifndef CAPSEM_AUDITVIEW_H
#define CAPSEM_AUDITVIEW_H

#include <stdbool.h>
#include <stddef.h>

/* Each value is shown up to this many bytes, then "...". */
#define AUDITVIEW_FIELD_MAX	4096

/* An event's columns, in the order the reader selects them. */
enum auditview_field {
	AV_ID, AV_TIME, AV_EVENT, AV_HOST, AV_PORT, AV_METHOD, AV_PATH,
	AV_VERDICT, AV_RULE, AV_SOURCE, AV_STATUS, AV_BYTES_IN, AV_BYTES_OUT,
	AV_DURATION, AV_REASON, AV_MODE, AUDITVIEW_NFIELDS
};

/* Enough for any rendering, JSON or readable, "\n" and NUL included. */
#define AUDITVIEW_OUT_MAX \
	(AUDITVIEW_NFIELDS * (6 * AUDITVIEW_FIELD_MAX + 32) + 256)

/*
 * One row: each value's bytes (not NUL-terminated) and length; NULL for
 * an SQL NULL.  Numbers are given as their decimal text; one that is not
 * a decimal number is shown as text (JSON: as a string).
 */
struct auditview_event {
	const char	*v[AUDITVIEW_NFIELDS];
	size_t		 len[AUDITVIEW_NFIELDS];
};

/*
 * One readable line for ev:
 *   TIME VERDICT EVENT [METHOD] HOST[:PORT][PATH] [status|rcode N]
 *   [rule R (SOURCE)] [, N B up, M B down[, D ms]] [: REASON]
 * and for the workspace: TIME allow  workspace PATH MODE.
 * out gets the text, '\n' and a NUL; returns its length (without the
 * NUL).  outlen >= AUDITVIEW_OUT_MAX is always enough; with less, the
 * text is cut.  outlen must be >= 2.
 */
size_t	auditview_render(const struct auditview_event *ev, char *out,
	    size_t outlen);

/*
 * ev as one JSON object of printable ASCII and its "\n", NUL-terminated:
 * the keys those of audit.jsonl (capsem-policyd(8)) in its order, "id"
 * after "session"; NULL values are left out; values are never cut.  Returns
 * the length, or 0 if outlen < auditview_json_size(ev, session).
 */
size_t	auditview_json(const struct auditview_event *ev, const char *session,
	    char *out, size_t outlen);
/* The room auditview_json needs for ev; 0 if that overflows a size_t. */
size_t	auditview_json_size(const struct auditview_event *ev,
	    const char *session);

/*
 * Escape bytes for a terminal into out (NUL-terminated, cut to fit);
 * returns the length written.  Printable ASCII stays, backslash becomes
 * "\\", \n \r \t become "\n" "\r" "\t", everything else "\xHH".
 */
size_t	auditview_escape(const char *in, size_t len, char *out, size_t outlen);

#endif
