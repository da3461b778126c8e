/* libpgxq — enqueue jobs for pgxqd (and go-pgxq) from C or C++.
 *
 * Every call works on the caller's own PGconn, so an insert joins whatever transaction the
 * caller has open: the job exists exactly when the caller's business data does.
 *
 * Errors: functions return 0 (or a count/id >= 0) on success and -1 on failure, filling the
 * caller-provided pgxq_error (may be NULL) with the SQLSTATE (empty when the error was found
 * before any SQL was sent) and a message saying what was wrong. On validation errors nothing
 * is sent to the server. Thread-safety: as libpq's — one PGconn per thread at a time.
 */
#ifndef PGXQ_CLIENT_H
#define PGXQ_CLIENT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PGXQ_DEFAULT_TABLE "pgxq_job"
#define PGXQ_DEFAULT_QUEUE "default"
#define PGXQ_DEFAULT_MAX_ATTEMPTS 5

typedef struct pgxq_error {
  char sqlstate[6];   /* five characters and NUL; "" when no SQL ran */
  char message[512];  /* NUL-terminated, truncated if longer */
} pgxq_error;

/* Options for one job. Zero-initialise (or use pgxq_insert_opts_default) and set what you need:
 * a NULL string means the default, has_* flags say whether the numeric field is set. */
typedef struct pgxq_insert_opts {
  const char* table;          /* NULL: "pgxq_job" */
  const char* queue;          /* NULL: "default" */
  int has_priority;           int priority;      /* default 0 (lower runs first) */
  int has_max_attempts;       int max_attempts;  /* default 5, must be >= 1 */
  /* When to run: at most one of these; neither means now(). */
  int has_scheduled_at;       int64_t scheduled_at_unix_us; /* absolute, microseconds since epoch */
  int has_delay;              double delay_seconds;         /* now() + delay */
} pgxq_insert_opts;

pgxq_insert_opts pgxq_insert_opts_default(void);

/* Inserts one job; args_json NULL or "" means {}. Returns the new id (> 0) or -1. */
int64_t pgxq_insert(PGconn* conn, const char* kind, const char* args_json, const pgxq_insert_opts* opts,
                    pgxq_error* err);

/* One job of a batch: kind and args as above, per-job options (its `table` is ignored: the
 * batch's table is used). */
typedef struct pgxq_job_spec {
  const char* kind;
  const char* args_json;
  pgxq_insert_opts opts;
} pgxq_job_spec;

/* Inserts `count` jobs through COPY into `table` (NULL: default). All-or-nothing: every spec
 * is validated before anything is sent. Returns the number inserted or -1. */
int64_t pgxq_insert_many(PGconn* conn, const char* table, const pgxq_job_spec* jobs, size_t count, pgxq_error* err);

/* Validates a table name exactly as go-pgxq does. Returns 0 if valid, -1 with the rule broken. */
int pgxq_validate_table_name(const char* table, pgxq_error* err);

/* The table name as SQL text, validated as by pgxq_validate_table_name (table NULL: default)
 * and each part double-quoted: "pgxq_job", "app"."jobs". Returns a malloc'd string the caller
 * frees with pgxq_free, or NULL on error. */
char* pgxq_quote_table_name(const char* table, pgxq_error* err);

/* The LISTEN channel on which the job table's NOTIFY trigger (migration 2) announces new jobs:
 * "pgxq_" + the table name with '.' replaced by '_' (table NULL: default), e.g. "pgxq_pgxq_job"
 * or "pgxq_app_jobs" for "app.jobs". The payload is the queue name; one notification per
 * inserting statement and queue, only for jobs due now. Writes the NUL-terminated name into
 * `out` (PGXQ_NOTIFY_CHANNEL_MAX bytes always suffice). Returns 0, or -1 when the table name
 * is invalid, the channel would exceed PostgreSQL's 63-byte limit, or `out` is too small. */
#define PGXQ_NOTIFY_CHANNEL_MAX 64
int pgxq_notify_channel(const char* table, char* out, size_t out_size, pgxq_error* err);

/* The SQL that creates the job table and its indexes (go-pgxq's Schema) plus pgxqd's additive
 * migrations. Returns a malloc'd string the caller frees with pgxq_free, or NULL on error. */
char* pgxq_schema(const char* table, pgxq_error* err);
void pgxq_free(void* p);

/* Creates or upgrades the table idempotently, in its own transaction under an advisory lock
 * (the connection must not be inside a transaction). Applied versions are recorded in
 * pgxq_schema_migrations (job_table, version, applied_at) in the job table's schema, so two
 * processes may migrate at once and a table created by go-pgxq is upgraded in place.
 * Table names whose index names would exceed 63 bytes (more than 52 characters) are refused.
 * Returns 0 or -1. */
int pgxq_migrate(PGconn* conn, const char* table, pgxq_error* err);

/* libpgxq's version, "MAJOR.MINOR.PATCH". */
const char* pgxq_version(void);

#ifdef __cplusplus
}
#endif

#endif /* PGXQ_CLIENT_H */
