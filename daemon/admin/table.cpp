// admin/table: see table.hpp.
#include "admin/table.hpp"

#include <pgxq/client.h>

#include "pg/error.hpp"
#include "queue/sql.hpp"

namespace pgxq::admin {

using queue::quote_table;

bool is_state(const std::string& s) noexcept {
  for (const char* state : kStates)
    if (s == state) return true;
  return false;
}

std::optional<std::string> opt_text(const pg::Result& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return std::string(r.text(row, col));
}

std::optional<double> opt_double(const pg::Result& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return std::stod(std::string(r.text(row, col)));
}

std::string state_list() {
  std::string out;
  for (const char* state : kStates) out += (out.empty() ? "" : ", ") + std::string(state);
  return out;
}

TableMissing::TableMissing(const std::string& table)
    : std::runtime_error("job table " + table + " does not exist: run `pgxqd migrate --table " + table + "` first"),
      table_(table) {}

std::vector<std::string> JobTable::hints() const {
  std::vector<std::string> out;
  const std::string where = "job table " + name + " is at schema version " + std::to_string(schema_version) + " of " +
                            std::to_string(latest_version);
  if (!has_pause_table) out.push_back(where + ": it has no pause table (schema v5), so no queue shows as paused; run `pgxqd migrate`");
  if (!has_done_index)
    out.push_back(where + ": without the finished-jobs index (schema v6) the counts of the last hour are not read "
                          "(they would scan the table); run `pgxqd migrate`");
  return out;
}

JobTable open_job_table(pg::Connection& conn, const std::string& name) {
  JobTable t;
  t.name = name;
  t.quoted = quote_table(name);
  t.pause_quoted = quote_table(name + "_pause");
  t.cancel_quoted = quote_table(name + "_cancel");
  pgxq_schema_info info = PGXQ_SCHEMA_INFO_INIT;
  pgxq_error err{};
  if (pgxq_schema_status(conn.get(), name.c_str(), &info, &err) != 0)
    throw pg::Error("cannot read the schema status of job table " + name + ": " + err.message,
                    err.sqlstate[0] ? std::string(err.sqlstate) : std::string("XX000"));
  if (!info.table_exists) throw TableMissing(name);
  t.schema_version = info.applied_version;
  t.latest_version = info.latest_version;
  // Asked of the catalog, not the ledger: a table migrated by hand may have them unrecorded.
  auto r = conn.exec(
      "SELECT to_regclass($2) IS NOT NULL, to_regclass($3) IS NOT NULL,"
      " EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisvalid"
      "          AND pg_get_indexdef(i.indexrelid) LIKE '%(state, completed_at) WHERE%')",
      {pg::Param(t.quoted), pg::Param(t.pause_quoted), pg::Param(t.cancel_quoted)});
  t.has_pause_table = r.text(0, 0) == "t";
  t.has_cancel_table = r.text(0, 1) == "t";
  t.has_done_index = r.text(0, 2) == "t";
  return t;
}

ReadSnapshot::ReadSnapshot(pg::Connection& conn, std::chrono::milliseconds timeout) : tx_(conn) {
  conn.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  conn.exec("SELECT set_config('statement_timeout', $1, true)", {pg::Param(std::to_string(timeout.count()) + "ms")});
}

}  // namespace pgxq::admin
