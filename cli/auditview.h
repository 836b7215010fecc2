/*
 * auditview: audit.jsonl lines (see policyd/audit.h) made safe and
 * readable for a terminal.  The lines come from sandboxed processes that
 * handle guest traffic, so they are untrusted text: nothing here lets a
 * control byte or a byte >= 0x80 through; those are shown as \xHH.
 * Pure functions, no I/O: fuzzed by tests/fuzz/logs.
 */
#ifndef CAPSEM_AUDITVIEW_H
#define CAPSEM_AUDITVIEW_H

#include <stdbool.h>
#include <stddef.h>

/* Longer audit lines are cut there (policyd writes at most 64 KiB). */
#define AUDITVIEW_LINE_MAX	(64 * 1024)
/* Each string value is shown up to this many bytes, then "...". */
#define AUDITVIEW_FIELD_MAX	4096
/* Enough for any rendering of a line of AUDITVIEW_LINE_MAX bytes. */
#define AUDITVIEW_OUT_MAX	(4 * AUDITVIEW_LINE_MAX + 1024)

/*
 * Is line (without its '\n') one JSON object made only of printable
 * ASCII, as policyd writes them?  Only such lines are printed verbatim.
 */
bool	auditview_is_json(const char *line, size_t len);

/*
 * One readable line for an audit line (without its '\n'):
 *   TIME VERDICT EVENT [METHOD] HOST:PORT[PATH] [status N] [rule R (SOURCE)]
 *   [, N B up, M B down, D ms] [: REASON]
 * A line that is not a JSON object (or was cut: cut is true) is shown as
 * "[malformed] " and its bytes escaped.  out gets the text, '\n' and a
 * NUL; returns its length (without the NUL).  outlen >= AUDITVIEW_OUT_MAX
 * is always enough; with less, the text is cut.  outlen must be >= 2.
 */
size_t	auditview_render(const char *line, size_t len, bool cut, char *out,
	    size_t outlen);

/*
 * Escape bytes for a terminal into out (NUL-terminated, cut to fit);
 * returns the length written.  Printable ASCII stays, backslash becomes
 * "\\", \n \r \t become "\n" "\r" "\t", everything else "\xHH".
 */
size_t	auditview_escape(const char *in, size_t len, char *out, size_t outlen);

#endif
