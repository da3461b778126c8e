/* libpgxq — enqueue jobs for pgxqd (and go-pgxq) from C or C++.
 *
 * Every call works on the caller's own PGconn, so an insert joins whatever transaction the
 * caller has open: the job exists exactly when the caller's business data does.
 *
 * Errors: functions return 0 (or a count/id >= 0) on success and -1 on failure, filling the
 * caller-provided pgxq_error (may be NULL) with the SQLSTATE (empty when the error was found
 * before any SQL was sent) and a message saying what was wrong. On validation errors nothing
 * is sent to the server. Thread-safety: as libpq's — one PGconn per thread at a time.
 *
 * Compatibility (the rule libpgxq keeps; README.md, "Enqueue from C/C++", says the same):
 *   - The shared library's SONAME is libpgxq.so.1. A program built against libpgxq 1.x runs
 *     unchanged with any later 1.y: functions are only ever added (each release's additions get
 *     a new symbol version node, PGXQ_1.1, PGXQ_1.2, ...), never changed or removed, and the
 *     structs below only grow at their end. Anything else is an incompatible change, which
 *     bumps the SONAME to libpgxq.so.2.
 *   - The structs the caller allocates and the library reads or fills (pgxq_insert_opts,
 *     pgxq_job_spec, pgxq_schema_info, pgxq_insert_result) begin with `struct_size`, which must be the struct's
 *     sizeof as the caller was compiled: initialise them with the PGXQ_..._INIT macro or the
 *     pgxq_..._init() function next to them (or, in a designated initialiser, set
 *     .struct_size = sizeof(the struct) yourself). The library reads or writes only
 *     the bytes struct_size covers and treats fields past it as unset (their defaults), so a
 *     program built against an older header keeps working. A struct_size smaller than the
 *     first (1.0) layout, or larger than this library knows (a program built against a newer
 *     libpgxq), is refused with a message saying so, and nothing is sent.
 *   - pgxq_error never changes.
 *   Why a size field rather than opaque handles with setters: options stay plain values on
 *   the caller's stack (no allocation and no free per job, which matters for insert_many of
 *   100,000 jobs), C designated initialisers keep working, and a batch stays one contiguous
 *   array the caller owns: pgxq_insert_many steps through it by the caller's struct_size.
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

/* Options for one job. Initialise with PGXQ_INSERT_OPTS_INIT (or pgxq_insert_opts_init) and
 * set what you need: a NULL string means the default, has_* flags say whether the numeric
 * field is set. */
typedef struct pgxq_insert_opts {
  size_t struct_size;         /* sizeof(pgxq_insert_opts) as compiled: set by the initialisers */
  const char* table;          /* NULL: "pgxq_job" */
  const char* queue;          /* NULL: "default" */
  int has_priority;           int priority;      /* default 0 (lower runs first) */
  int has_max_attempts;       int max_attempts;  /* default 5, must be >= 1 */
  /* When to run: at most one of these; neither means now(). */
  int has_scheduled_at;       int64_t scheduled_at_unix_us; /* absolute, microseconds since epoch */
  int has_delay;              double delay_seconds;         /* now() + delay */
  /* New fields are only ever appended here (see "Compatibility" above). */
  /* Since 1.1. NULL: an ordinary job. A key makes the job unique: at most one unfinished
   * (available, scheduled, waiting for a retry, or running) job per (kind, unique_key) in the
   * table. Inserting while such a job exists inserts nothing and gives that job's id (see
   * pgxq_insert_ex); once it completes, fails or is discarded the key is free again. Queue,
   * args, priority and schedule are not part of it: put whatever should make jobs distinct into
   * the key ("user:42:2026-12-02"). Not empty, at most 1000 bytes. Needs the table at migration
   * 8 (pgxq_migrate); below it the insert fails with a message saying so. A program built
   * against 1.0 passes a struct_size that ends before this field: its jobs have no key. */
  const char* unique_key;
} pgxq_insert_opts;

#define PGXQ_INSERT_OPTS_INIT {sizeof(pgxq_insert_opts), NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0.0, NULL}

/* Inline, so that struct_size is the size this program was compiled with. */
static inline void pgxq_insert_opts_init(pgxq_insert_opts* opts) {
  pgxq_insert_opts defaults = PGXQ_INSERT_OPTS_INIT;
  *opts = defaults;
}

/* Inserts one job; args_json NULL or "" means {}; opts NULL means every default. Returns the
 * new id (> 0) or -1. The job is judged before the connection is looked at, so with conn NULL
 * it only validates: -1 with an empty SQLSTATE for bad input, -1 with SQLSTATE 08006 ("the
 * connection is NULL") for a job that would be accepted. With opts->unique_key set and the key
 * taken, nothing is inserted and the id returned is the existing job's: use pgxq_insert_ex to
 * tell the two apart. */
int64_t pgxq_insert(PGconn* conn, const char* kind, const char* args_json, const pgxq_insert_opts* opts,
                    pgxq_error* err);

/* What pgxq_insert_ex did (since 1.1). Initialise with PGXQ_INSERT_RESULT_INIT (or
 * pgxq_insert_result_init); the library writes only the bytes struct_size covers. */
typedef struct pgxq_insert_result {
  size_t struct_size;  /* sizeof(pgxq_insert_result) as compiled: set by the initialisers */
  int64_t id;          /* the job's id: the new one, or the unfinished job holding the key */
  int inserted;        /* 1: a job was inserted; 0: the unique key was taken, nothing inserted */
  /* Fields are only appended (8-byte ones: this layout ends in 4 bytes of padding). */
} pgxq_insert_result;

#define PGXQ_INSERT_RESULT_INIT {sizeof(pgxq_insert_result), 0, 0}

static inline void pgxq_insert_result_init(pgxq_insert_result* result) {
  pgxq_insert_result defaults = PGXQ_INSERT_RESULT_INIT;
  *result = defaults;
}

/* Since 1.1. pgxq_insert, and says in `out` whether the job was inserted or its unique key was
 * taken (then out->id is the holder's id and nothing was inserted). Returns 0 or -1 (`out` is
 * untouched on -1). Without a unique key it always inserts.
 * A keyed insert is INSERT ... ON CONFLICT DO NOTHING RETURNING id; when it inserts nothing, a
 * second statement reads the holder's id (in READ COMMITTED it has a new snapshot, so it sees a
 * holder that committed after the first statement began), and if the holder finished in between
 * the insert is tried again (a few times, then -1 with SQLSTATE 40001: try again). Concurrent
 * inserts of one key wait for each other: exactly one inserts, the others get its id once it
 * commits. Under REPEATABLE READ or SERIALIZABLE a conflict with a job the transaction's snapshot
 * cannot see is the server's serialization failure (-1, SQLSTATE 40001): retry the transaction. */
int pgxq_insert_ex(PGconn* conn, const char* kind, const char* args_json, const pgxq_insert_opts* opts,
                   pgxq_insert_result* out, pgxq_error* err);

/* One job of a batch. Initialise with PGXQ_JOB_SPEC_INIT (or pgxq_job_spec_init); every spec of
 * one array must carry the same struct_size, by which pgxq_insert_many steps through it. */
typedef struct pgxq_job_spec {
  size_t struct_size;           /* sizeof(pgxq_job_spec) as compiled: set by the initialisers */
  const char* kind;
  const char* args_json;        /* NULL or "": {} */
  const pgxq_insert_opts* opts; /* NULL: defaults; its `table` is ignored (the batch's is used).
                                   Specs may share one options struct. */
} pgxq_job_spec;

#define PGXQ_JOB_SPEC_INIT {sizeof(pgxq_job_spec), NULL, NULL, NULL}

static inline void pgxq_job_spec_init(pgxq_job_spec* spec) {
  pgxq_job_spec defaults = PGXQ_JOB_SPEC_INIT;
  *spec = defaults;
}

/* Inserts `count` jobs through COPY into `table` (NULL: default). All-or-nothing: every spec
 * is validated before anything is sent, and a refused spec's message starts with
 * "job <index>: " (its index in `jobs`). Returns the number inserted or -1.
 * Unique keys: when any spec has opts->unique_key, the batch is one INSERT ... ON CONFLICT DO
 * NOTHING instead of COPY (still one statement, all-or-nothing), and a spec whose key is taken
 * — by an unfinished job in the table, or by an earlier spec of the same batch — is skipped:
 * the count returned is of the jobs inserted, so count minus it were skipped. To learn each
 * job's id (new or existing), insert them one by one with pgxq_insert_ex. */
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

/* Creates or upgrades the table idempotently under an advisory lock (the connection must not be
 * inside a transaction): catalog changes in transactions of its own, indexes built CONCURRENTLY
 * between them so inserts into a live table are not blocked (an index an interrupted build left
 * INVALID is dropped and built again). Applied versions are recorded in
 * pgxq_schema_migrations (job_table, version, applied_at) in the job table's schema, so two
 * processes may migrate at once and a table created by go-pgxq is upgraded in place.
 * Table names whose index names would exceed 63 bytes (more than 52 characters) are refused.
 * Returns 0 or -1. */
int pgxq_migrate(PGconn* conn, const char* table, pgxq_error* err);

/* Where a job table stands in its migrations, as pgxq_schema_status reports it. */
typedef struct pgxq_schema_info {
  size_t struct_size;  /* sizeof(pgxq_schema_info) as compiled: set by the initialisers */
  int table_exists;    /* 1 when the table exists, else 0 */
  /* The highest migration version pgxq_schema_migrations records for the table: 0 when the
   * table does not exist, or exists without any record (created by go-pgxq's Migrate or by
   * hand from older SQL). Higher than latest_version when a newer libpgxq migrated it. -1 when
   * the ledger exists but this role may not read it (GRANT SELECT ON pgxq_schema_migrations). */
  int applied_version;
  int latest_version;  /* the last migration this libpgxq knows: up to date when applied equals it */
  /* Fields are only appended, and each addition must grow sizeof, or struct_size could not tell
   * the layouts apart: the 1.0 layout ends in 4 bytes of padding, so append 8-byte fields. */
} pgxq_schema_info;

#define PGXQ_SCHEMA_INFO_INIT {sizeof(pgxq_schema_info), 0, 0, 0}

static inline void pgxq_schema_info_init(pgxq_schema_info* info) {
  pgxq_schema_info defaults = PGXQ_SCHEMA_INFO_INIT;
  *info = defaults;
}

/* Reads the table's migration status into `out` (table NULL: default), for instance to decide
 * at start-up whether pgxq_migrate is needed. Read-only: it creates nothing, locks nothing
 * beyond what reading pgxq_schema_migrations takes, works when that ledger does not exist yet,
 * and works inside or outside a transaction (inside one its reads join it; a connection whose
 * transaction has already failed is refused). Returns 0 or -1. */
int pgxq_schema_status(PGconn* conn, const char* table, pgxq_schema_info* out, pgxq_error* err);

/* libpgxq's version, "MAJOR.MINOR.PATCH". */
const char* pgxq_version(void);

#ifdef __cplusplus
}
#endif

#endif /* PGXQ_CLIENT_H */
