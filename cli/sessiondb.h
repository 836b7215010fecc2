/*
 * sessiondb: a session's database, sessions/<id>/db/session.db (written
 * by capsem-policyd, whose man page lists its tables), opened read-only
 * for capsemctl's usage, logs and list.  The schema is not trusted: no
 * trigger or view of its own runs (trusted_schema off, defensive mode),
 * and every string read from it is untrusted text.
 */
#ifndef CAPSEM_SESSIONDB_H
#define CAPSEM_SESSIONDB_H

#include <stdbool.h>

#include <sqlite3.h>

/*
 * Open SESSIONS/ID/db/session.db read-only into *db.  0; or -1 with
 * *missing set when there is no such file or it has no tables yet
 * (policyd made it and had not written its schema), or with the reason
 * said on stderr ("capsemctl: PATH: reason") when it cannot be read.
 */
int	sessiondb_open(const char *sessions, const char *id, sqlite3 **db,
	    bool *missing);

#endif
