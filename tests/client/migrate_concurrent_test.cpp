// pgxq_migrate on a live table: index builds are CREATE INDEX CONCURRENTLY, so inserts go on while
// a build waits for open transactions; a build that is interrupted leaves an INVALID index that
// the next migrate drops and builds again, with the ledger recording the version only then; and
// a catalog change that must wait for a lock gives up and tries again rather than queueing every
// insert behind it.
#include <doctest/doctest.h>
#include <pgxq/client.h>

#include <thread>

#include "client_test_util.hpp"
#include "support.hpp"

using namespace pgxq::test;
using namespace pgxq::test::client;

namespace {

std::string ledger_versions(pgxq::pg::Connection& conn, const std::string& base) {
  return scalar_text(conn,
                     "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgxq_schema_migrations "
                     "WHERE job_table = $1",
                     {base})
      .value_or("");
}

std::optional<std::string> index_valid(pgxq::pg::Connection& conn, const std::string& index) {
  return scalar_text(conn, "SELECT i.indisvalid::text FROM pg_index i WHERE i.indexrelid = to_regclass($1)", {index});
}

}  // namespace

TEST_CASE("migrate: an index build does not block inserts, and a cancelled build is dropped and rebuilt") {
  auto admin = connect();
  const std::string t = unique_name("cic");
  Cleanup drop("DROP TABLE IF EXISTS " + t + ", " + t + "_pause, " + t + "_cancel, " + t + "_periodic; DROP FUNCTION IF EXISTS " + t + "_notify()");
  pgxq_error err{};
  REQUIRE_MESSAGE(pgxq_migrate(admin.get(), t.c_str(), &err) == 0, err.message);
  const std::string front = "idx_" + t + "_front";
  // Migration 4 (and the later ones) pending, as on a live table migrated before they existed.
  admin.exec("DROP INDEX " + front);
  admin.exec("DELETE FROM pgxq_schema_migrations WHERE job_table = $1 AND version >= 4", {t});

  // A transaction that inserted a job and stays open: the build has to wait for it.
  auto holder = connect();
  holder.exec("BEGIN");
  holder.exec("INSERT INTO " + t + " (kind) VALUES ('held')");

  auto migrator = connect();
  const std::string migrator_pid = std::to_string(migrator.backend_pid());
  pgxq_error merr{};
  int rc = -2;
  std::thread m([&] { rc = pgxq_migrate(migrator.get(), t.c_str(), &merr); });
  const std::string waiting =
      "SELECT string_agg(locktype, ',') FROM pg_locks WHERE pid = $1::int AND NOT granted";
  REQUIRE(wait_until([&] { return scalar_text(admin, waiting, {migrator_pid}).has_value(); }));
  // It waits for the holder's transaction to end (a concurrent build), not for a lock on the
  // table that every insert would then queue behind (a plain CREATE INDEX).
  CHECK(scalar_text(admin, waiting, {migrator_pid}) == "virtualxid");
  {
    auto writer = connect();
    writer.exec("SET lock_timeout = '30s'");
    CHECK_NOTHROW(writer.exec("INSERT INTO " + t + " (kind) VALUES ('inserted during the build')"));
  }

  // Interrupted: the build fails, leaving the index INVALID and version 4 unrecorded.
  admin.exec("SELECT pg_cancel_backend($1::int)", {migrator_pid});
  m.join();
  CHECK(rc == -1);
  CHECK(std::string(merr.sqlstate) == "57014");
  MESSAGE("interrupted migrate: ", merr.message);
  CHECK(index_valid(admin, front) == "false");
  CHECK(ledger_versions(admin, t) == "1,2,3");
  CHECK(PQtransactionStatus(migrator.get()) == PQTRANS_IDLE);

  // The next migrate (on the same connection: its lock was released) rebuilds the index.
  holder.exec("COMMIT");
  REQUIRE_MESSAGE(pgxq_migrate(migrator.get(), t.c_str(), &merr) == 0, merr.message);
  CHECK(index_valid(admin, front) == "true");
  CHECK(ledger_versions(admin, t) == "1,2,3,4,5,6,7,8");
  CHECK(count_rows(admin, t) == 2);
  CHECK(scalar(admin, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1::int", {migrator_pid}) == 0);
}

TEST_CASE("migrate: a catalog change waiting for a lock does not hold up inserts, and goes through afterwards") {
  auto admin = connect();
  const std::string t = unique_name("lockwait");
  Cleanup drop("DROP TABLE IF EXISTS " + t + ", " + t + "_pause, " + t + "_cancel, " + t + "_periodic; DROP FUNCTION IF EXISTS " + t + "_notify()");
  pgxq_error err{};
  REQUIRE_MESSAGE(pgxq_migrate(admin.get(), t.c_str(), &err) == 0, err.message);
  // Migration 2 (the NOTIFY trigger) pending: CREATE TRIGGER needs a lock that inserts hold.
  admin.exec("DELETE FROM pgxq_schema_migrations WHERE job_table = $1 AND version = 2", {t});

  auto holder = connect();
  holder.exec("BEGIN");
  holder.exec("INSERT INTO " + t + " (kind) VALUES ('held')");

  auto migrator = connect();
  const std::string migrator_pid = std::to_string(migrator.backend_pid());
  pgxq_error merr{};
  int rc = -2;
  std::thread m([&] { rc = pgxq_migrate(migrator.get(), t.c_str(), &merr); });
  REQUIRE(wait_until([&] {
    return scalar(admin, "SELECT count(*) FROM pg_locks WHERE pid = $1::int AND NOT granted AND locktype = 'relation'",
                  {migrator_pid}) > 0;
  }));
  // An insert arriving while migrate waits for that lock is not queued behind it for good.
  {
    auto writer = connect();
    writer.exec("SET lock_timeout = '30s'");
    CHECK_NOTHROW(writer.exec("INSERT INTO " + t + " (kind) VALUES ('inserted while migrate waits')"));
  }
  holder.exec("COMMIT");
  m.join();
  CHECK_MESSAGE(rc == 0, merr.message);
  CHECK(ledger_versions(admin, t) == "1,2,3,4,5,6,7,8");
  CHECK(scalar(admin, "SELECT count(*) FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal", {t}) == 1);
  CHECK(count_rows(admin, t) == 2);
}
