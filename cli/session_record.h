/*
 * session_record: $CAPSEM_HOME/sessions/<id>/session.json, what a session
 * was and how it ended, for `capsemctl list` after the session is gone.
 * Written by the session parent (at start, and again at its end, each
 * time whole: a temporary file renamed over the old one), read back by
 * `capsemctl list` with the fuzzed JSON reader of jsonin.h.
 *
 *   {"id":"d06f8dc9","name":"my-task","mode":"vm","what":"claude",
 *    "pid":4242,"started":1764662400,
 *    "workspace":"/home/u/project","workspace_mode":"rw",
 *    "ended":1764662500,"status":0,"reason":"guest ended: ..."}
 *
 * "workspace" and "workspace_mode" only when a directory was shared;
 * "name" is present only for `start -n`; "ended", "status" and "reason"
 * only once the session ended.  A record without "ended" whose session
 * answers on no control socket is stale: its parent died without cleanup.
 */
#ifndef CAPSEM_SESSION_RECORD_H
#define CAPSEM_SESSION_RECORD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SESSION_RECORD_FILE	"session.json"
#define SESSION_RECORD_MAX	8192	/* bytes; a longer file is not ours */

struct session_record {
	char	 id[32];
	char	 name[32];	/* "" without -n */
	char	 mode[16];	/* "vm", "proxy", "host-only" */
	char	 what[96];	/* agent, "shell", the command, or the mode */
	int64_t	 pid;
	int64_t	 started;
	bool	 ended;
	int64_t	 ended_at;
	int	 status;
	char	 reason[384];
	char	 workspace[PATH_MAX];	/* shared directory, "" if none */
	char	 workspace_mode[4];	/* "rw", "ro" */
};

/* Write r as dir/session.json (0600).  0, or -1 with errno. */
int	session_record_write(const char *dir, const struct session_record *r);

/*
 * Parse a session.json held in buf (untrusted: any bytes).  0, or -1 if it
 * is not a record (not JSON, no "id" or "started", a field too long).
 */
int	session_record_parse(const char *buf, size_t len,
	    struct session_record *r);

/* Read and parse dir/session.json: 0, or -1 (absent, unreadable, bad). */
int	session_record_read(const char *dir, struct session_record *r);

#endif
