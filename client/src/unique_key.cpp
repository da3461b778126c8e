// Unique keys on a table that cannot hold them: a keyed insert into a table below migration 8
// fails on the server (42703: no unique_key column; 42P10: no unique index to match ON
// CONFLICT); this turns that into a message naming the table's version and the migration to run.
#include <string>

#include "internal.hpp"

namespace pgxq::client::detail {

bool explain_missing_unique_index(PGconn* conn, const TableName& t, pgxq_error* err) {
  if (!err) return false;
  const std::string state = err->sqlstate;
  const bool no_column = state == "42703" && std::string(err->message).find("unique_key") != std::string::npos;
  const bool no_index = state == "42P10";
  if (!no_column && !no_index) return false;
  std::string version;
  if (PQtransactionStatus(conn) == PQTRANS_IDLE) {
    pgxq_schema_info info = PGXQ_SCHEMA_INFO_INIT;
    if (pgxq_schema_status(conn, t.given().c_str(), &info, nullptr) == 0 && info.applied_version >= 0)
      version = "is at schema version " + std::to_string(info.applied_version);
  }
  // Inside a transaction the failed statement has aborted it: say what the error shows.
  if (version.empty())
    version = no_column ? "is below schema version 7 (it has no unique_key column)"
                        : "has no unique index on (kind, unique_key) (schema version 7, or migration 8 did not finish)";
  set_error(err, state,
            "job table " + t.given() + " " + version +
                "; unique keys need migration 8: run `pgxqd migrate` (or pgxq_migrate); nothing was inserted");
  return true;
}

}  // namespace pgxq::client::detail
