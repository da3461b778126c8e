// pgxq_migrate and pgxq_schema: apply (or print) the versioned migrations of a job table.
// Migrating runs in its own transaction under an advisory lock keyed on the table, so any
// number of processes may migrate the same table at once: the first applies, the others wait
// and then find nothing left to do. Applied versions are recorded per table in
// pgxq_schema_migrations, which lives in the job table's schema.
#include <cstdlib>
#include <set>

#include "internal.hpp"
#include "migrations.hpp"

namespace pgxq::client::detail {

namespace {

// The ledger of applied versions: pgxq_migrate creates it, and pgxq_schema's text does too, so
// a table created from that text reads as migrated (pgxq_schema_status).
std::string ledger_ddl(const TableName& t) {
  return "CREATE TABLE IF NOT EXISTS " + t.sibling(migrations_table) +
         " (\n"
         "    job_table  TEXT        NOT NULL,\n"
         "    version    INT         NOT NULL,\n"
         "    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),\n"
         "    PRIMARY KEY (job_table, version)\n"
         ")";
}

bool migrate_in_transaction(PGconn* conn, const TableName& t, pgxq_error* err) {
  const std::string ctx = "migrate " + t.given();
  const char* schema = t.schema.empty() ? nullptr : t.schema.c_str();
  const std::string ledger = t.sibling(migrations_table);

  // IF NOT EXISTS reports "already exists, skipping" as a NOTICE, which libpq's default
  // notice processor would print on the caller's stderr. SET LOCAL ends with the transaction.
  if (!run(conn, "SET LOCAL client_min_messages = warning", {}, PGRES_COMMAND_OK, ctx, err)) return false;

  // Unqualified names are keyed by the schema they resolve to, so "pgxq_job" and
  // "public.pgxq_job" take the same lock.
  if (!run(conn,
           "SELECT pg_advisory_xact_lock(hashtextextended("
           "'pgxq_migrate:' || coalesce($1, current_schema(), '') || '.' || $2, 0))",
           {schema, t.base.c_str()}, PGRES_TUPLES_OK, ctx + ": advisory lock", err))
    return false;

  auto missing = run(conn, "SELECT to_regclass($1) IS NULL", {ledger.c_str()}, PGRES_TUPLES_OK, ctx, err);
  if (!missing) return false;
  if (*PQgetvalue(missing.get(), 0, 0) == 't') {
    // Two different tables of one schema may be migrated at once; their first migrations would
    // race to create the shared ledger (a unique violation in pg_type), so creating it takes a
    // per-schema lock. Only the very first migration in a schema ever gets here.
    if (!run(conn,
             "SELECT pg_advisory_xact_lock(hashtextextended("
             "'pgxq_migrate_ledger:' || coalesce($1, current_schema(), ''), 0))",
             {schema}, PGRES_TUPLES_OK, ctx + ": advisory lock", err))
      return false;
    if (!run(conn, ledger_ddl(t), {}, PGRES_COMMAND_OK, ctx + ": create " + std::string(migrations_table), err))
      return false;
  }

  // Versions recorded for a table that has since been dropped must not stop its re-creation.
  auto gone = run(conn, "SELECT to_regclass($1) IS NULL", {t.sql().c_str()}, PGRES_TUPLES_OK, ctx, err);
  if (!gone) return false;
  if (*PQgetvalue(gone.get(), 0, 0) == 't' &&
      !run(conn, "DELETE FROM " + ledger + " WHERE job_table = $1", {t.base.c_str()}, PGRES_COMMAND_OK, ctx, err))
    return false;

  auto applied_rows =
      run(conn, "SELECT version FROM " + ledger + " WHERE job_table = $1", {t.base.c_str()}, PGRES_TUPLES_OK, ctx, err);
  if (!applied_rows) return false;
  std::set<int> applied;
  for (int i = 0; i < PQntuples(applied_rows.get()); ++i) applied.insert(std::atoi(PQgetvalue(applied_rows.get(), i, 0)));

  for (const Migration& m : migrations()) {
    if (applied.count(m.version)) continue;
    const std::string step = ctx + ": migration " + std::to_string(m.version) + " (" + m.description + ")";
    if (!run(conn, m.sql(t), {}, PGRES_COMMAND_OK, step, err)) return false;
    const std::string version = std::to_string(m.version);
    if (!run(conn, "INSERT INTO " + ledger + " (job_table, version) VALUES ($1, $2::int)",
             {t.base.c_str(), version.c_str()}, PGRES_COMMAND_OK, step, err))
      return false;
  }
  return static_cast<bool>(run(conn, "COMMIT", {}, PGRES_COMMAND_OK, ctx + ": commit", err));
}

}  // namespace

}  // namespace pgxq::client::detail

using namespace pgxq::client::detail;

extern "C" int pgxq_migrate(PGconn* conn, const char* table, pgxq_error* err) {
  clear_error(err);
  try {
    auto t = parse_table(table, true, err);
    if (!t || !check_migratable(*t, err)) return -1;
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
      set_error(err, "08006", "pgxq_migrate: the connection is not open");
      return -1;
    }
    switch (PQtransactionStatus(conn)) {
      case PQTRANS_IDLE:
        break;
      case PQTRANS_INTRANS:
      case PQTRANS_INERROR:
        set_error(err,
                  "pgxq_migrate: the connection is inside a transaction; migrate commits its own transaction, "
                  "so call it outside one (COMMIT or ROLLBACK first)");
        return -1;
      default:
        set_error(err, "pgxq_migrate: the connection is busy with another command");
        return -1;
    }
    if (!run(conn, "BEGIN", {}, PGRES_COMMAND_OK, "migrate " + t->given() + ": begin", err)) return -1;
    if (migrate_in_transaction(conn, *t, err)) return 0;
    if (PQtransactionStatus(conn) == PQTRANS_INTRANS || PQtransactionStatus(conn) == PQTRANS_INERROR) {
      Result rollback(PQexec(conn, "ROLLBACK"));
    }
    return -1;
  } catch (...) {
    set_error(err, "pgxq_migrate: out of memory");
    if (conn && PQtransactionStatus(conn) != PQTRANS_IDLE) {
      Result rollback(PQexec(conn, "ROLLBACK"));
    }
    return -1;
  }
}

extern "C" char* pgxq_schema(const char* table, pgxq_error* err) {
  clear_error(err);
  try {
    auto t = parse_table(table, true, err);
    if (!t || !check_migratable(*t, err)) return nullptr;
    std::string text = "-- pgxq job table " + t->given() + ": every migration, in order (each is idempotent)\n";
    for (const Migration& m : migrations())
      text += "\n-- migration " + std::to_string(m.version) + ": " + m.description + "\n" + m.sql(*t);
    // Recorded like pgxq_migrate records them, so `pgxqd run` and `check-config` (which read the
    // ledger) see this table as up to date. The name is validated: [a-z0-9_] only.
    text += "\n-- the versions above, in the ledger pgxq_migrate keeps\n" + ledger_ddl(*t) + ";\nINSERT INTO " +
            t->sibling(migrations_table) + " (job_table, version) VALUES ";
    bool first = true;
    for (const Migration& m : migrations()) {
      text += (first ? "" : ", ") + ("('" + t->base + "', " + std::to_string(m.version) + ")");
      first = false;
    }
    text += " ON CONFLICT DO NOTHING;\n";
    return copy_for_caller(text, "pgxq_schema", err);
  } catch (...) {
    set_error(err, "pgxq_schema: out of memory");
    return nullptr;
  }
}
