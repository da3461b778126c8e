// pgxq_schema_status against the real database: a missing table, a table go-pgxq created (no
// ledger rows, and in a fresh schema no ledger at all), a fully and a partly migrated table,
// inside and outside a transaction, and that it never creates or changes anything.
#include <doctest/doctest.h>
#include <pgxq/client.h>
#include <pgxq/client.hpp>

#include "client_test_util.hpp"
#include "support.hpp"

using namespace pgxq::test;
using namespace pgxq::test::client;

namespace {

// The last migration libpgxq knows, as its own schema text numbers them.
int latest_known_version() {
  const std::string text = pgxq::client::schema("status_probe");
  int latest = 0;
  const std::string marker = "\n-- migration ";
  for (size_t pos = 0; (pos = text.find(marker, pos)) != std::string::npos; pos += marker.size())
    latest = std::max(latest, std::stoi(text.substr(pos + marker.size())));
  return latest;
}

pgxq_schema_info status_of(pgxq::pg::Connection& conn, const std::string& table) {
  pgxq_schema_info info = PGXQ_SCHEMA_INFO_INIT;
  pgxq_error err{};
  REQUIRE_MESSAGE(pgxq_schema_status(conn.get(), table.c_str(), &info, &err) == 0, err.message);
  CHECK(info.struct_size == sizeof info);
  return info;
}

int64_t relations_named_like(pgxq::pg::Connection& conn, const std::string& pattern) {
  return scalar(conn, "SELECT count(*) FROM pg_class WHERE relname LIKE $1", {pattern});
}

}  // namespace

TEST_CASE("schema status: a missing table, also when the ledger itself is missing, creates nothing") {
  auto conn = connect();
  const int latest = latest_known_version();
  REQUIRE(latest >= 4);

  pgxq_schema_info missing = status_of(conn, unique_name("absent"));
  CHECK(missing.table_exists == 0);
  CHECK(missing.applied_version == 0);
  CHECK(missing.latest_version == latest);

  // A schema nobody migrated in has no pgxq_schema_migrations; asking must not create one.
  const std::string schema = unique_name("nostatus");
  Cleanup drop("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  conn.exec("CREATE SCHEMA " + schema);
  pgxq_schema_info in_schema = status_of(conn, schema + ".jobs");
  CHECK(in_schema.table_exists == 0);
  CHECK(in_schema.applied_version == 0);
  CHECK(scalar(conn, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
               {schema}) == 0);
}

TEST_CASE("schema status: a table go-pgxq created has no recorded version, with or without a ledger") {
  auto conn = connect();
  // In a fresh schema: the table exists, the ledger does not.
  const std::string schema = unique_name("gostatus");
  Cleanup drop("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  conn.exec("CREATE SCHEMA " + schema);
  const std::string qualified = schema + ".jobs";
  exec_script(conn, go_pgxq_ddl(qualified));
  pgxq_schema_info info = status_of(conn, qualified);
  CHECK(info.table_exists == 1);
  CHECK(info.applied_version == 0);
  CHECK(scalar(conn, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'pgxq_schema_migrations'",
               {schema}) == 0);

  // Next to other migrated tables: the ledger exists but holds nothing for this one.
  TempTable migrated("status_neighbour");
  const std::string t = unique_name("gopgxq_status");
  Cleanup drop_t("DROP TABLE IF EXISTS " + t + "; DROP FUNCTION IF EXISTS " + t + "_notify()");
  exec_script(conn, go_pgxq_ddl(t));
  info = status_of(conn, t);
  CHECK(info.table_exists == 1);
  CHECK(info.applied_version == 0);

  // pgxq_migrate records every version, and the status follows.
  pgxq_error err{};
  REQUIRE_MESSAGE(pgxq_migrate(conn.get(), t.c_str(), &err) == 0, err.message);
  info = status_of(conn, t);
  CHECK(info.applied_version == info.latest_version);
}

TEST_CASE("schema status: fully and partly migrated tables, inside and outside a transaction") {
  auto conn = connect();
  const std::string t = unique_name("status");
  Cleanup drop("DROP TABLE IF EXISTS " + t + "; DROP FUNCTION IF EXISTS " + t + "_notify()");
  pgxq_error err{};
  REQUIRE_MESSAGE(pgxq_migrate(conn.get(), t.c_str(), &err) == 0, err.message);

  pgxq_schema_info full = status_of(conn, t);
  CHECK(full.table_exists == 1);
  CHECK(full.applied_version == latest_known_version());
  CHECK(full.latest_version == latest_known_version());

  // As an older libpgxq that knew only migrations 1 and 2 would have left it.
  conn.exec("DELETE FROM pgxq_schema_migrations WHERE job_table = $1 AND version > 2", {t});
  pgxq_schema_info partial = status_of(conn, t);
  CHECK(partial.table_exists == 1);
  CHECK(partial.applied_version == 2);
  CHECK(partial.latest_version == full.latest_version);

  {
    // Inside the caller's transaction: its reads join it, and the transaction stays usable.
    pgxq::pg::Transaction tx(conn);
    conn.exec("DELETE FROM pgxq_schema_migrations WHERE job_table = $1 AND version = 2", {t});
    CHECK(status_of(conn, t).applied_version == 1);
    CHECK(PQtransactionStatus(conn.get()) == PQTRANS_INTRANS);
    tx.rollback();
  }
  CHECK(status_of(conn, t).applied_version == 2);

  REQUIRE_MESSAGE(pgxq_migrate(conn.get(), t.c_str(), &err) == 0, err.message);
  auto via_cpp = pgxq::client::schema_status(conn.get(), t);
  CHECK(via_cpp.table_exists);
  CHECK(via_cpp.applied_version == full.latest_version);
  CHECK(via_cpp.latest_version == full.latest_version);

  // Versions left behind by a dropped table are not reported for it.
  conn.exec("DROP TABLE " + t);
  CHECK(status_of(conn, t).applied_version == 0);
}

TEST_CASE("schema status: refuses bad input before sending anything") {
  pgxq_error err{};
  pgxq_schema_info info = PGXQ_SCHEMA_INFO_INIT;
  // A NULL connection is only reported after the arguments are checked.
  CHECK(pgxq_schema_status(nullptr, "Bad-Name", &info, &err) == -1);
  CHECK(std::string(err.sqlstate).empty());
  CHECK(std::string(err.message).find("invalid character") != std::string::npos);
  CHECK(pgxq_schema_status(nullptr, "t", nullptr, &err) == -1);
  CHECK(std::string(err.message).find("out is NULL") != std::string::npos);
  info.struct_size = 3;
  CHECK(pgxq_schema_status(nullptr, "t", &info, &err) == -1);
  CHECK(std::string(err.message).find("pgxq_schema_info.struct_size is 3") != std::string::npos);
  CHECK(std::string(err.message).find("PGXQ_SCHEMA_INFO_INIT") != std::string::npos);
  info.struct_size = sizeof info;
  CHECK(pgxq_schema_status(nullptr, "t", &info, &err) == -1);
  CHECK(std::string(err.sqlstate) == "08006");

  // A failed transaction is refused rather than answered with the server's 25P02.
  auto conn = connect();
  const int64_t before = relations_named_like(conn, "pgxq_schema_migrations%");
  conn.exec("BEGIN");
  pgxq::pg::Result failed(PQexec(conn.get(), "SELECT 1/0"));
  REQUIRE(PQtransactionStatus(conn.get()) == PQTRANS_INERROR);
  CHECK(pgxq_schema_status(conn.get(), "t", &info, &err) == -1);
  CHECK(std::string(err.message).find("ROLLBACK first") != std::string::npos);
  conn.exec("ROLLBACK");
  CHECK(relations_named_like(conn, "pgxq_schema_migrations%") == before);
}

TEST_CASE("schema status: a table created from pgxq_schema's text reads as up to date, like a migrated one") {
  auto conn = connect();
  const std::string schema = unique_name("fromtext");
  Cleanup drop("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  conn.exec("CREATE SCHEMA " + schema);
  const std::string table = schema + ".jobs";

  conn.exec(pgxq::client::schema(table));
  pgxq_schema_info info = status_of(conn, table);
  CHECK(info.table_exists == 1);
  CHECK(info.applied_version == info.latest_version);

  // Applying the text again changes nothing, and pgxq_migrate on top of it has nothing left to do.
  conn.exec(pgxq::client::schema(table));
  pgxq::client::migrate(conn.get(), table);
  CHECK(scalar(conn, "SELECT count(*) FROM " + schema + ".pgxq_schema_migrations WHERE job_table = 'jobs'") ==
        info.latest_version);
}

TEST_CASE("schema status: a role that may not read the ledger gets -1 (unknown), and its transaction stays usable") {
  auto conn = connect();
  const std::string t = unique_name("status_role");
  const std::string role = unique_name("noledger");
  Cleanup drop("DROP TABLE IF EXISTS " + t + "; DROP FUNCTION IF EXISTS " + t + "_notify(); DROP ROLE IF EXISTS " + role);
  pgxq_error err{};
  REQUIRE_MESSAGE(pgxq_migrate(conn.get(), t.c_str(), &err) == 0, err.message);
  conn.exec("CREATE ROLE " + role);

  pgxq::pg::Transaction tx(conn);
  conn.exec("SET LOCAL ROLE " + role);
  pgxq_schema_info info = status_of(conn, t);
  CHECK(info.table_exists == 1);
  CHECK(info.applied_version == -1);
  CHECK(info.latest_version == latest_known_version());
  CHECK(PQtransactionStatus(conn.get()) == PQTRANS_INTRANS);
  tx.rollback();
  CHECK(status_of(conn, t).applied_version == latest_known_version());
}
