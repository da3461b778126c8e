/* pgxq/plugin.h — the pgxqd plugin ABI: the only contract between pgxqd and a handler plugin.
 *
 * Plain C99; compiles as C and as C++. Nothing of the daemon is linked into a plugin: every
 * service the host offers comes through the function table (pgxq_plugin_host) handed to init.
 *
 * A plugin is a shared object exporting ONE function with default visibility:
 *
 *     const pgxq_plugin_descriptor *pgxq_plugin_entry(void);
 *
 * The host calls it once, right after dlopen, on the loading thread, checks the descriptor's
 * ABI fields before touching anything else, then calls init. init registers one handler per
 * job kind; handlers are then called concurrently from worker threads for the life of the
 * process. Plugins are never unloaded (no dlclose); shutdown, when given, is called once when
 * the daemon stops, after the last handler call has returned.
 *
 * Versioning (see plugin-sdk/README.md, "ABI rules"):
 *   - ABI major: changes only when something is removed or changes meaning. The host refuses a
 *     plugin whose major differs from its own.
 *   - ABI minor: grows when something is appended (a new host function at the end of the
 *     table, a new descriptor field at the end, a new constant). PGXQ_PLUGIN_ABI_MINOR is the
 *     minor this header describes; a host provides the minor of the header it was built with.
 *   - A plugin states the lowest host minor it needs, not the minor of the SDK it was built
 *     with: the descriptor's abi_minor is PGXQ_PLUGIN_REQUIRES_MINOR, 0 unless the plugin opts
 *     in (below). The host accepts the plugin when that minor is <= its own. So a plugin
 *     rebuilt against a newer SDK still loads on every host of its major, as long as it calls
 *     functions newer than 1.0 only after checking PGXQ_HOST_HAS(host, member); a plugin that
 *     cannot work without them says so, and an older host refuses it with a clear message
 *     instead of handing it a table without those functions.
 *   - Structs are size-tagged (struct_size) and only ever appended to; fields never move. Each
 *     side reads a field appended in a later minor only when the other side's struct_size
 *     covers it (PGXQ_HOST_HAS for the host table); a descriptor larger than the host knows is
 *     fine, the host ignores the fields it does not know.
 *   - No field is reserved for the future: appending at the end is how the ABI grows.
 *
 * Conventions for every host function below:
 *   - Return codes: PGXQ_PLUGIN_OK (0) on success, a negative PGXQ_PLUGIN_E_* code on failure.
 *     After a failure, host->last_error() returns a message saying what went wrong.
 *   - No host function throws, longjmps or aborts on bad input: a NULL or out-of-range argument
 *     is reported as PGXQ_PLUGIN_E_INVALID (or a NULL/-1 return where documented).
 *   - Strings passed in are NUL-terminated UTF-8, borrowed for the duration of the call only (the
 *     host copies what it keeps). Strings returned are owned by the host; their lifetime is
 *     stated per function. Never free them.
 *   - Plugins must not let a C++ exception, longjmp or signal escape into the host. The C++
 *     wrapper (pgxq/plugin.hpp) catches every exception at the boundary and turns it into a
 *     RETRY outcome (a failed attempt) with the message "<type>: <what()>".
 */
#ifndef PGXQ_PLUGIN_H
#define PGXQ_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ------------------------------------------------------------------------------ */

/* The ABI this header describes. */
#define PGXQ_PLUGIN_ABI_MAJOR 1
#define PGXQ_PLUGIN_ABI_MINOR 1

/* The lowest host ABI minor the plugin needs, stamped into the descriptor's abi_minor. 0 means
 * "any host of this major": the plugin uses only ABI 1.0 functions, or probes newer ones with
 * PGXQ_HOST_HAS. A plugin that cannot work without a function added in minor N opts in by
 * defining it before including this header:
 *
 *     #define PGXQ_PLUGIN_REQUIRES_MINOR 1
 *     #include <pgxq/plugin.h>
 *
 * and hosts older than 1.N then refuse it, saying so. */
#ifndef PGXQ_PLUGIN_REQUIRES_MINOR
#define PGXQ_PLUGIN_REQUIRES_MINOR 0
#endif
#if PGXQ_PLUGIN_REQUIRES_MINOR > PGXQ_PLUGIN_ABI_MINOR
#error "PGXQ_PLUGIN_REQUIRES_MINOR is newer than this SDK's PGXQ_PLUGIN_ABI_MINOR: build against a newer SDK"
#endif

/* The entry function's name, fixed for every ABI version. */
#define PGXQ_PLUGIN_ENTRY pgxq_plugin_entry
#define PGXQ_PLUGIN_ENTRY_NAME "pgxq_plugin_entry"

/* Marks the entry function exported even when the plugin is built with -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define PGXQ_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define PGXQ_PLUGIN_EXPORT
#endif

/* ---- Return codes of host functions ---------------------------------------------------------- */

#define PGXQ_PLUGIN_OK 0
#define PGXQ_PLUGIN_E_INVALID (-1)   /* bad argument: NULL, empty, out of range, bad UTF-8 */
#define PGXQ_PLUGIN_E_STATE (-2)     /* called at the wrong time (e.g. register after init) */
#define PGXQ_PLUGIN_E_SQL (-3)       /* the database reported an error; see last_sqlstate() */
#define PGXQ_PLUGIN_E_NOT_FOUND (-4) /* config key absent */
#define PGXQ_PLUGIN_E_TYPE (-5)      /* config key present but of another type */
#define PGXQ_PLUGIN_E_DUPLICATE (-6) /* kind already registered (by this or another plugin) */
#define PGXQ_PLUGIN_E_INTERNAL (-7)  /* the host failed (out of memory, unexpected error) */

/* ---- Outcomes a handler returns --------------------------------------------------------------- */

#define PGXQ_OUTCOME_COMPLETE 0 /* success: the job's SQL commits with the completion */
#define PGXQ_OUTCOME_RETRY 1    /* failure: roll back; retry with backoff (or fail when attempts are
                                   used up). Error text from set_message; optional own delay
                                   from set_delay_ms. */
#define PGXQ_OUTCOME_DISCARD 2  /* permanent failure: roll back; discard; error text from
                                   set_message. */
#define PGXQ_OUTCOME_SNOOZE 3   /* ABI 1.1, not done yet: roll back; run again after the delay
                                   of set_delay_ms (0 if unset) without using an attempt (see
                                   job_snoozes). An ABI 1.0 host treats it as an unknown code. */
#define PGXQ_OUTCOME_PANIC 4    /* the handler gave up for good the way a panicking go-pgxq
                                   handler does (the C++ wrapper returns it for a thrown
                                   pgxq::Panic): roll back; discard, recorded as
                                   "panic: <message>". An ordinary error is RETRY: the C++
                                   wrapper returns RETRY for every other escaped exception. */
/* Any other value: the host records the job as failed by an error ("handler returned unknown
 * outcome code N") and retries it like any failure; the daemon keeps running. */

/* ---- Log levels ----------------------------------------------------------------------------- */

#define PGXQ_LOG_TRACE 0
#define PGXQ_LOG_DEBUG 1
#define PGXQ_LOG_INFO 2
#define PGXQ_LOG_WARN 3
#define PGXQ_LOG_ERROR 4

/* ---- Opaque handles ------------------------------------------------------------------------- */

/* One loaded plugin, as the host sees it. Valid from init until the process exits; the same
 * pointer is passed to init and shutdown. Keep it (e.g. in a handler's user_data) to read
 * config from handlers. */
typedef struct pgxq_plugin pgxq_plugin;

/* One job being handled. Valid only during the handler call it was passed to, and only on the
 * thread running that call: never keep it, never hand it to another thread. */
typedef struct pgxq_plugin_job pgxq_plugin_job;

/* The rows of one SQL statement. Owned by the plugin until rows_free, but never longer than the
 * handler call that produced it (the host frees rows still open when the handler returns). Same
 * thread rule as the job. */
typedef struct pgxq_plugin_rows pgxq_plugin_rows;

typedef struct pgxq_plugin_host pgxq_plugin_host;

/* A handler: called once per claimed job whose kind it registered, from a worker thread, with
 * the job's transaction not yet opened (the first exec opens it). Several calls, for the same
 * kind or for different kinds, run at the same time on different threads: a handler must be
 * thread-safe with respect to its user_data and any state it shares.
 *   host:      the host table, valid for the life of the process.
 *   job:       the job (see pgxq_plugin_job above for its lifetime).
 *   user_data: the pointer given to register_handler, passed back untouched.
 * Returns a PGXQ_OUTCOME_* code. Must return within the daemon's shutdown timeout once
 * should_stop() says so, and must not block signals, fork without exec, or call exit(). */
typedef int (*pgxq_plugin_handler_fn)(const pgxq_plugin_host *host, pgxq_plugin_job *job,
                                      void *user_data);

/* ---- The descriptor the entry function returns ----------------------------------------------- */

typedef struct pgxq_plugin_descriptor {
  /* ABI 1.0 — these three come first in every version, forever. */
  uint32_t abi_major;   /* PGXQ_PLUGIN_ABI_MAJOR the plugin was built with */
  /* The lowest host ABI minor the plugin needs: PGXQ_PLUGIN_REQUIRES_MINOR, NOT the SDK's
   * PGXQ_PLUGIN_ABI_MINOR. It keeps its ABI 1.0 name, place and type so that every descriptor
   * written for 1.0 (positionally or with .abi_minor = ...) still compiles and still means
   * what it meant there: 0, "runs on any 1.x host". */
  uint32_t abi_minor;
  uint32_t struct_size; /* sizeof(pgxq_plugin_descriptor) the plugin was built with */

  /* Plugin name: 1..64 of [A-Za-z0-9_-], unique among loaded plugins. Its settings come from
   * the [plugins.<name>] table of the config. Static storage (must live forever). */
  const char *name;
  /* Free-form version text for logs (e.g. "1.2.0"), not NULL. Static storage. */
  const char *version;

  /* Called once, on the loading thread, before any handler runs and before worker threads
   * start. Registers handlers (register_handler) and reads settings (config_*). Returns 0 on
   * success; any other value refuses the plugin and stops the daemon from starting, with the
   * message given to set_init_error (or "(no message)"). Not NULL. */
  int (*init)(const pgxq_plugin_host *host, pgxq_plugin *plugin);

  /* Optional (may be NULL). Called once when the daemon stops, or when start-up is abandoned
   * after this plugin's init succeeded — always after the last handler call returned, on the
   * thread that shuts the daemon down. Plugins are not unloaded afterwards. */
  void (*shutdown)(const pgxq_plugin_host *host, pgxq_plugin *plugin);
} pgxq_plugin_descriptor;

/* The descriptor's initializer with the ABI fields filled in, for C plugins:
 *
 *     static const pgxq_plugin_descriptor descriptor =
 *         PGXQ_PLUGIN_DESCRIPTOR_INIT("hello", "1.0.0", init, NULL);
 *
 * A later minor that appends descriptor fields extends this initializer with their defaults,
 * so a plugin using it compiles unchanged against every SDK of the major. */
#define PGXQ_PLUGIN_DESCRIPTOR_INIT(name, version, init, shutdown)                               \
  {PGXQ_PLUGIN_ABI_MAJOR, PGXQ_PLUGIN_REQUIRES_MINOR, sizeof(pgxq_plugin_descriptor), (name),      \
   (version), (init), (shutdown)}

/* The entry function every plugin defines (exactly this name and signature). Called once, on
 * the loading thread, before anything else; returns a pointer to a descriptor in static storage
 * (never NULL, never freed). It must do no other work. */
PGXQ_PLUGIN_EXPORT const pgxq_plugin_descriptor *PGXQ_PLUGIN_ENTRY(void);
typedef const pgxq_plugin_descriptor *(*pgxq_plugin_entry_fn)(void);

/* ---- The host function table ------------------------------------------------------------------ */

/* Passed to init, shutdown and every handler call. The table itself is constant and lives for
 * the life of the process; it may be stored and read from any thread. */
struct pgxq_plugin_host {
  /* ABI 1.0 ------------------------------------------------------------------------------------ */
  uint32_t abi_major;   /* the host's PGXQ_PLUGIN_ABI_MAJOR */
  uint32_t abi_minor;   /* the host's PGXQ_PLUGIN_ABI_MINOR */
  uint32_t struct_size; /* sizeof(pgxq_plugin_host) in the host; see PGXQ_HOST_HAS */
  const char *host_version; /* pgxqd's version text; static */

  /* -- Errors -- any thread, any time. */

  /* The message of the last failed host call made on the calling thread ("" if none). Valid
   * until the next host call on this thread; copy it to keep it. Never NULL. Per thread, so
   * concurrent handlers never see each other's errors. */
  const char *(*last_error)(void);
  /* The five-character SQLSTATE of the last failed exec on this thread, "" when the failure
   * did not come from the server. Same lifetime as last_error. Never NULL. */
  const char *(*last_sqlstate)(void);

  /* -- Start-up: only inside init, on the loading thread. -- */

  /* Registers fn for jobs of `kind` (1..200 bytes of UTF-8, no control characters; copied).
   * user_data is passed to every call of fn and is never touched by the host.
   * Errors: E_INVALID (NULL plugin/fn, bad kind); E_STATE when called outside init (a handler
   * set must be complete before workers start); E_DUPLICATE when this plugin or another one
   * already registered `kind` — for another plugin, start-up is refused with both plugin names
   * even if init ignores the error and returns 0. */
  int (*register_handler)(pgxq_plugin *plugin, const char *kind, pgxq_plugin_handler_fn fn,
                          void *user_data);
  /* Sets the message reported when init returns non-zero (copied; invalid UTF-8 is repaired).
   * E_STATE outside init. */
  int (*set_init_error)(pgxq_plugin *plugin, const char *message);
  /* Logs one line tagged with the plugin's name. Any thread, any time (init, handlers,
   * shutdown). Unknown levels log as ERROR. NULL message logs "(no message)". */
  void (*plugin_log)(pgxq_plugin *plugin, int level, const char *message);

  /* -- Config: the plugin's [plugins.<name>] table. Any thread, any time from init on; the
   *    settings never change while the process runs, so these are thread-safe. `key` is a key
   *    of that table, or a dotted path into nested tables ("db.timeout").
   *    Errors: E_NOT_FOUND (absent; *out untouched), E_TYPE (other type; *out untouched,
   *    last_error names the key, the expected and the found type), E_INVALID (NULL args). */

  /* *out points into the host's copy of the settings: valid for the life of the process. */
  int (*config_string)(const pgxq_plugin *plugin, const char *key, const char **out);
  int (*config_int)(const pgxq_plugin *plugin, const char *key, int64_t *out);
  /* *out is 1 or 0. */
  int (*config_bool)(const pgxq_plugin *plugin, const char *key, int *out);
  /* Integers are accepted and converted. */
  int (*config_double)(const pgxq_plugin *plugin, const char *key, double *out);

  /* -- The job: only inside a handler call, on its thread, with that call's job. A NULL job
   *    returns 0 / NULL. -- */

  int64_t (*job_id)(const pgxq_plugin_job *job);
  /* Strings valid until the handler returns. */
  const char *(*job_kind)(const pgxq_plugin_job *job);
  const char *(*job_queue)(const pgxq_plugin_job *job);
  /* The args as JSON text (as stored in the table; NUL-terminated). If len is not NULL it gets
   * the length in bytes. Valid until the handler returns. */
  const char *(*job_args)(const pgxq_plugin_job *job, size_t *len);
  /* 1 on the first run; already counts the current run. */
  int (*job_attempt)(const pgxq_plugin_job *job);
  int (*job_max_attempts)(const pgxq_plugin_job *job);
  int (*job_priority)(const pgxq_plugin_job *job);
  /* Microseconds since the Unix epoch (UTC); INT64_MIN for '-infinity', INT64_MAX for
   * 'infinity' (values the table accepts too). */
  int64_t (*job_scheduled_at)(const pgxq_plugin_job *job);
  int64_t (*job_created_at)(const pgxq_plugin_job *job);

  /* -- SQL in the job's transaction: inside a handler call, on its thread. -- */

  /* Runs one statement with $1..$n parameters in text format (params[i] NULL = SQL NULL; the
   * array may be NULL when nparams is 0). The first call opens the job's transaction; it
   * commits only if the handler returns COMPLETE, together with the job's completion.
   * On success returns OK and, if out is not NULL, *out gets the rows (free with rows_free).
   * On failure returns E_SQL (server error: last_error has the server's message,
   * last_sqlstate its SQLSTATE) or E_INVALID / E_INTERNAL, and *out is set to NULL. After an
   * E_SQL the transaction is aborted: later exec calls fail too, and a COMPLETE outcome is
   * turned into a failure of the job (the work cannot commit). */
  int (*exec)(pgxq_plugin_job *job, const char *sql, int nparams, const char *const *params,
              pgxq_plugin_rows **out);
  /* Row / column counts; 0 for NULL rows. */
  int (*rows_count)(const pgxq_plugin_rows *rows);
  int (*rows_columns)(const pgxq_plugin_rows *rows);
  /* The value in text format, NUL-terminated; "" for SQL NULL (use rows_is_null); NULL when
   * row/col is out of range. Valid until rows_free (or the handler's return). */
  const char *(*rows_value)(const pgxq_plugin_rows *rows, int row, int col);
  /* Length in bytes of rows_value; 0 when out of range. */
  size_t (*rows_length)(const pgxq_plugin_rows *rows, int row, int col);
  /* 1 for SQL NULL, 0 otherwise, -1 when out of range. */
  int (*rows_is_null)(const pgxq_plugin_rows *rows, int row, int col);
  /* Column name; NULL when out of range. Valid until rows_free. */
  const char *(*rows_column_name)(const pgxq_plugin_rows *rows, int col);
  /* Rows affected by INSERT/UPDATE/DELETE/MERGE; 0 for other statements. */
  int64_t (*rows_affected)(const pgxq_plugin_rows *rows);
  /* Frees rows (NULL is a no-op). Each rows object is freed at most once. */
  void (*rows_free)(pgxq_plugin_rows *rows);

  /* -- Control and outcome: inside a handler call, on its thread. -- */

  /* 1 once the daemon wants the handler to stop (shutdown, `pgxqd cancel`, or the job's timeout
   * passed): return soon, typically RETRY with a message. 0 otherwise. Cheap; poll it. */
  int (*should_stop)(const pgxq_plugin_job *job);
  /* Logs one line; the host adds the job's id, kind and queue and the plugin name. Unknown
   * levels log as ERROR; NULL message logs "(no message)". */
  void (*log)(pgxq_plugin_job *job, int level, const char *message);
  /* Sets the error text recorded with a RETRY, DISCARD or PANIC outcome (copied; a later call
   * replaces it; NULL clears it). Without one the host records "(no message)". Invalid UTF-8
   * is repaired (bad bytes become U+FFFD). Ignored for COMPLETE. */
  int (*set_message)(pgxq_plugin_job *job, const char *message);
  /* Sets the handler's own delay in milliseconds (0 .. 31 days): for a RETRY outcome it
   * replaces the backoff policy for this attempt; for a SNOOZE (ABI 1.1) it is how long the
   * job waits before it is run again (0 when not set). E_INVALID when out of range. */
  int (*set_delay_ms)(pgxq_plugin_job *job, int64_t delay_ms);

  /* ABI 1.1: snooze ------------------------------------------------------------------------- */
  /* 1.1 gives PGXQ_OUTCOME_SNOOZE its meaning: the handler's work is rolled back and the job
   * goes back to `available` at now + the delay given with set_delay_ms (0, due at once, when
   * none was set). The run does not count as an attempt (the attempt counter is given back);
   * the job's snooze counter grows by one instead. The message is ignored. The daemon bounds
   * how often one job may snooze ([worker] max_snoozes): a snooze beyond it is recorded as a
   * failed attempt with an error saying so, so the job ends `failed` after its attempts.
   *
   * A host understands SNOOZE exactly when PGXQ_HOST_HAS(host, job_snoozes) is true: return
   * it only then (an ABI 1.0 host records code 3 as an unknown outcome code, a failed
   * attempt), or require it with PGXQ_PLUGIN_REQUIRES_MINOR 1 so that 1.0 hosts refuse the
   * plugin at start-up. */

  /* How many times this job was snoozed before this run: 0 on its first run, and always 0 on
   * a job table below schema version 7, which has no snoozes column (`pgxqd migrate` adds it;
   * snoozes are then neither counted nor bounded). Only inside a handler call, on its thread;
   * a NULL job returns 0. */
  int (*job_snoozes)(const pgxq_plugin_job *job);

  /* Later minors append here; a plugin checks PGXQ_HOST_HAS before using what they add. */
};

/* True when `host` provides `member` (a field appended in some minor): use it before calling a
 * function newer than ABI 1.0. */
#define PGXQ_HOST_HAS(host, member)                                                        \
  ((host)->struct_size >= offsetof(pgxq_plugin_host, member) + sizeof((host)->member) &&   \
   (host)->member != NULL)

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PGXQ_PLUGIN_H */
