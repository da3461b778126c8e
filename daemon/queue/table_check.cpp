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
  if (!version_known()) {
    out.push_back("cannot read the schema version of job table " + table +
                  ": this role may not read pgxq_schema_migrations (in the table's schema), so claims do not use the "
                  "claim index of migration " + std::to_string(kFrontIndexMigration) +
                  " and slow down on a large backlog; GRANT SELECT on it to the role pgxqd runs as");
    return out;
  }
  // Said as what the ledger records, not as what the catalog holds: a table created by hand
  // may have the index or trigger without the record, and `pgxqd migrate` then only records.
  const std::string where = "job table " + table + " is at schema version " + std::to_string(applied_version) +
                            " of " + std::to_string(latest_version);
  if (!has_front_index())
    out.push_back(where + ": claims do not use the claim index of migration " + std::to_string(kFrontIndexMigration) +
                  " (idx_..._front) and slow down on a large backlog of jobs inserted in one transaction until vacuum; "
                  "run `pgxqd migrate`");
  if (!has_notify_trigger() && listen)
    out.push_back(where + ": without the NOTIFY trigger of migration " + std::to_string(kNotifyTriggerMigration) +
                  " new jobs are found by polling every " + std::to_string(poll_interval.count()) +
                  "ms; run `pgxqd migrate` for instant pickup");
  return out;
}

std::optional<std::string> TableCheck::periodic_problem(size_t periodic_entries) const {
  // Migration 7 adds <table>_periodic and the unique_key column, 8 the unique index.
  constexpr int kNeeded = 8;
  if (periodic_entries == 0 || !exists || !version_known() || applied_version >= kNeeded) return std::nullopt;
  return "job table " + table + " is at schema version " + std::to_string(applied_version) + " of " +
         std::to_string(latest_version) + ", but its " + std::to_string(periodic_entries) +
         " [[periodic]] entr" + (periodic_entries == 1 ? "y needs" : "ies need") + " schema version " +
         std::to_string(kNeeded) + " (the table " + table + "_periodic and the unique index on (kind, unique_key)); "
         "run `pgxqd migrate --table " + table + "` first, or remove the entries";
}

bool has_column(pg::Connection& conn, const std::string& quoted, const std::string& column) {
  return conn.exec("SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2"
                   " AND attnum > 0 AND NOT attisdropped)",
                   {quoted, column})
             .text(0, 0) == "t";
}

TableCheck check_table(pg::Connection& conn, const std::string& table) {
  pgxq_schema_info info = PGXQ_SCHEMA_INFO_INIT;
  pgxq_error err{};
  if (pgxq_schema_status(conn.get(), table.c_str(), &info, &err) != 0)
    // An empty SQLSTATE is a failure libpgxq found itself (a lost connection carries class 08):
    // it must not read as "the database is unreachable".
    throw pg::Error("cannot read the schema status of job table " + table + ": " + err.message,
                    err.sqlstate[0] != '\0' ? std::string(err.sqlstate) : std::string("XX000"));
  TableCheck check;
  check.table = table;
  check.exists = info.table_exists != 0;
  check.applied_version = info.applied_version;
  check.latest_version = info.latest_version;
  return check;
}

}  // namespace pgxq::queue
