// admin/stats: the figures `pgxqd stats` and the status page show, per queue and kind, read in
// one snapshot at a bounded cost whatever the table's size: exact counts only through the
// partial indexes (available, running) and the finished-jobs index (the last hour), each count
// stopping at kCountCap; totals of the whole table only as the planner's estimates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/table.hpp"
#include "pg/connection.hpp"
#include "queue/leader.hpp"
#include "queue/table_health.hpp"

namespace pgxq::admin {

// No count reads more than this many index entries; a count that reaches it is a lower bound.
inline constexpr int64_t kCountCap = 1'000'000;

// A count, and whether it stopped at kCountCap (then the true count is at least `value`).
struct Count {
  int64_t value = 0;
  bool capped = false;
};

struct KindStats {
  std::string kind;
  Count available;   // due now (scheduled_at <= now())
  Count scheduled;   // available, due later
  Count running;
  std::optional<double> oldest_due_age_seconds;   // of the available jobs due now
  std::optional<double> longest_running_seconds;  // since the running job's attempt began
  // nullopt when the table lacks the finished-jobs index (schema v6): not counted.
  std::optional<Count> failed_last_hour, discarded_last_hour, completed_last_hour;
  std::optional<Count> completed_last_5_minutes;
};

struct QueueStats {
  std::string queue;
  bool paused = false;
  std::optional<std::string> paused_at, paused_by;
  std::vector<KindStats> kinds;  // by kind name
};

struct TableStats {
  std::string table;
  std::string database_time;  // the snapshot's now(), as PostgreSQL prints it
  int schema_version = 0;
  int64_t count_cap = kCountCap;
  std::vector<QueueStats> queues;  // by queue name; paused queues appear even without jobs
  // The planner's estimates (pg_class.reltuples × pg_stats' state frequencies), nullopt before
  // the table was first analysed. Not counts: cheap at any size, as fresh as the last ANALYZE.
  std::optional<int64_t> estimated_rows;
  std::vector<std::pair<std::string, int64_t>> estimated_by_state;
  std::vector<std::string> hints;  // what the table lacks (JobTable::hints)
  // The daemon that maintains the table (retention, health checks), as PostgreSQL sees it;
  // nullopt: none leads it now (no daemon runs, or every one has [maintenance] enabled = false).
  std::optional<queue::LeaderInfo> leader;
  // The table's health figures (statistics views only) and the warnings the leader would log.
  queue::TableHealth health;
  std::vector<std::string> health_warnings;
};

// Reads every figure of `table` (all queues, or only `queue`) in one read-only snapshot; each
// count stops at `count_cap` (tests lower it). Throws TableMissing, pg::Error.
// Health warnings use `thresholds` (the daemon's [maintenance] settings).
TableStats collect_stats(pg::Connection& conn, const std::string& table, const std::optional<std::string>& queue,
                         int64_t count_cap = kCountCap, const queue::HealthOptions& thresholds = {});

// {"table", "database_time", "schema_version", "count_cap", "queues":[{"queue", "paused",
// "paused_at", "paused_by", "kinds":[{"kind", "available", "scheduled", "running",
// "oldest_due_age_seconds", "longest_running_seconds", "failed_last_hour",
// "discarded_last_hour", "completed_last_hour", "completed_last_5_minutes",
// "completed_per_second", "lower_bounds":[names of the counts that reached count_cap]}]}],
// "estimates":{"rows", "by_state":{state: n}}, "hints":[...], "leader":{"pid",
// "application_name", "client", "session_seconds"} or null, "health":{"live_rows", "dead_rows",
// "seconds_since_vacuum", "table_bytes", "index_bytes", "oldest_xmin":{"source", "name",
// "seconds", "xids"} or null, "warnings":[...]}}. Unknown figures are null.
nlohmann::json to_json(const TableStats& stats);

}  // namespace pgxq::admin
