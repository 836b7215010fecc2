/*
 * cmd_list.c: `capsemctl list [--json] [-q] [--prune]`: every session this
 * user has, running or ended, as a table.
 *
 * Sources: each running session answers MSG_CTL_INFO_REQ on its control
 * socket (state, what it runs); every session, running or not, has a
 * directory $CAPSEM_HOME/sessions/<id>/ with session.json (what it was,
 * how it ended) and db/session.db (whose events give REQUESTS and
 * DENIED).  A session is stale when its parent died without cleanup: a
 * record without an end whose parent is gone, or a socket nobody answers.
 * --prune removes what stale sessions left (their directory and socket).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capsemctl.h"
#include "cmd_list.h"
#include "ctl_client.h"
#include "home.h"
#include "jsonout.h"
#include "session.h"
#include "session_record.h"
#include "sessiondb.h"

#define LIST_MAX		512

struct list_entry {
	char		 id[MSG_SESSION_MAX];
	char		 name[MSG_SESSION_MAX];
	char		 what[96];
	char		 state[32];
	int64_t		 started;
	bool		 live;		/* answered on its control socket */
	bool		 stale;
	bool		 have_record;
	bool		 stale_socket;	/* a socket file nobody answers */
	unsigned long	 requests, denied;
};

struct list {
	struct list_entry e[LIST_MAX];
	size_t		 n;
	char		 sessions[PATH_MAX];	/* $CAPSEM_HOME/sessions */
	char		 runtime[PATH_MAX];	/* where the sockets are */
};

static struct list_entry *
entry_of(struct list *l, const char *id)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->e[i].id, id) == 0)
			return &l->e[i];
	if (l->n == LIST_MAX)
		return NULL;
	memset(&l->e[l->n], 0, sizeof(l->e[0]));
	strlcpy(l->e[l->n].id, id, sizeof(l->e[0].id));
	return &l->e[l->n++];
}

/* One INFO conversation; 0 and the entry filled, -1 if it did not answer. */
static int
ask_session(const char *id, struct list_entry *e, int *refused)
{
	struct ctl_conn	 cc;
	struct imsg	 imsg;
	struct msg_ctl_info info;

	*refused = 0;
	if (ctl_connect(&cc, id) == -1) {
		*refused = errno == ECONNREFUSED;
		return -1;
	}
	if (ctl_send(&cc, MSG_CTL_INFO_REQ) == -1 ||
	    ctl_next(&cc, &imsg, 5000) != 1 || imsg.hdr.type != MSG_CTL_INFO ||
	    imsg.len != sizeof(info)) {
		ctl_close(&cc);
		return -1;
	}
	memcpy(&info, imsg.data, sizeof(info));
	ctl_close(&cc);
	if (!imsg_str_ok(info.name, sizeof(info.name)) ||
	    !imsg_str_ok(info.what, sizeof(info.what)) ||
	    !imsg_str_ok(info.state, sizeof(info.state)))
		return -1;
	e->live = true;
	e->started = info.started;
	strlcpy(e->name, info.name, sizeof(e->name));
	strlcpy(e->what, info.what, sizeof(e->what));
	strlcpy(e->state, info.state, sizeof(e->state));
	return 0;
}

/* Is pid a live capsemctl (not a zombie, not a reused pid)? */
static bool
parent_alive(int64_t pid)
{
	char	 path[64], stat[256], *p;
	FILE	*fp;
	bool	 ok = false;

	if (pid <= 1 || pid > INT32_MAX)
		return false;
	if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return errno != ENOENT;		/* cannot tell: not stale */
	/* "pid (comm) S ...": the name, then the state after the last ')' */
	if (fgets(stat, sizeof(stat), fp) != NULL &&
	    (p = strrchr(stat, ')')) != NULL && p[1] == ' ')
		ok = strstr(stat, "(capsemctl)") != NULL && p[2] != 'Z' &&
		    p[2] != 'X';
	fclose(fp);
	return ok;
}

/*
 * REQUESTS and DENIED: the events in the database that policyd gave a
 * verdict (connections, requests, DNS queries, refusals; not the
 * workspace), and how many of them it denied.
 */
static void
count_events(const char *sessions, const char *id, struct list_entry *e)
{
	sqlite3_stmt *q = NULL;
	sqlite3	*db;
	bool	 missing;

	if (sessiondb_open(sessions, id, &db, &missing) == -1)
		return;
	if (sqlite3_prepare_v2(db, "SELECT count(*), coalesce(sum(verdict ="
	    " 'deny'), 0) FROM events WHERE kind != 'workspace'", -1, &q,
	    NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
		e->requests = (unsigned long)sqlite3_column_int64(q, 0);
		e->denied = (unsigned long)sqlite3_column_int64(q, 1);
	} else
		fprintf(stderr, "capsemctl: list: session %s: %s\n", id,
		    sqlite3_errmsg(db));
	sqlite3_finalize(q);
	sqlite3_close(db);
}

static void
scan_records(struct list *l)
{
	struct session_record r;
	struct list_entry *e;
	struct dirent *de;
	char	 dir[PATH_MAX];
	DIR	*d;

	if ((d = opendir(l->sessions)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!session_id_valid(de->d_name) ||
		    (size_t)snprintf(dir, sizeof(dir), "%s/%s", l->sessions,
		    de->d_name) >= sizeof(dir) ||
		    session_record_read(dir, &r) == -1 ||
		    strcmp(r.id, de->d_name) != 0 ||
		    (e = entry_of(l, r.id)) == NULL)
			continue;
		e->have_record = true;
		e->started = r.started;
		strlcpy(e->name, r.name, sizeof(e->name));
		strlcpy(e->what, r.what, sizeof(e->what));
		if (r.ended)
			snprintf(e->state, sizeof(e->state), "ended(%d)",
			    r.status);
		else if (parent_alive(r.pid))
			strlcpy(e->state, "starting", sizeof(e->state));
		else {
			strlcpy(e->state, "stale", sizeof(e->state));
			e->stale = true;
		}
		count_events(l->sessions, r.id, e);
	}
	closedir(d);
}

static void
scan_sockets(struct list *l)
{
	struct list_entry *e, probe;
	struct dirent *de;
	char	 id[MSG_SESSION_MAX];
	size_t	 len;
	DIR	*d;
	int	 refused;

	if ((d = opendir(l->runtime)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 5 || strcmp(de->d_name + len - 5, ".sock") != 0 ||
		    len - 5 >= sizeof(id))
			continue;
		memcpy(id, de->d_name, len - 5);
		id[len - 5] = '\0';
		if (!session_id_valid(id))
			continue;
		memset(&probe, 0, sizeof(probe));
		if (ask_session(id, &probe, &refused) == -1) {
			if (!refused || (e = entry_of(l, id)) == NULL)
				continue;	/* not ours, or busy */
			e->stale_socket = true;
			if (!e->have_record || strcmp(e->state, "starting") == 0) {
				strlcpy(e->state, "stale", sizeof(e->state));
				e->stale = true;
			}
			continue;
		}
		if ((e = entry_of(l, id)) == NULL)
			continue;
		e->live = true;
		e->stale = false;
		e->started = probe.started;
		strlcpy(e->name, probe.name, sizeof(e->name));
		strlcpy(e->what, probe.what, sizeof(e->what));
		strlcpy(e->state, probe.state, sizeof(e->state));
	}
	closedir(d);
}

static int
by_start(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;

	if (x->started != y->started)
		return x->started < y->started ? -1 : 1;
	return strcmp(x->id, y->id);
}

static void
age(int64_t started, char *buf, size_t len)
{
	int64_t	 s = (int64_t)time(NULL) - started;

	if (started <= 0)
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%llds ago", (long long)(s < 0 ? 0 : s));
	else if (s < 3600)
		snprintf(buf, len, "%lldm ago", (long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh ago", (long long)(s / 3600));
	else
		snprintf(buf, len, "%lldd ago", (long long)(s / 86400));
}

/*
 * Remove a directory's files, and (depth > 0) its subdirectories' the same
 * way, then the directory.  Session directories hold files and db/.
 */
static int
remove_tree(const char *dir, int depth)
{
	char	 path[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR	*d;
	int	 rc = 0;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) >= sizeof(path) || lstat(path, &sb) == -1)
			rc = -1;
		else if (S_ISDIR(sb.st_mode) ? depth == 0 ||
		    remove_tree(path, depth - 1) == -1 : unlink(path) == -1)
			rc = -1;
	}
	closedir(d);
	if (rmdir(dir) == -1)
		rc = -1;
	return rc;
}

/* Remove a stale session's directory (its files and db/) and socket. */
static int
prune(struct list *l, const struct list_entry *e)
{
	char	 dir[PATH_MAX], path[PATH_MAX];
	int	 rc = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s.sock", l->runtime,
	    e->id) < sizeof(path) && unlink(path) == -1 && errno != ENOENT)
		rc = -1;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", l->sessions, e->id) >=
	    sizeof(dir))
		return -1;
	if (remove_tree(dir, 1) == -1)
		rc = -1;
	return rc;
}

static void
print_json(const struct list *l)
{
	const struct list_entry *e;
	size_t	 i;

	printf("[");
	for (i = 0; i < l->n; i++) {
		e = &l->e[i];
		printf("%s{\"id\":", i ? "," : "");
		json_put_string(stdout, e->id);
		printf(",\"name\":");
		if (e->name[0] != '\0')
			json_put_string(stdout, e->name);
		else
			printf("null");
		printf(",\"what\":");
		json_put_string(stdout, e->what);
		printf(",\"started\":%lld,\"state\":", (long long)e->started);
		json_put_string(stdout, e->state);
		printf(",\"running\":%s,\"stale\":%s,\"requests\":%lu,"
		    "\"denied\":%lu}", e->live ? "true" : "false",
		    e->stale ? "true" : "false", e->requests, e->denied);
	}
	printf("]\n");
}

int
cmd_list(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "prune", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	struct list	*l;
	struct list_entry *e;
	char	 home[PATH_MAX], started[32];
	size_t	 i, npruned = 0;
	int	 ch, json = 0, quiet = 0, do_prune = 0, rc = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+jq", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'P':
			do_prune = 1;
			break;
		default:
			return usage_of("list");
		}
	}
	if (optind != argc || (json && quiet))
		return usage_of("list");
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		fprintf(stderr, "capsemctl: list: out of memory\n");
		return 1;
	}
	if (capsem_home(home, sizeof(home)) == -1 ||
	    (size_t)snprintf(l->sessions, sizeof(l->sessions), "%s/sessions",
	    home) >= sizeof(l->sessions) ||
	    session_runtime_dir(l->runtime, sizeof(l->runtime), false) == -1) {
		fprintf(stderr, "capsemctl: list: no capsem home (set "
		    "CAPSEM_HOME or HOME)\n");
		free(l);
		return 1;
	}
	scan_records(l);
	scan_sockets(l);
	qsort(l->e, l->n, sizeof(l->e[0]), by_start);
	if (do_prune) {
		for (i = 0; i < l->n; i++) {
			e = &l->e[i];
			if (!e->stale)
				continue;
			if (prune(l, e) == -1) {
				fprintf(stderr, "capsemctl: list: could not "
				    "remove all of stale session %s\n", e->id);
				rc = 1;
			} else
				npruned++;
			memmove(e, e + 1, (l->n - i - 1) * sizeof(*e));
			l->n--;
			i--;
		}
		if (!json && !quiet)
			fprintf(stderr, "capsemctl: removed %zu stale "
			    "session%s\n", npruned, npruned == 1 ? "" : "s");
	}
	if (json)
		print_json(l);
	else if (quiet) {
		for (i = 0; i < l->n; i++)
			if (l->e[i].live)
				printf("%s\n", l->e[i].id);
	} else {
		printf("%-12s %-12s %-24s %-10s %-10s %8s %6s\n", "ID", "NAME",
		    "AGENT/COMMAND", "STARTED", "STATE", "REQUESTS", "DENIED");
		for (i = 0; i < l->n; i++) {
			e = &l->e[i];
			age(e->started, started, sizeof(started));
			printf("%-12s %-12s %-24.24s %-10s %-10s %8lu %6lu\n",
			    e->id, e->name[0] ? e->name : "-",
			    e->what[0] ? e->what : "-", started, e->state,
			    e->requests, e->denied);
		}
	}
	free(l);
	return rc;
}
