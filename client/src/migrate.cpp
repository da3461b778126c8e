// pgxq_migrate and pgxq_schema: apply (or print) the versioned migrations of a job table.
// Migrating runs under an advisory lock keyed on the table, so any number of processes may
// migrate the same table at once: the first applies, the others wait and then find nothing left
// to do. Catalog changes run in transactions; indexes on a table that may be live are built
// CONCURRENTLY between them, so inserts are never blocked by a migration. Applied versions are
// recorded per table in pgxq_schema_migrations, which lives in the job table's schema.
#include <unistd.h>

#include <algorithm>
#include <array>
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

// The advisory lock that serialises migrations of one table. Unqualified names are keyed by the
// schema they resolve to, so "pgxq_job" and "public.pgxq_job" take the same lock.
constexpr const char* migrate_lock_key =
    "hashtextextended('pgxq_migrate:' || coalesce($1, current_schema(), '') || '.' || $2, 0)";

// Takes the table's migration lock for this session. It is held across the concurrent index
// builds, which cannot run in a transaction; so it is a session lock, and it is waited for by
// trying again rather than in a statement: a waiting statement holds a snapshot, which a
// concurrent build in the other session would wait for in turn (a deadlock).
bool lock_table(PGconn* conn, const TableName& t, const char* schema, const std::string& ctx, pgxq_error* err) {
  for (useconds_t wait_us = 10'000;;) {
    auto r = run(conn, std::string("SELECT pg_try_advisory_lock(") + migrate_lock_key + ")", {schema, t.base.c_str()},
                 PGRES_TUPLES_OK, ctx + ": advisory lock", err);
    if (!r) return false;
    if (*PQgetvalue(r.get(), 0, 0) == 't') return true;
    usleep(wait_us);
    wait_us = std::min<useconds_t>(wait_us * 2, 500'000);
  }
}

// Builds `ix` with CREATE INDEX CONCURRENTLY (outside a transaction). A build that was
// interrupted (cancelled, failed, the session lost) leaves the index behind marked INVALID,
// which IF NOT EXISTS would take for done: such an index is dropped and built again.
bool build_concurrently(PGconn* conn, const TableName& t, const ConcurrentIndex& ix, const std::string& step,
                        pgxq_error* err) {
  const std::string qualified = t.sibling(ix.name);
  auto existing = run(conn, "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
                      {qualified.c_str()}, PGRES_TUPLES_OK, step, err);
  if (!existing) return false;
  if (PQntuples(existing.get()) == 1) {
    if (*PQgetvalue(existing.get(), 0, 0) == 't') return true;
    if (!run(conn, "DROP INDEX CONCURRENTLY IF EXISTS " + qualified, {}, PGRES_COMMAND_OK,
             step + ": drop the invalid index " + ix.name + " an interrupted build left", err))
      return false;
  }
  if (!ix.skip_if.empty()) {
    auto equivalent = run(conn, ix.skip_if, {}, PGRES_TUPLES_OK, step, err);
    if (!equivalent) return false;
    if (*PQgetvalue(equivalent.get(), 0, 0) == 't') return true;
  }
  return static_cast<bool>(run(conn, std::string(ix.unique ? "CREATE UNIQUE" : "CREATE") + " INDEX CONCURRENTLY IF NOT EXISTS " + quote_identifier(ix.name) + " " +
                                         ix.definition,
                               {}, PGRES_COMMAND_OK, step, err));
}

// A catalog change (CREATE TRIGGER takes a lock that conflicts with inserts) waits at most this
// long for its lock, so inserts never queue behind a migration stuck behind a long transaction;
// the attempt is then rolled back and made again, up to kLockAttempts times.
constexpr const char* kCatalogLockTimeout = "1s";
constexpr int kLockAttempts = 30;

// BEGIN, with the catalog changes' lock timeout for this transaction.
bool begin(PGconn* conn, const std::string& ctx, pgxq_error* err) {
  return run(conn, "BEGIN", {}, PGRES_COMMAND_OK, ctx + ": begin", err) &&
         run(conn, std::string("SET LOCAL lock_timeout = '") + kCatalogLockTimeout + "'", {}, PGRES_COMMAND_OK,
             ctx + ": begin", err);
}

// Applies what the ledger lacks, holding the table's migration lock. Migrations that only touch
// the catalog run in transactions, each recorded in the ledger in the same transaction; index
// builds run concurrently between them and are recorded once the index is valid. An
// interrupted run therefore leaves the ledger true to what exists, and the next run goes on.
bool migrate_locked(PGconn* conn, const TableName& t, const std::string& ctx, pgxq_error* err) {
  const char* schema = t.schema.empty() ? nullptr : t.schema.c_str();
  const std::string ledger = t.sibling(migrations_table);
  if (!begin(conn, ctx, err)) return false;

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

  const std::string record = "INSERT INTO " + ledger + " (job_table, version) VALUES ($1, $2::int) ON CONFLICT DO NOTHING";
  for (const Migration& m : migrations()) {
    if (applied.count(m.version)) continue;
    const std::string step = ctx + ": migration " + std::to_string(m.version) + " (" + m.description + ")";
    const std::string version = std::to_string(m.version);
    if (m.index) {
      if (!run(conn, "COMMIT", {}, PGRES_COMMAND_OK, ctx + ": commit", err)) return false;
      if (!build_concurrently(conn, t, *m.index(t), step, err)) return false;
      if (!run(conn, record, {t.base.c_str(), version.c_str()}, PGRES_COMMAND_OK, step, err)) return false;
      if (!begin(conn, ctx, err)) return false;
      continue;
    }
    if (!run(conn, m.sql(t), {}, PGRES_COMMAND_OK, step, err)) return false;
    if (!run(conn, record, {t.base.c_str(), version.c_str()}, PGRES_COMMAND_OK, step, err)) return false;
  }
  return static_cast<bool>(run(conn, "COMMIT", {}, PGRES_COMMAND_OK, ctx + ": commit", err));
}

// Runs a migration of `t` on a connection that is idle: quiet notices, the table's lock, and
// everything undone on the way out — an open transaction rolled back, the lock released, the
// session's message level restored — whether it succeeded or not.
bool migrate_table(PGconn* conn, const TableName& t, pgxq_error* caller_err) {
  pgxq_error own{};
  pgxq_error* err = caller_err ? caller_err : &own;  // the retry below reads the SQLSTATE
  const std::string ctx = "migrate " + t.given();
  const char* schema = t.schema.empty() ? nullptr : t.schema.c_str();
  // IF NOT EXISTS reports "already exists, skipping" as a NOTICE, which libpq's default notice
  // processor would print on the caller's stderr.
  auto level = run(conn, "SELECT current_setting('client_min_messages'), set_config('client_min_messages', 'warning', false)",
                   {}, PGRES_TUPLES_OK, ctx, err);
  if (!level) return false;
  const std::string caller_level = PQgetvalue(level.get(), 0, 0);
  bool ok = lock_table(conn, t, schema, ctx, err);
  if (ok) {
    for (int attempt = 1;; ++attempt) {
      if (attempt > 1) clear_error(err);
      ok = migrate_locked(conn, t, ctx, err);
      if (PQtransactionStatus(conn) == PQTRANS_INTRANS || PQtransactionStatus(conn) == PQTRANS_INERROR) {
        Result rollback(PQexec(conn, "ROLLBACK"));
      }
      // lock_not_available: a transaction on the table holds a lock the change needs. What was
      // applied is recorded; the rest is tried again once the waiting inserts went through.
      if (ok || std::string_view(err->sqlstate) != "55P03" || attempt == kLockAttempts) break;
      usleep(static_cast<useconds_t>(std::min(attempt, 10)) * 200'000);
    }
    if (!ok && std::string_view(err->sqlstate) == "55P03")
      set_error(err, "55P03",
                std::string(err->message) + " (a transaction kept a lock on " + t.given() + " through " +
                    std::to_string(kLockAttempts) +
                    " attempts; migrate waits at most " + kCatalogLockTimeout +
                    " each time so inserts are not held up; run it again when that transaction has ended)");
    pgxq_error unlock_err{};
    if (!run(conn, std::string("SELECT pg_advisory_unlock(") + migrate_lock_key + ")", {schema, t.base.c_str()},
             PGRES_TUPLES_OK, ctx + ": advisory unlock", ok ? err : &unlock_err))
      ok = false;
  }
  Result restore(PQexecParams(conn, "SELECT set_config('client_min_messages', $1, false)", 1, nullptr,
                              std::array<const char*, 1>{caller_level.c_str()}.data(), nullptr, nullptr, 0));
  return ok;
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
    return migrate_table(conn, *t, err) ? 0 : -1;
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
