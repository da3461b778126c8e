// pgxq_schema_status: where a job table stands in its migrations, read from the ledger that
// pgxq_migrate writes, without creating or locking anything (it may run inside the caller's
// transaction, and on databases where the ledger was never created).
#include <charconv>

#include "internal.hpp"
#include "migrations.hpp"

namespace pgxq::client::detail {

namespace {

bool read_status(PGconn* conn, const TableName& t, pgxq_schema_info& info, pgxq_error* err) {
  const std::string ctx = "schema status of " + t.given();
  const std::string table = t.sql();
  const std::string ledger = t.sibling(migrations_table);
  // to_regclass resolves a name (search_path included) without failing when it is missing.
  // The privilege is asked, not tried: a refused SELECT would abort the caller's transaction.
  // Both statements return exactly one row: no FROM, and an aggregate.
  auto found = run(conn,
                   "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL,"
                   " coalesce(has_table_privilege(to_regclass($2), 'SELECT'), false)",
                   {table.c_str(), ledger.c_str()}, PGRES_TUPLES_OK, ctx, err);
  if (!found) return false;
  info.table_exists = *PQgetvalue(found.get(), 0, 0) == 't';
  const bool ledger_exists = *PQgetvalue(found.get(), 0, 1) == 't';
  const bool ledger_readable = *PQgetvalue(found.get(), 0, 2) == 't';
  // Versions left behind by a dropped table describe nothing (pgxq_migrate discards them).
  if (!info.table_exists || !ledger_exists) return true;
  if (!ledger_readable) {
    info.applied_version = -1;
    return true;
  }

  const std::string sql = "SELECT coalesce(max(version), 0) FROM " + ledger + " WHERE job_table = $1";
  auto applied = run(conn, sql, {t.base.c_str()}, PGRES_TUPLES_OK, ctx + ": reading " + migrations_table, err);
  if (!applied) return false;
  const char* text = PQgetvalue(applied.get(), 0, 0);
  auto [end, ec] = std::from_chars(text, text + PQgetlength(applied.get(), 0, 0), info.applied_version);
  if (ec != std::errc()) {
    set_error(err, ctx + ": unexpected version '" + text + "'");
    return false;
  }
  return true;
}

}  // namespace

}  // namespace pgxq::client::detail

using namespace pgxq::client::detail;

extern "C" int pgxq_schema_status(PGconn* conn, const char* table, pgxq_schema_info* out, pgxq_error* err) {
  clear_error(err);
  try {
    if (!check_schema_info(out, err)) return -1;
    auto t = parse_table(table, true, err);
    if (!t) return -1;
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
      set_error(err, "08006", "pgxq_schema_status: the connection is not open");
      return -1;
    }
    switch (PQtransactionStatus(conn)) {
      case PQTRANS_IDLE:
      case PQTRANS_INTRANS:
        break;
      case PQTRANS_INERROR:
        set_error(err, "pgxq_schema_status: the connection's transaction has failed; ROLLBACK first");
        return -1;
      default:
        set_error(err, "pgxq_schema_status: the connection is busy with another command");
        return -1;
    }
    pgxq_schema_info info;
    pgxq_schema_info_init(&info);
    info.latest_version = migrations().back().version;
    if (!read_status(conn, *t, info, err)) return -1;
    write_schema_info(info, out);
    return 0;
  } catch (...) {
    set_error(err, "pgxq_schema_status: out of memory");
    return -1;
  }
}
