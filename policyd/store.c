/*
 * store.c: the session database.  See store.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"

static const char store_schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"PRAGMA temp_store=MEMORY;"
	"CREATE TABLE IF NOT EXISTS meta ("
	"  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS events ("
	"  id INTEGER PRIMARY KEY,"
	"  time TEXT NOT NULL,"		/* RFC 3339 UTC, milliseconds */
	"  kind TEXT NOT NULL,"		/* conn request dns refused */
	"  host TEXT NOT NULL,"
	"  port INTEGER NOT NULL,"
	"  method TEXT,"
	"  path TEXT,"
	"  verdict TEXT NOT NULL,"	/* allow deny */
	"  rule TEXT,"
	"  source TEXT,"		/* file:line of the rule */
	"  status INTEGER,"		/* HTTP status, DNS rcode */
	"  bytes_in INTEGER,"		/* from the guest */
	"  bytes_out INTEGER,"		/* to the guest */
	"  duration_us INTEGER,"
	"  reason TEXT,"
	"  mode TEXT);"
	"CREATE TABLE IF NOT EXISTS model_calls ("
	"  id INTEGER PRIMARY KEY,"
	"  time TEXT NOT NULL,"
	"  api TEXT NOT NULL,"
	"  host TEXT NOT NULL,"
	"  path TEXT NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  model TEXT,"
	"  input_tokens INTEGER NOT NULL,"
	"  output_tokens INTEGER NOT NULL,"
	"  cache_read_tokens INTEGER NOT NULL,"
	"  cache_write_tokens INTEGER NOT NULL,"
	"  stop_reason TEXT,"
	"  tools TEXT,"
	"  ntools INTEGER NOT NULL,"
	"  streamed INTEGER NOT NULL,"
	"  has_usage INTEGER NOT NULL,"
	"  unreadable INTEGER NOT NULL,"
	"  why TEXT,"
	"  duration_us INTEGER NOT NULL,"
	"  cost_pusd INTEGER,"		/* picodollars; NULL: price unknown */
	"  price_source TEXT);";

static const char store_insert_event[] =
	"INSERT INTO events (time, kind, host, port, method, path, verdict,"
	" rule, source, status, bytes_in, bytes_out, duration_us, reason, mode)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
	" ?15)";

static const char store_insert_model[] =
	"INSERT INTO model_calls (time, api, host, path, status, model,"
	" input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,"
	" stop_reason, tools, ntools, streamed, has_usage, unreadable, why,"
	" duration_us, cost_pusd, price_source) VALUES (?1, ?2, ?3, ?4, ?5,"
	" ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,"
	" ?20)";

struct store {
	sqlite3		*db;
	sqlite3_stmt	*ins_event;
	sqlite3_stmt	*ins_model;
	struct event_loop *loop;
	uint64_t	 commit_timer;	/* a transaction is open while set */
	uint64_t	 rows;
	uint64_t	 failures;
};

static const char *
api_name(uint32_t api)
{
	switch (api) {
	case MODEL_EVENT_ANTHROPIC_MESSAGES: return "anthropic-messages";
	case MODEL_EVENT_OPENAI_RESPONSES: return "openai-responses";
	case MODEL_EVENT_OPENAI_CHAT: return "openai-chat";
	case MODEL_EVENT_GEMINI: return "gemini";
	default: return "unknown";
	}
}

static void
store_fail(struct store *st, const char *what)
{
	if (st->failures++ == 0)
		log_warnx("session database: %s: %s", what,
		    sqlite3_errmsg(st->db));
}

static int
exec_sql(struct store *st, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		if (st->failures++ == 0)
			log_warnx("session database: %s", msg ? msg : sql);
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static void
store_commit(void *arg)
{
	struct store	*st = arg;

	st->commit_timer = 0;
	(void)exec_sql(st, "COMMIT");
}

/* Rows go into one transaction until the loop is idle again. */
static int
store_begin(struct store *st)
{
	if (st->commit_timer != 0)
		return 0;
	if (exec_sql(st, "BEGIN") == -1)
		return -1;
	if ((st->commit_timer = timer_add(st->loop, STORE_COMMIT_MS, store_commit, st)) ==
	    0) {
		store_commit(st);
		return -1;
	}
	return 0;
}

static int
bind_opt_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return sqlite3_bind_null(stmt, i);
	return sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
}

/* Token counts and sizes are below 2^63 (netproxy's are bounded). */
static sqlite3_int64
i64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

/*
 * Step and reset an insert.  Its texts are bound SQLITE_STATIC: each
 * caller binds from buffers that live until this returns, in the same
 * function.  The connection is policyd's one thread's (SQLITE_OPEN_NOMUTEX).
 */
static void
run_insert(struct store *st, sqlite3_stmt *stmt, int rc, const char *what)
{
	if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_DONE)
		st->rows++;
	else
		store_fail(st, what);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

struct store *
store_open(const char *path, const char *session_id, struct event_loop *loop,
    char *err, size_t errlen)
{
	struct store	*st;
	sqlite3_stmt	*meta = NULL;
	char		 version[16];
	int		 rc;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->loop = loop;
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (rc != SQLITE_OK)
		goto fail;
	if (exec_sql(st, store_schema) == -1)
		goto fail;
	snprintf(version, sizeof(version), "%d", STORE_SCHEMA_VERSION);
	if ((rc = sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO meta "
	    "(key, value) VALUES ('schema', ?1), ('session', ?2)", -1, &meta,
	    NULL)) != SQLITE_OK ||
	    sqlite3_bind_text(meta, 1, version, -1, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    sqlite3_bind_text(meta, 2, session_id, -1, SQLITE_STATIC) !=
	    SQLITE_OK || sqlite3_step(meta) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(meta);
	meta = NULL;
	if (sqlite3_prepare_v3(st->db, store_insert_event, -1,
	    SQLITE_PREPARE_PERSISTENT, &st->ins_event, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(st->db, store_insert_model, -1,
	    SQLITE_PREPARE_PERSISTENT, &st->ins_model, NULL) != SQLITE_OK)
		goto fail;
	st->failures = 0;
	return st;
fail:
	snprintf(err, errlen, "%s: %s", path, st->db ? sqlite3_errmsg(st->db) :
	    "out of memory");
	sqlite3_finalize(meta);
	sqlite3_finalize(st->ins_event);
	sqlite3_finalize(st->ins_model);
	sqlite3_close(st->db);
	free(st);
	return NULL;
}

void
store_event(struct store *st, const struct audit_record *r)
{
	sqlite3_stmt	*s = st->ins_event;
	char		 ts[AUDIT_TIME_LEN + 1], source[MSG_FILE_MAX + 24];
	int		 rc;

	if (store_begin(st) == -1)
		return;
	(void)audit_time_text(&r->when, ts);
	source[0] = '\0';
	if (r->file != NULL && r->file[0] != '\0')
		(void)audit_source_text(r->file, r->line, source,
		    sizeof(source));
	rc = sqlite3_bind_text(s, 1, ts, -1, SQLITE_STATIC);
	rc |= sqlite3_bind_text(s, 2, r->event, -1, SQLITE_STATIC);
	rc |= sqlite3_bind_text(s, 3, r->host ? r->host : "", -1,
	    SQLITE_STATIC);
	rc |= sqlite3_bind_int(s, 4, r->port);
	rc |= bind_opt_text(s, 5, r->method);
	if (r->path != NULL && r->pathlen <= INT32_MAX)
		rc |= sqlite3_bind_text(s, 6, r->path, (int)r->pathlen,
		    SQLITE_STATIC);
	rc |= sqlite3_bind_text(s, 7, r->allow ? "allow" : "deny", -1,
	    SQLITE_STATIC);
	rc |= bind_opt_text(s, 8, r->rule);
	rc |= bind_opt_text(s, 9, source);
	if (r->has_outcome) {
		rc |= sqlite3_bind_int64(s, 10, r->status);
		rc |= sqlite3_bind_int64(s, 11, i64(r->bytes_in));
		rc |= sqlite3_bind_int64(s, 12, i64(r->bytes_out));
		rc |= sqlite3_bind_int64(s, 13, i64(r->duration_us));
		rc |= bind_opt_text(s, 14, r->reason);
	}
	rc |= bind_opt_text(s, 15, r->mode);
	run_insert(st, s, rc, "insert an event");
}

void
store_model_call(struct store *st, const struct msg_model_event *m,
    int64_t cost_pusd, const char *price_source)
{
	sqlite3_stmt	*s = st->ins_model;
	struct timespec	 now;
	char		 ts[AUDIT_TIME_LEN + 1];
	int		 rc;

	if (store_begin(st) == -1)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	(void)audit_time_text(&now, ts);
	rc = sqlite3_bind_text(s, 1, ts, -1, SQLITE_STATIC);
	rc |= sqlite3_bind_text(s, 2, api_name(m->api), -1, SQLITE_STATIC);
	rc |= sqlite3_bind_text(s, 3, m->host, -1, SQLITE_STATIC);
	rc |= sqlite3_bind_text(s, 4, m->path, -1, SQLITE_STATIC);
	rc |= sqlite3_bind_int64(s, 5, m->status);
	rc |= bind_opt_text(s, 6, m->model);
	rc |= sqlite3_bind_int64(s, 7, i64(m->input_tokens));
	rc |= sqlite3_bind_int64(s, 8, i64(m->output_tokens));
	rc |= sqlite3_bind_int64(s, 9, i64(m->cache_read_tokens));
	rc |= sqlite3_bind_int64(s, 10, i64(m->cache_write_tokens));
	rc |= bind_opt_text(s, 11, m->stop_reason);
	rc |= bind_opt_text(s, 12, m->tools);
	rc |= sqlite3_bind_int64(s, 13, m->ntools);
	rc |= sqlite3_bind_int(s, 14, m->streamed != 0);
	rc |= sqlite3_bind_int(s, 15, m->has_usage != 0);
	rc |= sqlite3_bind_int(s, 16, m->unreadable != 0);
	rc |= bind_opt_text(s, 17, m->why);
	rc |= sqlite3_bind_int64(s, 18, i64(m->duration_us));
	if (cost_pusd >= 0) {
		rc |= sqlite3_bind_int64(s, 19, cost_pusd);
		rc |= bind_opt_text(s, 20, price_source);
	}
	run_insert(st, s, rc, "insert a model call");
}

uint64_t
store_rows(const struct store *st)
{
	return st->rows;
}

uint64_t
store_failures(const struct store *st)
{
	return st->failures;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->commit_timer != 0) {
		timer_cancel(st->loop, st->commit_timer);
		store_commit(st);
	}
	sqlite3_finalize(st->ins_event);
	sqlite3_finalize(st->ins_model);
	if (sqlite3_close(st->db) != SQLITE_OK)
		log_warnx("session database: close: %s",
		    sqlite3_errmsg(st->db));
	free(st);
}
