/*
 * cmd_logs.c: `capsemctl logs [--json] [-f] id`: a session's console log
 * and its events (the session database's events table, one row per
 * connection, request, DNS query, refusal and the workspace), from
 * $CAPSEM_HOME/sessions/<id>/, for a running or an ended session.  Both
 * are written by (or for) processes that handle guest data, so every byte
 * is treated as untrusted: control bytes and bytes >= 0x80 never reach
 * the terminal as they are.  --json: the events as JSON Lines, for a SIEM.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "auditview.h"
#include "capsemctl.h"
#include "ctl_client.h"
#include "home.h"
#include "msg.h"
#include "sessiondb.h"

#define LOGS_POLL_MS		250	/* --follow: how often files are read */
#define CONSOLE_CHUNK		16384

enum logs_part { PART_NONE, PART_CONSOLE, PART_EVENTS };

/* The events, in the order of enum auditview_field. */
static const char events_query[] =
	"SELECT id, time, kind, host, port, method, path, verdict, rule,"
	" source, status, bytes_in, bytes_out, duration_us, reason, mode"
	" FROM events WHERE id > ?1 ORDER BY id";
/* A database of schema 1 (before events.mode) */
static const char events_query_v1[] =
	"SELECT id, time, kind, host, port, method, path, verdict, rule,"
	" source, status, bytes_in, bytes_out, duration_us, reason, NULL"
	" FROM events WHERE id > ?1 ORDER BY id";

struct logs {
	const char	*id;
	bool		 json;
	bool		 follow;
	char		 sessions[PATH_MAX];	/* $CAPSEM_HOME/sessions */
	int		 dirfd;		/* the session's directory */
	int		 console_fd;	/* -1 until console.log exists */
	bool		 console_cr;	/* a '\r' waits for its '\n' */
	bool		 console_midline;
	bool		 headers;	/* there is a console: name the parts */
	enum logs_part	 last;		/* the part printed last */
	sqlite3		*db;		/* NULL until db/session.db exists */
	sqlite3_stmt	*events;
	sqlite3_int64	 last_id;	/* the last event printed */
	char		*out;		/* out_len bytes */
	size_t		 out_len;
};

/* Open what exists now and is not open yet.  0 or -1 (said why). */
static int
open_parts(struct logs *l)
{
	bool	 missing;

	if (!l->json && l->console_fd == -1) {
		l->console_fd = openat(l->dirfd, "console.log",
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (l->console_fd == -1 && errno != ENOENT) {
			fprintf(stderr, "capsemctl: logs: console.log: %s\n",
			    strerror(errno));
			return -1;
		}
		if (l->console_fd != -1)
			l->headers = true;
	}
	if (l->db == NULL) {
		if (sessiondb_open(l->sessions, l->id, &l->db, &missing) == -1)
			return missing ? 0 : -1;
		if (sqlite3_prepare_v2(l->db, events_query, -1, &l->events,
		    NULL) != SQLITE_OK && sqlite3_prepare_v2(l->db,
		    events_query_v1, -1, &l->events, NULL) != SQLITE_OK) {
			fprintf(stderr, "capsemctl: logs: session %s: %s\n",
			    l->id, sqlite3_errmsg(l->db));
			return -1;
		}
	}
	return 0;
}

/* With a console there are two parts: name each as it starts. */
static void
part_header(struct logs *l, enum logs_part part)
{
	if (!l->headers || l->last == part)
		return;
	if (l->last == PART_CONSOLE && l->console_midline)
		putchar('\n');
	printf("%s==> %s <==\n", l->last == PART_NONE ? "" : "\n",
	    part == PART_CONSOLE ? "console.log" : SESSION_DB_DIR "/"
	    SESSION_DB_FILE);
	l->last = part;
}

/*
 * Console bytes for a terminal: printable ASCII, '\n' and '\t' as they
 * are, "\r\n" as '\n', anything else as \xHH (or \r).
 */
static size_t
console_escape(struct logs *l, const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = in[i];

		if (l->console_cr) {
			l->console_cr = false;
			if (c != '\n') {
				out[o++] = '\\';
				out[o++] = 'r';
			}
		}
		if (c == '\r')
			l->console_cr = true;
		else if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f))
			out[o++] = (char)c;
		else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	return o;
}

/* Everything console.log has now.  Bytes printed, or -1. */
static ssize_t
drain_console(struct logs *l, bool final)
{
	unsigned char in[CONSOLE_CHUNK];
	size_t	 total = 0, o;
	ssize_t	 n;

	if (l->console_fd == -1)
		return 0;
	for (;;) {
		if ((n = read(l->console_fd, in, sizeof(in))) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "capsemctl: logs: console.log: %s\n",
			    strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		part_header(l, PART_CONSOLE);
		o = console_escape(l, in, (size_t)n, l->out);
		if (o > 0) {
			fwrite(l->out, 1, o, stdout);
			l->console_midline = l->out[o - 1] != '\n';
		}
		total += (size_t)n;
	}
	if (final && l->console_cr) {
		l->console_cr = false;
		fputs("\\r", stdout);
		l->console_midline = true;
	}
	return (ssize_t)total;
}

/* Room for n bytes of output.  0 or -1. */
static int
out_room(struct logs *l, size_t n)
{
	char	*p;

	if (n <= l->out_len)
		return 0;
	if ((p = realloc(l->out, n)) == NULL)
		return -1;
	l->out = p;
	l->out_len = n;
	return 0;
}

/* Every event committed after the last one printed.  Count, or -1. */
static ssize_t
drain_events(struct logs *l)
{
	struct auditview_event ev;
	ssize_t	 count = 0;
	size_t	 n, need;
	int	 i, rc;

	if (l->db == NULL)
		return 0;
	if (sqlite3_bind_int64(l->events, 1, l->last_id) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(l->events)) == SQLITE_ROW) {
		/* the id first: the texts below stay valid to the next step */
		l->last_id = sqlite3_column_int64(l->events, AV_ID);
		for (i = 0; i < AUDITVIEW_NFIELDS; i++) {
			ev.v[i] = (const char *)sqlite3_column_text(l->events, i);
			ev.len[i] = ev.v[i] == NULL ? 0 :
			    (size_t)sqlite3_column_bytes(l->events, i);
		}
		count++;
		if (l->json) {
			need = auditview_json_size(&ev, l->id);
			if (need == 0 || out_room(l, need) == -1 ||
			    (n = auditview_json(&ev, l->id, l->out,
			    l->out_len)) == 0) {
				fprintf(stderr, "capsemctl: logs: event %lld: "
				    "out of memory\n", (long long)l->last_id);
				sqlite3_reset(l->events);
				return -1;
			}
		} else {
			part_header(l, PART_EVENTS);
			n = auditview_render(&ev, l->out, l->out_len);
		}
		fwrite(l->out, 1, n, stdout);
	}
	sqlite3_reset(l->events);
	if (rc == SQLITE_DONE)
		return count;
fail:
	fprintf(stderr, "capsemctl: logs: session %s: %s\n", l->id,
	    sqlite3_errmsg(l->db));
	return -1;
}

/*
 * --follow: print what is appended until the session is over: its parent
 * holds a lock on the session directory until every child (policyd, which
 * commits the last events, among them) is gone.
 */
static int
follow(struct logs *l)
{
	int	 live;

	for (;;) {
		if ((live = session_dir_locked(l->dirfd)) == -1) {
			fprintf(stderr, "capsemctl: logs: session %s: %s\n",
			    l->id, strerror(errno));
			return -1;
		}
		if (open_parts(l) == -1 || drain_console(l, false) == -1 ||
		    drain_events(l) == -1)
			return -1;
		if (fflush(stdout) == EOF)
			return -1;
		if (!live)
			return 0;	/* this drain came after the end */
		(void)poll(NULL, 0, LOGS_POLL_MS);
	}
}

static int
logs_print(struct logs *l)
{
	if (l->follow && follow(l) == -1)
		return 1;
	if (open_parts(l) == -1 || drain_console(l, true) == -1 ||
	    drain_events(l) == -1)
		return 1;
	if (l->console_midline)
		putchar('\n');
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "capsemctl: logs: standard output: %s\n",
		    strerror(errno));
		return 1;
	}
	if (l->console_fd == -1 && l->db == NULL)
		fprintf(stderr, "capsemctl: logs: session %s has no logs yet\n",
		    l->id);
	return 0;
}

/* The session's directory, or -1 (said why; *status is the exit code). */
static int
open_session_dir(const char *id, char *sessions, size_t sessions_len,
    int *status)
{
	char	 home[PATH_MAX], dir[PATH_MAX];
	int	 fd;

	*status = 2;
	if (capsem_home_or_say(home, sizeof(home)) == -1)
		return -1;
	if ((size_t)snprintf(sessions, sessions_len, "%s/sessions",
	    home) >= sessions_len || (size_t)snprintf(dir, sizeof(dir),
	    "%s/%s", sessions, id) >= sizeof(dir)) {
		fprintf(stderr, "capsemctl: logs: CAPSEM_HOME path too long\n");
		return -1;
	}
	*status = 1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			fprintf(stderr, "capsemctl: logs: no session %s under "
			    "%s\n", id, sessions);
		else
			fprintf(stderr, "capsemctl: logs: %s: %s\n", dir,
			    strerror(errno));
		return -1;
	}
	return fd;
}

int
cmd_logs(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "model", no_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 }
	};
	struct logs	 l;
	char		 shown[4 * MSG_SESSION_MAX + 1];
	bool		 model = false;
	int		 ch, status;

	memset(&l, 0, sizeof(l));
	while ((ch = getopt_long(argc, argv, "+jfm", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			model = true;
			break;
		case 'j':
			l.json = true;
			break;
		case 'f':
			l.follow = true;
			break;
		default:
			return usage_of("logs");
		}
	}
	if (argc - optind != 1 || (model && l.follow))
		return usage_of("logs");
	l.id = argv[optind];
	if (!session_id_valid(l.id)) {
		auditview_escape(l.id, strnlen(l.id, MSG_SESSION_MAX), shown,
		    sizeof(shown));
		fprintf(stderr, "capsemctl: logs: bad session id \"%s%s\": "
		    "use 1-31 of A-Z a-z 0-9 . _ -\n", shown,
		    strlen(l.id) >= MSG_SESSION_MAX ? "..." : "");
		return usage_of("logs");
	}
	if ((l.dirfd = open_session_dir(l.id, l.sessions, sizeof(l.sessions),
	    &status)) == -1)
		return status;
	if (model) {
		close(l.dirfd);
		return logs_model_calls(l.id, l.json);
	}
	l.console_fd = -1;
	if ((l.out = malloc(AUDITVIEW_OUT_MAX)) == NULL) {
		fprintf(stderr, "capsemctl: logs: out of memory\n");
		close(l.dirfd);
		return 1;
	}
	l.out_len = AUDITVIEW_OUT_MAX;
	status = logs_print(&l);
	if (l.console_fd != -1)
		close(l.console_fd);
	sqlite3_finalize(l.events);
	sqlite3_close(l.db);
	close(l.dirfd);
	free(l.out);
	return status;
}
