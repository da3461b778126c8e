// admin/list: a page of jobs, newest first (id descending), filtered by state, kind and queue,
// paged by id (`before_id`): what `pgxqd list` prints and the status page's recent failures.
// Each page reads at most `limit` matching rows; see list.cpp for the index each filter uses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pg/connection.hpp"

namespace pgxq::admin {

inline constexpr int kDefaultListLimit = 20;
inline constexpr int kMaxListLimit = 1000;

struct ListFilter {
  std::optional<std::string> state;  // one of kStates (checked: std::invalid_argument)
  std::optional<std::string> kind, queue;
  std::optional<int64_t> before_id;  // only ids below this one: the next page
  int limit = kDefaultListLimit;     // 1..kMaxListLimit (checked: std::invalid_argument)
};

// One job as a list shows it. Times are PostgreSQL's text; `*_in_seconds` are relative to the
// snapshot's now() (negative: in the past).
struct JobSummary {
  int64_t id = 0;
  std::string kind, queue, state;
  int attempt = 0, max_attempts = 0;
  int priority = 0;
  std::string scheduled_at;
  double scheduled_in_seconds = 0;
  std::optional<std::string> completed_at;
  std::optional<double> completed_in_seconds;
  std::optional<std::string> error;  // the whole error text, as stored (untrusted)
};

struct JobPage {
  std::string table;
  std::vector<JobSummary> jobs;
  std::optional<int64_t> next_before_id;  // set when the page is full: there may be more
};

// Throws std::invalid_argument naming the valid values when the state or limit is out of range.
void check_filter(const ListFilter& filter);

// Throws std::invalid_argument (check_filter), TableMissing, pg::Error.
JobPage list_jobs(pg::Connection& conn, const std::string& table, const ListFilter& filter);

// {"id", "kind", "queue", "state", "attempt", "max_attempts", "priority", "scheduled_at",
// "scheduled_in_seconds", "completed_at", "completed_in_seconds", "error"}; null when unset.
nlohmann::json to_json(const JobSummary& job);
// {"table", "jobs":[...], "next_before_id"}.
nlohmann::json to_json(const JobPage& page);

}  // namespace pgxq::admin
