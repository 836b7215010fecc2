/*
 * store: the session database, one SQLite file per session,
 * ~/.capsem/sessions/<id>/db/session.db, written by policyd alone.
 *
 * Tables (capsem-policyd(8) is the reference):
 *   meta(key, value)            schema version, session id
 *   events(...)                 one row per connection, request, DNS query
 *                               and refusal: netproxy's outcome joined with
 *                               the verdict that allowed or denied it,
 *                               and the shared workspace (mode rw|ro)
 *   model_calls(...)            one row per model-API call, tokens and cost
 * WAL journal, synchronous=NORMAL: a committed row survives a killed
 * policyd (it is in the WAL, which the next reader replays); a power cut
 * may lose the last commits, never the file.  Rows are committed in
 * batches: a transaction opens at the first row and commits STORE_COMMIT_MS
 * later, so a burst costs one commit (a commit per turn of the loop cost
 * 17% of keep-alive throughput, bench/proxy/ab.py; a batch costs 7%), and
 * a killed policyd loses at most that long's rows.
 */
#ifndef CAPSEM_STORE_H
#define CAPSEM_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "audit.h"
#include "event.h"
#include "msg.h"

#define STORE_SCHEMA_VERSION	2	/* 2: events.mode (the workspace) */
#define STORE_COMMIT_MS		100	/* a batch commits at most this late */

struct store;

/* Open (creating) the database at path; NULL and a reason on failure. */
struct store *store_open(const char *path, const char *session_id,
	    struct event_loop *, char *err, size_t errlen);
/* One events row; a failed write is logged once and counted. */
void	store_event(struct store *, const struct audit_record *);
/* One model_calls row; cost_pusd < 0: the model's price is unknown. */
void	store_model_call(struct store *, const struct msg_model_event *,
	    int64_t cost_pusd, const char *price_source);
uint64_t store_rows(const struct store *);
uint64_t store_failures(const struct store *);
/* Commit what is pending and close. */
void	store_close(struct store *);

#endif
