/*
 * cmd_logs.c: `capsemctl logs [--json] [-f] id`: a session's console log
 * and audit lines, from $CAPSEM_HOME/sessions/<id>/, for a running or an
 * ended session.  Both files are written by (or for) processes that handle
 * guest data, so every byte is treated as untrusted: control bytes and
 * bytes >= 0x80 never reach the terminal as they are.
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

#include "auditview.h"
#include "capsemctl.h"
#include "ctl_client.h"
#include "home.h"

#define LOGS_POLL_MS		250	/* --follow: how often files are read */
#define LOGS_ALIVE_EVERY	4	/* ... and every 4th time, the session */
#define CONSOLE_CHUNK		16384

/* Lines of an append-only file, each cut at AUDITVIEW_LINE_MAX. */
struct line_reader {
	int		 fd;
	char		*buf;		/* AUDITVIEW_LINE_MAX bytes */
	size_t		 start;		/* first unread byte */
	size_t		 len;		/* bytes in buf */
	bool		 skipping;	/* the rest of a cut line */
	unsigned long	 lineno;
};

enum logs_part { PART_NONE, PART_CONSOLE, PART_AUDIT };

struct logs {
	const char	*id;
	bool		 json;
	bool		 follow;
	int		 dirfd;		/* the session's directory */
	int		 console_fd;	/* -1 until console.log exists */
	bool		 console_cr;	/* a '\r' waits for its '\n' */
	bool		 console_midline;
	bool		 headers;	/* there is a console: name the parts */
	enum logs_part	 last;		/* the part printed last */
	struct line_reader audit;	/* fd -1 until audit.jsonl exists */
	char		*out;		/* AUDITVIEW_OUT_MAX bytes */
};

/*
 * The next line of lr into *line and *len (without '\n'); *cut if it was
 * longer than AUDITVIEW_LINE_MAX (only the start is given, the rest is
 * skipped).  A last line without '\n' is only given when final.
 * 1: a line, 0: none yet, -1: read error.
 */
static int
line_next(struct line_reader *lr, bool final, const char **line,
    size_t *len, bool *cut)
{
	char	*nl;
	ssize_t	 n;

	for (;;) {
		nl = memchr(lr->buf + lr->start, '\n', lr->len - lr->start);
		if (nl != NULL) {
			size_t	 at = (size_t)(nl - lr->buf);
			bool	 was_skipping = lr->skipping;

			*line = lr->buf + lr->start;
			*len = at - lr->start;
			*cut = false;
			lr->start = at + 1;
			lr->skipping = false;
			if (was_skipping)
				continue;
			lr->lineno++;
			return 1;
		}
		if (lr->skipping)
			lr->start = lr->len = 0;
		else if (lr->len - lr->start == AUDITVIEW_LINE_MAX) {
			*line = lr->buf + lr->start;
			*len = AUDITVIEW_LINE_MAX;
			*cut = true;
			lr->start = lr->len = 0;
			lr->skipping = true;
			lr->lineno++;
			return 1;
		}
		if (lr->start > 0) {
			memmove(lr->buf, lr->buf + lr->start,
			    lr->len - lr->start);
			lr->len -= lr->start;
			lr->start = 0;
		}
		n = read(lr->fd, lr->buf + lr->len, AUDITVIEW_LINE_MAX - lr->len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			if (!final)
				return 0;
			if (lr->len > 0 && !lr->skipping) {
				*line = lr->buf;
				*len = lr->len;
				*cut = false;
				lr->len = 0;
				lr->lineno++;
				return 1;
			}
			lr->start = lr->len = 0;
			lr->skipping = false;
			return 0;
		}
		lr->len += (size_t)n;
	}
}

/* Open the files that exist now and are not open yet.  0 or -1. */
static int
open_parts(struct logs *l)
{
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
	if (l->audit.fd == -1) {
		l->audit.fd = openat(l->dirfd, "audit.jsonl",
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (l->audit.fd == -1 && errno != ENOENT) {
			fprintf(stderr, "capsemctl: logs: audit.jsonl: %s\n",
			    strerror(errno));
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
	    part == PART_CONSOLE ? "console.log" : "audit.jsonl");
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

/* Every complete audit line there is now.  Lines printed, or -1. */
static ssize_t
drain_audit(struct logs *l, bool final)
{
	const char *line;
	size_t	 len, olen;
	ssize_t	 count = 0;
	bool	 cut;
	int	 r;

	if (l->audit.fd == -1)
		return 0;
	while ((r = line_next(&l->audit, final, &line, &len, &cut)) == 1) {
		count++;
		if (l->json) {
			if (cut || !auditview_is_json(line, len)) {
				fprintf(stderr, "capsemctl: logs: audit.jsonl:%lu: "
				    "not a JSON object, left out\n",
				    l->audit.lineno);
				continue;
			}
			fwrite(line, 1, len, stdout);
			putchar('\n');
			continue;
		}
		part_header(l, PART_AUDIT);
		olen = auditview_render(line, len, cut, l->out,
		    AUDITVIEW_OUT_MAX);
		fwrite(l->out, 1, olen, stdout);
	}
	if (r == -1) {
		fprintf(stderr, "capsemctl: logs: audit.jsonl: %s\n",
		    strerror(errno));
		return -1;
	}
	return count;
}

static bool
session_alive(const char *id)
{
	struct ctl_conn cc;

	if (ctl_connect(&cc, id) == -1)
		return false;
	ctl_close(&cc);
	return true;
}

/* --follow: print what is appended until the session is gone. */
static int
follow(struct logs *l)
{
	unsigned long	 ticks = 0;
	ssize_t		 printed_console, printed_audit;

	for (;;) {
		if (open_parts(l) == -1 ||
		    (printed_console = drain_console(l, false)) == -1 ||
		    (printed_audit = drain_audit(l, false)) == -1)
			return -1;
		if (fflush(stdout) == EOF)
			return -1;
		if (printed_console == 0 && printed_audit == 0 &&
		    ticks++ % LOGS_ALIVE_EVERY == 0 && !session_alive(l->id))
			return 0;
		(void)poll(NULL, 0, LOGS_POLL_MS);
	}
}

static int
logs_print(struct logs *l)
{
	if (l->follow && follow(l) == -1)
		return 1;
	if (open_parts(l) == -1 || drain_console(l, true) == -1 ||
	    drain_audit(l, true) == -1)
		return 1;
	if (l->console_midline)
		putchar('\n');
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "capsemctl: logs: standard output: %s\n",
		    strerror(errno));
		return 1;
	}
	if (l->console_fd == -1 && l->audit.fd == -1)
		fprintf(stderr, "capsemctl: logs: session %s has no logs yet\n",
		    l->id);
	return 0;
}

/* The session's directory, or -1 (said why; *status is the exit code). */
static int
open_session_dir(const char *id, int *status)
{
	char	 home[PATH_MAX], sessions[PATH_MAX], dir[PATH_MAX];
	int	 fd;

	*status = 2;
	if (capsem_home_or_say(home, sizeof(home)) == -1)
		return -1;
	if ((size_t)snprintf(sessions, sizeof(sessions), "%s/sessions",
	    home) >= sizeof(sessions) || (size_t)snprintf(dir, sizeof(dir),
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
	if ((l.dirfd = open_session_dir(l.id, &status)) == -1)
		return status;
	if (model) {
		close(l.dirfd);
		return logs_model_calls(l.id, l.json);
	}
	l.console_fd = l.audit.fd = -1;
	if ((l.out = malloc(AUDITVIEW_OUT_MAX)) == NULL ||
	    (l.audit.buf = malloc(AUDITVIEW_LINE_MAX)) == NULL) {
		fprintf(stderr, "capsemctl: logs: out of memory\n");
		free(l.out);
		close(l.dirfd);
		return 1;
	}
	status = logs_print(&l);
	if (l.console_fd != -1)
		close(l.console_fd);
	if (l.audit.fd != -1)
		close(l.audit.fd);
	close(l.dirfd);
	free(l.audit.buf);
	free(l.out);
	return status;
}
