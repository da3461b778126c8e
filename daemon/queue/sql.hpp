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
  // handler's search_path on the same connection cannot redirect them).
  TableSql(const std::string& table, std::string qualified);

  std::string table;          // as configured, e.g. "pgxq_job" or "app.jobs"
  std::string quoted;         // "app"."jobs"
  std::string notify_channel; // pgxq_<table with . → _>
  // Whether the table has migration 4's front index, from its schema version when the engine
  // starts (before any claim; see queue/table_check).
  bool front_index = false;

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
  // $6 refund attempt bool[], $7 attempted_at µs int8[].
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
