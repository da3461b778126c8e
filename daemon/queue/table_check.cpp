// queue/table_check: see table_check.hpp.
#include "queue/table_check.hpp"

#include <pgxq/client.h>

#include "pg/error.hpp"

namespace pgxq::queue {

std::string TableCheck::missing_message() const {
  return "job table " + table + " does not exist: run `pgxqd migrate --table " + table + "` first";
}

std::vector<std::string> TableCheck::warnings(bool listen, std::chrono::milliseconds poll_interval) const {
  std::vector<std::string> out;
  if (!exists) return out;
  const std::string where = "job table " + table + " is at schema version " + std::to_string(applied_version) +
                            " of " + std::to_string(latest_version);
  if (!has_front_index())
    out.push_back(where + " and lacks the claim index of `pgxqd migrate` (idx_..._front): claims on a large backlog "
                          "of jobs inserted in one transaction slow down until vacuum; run `pgxqd migrate`");
  if (!has_notify_trigger() && listen)
    out.push_back(where + " and has no NOTIFY trigger: new jobs are found by polling every " +
                  std::to_string(poll_interval.count()) + "ms; run `pgxqd migrate` for instant pickup");
  return out;
}

TableCheck check_table(pg::Connection& conn, const std::string& table) {
  pgxq_schema_info info = PGXQ_SCHEMA_INFO_INIT;
  pgxq_error err{};
  if (pgxq_schema_status(conn.get(), table.c_str(), &info, &err) != 0)
    throw pg::Error("cannot read the schema status of job table " + table + ": " + err.message, err.sqlstate);
  TableCheck check;
  check.table = table;
  check.exists = info.table_exists != 0;
  check.applied_version = info.applied_version;
  check.latest_version = info.latest_version;
  return check;
}

}  // namespace pgxq::queue
