// queue/table_health: how healthy a job table is for a queue's churn — its dead rows and last
// vacuum, what holds back the xmin horizon (a long transaction anywhere in the cluster makes
// every claim walk the dead rows vacuum may not remove), and its indexes' size against its live
// rows — read from PostgreSQL's statistics views, and the warnings, each saying what to do,
// when a threshold of HealthOptions is crossed. Reads only catalog views: cheap on any table.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"
#include "queue/maintenance_options.hpp"

namespace pgxq::queue {

struct TableHealth {
  std::string table;
  int64_t live_rows = 0, dead_rows = 0;  // pg_stat_user_tables' estimates
  std::optional<int64_t> seconds_since_vacuum;  // the last vacuum or autovacuum; none: never
  int64_t table_bytes = 0, index_bytes = 0;
  // The oldest holder of the xmin horizon, if any: a session's transaction, a prepared
  // transaction or a replication slot.
  struct XminHolder {
    std::string source;  // "session", "prepared", "slot"
    std::string name;    // "pid 123 (psql, idle in transaction, database app)", ...
    std::optional<int64_t> seconds;  // how long it has been open (none for slots)
    int64_t xids = 0;                // how many transactions it holds back
  };
  std::optional<XminHolder> oldest_xmin;
};

// Throws pg::Error. `table` as configured ("pgxq_job", "app.jobs").
TableHealth read_table_health(pg::Connection& conn, const std::string& table);

// The warnings `health` deserves under `options`, one line each with what to do; empty: healthy.
std::vector<std::string> health_warnings(const TableHealth& health, const HealthOptions& options);

}  // namespace pgxq::queue
