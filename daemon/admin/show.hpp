// admin/show: one job, every column, for `pgxqd show`: the args as stored (jsonb text) and
// pretty-printed, the whole error text, and each time also relative to the snapshot's now().
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "pg/connection.hpp"

namespace pgxq::admin {

struct JobDetail {
  int64_t id = 0;
  std::string kind, queue, state;
  std::string args;         // the jsonb as PostgreSQL prints it (one line)
  std::string args_pretty;  // jsonb_pretty: indented, one key per line
  int priority = 0, attempt = 0, max_attempts = 0;
  std::string scheduled_at, created_at;
  double scheduled_in_seconds = 0, created_in_seconds = 0;  // relative to now(); negative: past
  std::optional<std::string> attempted_at, completed_at;
  std::optional<double> attempted_in_seconds, completed_in_seconds;
  std::optional<std::string> error;
  std::string database_time;
  // Operator controls (schema v5): a pending cancellation request, and whether its queue is paused.
  std::optional<std::string> cancel_requested_at;
  bool queue_paused = false;
  // How often the job snoozed (schema v7); nullopt on a table without the column.
  std::optional<int> snoozes;
};

// nullopt when no job has that id. Throws TableMissing, pg::Error.
std::optional<JobDetail> show_job(pg::Connection& conn, const std::string& table, int64_t id);

// Every field; "args" as a JSON value (the stored jsonb, parsed), the times as text and as
// "*_in_seconds". Null when unset.
nlohmann::json to_json(const JobDetail& job);

}  // namespace pgxq::admin
