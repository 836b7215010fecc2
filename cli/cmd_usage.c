/*
 * cmd_usage.c: what the session database says about model calls.
 *   capsemctl usage [--json] [id]      per session and model: calls,
 *                                      tokens of each kind, cost
 *   capsemctl logs --model [--json] id one line per model call
 * The database, sessions/<id>/db/session.db, is written by capsem-policyd
 * (capsem-policyd(8) lists its tables); it is opened read-only, with the
 * schema untrusted (no triggers or views of its own run), and every string
 * read from it is escaped before it reaches the terminal.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "auditview.h"
#include "capsemctl.h"
#include "ctl_client.h"
#include "home.h"
#include "jsonout.h"
#include "msg.h"
#include "sessiondb.h"

#define PUSD_PER_MICRO	1000000ULL	/* picodollars per micro-dollar */
#define MODEL_NAME_SHOWN 160	/* bytes of a string column shown */

struct usage_total {
	uint64_t	 calls;
	uint64_t	 tokens[4];	/* input, output, cache read, cache write */
	uint64_t	 cost_pusd;
	uint64_t	 unpriced;	/* calls without a price */
};

/* "$D.DDDDDD" (to the micro-dollar, truncated) */
static void
dollars(uint64_t pusd, char *buf, size_t len)
{
	uint64_t micro = pusd / PUSD_PER_MICRO;

	snprintf(buf, len, "$%" PRIu64 ".%06" PRIu64, micro / 1000000,
	    micro % 1000000);
}

/* A column's text, terminal-safe ("-" when NULL). */
static const char *
shown(sqlite3_stmt *q, int col, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	if (t == NULL)
		return "-";
	auditview_escape((const char *)t, (size_t)sqlite3_column_bytes(q, col),
	    buf, len);
	return buf;
}

static uint64_t
col_u64(sqlite3_stmt *q, int col)
{
	sqlite3_int64 v = sqlite3_column_int64(q, col);

	return v < 0 ? 0 : (uint64_t)v;
}

static const char usage_query[] =
	"SELECT model, count(*), sum(input_tokens), sum(output_tokens),"
	" sum(cache_read_tokens), sum(cache_write_tokens), sum(cost_pusd),"
	" count(*) - count(cost_pusd) FROM model_calls GROUP BY model"
	" ORDER BY model";

/* One session's lines (or JSON object).  0, or -1 if its query failed. */
static int
usage_session(sqlite3 *db, const char *id, bool json, bool *first,
    struct usage_total *total)
{
	sqlite3_stmt *q;
	char	 name[4 * MODEL_NAME_SHOWN + 1], cost[40];
	bool	 firstm = true;
	int	 i, rc;

	if (sqlite3_prepare_v2(db, usage_query, -1, &q, NULL) != SQLITE_OK) {
		fprintf(stderr, "capsemctl: usage: session %s: %s\n", id,
		    sqlite3_errmsg(db));
		return -1;
	}
	if (json) {
		printf("%s{\"id\":", *first ? "" : ",");
		json_put_string(stdout, id);
		printf(",\"models\":[");
	}
	*first = false;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const unsigned char *model = sqlite3_column_text(q, 0);
		uint64_t calls = col_u64(q, 1), unpriced = col_u64(q, 7);
		uint64_t pusd = col_u64(q, 6), tok[4];

		for (i = 0; i < 4; i++) {
			tok[i] = col_u64(q, 2 + i);
			total->tokens[i] += tok[i];
		}
		total->calls += calls;
		total->cost_pusd += pusd;
		total->unpriced += unpriced;
		dollars(pusd, cost, sizeof(cost));
		if (json) {
			printf("%s{\"model\":", firstm ? "" : ",");
			if (model == NULL)
				printf("null");
			else
				json_put_string(stdout, (const char *)model);
			printf(",\"calls\":%" PRIu64 ",\"input_tokens\":%" PRIu64
			    ",\"output_tokens\":%" PRIu64 ",\"cache_read_tokens\":%"
			    PRIu64 ",\"cache_write_tokens\":%" PRIu64
			    ",\"cost_pusd\":%" PRIu64 ",\"cost_usd\":\"%s\","
			    "\"unpriced_calls\":%" PRIu64 "}", calls, tok[0],
			    tok[1], tok[2], tok[3], pusd, cost + 1, unpriced);
		} else
			printf("%-10s %-32s %6" PRIu64 " %10" PRIu64 " %10"
			    PRIu64 " %10" PRIu64 " %11" PRIu64 " %12s%s\n", id,
			    shown(q, 0, name, sizeof(name)), calls, tok[0],
			    tok[1], tok[2], tok[3], unpriced == calls ? "-" :
			    cost, unpriced > 0 && unpriced < calls ? "*" : "");
		firstm = false;
	}
	if (json)
		printf("]}");
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "capsemctl: usage: session %s: %s\n", id,
		    sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Every session with a database, or the one named. */
int
cmd_usage(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	char	 home[PATH_MAX], sessions[PATH_MAX], cost[40];
	struct usage_total total;
	struct dirent *de;
	sqlite3	*db;
	DIR	*d = NULL;
	const char *id;
	bool	 json = false, first = true, missing;
	int	 ch, rc = 0;

	while ((ch = getopt_long(argc, argv, "+j", longopts, NULL)) != -1) {
		if (ch != 'j')
			return usage_of("usage");
		json = true;
	}
	if (argc - optind > 1 || (argc - optind == 1 &&
	    !session_id_valid(argv[optind])))
		return usage_of("usage");
	if (capsem_home_or_say(home, sizeof(home)) == -1)
		return 2;
	if ((size_t)snprintf(sessions, sizeof(sessions), "%s/sessions", home) >=
	    sizeof(sessions))
		return 2;
	memset(&total, 0, sizeof(total));
	if (argc - optind == 0 && (d = opendir(sessions)) == NULL &&
	    errno != ENOENT) {
		fprintf(stderr, "capsemctl: usage: %s: %s\n", sessions,
		    strerror(errno));
		return 1;
	}
	if (json)
		printf("{\"sessions\":[");
	else
		printf("%-10s %-32s %6s %10s %10s %10s %11s %12s\n", "SESSION",
		    "MODEL", "CALLS", "INPUT", "OUTPUT", "CACHE_READ",
		    "CACHE_WRITE", "COST");
	for (;;) {
		if (argc - optind == 1) {
			if (!first)
				break;
			id = argv[optind];
		} else {
			if (d == NULL || (de = readdir(d)) == NULL)
				break;
			id = de->d_name;
			if (!session_id_valid(id))
				continue;
		}
		if (sessiondb_open(sessions, id, &db, &missing) == -1) {
			if (missing && argc - optind == 1) {
				fprintf(stderr, "capsemctl: usage: session %s "
				    "has no database\n", id);
				rc = 1;
			} else if (!missing)
				rc = 1;
			if (argc - optind == 1)
				break;
			continue;
		}
		if (usage_session(db, id, json, &first, &total) == -1)
			rc = 1;
		sqlite3_close(db);
	}
	if (d != NULL)
		closedir(d);
	dollars(total.cost_pusd, cost, sizeof(cost));
	if (json)
		printf("],\"total\":{\"calls\":%" PRIu64 ",\"input_tokens\":%"
		    PRIu64 ",\"output_tokens\":%" PRIu64 ",\"cache_read_tokens\":%"
		    PRIu64 ",\"cache_write_tokens\":%" PRIu64 ",\"cost_pusd\":%"
		    PRIu64 ",\"cost_usd\":\"%s\",\"unpriced_calls\":%" PRIu64
		    "}}\n", total.calls, total.tokens[0], total.tokens[1],
		    total.tokens[2], total.tokens[3], total.cost_pusd, cost + 1,
		    total.unpriced);
	else {
		printf("%-10s %-32s %6" PRIu64 " %10" PRIu64 " %10" PRIu64
		    " %10" PRIu64 " %11" PRIu64 " %12s\n", "total", "",
		    total.calls, total.tokens[0], total.tokens[1],
		    total.tokens[2], total.tokens[3], cost);
		if (total.unpriced > 0)
			printf("%" PRIu64 " call%s of models without a price "
			    "(policyd/prices.tsv) %s not in the cost%s\n",
			    total.unpriced, total.unpriced == 1 ? "" : "s",
			    total.unpriced == 1 ? "is" : "are",
			    total.unpriced < total.calls ? " (* marks them)" :
			    "");
	}
	return rc;
}

static const char calls_query[] =
	"SELECT time, api, host, path, status, model, input_tokens,"
	" output_tokens, cache_read_tokens, cache_write_tokens, cost_pusd,"
	" stop_reason, tools, ntools, streamed, has_usage, unreadable, why,"
	" duration_us FROM model_calls ORDER BY id";

static void
json_col(sqlite3_stmt *q, const char *key, int col, bool number)
{
	printf(",\"%s\":", key);
	if (sqlite3_column_type(q, col) == SQLITE_NULL)
		printf("null");
	else if (number)
		printf("%lld", (long long)sqlite3_column_int64(q, col));
	else
		json_put_string(stdout, (const char *)sqlite3_column_text(q,
		    col));
}

/* `capsemctl logs --model [--json] id` */
int
logs_model_calls(const char *id, bool json)
{
	static const char *const keys[] = {
		"time", "api", "host", "path", "status", "model",
		"input_tokens", "output_tokens", "cache_read_tokens",
		"cache_write_tokens", "cost_pusd", "stop_reason", "tools",
		"ntools", "streamed", "has_usage", "unreadable", "why",
		"duration_us",
	};
	static const bool number[] = {
		false, false, false, false, true, false, true, true, true,
		true, true, false, false, true, true, true, true, false, true,
	};
	char	 home[PATH_MAX], sessions[PATH_MAX], cost[40];
	char	 t[4][4 * MODEL_NAME_SHOWN + 1];
	sqlite3_stmt *q;
	sqlite3	*db;
	bool	 missing;
	int	 i, rc;

	if (capsem_home_or_say(home, sizeof(home)) == -1)
		return 2;
	if ((size_t)snprintf(sessions, sizeof(sessions), "%s/sessions", home) >=
	    sizeof(sessions))
		return 2;
	if (sessiondb_open(sessions, id, &db, &missing) == -1) {
		if (missing)
			fprintf(stderr, "capsemctl: logs: session %s has no "
			    "database\n", id);
		return 1;
	}
	if (sqlite3_prepare_v2(db, calls_query, -1, &q, NULL) != SQLITE_OK) {
		fprintf(stderr, "capsemctl: logs: session %s: %s\n", id,
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		return 1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (json) {
			printf("{\"session\":");
			json_put_string(stdout, id);
			for (i = 0; i < (int)(sizeof(keys) / sizeof(keys[0]));
			    i++)
				json_col(q, keys[i], i, number[i]);
			printf("}\n");
			continue;
		}
		if (sqlite3_column_type(q, 10) == SQLITE_NULL)
			snprintf(cost, sizeof(cost), "no price");
		else
			dollars(col_u64(q, 10), cost, sizeof(cost));
		printf("%s %s %s %lld in %" PRIu64 " out %" PRIu64
		    " cache read %" PRIu64 " write %" PRIu64 " %s",
		    shown(q, 0, t[0], sizeof(t[0])),
		    shown(q, 1, t[1], sizeof(t[1])),
		    shown(q, 5, t[2], sizeof(t[2])),
		    (long long)sqlite3_column_int64(q, 4), col_u64(q, 6),
		    col_u64(q, 7), col_u64(q, 8), col_u64(q, 9), cost);
		if (sqlite3_column_type(q, 11) != SQLITE_NULL)
			printf(" stop %s", shown(q, 11, t[3], sizeof(t[3])));
		if (sqlite3_column_type(q, 12) != SQLITE_NULL)
			printf(" tools %s", shown(q, 12, t[3], sizeof(t[3])));
		if (sqlite3_column_int(q, 16) != 0)
			printf(" UNREADABLE: %s", shown(q, 17, t[3],
			    sizeof(t[3])));
		printf("\n");
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "capsemctl: logs: session %s: %s\n", id,
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		return 1;
	}
	sqlite3_close(db);
	return 0;
}
