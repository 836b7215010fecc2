/*
 * sessiondb.c: open a session's database read-only.  See sessiondb.h.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>

#include "msg.h"
#include "sessiondb.h"

#define SESSIONDB_BUSY_MS	5000	/* policyd's commit holds the lock briefly */

int
sessiondb_open(const char *sessions, const char *id, sqlite3 **db,
    bool *missing)
{
	char	 path[PATH_MAX];
	struct stat sb;
	sqlite3_stmt *q = NULL;
	int	 rc;

	*db = NULL;
	*missing = false;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s/%s", sessions, id,
	    SESSION_DB_DIR, SESSION_DB_FILE) >= sizeof(path)) {
		fprintf(stderr, "capsemctl: %s: path too long\n", id);
		return -1;
	}
	if (lstat(path, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		*missing = true;
		return -1;
	}
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK ||
	    sqlite3_exec(*db, "PRAGMA trusted_schema=OFF", NULL, NULL, NULL) !=
	    SQLITE_OK ||
	    sqlite3_db_config(*db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "capsemctl: %s: %s\n", path,
		    *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(*db, SESSIONDB_BUSY_MS);
	/*
	 * A database policyd has made but not yet given its tables (the
	 * session is starting, or ended before that) holds nothing yet: as
	 * good as missing.  A file that is not a database fails here.
	 */
	if (sqlite3_prepare_v2(*db, "SELECT 1 FROM sqlite_master WHERE"
	    " type = 'table' AND name = 'events'", -1, &q, NULL) != SQLITE_OK ||
	    (rc = sqlite3_step(q)) == SQLITE_ERROR || rc == SQLITE_BUSY ||
	    rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
		fprintf(stderr, "capsemctl: %s: %s\n", path,
		    sqlite3_errmsg(*db));
		sqlite3_finalize(q);
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW) {
		sqlite3_close(*db);
		*db = NULL;
		*missing = true;
		return -1;
	}
	return 0;
}
