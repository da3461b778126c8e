// queue/sql: every statement the engine sends, in one place, built once per job table from a
// validated table name. Values always travel as parameters; only the (validated, quoted)
// table name is spliced in.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pg/connection.hpp"
#include "queue/job.hpp"

namespace pgxq::queue {

struct TableSql {
  explicit TableSql(const std::string& table);  // table must already be validated
  // Statements on `qualified`, the table's already quoted schema-qualified name (so a
  // handler's search_path on the same connection cannot redirect them). `snoozes_column`: see
  // the member.
  TableSql(const std::string& table, std::string qualified, bool snoozes_column = true);

  std::string table;          // as configured, e.g. "pgxq_job" or "app.jobs"
  std::string quoted;         // "app"."jobs"
  std::string notify_channel; // pgxq_<table with . → _>
  // Whether the table has migration 4's front index, from its schema version when the engine
  // starts (before any claim; see queue/table_check).
  bool front_index = false;
  // Whether the table has schema v7's snoozes column (the engine reads the catalog when it
  // starts). Without it the claim returns 0 for Job::snoozes and a snooze is not counted; every
  // statement works on both. Set by the constructor: resolve_many is built from it.
  bool snoozes_column = true;

  // The claim for `kind_count` handled kinds: $1 queue, $2 kinds text[] (exactly
  // kind_count of them), $3 how many to claim, $4 how many candidates to look at, $5..$7
  // where each kind's scan starts (ScanFront::Params): priorities int2[], scheduled_at as
  // microseconds since the epoch int8[] (NULL: -infinity), ids int8[]; queue::Claim binds
  // them. `by_id`: the table has migration 4's index (queue, kind, priority, scheduled_at, id)
  // (see front_index). Args longer than `max_args_bytes` as JSON text (0: no limit) are not
  // returned, only their length (Job::withheld_args_bytes).
  std::string claim(size_t kind_count, bool by_id, int64_t max_args_bytes = 0) const;
  // $1 queue, $2 kinds text[], $3 candidates: is there any due job that nobody has locked?
  std::string claim_probe(size_t kind_count) const;
  // The claim of the jobs with ids $1 int8[] among the due, unlocked, available jobs of queue
  // $2 and kinds $3 text[]: what a failed claim falls back to, one candidate at a time, so one
  // row the claim cannot return stops only itself (see Producer::claim_isolated). Same
  // RETURNING as claim(), and the same args limit.
  std::string claim_ids(int64_t max_args_bytes = 0) const;
  // $1 queue, $2 kinds text[], $3 candidates: the ids the claim would try first, in its order.
  // Reads only indexed columns, so no value in a row can make it fail.
  std::string claim_candidate_ids(size_t kind_count) const;
  // A row no claim can return (claim_ids failed on it): $1 id, $2 error. Final: never retried.
  // Returns its kind.
  std::string fail_unclaimable;
  // Every write to a claimed job is guarded by the claim it belongs to: state 'running', the
  // attempt, and the claim's own attempted_at (microseconds since the epoch, as the claim
  // returned it). (id, attempt) alone is not unique per claim: a release or a snooze gives the
  // attempt back, and the next claim takes the same number again.
  //
  // In the job's transaction: $1 id, $2 claimed attempt, $3 claimed attempted_at µs.
  std::string complete_one;
  // $1 ids bigint[], $2 attempts int[], $3 attempted_at µs int8[].
  std::string complete_many;
  // $1 ids, $2 attempts, $3 states text[], $4 errors text[], $5 delays ms bigint[],
  // $6 refund attempt bool[], $7 attempted_at µs int8[]. A refund is a snooze: it also counts
  // one more in snoozes (when the table has the column).
  std::string resolve_many;
  // Claimed but never started: $1 ids, $2 attempts, $3 attempted_at µs.
  std::string release_many;
  // $1 queue, $2 rescue_after ms, $3 limit. Every kind of the queue: a job's kind may have no
  // handler here any more (a plugin removed), and it must not stay running forever.
  std::string rescue;
  // The same for the stale jobs with ids $4 int8[] only: a failed rescue falls back to it.
  std::string rescue_ids;
  // $1 queue, $2 rescue_after ms, $3 limit: the ids (and kinds) rescue would take.
  std::string stale_ids;
};

// The jobs a claim returned (its RETURNING columns), in the order the rows came, for `queue`.
// Rows the claim failed instead of running (the attempt counter at the smallint's end) go to
// `failed`, with the error the claim recorded.
struct FailedByClaim {
  int64_t id;
  std::string kind;
  std::string error;
};
std::vector<Job> claimed_jobs(const pg::Result& r, const std::string& queue,
                              std::vector<FailedByClaim>* failed = nullptr);

// scheduled_at and created_at as claimed_jobs gives them: -infinity (and anything before the
// int8 range) is kTimeMinusInfinity, infinity (and anything after) kTimePlusInfinity.
inline constexpr int64_t kTimeMinusInfinity = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kTimePlusInfinity = std::numeric_limits<int64_t>::max();

// The largest attempt a smallint holds: a job claimed at it could not count its attempt.
inline constexpr int kMaxAttempt = 32767;

// Run once on a session that claims. The claim has a branch per handled kind, and planning it
// costs more than running it; left to itself PostgreSQL may keep planning it anew on every
// run (a custom plan per parameter set). The generic plan is the one
// tests/engine/claim_plan_test.cpp checks, and it does not depend on the parameters' values.
inline constexpr const char* kClaimSessionSetup = "SET plan_cache_mode = force_generic_plan";

// How many candidates a claim of n jobs looks at: a quarter more, and at least 2 more, so a
// competing claimer that locked some of them rarely leaves this one short (a short claim is
// followed by another at once). Each candidate costs a primary-key lookup.
inline int claim_candidates(int n) { return n + n / 4 + 2; }

// Whether a statement's error can come from the values of one row, so that the same statement
// over the other rows would succeed: a data exception (22), an integrity violation (23), a
// feature not supported (0A: "cannot convert infinity to bigint"), a trigger or routine raising
// (P0, 38, 39). Anything else (a lost connection, a timeout, a lock, a missing table) is not
// one row's fault.
bool row_specific(const pg::Error& e) noexcept;

// Whether a statement's error ends by itself, so the same statement later succeeds: a lock
// another session holds (lock_timeout, 55P03), a statement timeout (57014), a serialization
// failure or deadlock (40), a server short of resources (53).
bool passes_by_itself(const pg::Error& e) noexcept;

// PostgreSQL array literals for text-format parameters.
// "app"."jobs": libpgxq owns splitting, validating and quoting table names. Throws
// std::invalid_argument with libpgxq's message for a name it refuses.
std::string quote_table(const std::string& table);

// `schema."base"` → `schema."base<suffix>"`, `schema.base` → `schema.base<suffix>`: the tables
// libpgxq's migrations put beside a job table (<table>_pause, _cancel, _periodic), in its schema.
// The base name is a validated table name, so the suffix keeps it valid either way.
std::string sibling_table(const std::string& quoted, const std::string& suffix);

std::string int_array(std::span<const int64_t> values);
std::string int_array(std::span<const std::optional<int64_t>> values);  // nullopt → NULL
std::string text_array(std::span<const std::string> values);
std::string text_array(std::span<const std::string_view> values);
std::string text_array(std::span<const std::optional<std::string>> values);  // nullopt → NULL
std::string bool_array(const std::vector<bool>& values);

// Error text as PostgreSQL will accept it: valid UTF-8 (bad bytes become U+FFFD, NUL dropped),
// at most `limit` bytes (cut on a character boundary, marked as truncated).
std::string sanitize_text(std::string_view text, size_t limit = 16 * 1024);

}  // namespace pgxq::queue

// ---- Maintenance statements (queue/leader, queue/retention, queue/table_health) ----
namespace pgxq::queue::maintenance_sql {

// The leader of a job table holds the session-level advisory lock (kLeaderLockClass, the
// table's oid as int4): one key per table and database, readable from pg_locks by anyone.
inline constexpr int32_t kLeaderLockClass = 1885829220;  // "pgxd"
// $1 the table's quoted name: true when this session now holds the lock (or already did).
inline constexpr const char* kTryLeaderLock =
    "SELECT coalesce(pg_try_advisory_lock(1885829220, to_regclass($1)::oid::int4), false)";
// $1 the table's quoted name: whether this session holds the lock.
inline constexpr const char* kHoldsLeaderLock =
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid = 1885829220 AND objid = to_regclass($1)::oid AND objsubid = 2)";
// $1 the table's quoted name: the session holding the lock (pid, application_name, client
// address, backend start, seconds since that start); no row when none does.
inline constexpr const char* kLeaderOfTable =
    "SELECT a.pid, a.application_name, coalesce(host(a.client_addr), 'local'),"
    " extract(epoch FROM now() - a.backend_start)::int8"
    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND l.classid = 1885829220 AND l.objid = to_regclass($1)::oid AND l.objsubid = 2";

// $1 the table's quoted name: whether it has migration 6's finished-jobs index (state,
// completed_at), valid, which retention's deletes need to stay cheap.
inline constexpr const char* kHasFinishedIndex =
    "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisvalid"
    " AND pg_get_indexdef(i.indexrelid) LIKE '%(state, completed_at) WHERE%')";

// Deletes at most $2 jobs in final state `state` ("completed", "failed" or "discarded": a
// literal, so the planner sees the finished-jobs index's predicate holds) finished more than
// $1 milliseconds ago, through that index; rows someone has locked (an operator's retry) are
// skipped. `quoted`: the table's quoted name.
std::string retention_delete(const std::string& quoted, std::string_view state);
// The same for finished rows without completed_at (go-pgxq records none on failure and
// discard): their last attempt (else creation) is the age.
std::string retention_delete_undated(const std::string& quoted, std::string_view state);

// Table health, $1 the table's quoted name: live and dead rows, seconds since the last
// (auto)vacuum (NULL: never), table and index bytes.
inline constexpr const char* kTableStats =
    "SELECT coalesce(s.n_live_tup, 0), coalesce(s.n_dead_tup, 0),"
    " extract(epoch FROM now() - greatest(s.last_autovacuum, s.last_vacuum))::int8,"
    " pg_table_size(to_regclass($1)), pg_indexes_size(to_regclass($1))"
    " FROM (SELECT to_regclass($1) AS oid) r LEFT JOIN pg_stat_user_tables s ON s.relid = r.oid";
// What holds back the xmin horizon longest: the oldest among transactions of other sessions (of
// any database: the horizon is cluster-wide; a snapshot, or an xid a transaction was given), prepared transactions and replication slots.
// Columns: source ('session', 'prepared', 'slot'), its name (pid and application, gid, slot),
// its age in seconds (sessions, prepared; NULL for slots) and in transactions.
inline constexpr const char* kOldestXminHolder =
    "SELECT * FROM ("
    " SELECT 'session' AS source, 'pid ' || pid || ' (' || coalesce(nullif(application_name, ''), 'no application_name')"
    "   || ', ' || coalesce(state, '?') || ', database ' || coalesce(datname, '?') || ')' AS name,"
    "   extract(epoch FROM now() - coalesce(xact_start, backend_start))::int8 AS seconds,"
    "   greatest(age(backend_xmin), age(backend_xid))::int8 AS xids"
    "   FROM pg_stat_activity WHERE (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL) AND pid <> pg_backend_pid()"
    " UNION ALL SELECT 'prepared', 'prepared transaction ' || quote_literal(gid),"
    "   extract(epoch FROM now() - prepared)::int8, age(transaction)::int8 FROM pg_prepared_xacts"
    " UNION ALL SELECT 'slot', 'replication slot ' || quote_literal(slot_name), NULL,"
    "   greatest(age(xmin), age(catalog_xmin))::int8 FROM pg_replication_slots"
    "   WHERE xmin IS NOT NULL OR catalog_xmin IS NOT NULL"
    ") h ORDER BY xids DESC NULLS LAST LIMIT 1";

// $1 the table's quoted name: its valid partial indexes on live jobs (state 'available', as the
// claim's, or 'running', as the rescuer's), quoted and schema-qualified: what churn bloats.
inline constexpr const char* kChurnedIndexes =
    "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.indrelid = to_regclass($1) AND i.indisvalid"
    " AND (pg_get_expr(i.indpred, i.indrelid) LIKE '%''available''%' OR pg_get_expr(i.indpred, i.indrelid) LIKE '%''running''%')"
    " ORDER BY 1";
// $1 the table's quoted name: the invalid leftovers of an interrupted REINDEX CONCURRENTLY.
inline constexpr const char* kReindexLeftovers =
    "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.indrelid = to_regclass($1) AND NOT i.indisvalid"
    " AND c.relname ~ '_ccnew[0-9]*$'";
// Whether a backlog is being worked: a due available job, or a running one. `quoted`: the table.
std::string backlog_waiting(const std::string& quoted);

}  // namespace pgxq::queue::maintenance_sql

namespace pgxq::queue {

// The statements of periodic jobs (queue/periodic) on a job table and its <table>_periodic
// (migration 7), run by the table's maintenance leader. Times travel as whole seconds since
// the Unix epoch. The unique key needs migration 8's index (kind, unique_key) over unfinished jobs.
struct PeriodicSql {
  explicit PeriodicSql(const TableSql& t);
  std::string periodic_table;  // quoted, beside the job table
  // $1 names text[]: per name, the database's now, and its row's last_run_at (NULL: no row yet).
  std::string read_state;
  // $1 name, $2 at: the row of an entry seen for the first time (nothing enqueued for it).
  std::string first_seen;
  // $1 name, $2 at: moves last_run_at forwards to $2, never backwards; returns a row only when
  // it moved (so whoever gets the row, in its transaction, enqueues that time, and nobody else).
  std::string advance;
  // $1 kind, $2 args jsonb, $3 queue, $4 priority, $5 max_attempts, $6 scheduled at, $7 unique
  // key: the job's id, or no row when an unfinished job holds the key already.
  std::string insert_job;
  // $1 name, $2 job id.
  std::string set_last_job;
};

}  // namespace pgxq::queue
