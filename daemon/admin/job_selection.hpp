// admin/job_selection: what the commands that change the queue (retry, cancel, pause, purge)
// share — the job table and its control tables by validated, quoted name, the errors that map to
// exit codes, who is asking (for the audit columns), reading jobs by id, and a batched walk over
// finished jobs through the finished-jobs index (state, completed_at), one short transaction per
// batch so no lock is held for long.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pg/connection.hpp"

namespace pgxq::admin {

// Bad input (an unknown id, a wrong state name, an invalid queue name): nothing was changed.
// Exit code 64.
class InputError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// --batch-size of the bulk forms: 1 to 100,000 rows per transaction, else InputError.
void check_batch_size(int batch_size);

// The database is not in a shape the command can work with (no such table, schema too old).
// Exit code 1.
class TableError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// The error the engine records on a job the operator cancelled (queue/executor's
// kCancelledByOperator: the same text, checked by a test).
inline constexpr const char* kCancelledByOperator = "cancelled by operator";

inline constexpr int kDefaultBatchSize = 1000;
// How many ids a result lists (dry runs, and what a bulk command changed first).
inline constexpr size_t kSampleIds = 20;
// A dry run counts at most this many rows ("at least N" beyond).
inline constexpr int64_t kDryRunCountLimit = 100000;

struct JobTables {
  // Validates `table` (InputError) and checks that it and its control tables exist (TableError).
  JobTables(pg::Connection& conn, const std::string& table);
  std::string table;   // as given
  std::string quoted;  // the job table, quoted
  std::string pause;   // <table>_pause, quoted
  std::string cancel;  // <table>_cancel, quoted
};

struct Filter {
  std::optional<std::string> kind, queue;
  bool empty() const { return !kind && !queue; }
};

// "<current_user>@<hostname>": recorded as paused_by / requested_by.
std::string operator_name(pg::Connection& conn);

struct JobRow {
  int64_t id = 0;
  std::string kind, queue, state;
};

// The rows with these ids, locked FOR UPDATE (inside a transaction). InputError naming the ids
// that do not exist, when some do not.
std::vector<JobRow> lock_jobs(pg::Connection& conn, const JobTables& t, const std::vector<int64_t>& ids);

// An id the command left alone, and why.
struct Skipped {
  int64_t id = 0;
  std::string state;
  std::string reason;
  // Set when the job's unique key is taken: the key, and the unfinished job holding it.
  std::optional<std::string> unique_key = std::nullopt;
  std::optional<int64_t> holder = std::nullopt;
};
nlohmann::json to_json(const std::vector<Skipped>& skipped);

// A batched walk over the finished jobs of one state through idx_<table>_done, in completed_at
// order, each batch one statement (its own transaction). `action` is the data-modifying
// statement applied to the batch's rows: it reads CTE `picked (id, completed_at)` (as
// `j.id = ANY (ARRAY(SELECT id FROM picked))`, so the rows are found by primary key) and must
// return the ids it changed (RETURNING j.id), guarding on the state again (`j.state = $1`).
struct FinishedWalk {
  std::string state;
  std::string cutoff;        // timestamptz text: completed_at before (or at, with inclusive) it
  bool inclusive = false;
  bool null_completed_at = false;  // also the rows without completed_at (a second pass)
  Filter filter;
  int batch_size = kDefaultBatchSize;
  // Optional: another data-modifying statement in the same batch, reading CTE `changed (id)`.
  std::string follow_up;
  // Optional: a scalar SQL expression over `picked` and `changed` whose text, when not NULL, is
  // collected per batch into WalkResult::reports (e.g. what the action left alone, and why).
  std::string report;
};
struct WalkProgress {
  int batch = 0;
  int64_t rows = 0;   // changed by this batch
  int64_t total = 0;  // so far
};
struct WalkResult {
  int64_t total = 0;
  int batches = 0;
  std::vector<int64_t> sample;  // the first kSampleIds ids changed
  std::vector<std::string> reports;  // FinishedWalk::report of each batch that had one
};
WalkResult walk_finished(pg::Connection& conn, const JobTables& t, const FinishedWalk& walk, const std::string& action,
                         const std::function<void(const WalkProgress&)>& progress);
// What walk_finished would change: the count (at most kDryRunCountLimit + 1) and the first ids.
struct WalkPreview {
  int64_t count = 0;
  bool capped = false;  // more than kDryRunCountLimit
  std::vector<int64_t> sample;
};
WalkPreview preview_finished(pg::Connection& conn, const JobTables& t, const FinishedWalk& walk);

// The statement walk_finished runs for one batch (for EXPLAIN in tests): $1 state, $2 last id,
// $3 kind, $4 queue, $5 batch size, and but for the null pass $6 cutoff, $7 last completed_at.
std::string finished_batch_sql(const JobTables& t, const FinishedWalk& walk, const std::string& action, bool null_pass);

// "1, 2, 3" (for messages).
std::string join_ids(const std::vector<int64_t>& ids);

}  // namespace pgxq::admin
