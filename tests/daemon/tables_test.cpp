// End-to-end: the job table of each queue — `pgxqd migrate --config` creates every table the
// config names and says what it did, `pgxqd enqueue` writes a queue's job into that queue's
// table, and a schema that does not exist is reported with what to run.
#include <doctest/doctest.h>

#include <signal.h>

#include "e2e.hpp"

using namespace pgxq::test;
namespace pg = pgxq::pg;

namespace {

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

bool table_exists(const std::string& table) {
  auto conn = connect();
  return scalar(conn, "SELECT count(*) FROM pg_class WHERE oid = to_regclass($1)", {pg::Param(table)}) == 1;
}

// Job tables a test has pgxqd create, dropped (with what migrate leaves beside them) at exit.
struct CreatedTables {
  std::vector<std::string> names;
  std::string schema;  // dropped last, when set
  ~CreatedTables() {
    try {
      auto conn = connect();
      for (const auto& t : names) {
        conn.exec("DROP TABLE IF EXISTS " + t + " CASCADE");
        conn.exec("DROP FUNCTION IF EXISTS " + t + "_notify()");
        conn.exec("DELETE FROM pgxq_schema_migrations WHERE job_table = $1", {pg::Param(t)});
      }
      if (!schema.empty()) conn.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    } catch (...) {
    }
  }
};

}  // namespace

TEST_CASE("migrate --config creates the worker table and every queue's table, and says what it did") {
  CreatedTables created;
  const std::string worker = unique_name("e2e_mig_worker"), mail = unique_name("e2e_mig_mail"),
                    sms = unique_name("e2e_mig_sms");
  created.names = {worker, mail, sms};
  TestConfig cfg(worker, "\n[queues.default]\n\n[queues.mail]\ntable = \"" + mail + "\"\n\n[queues.sms]\ntable = \"" + sms +
                             "\"\n");

  auto first = run({pgxqd(), "migrate", "--config", cfg.path});
  INFO(first.out, first.err);
  REQUIRE(first.code == 0);
  for (const auto& t : created.names) {
    CHECK(table_exists(t));
    CHECK(has(first.out, "created table " + t + " (schema version "));
  }
  CHECK_FALSE(has(first.out, "up to date"));
  // check-config makes run's own check of every table: all are there now.
  CHECK(check_config({"--config", cfg.path}).code == 0);

  auto again = run({pgxqd(), "migrate", "--config", cfg.path});
  CHECK(again.code == 0);
  for (const auto& t : created.names) CHECK(has(again.out, "table " + t + " is already up to date (schema version "));
  CHECK_FALSE(has(again.out, "created"));

  // A table behind on its migrations: the versions it moved between.
  auto conn = connect();
  const auto latest = scalar(conn, "SELECT max(version) FROM pgxq_schema_migrations WHERE job_table = $1", {pg::Param(mail)});
  conn.exec("DELETE FROM pgxq_schema_migrations WHERE job_table = $1 AND version >= 2", {pg::Param(mail)});
  auto upgrade = run({pgxqd(), "migrate", "--config", cfg.path});
  CHECK(upgrade.code == 0);
  CHECK(has(upgrade.out, "migrated table " + mail + " from schema version 1 to " + std::to_string(latest)));
  CHECK(has(upgrade.out, "table " + sms + " is already up to date"));
}

TEST_CASE("migrate --table names one table only, and the connection it used") {
  CreatedTables created;
  const std::string only = unique_name("e2e_mig_only"), other = unique_name("e2e_mig_other");
  created.names = {only, other};
  TestConfig cfg(other);
  auto r = run({pgxqd(), "migrate", "--config", cfg.path, "--table", only});
  INFO(r.out, r.err);
  CHECK(r.code == 0);
  CHECK(table_exists(only));
  CHECK_FALSE(table_exists(other));
  // The test cluster comes from PGHOST/PGDATABASE: the message says so, not "libpq defaults".
  if (conninfo().empty()) {
    CHECK(has(r.out, "from the environment (PGHOST, PGDATABASE, PGUSER, PGSERVICE) or libpq's defaults"));
    CHECK_FALSE(has(r.out, "in libpq defaults"));
  }
}

TEST_CASE("migrate into a schema that does not exist says so and what to run, and creates nothing") {
  const std::string schema = unique_name("e2e_noschema");
  const std::string table = schema + ".jobs";
  auto r = run({pgxqd(), "migrate", "--table", table});
  INFO(r.out, r.err);
  CHECK(r.code == 1);
  CHECK(has(r.err, "cannot migrate " + table + ": schema " + schema + " does not exist"));
  CHECK(has(r.err, "CREATE SCHEMA " + schema));
  CHECK(has(r.err, "run pgxqd migrate again"));
  auto conn = connect();
  CHECK(scalar(conn, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", {pg::Param(schema)}) == 0);

  // Once the schema exists, the same command creates the table in it.
  CreatedTables created;
  created.names = {table};
  created.schema = schema;
  conn.exec("CREATE SCHEMA " + schema);
  auto ok = run({pgxqd(), "migrate", "--table", table});
  CHECK(ok.code == 0);
  CHECK(has(ok.out, "created table " + table));
  CHECK(table_exists(table));
}

TEST_CASE("enqueue --queue Q writes into [queues.Q] table, where run works it, and other queues into [worker] table") {
  TempTable worker("e2e_enq_worker"), mail("e2e_enq_mail");
  TestConfig cfg(worker.name(), "\n[queues.default]\n\n[queues.mail]\ntable = \"" + mail.name() + "\"\n");

  auto r = run({pgxqd(), "enqueue", "noop", "--queue", "mail", "--config", cfg.path});
  INFO(r.out, r.err);
  REQUIRE(r.code == 0);
  CHECK(count_jobs(mail.name(), "queue = 'mail' AND kind = 'noop'") == 1);
  CHECK(count_jobs(worker.name(), "true") == 0);

  CHECK(run({pgxqd(), "enqueue", "noop", "--config", cfg.path}).code == 0);
  CHECK(run({pgxqd(), "enqueue", "noop", "--queue", "elsewhere", "--config", cfg.path}).code == 0);
  CHECK(count_jobs(worker.name(), "queue = 'default'") == 1);
  CHECK(count_jobs(worker.name(), "queue = 'elsewhere'") == 1);

  // --stdin: each line into its queue's table, in one transaction.
  auto s = run({pgxqd(), "enqueue", "--stdin", "--config", cfg.path}, {},
               std::string(R"({"kind":"noop","queue":"mail"})") + "\n" + R"({"kind":"noop"})" + "\n" +
                   R"({"kind":"noop","queue":"mail"})" + "\n");
  INFO(s.out, s.err);
  CHECK(s.code == 0);
  CHECK(s.out == "3\n");
  CHECK(count_jobs(mail.name(), "queue = 'mail'") == 3);
  CHECK(count_jobs(worker.name(), "queue = 'default'") == 2);

  // --table still wins over the queue's table.
  CHECK(run({pgxqd(), "enqueue", "noop", "--queue", "mail", "--table", worker.name(), "--config", cfg.path}).code == 0);
  CHECK(count_jobs(worker.name(), "queue = 'mail'") == 1);

  // And run works the job where enqueue put it.
  Process p(run_argv(cfg.path));
  REQUIRE(wait_until([&] { return count_jobs(mail.name(), "state = 'completed'") == 3; }));
  p.signal(SIGTERM);
  CHECK(p.wait() == 0);
}

TEST_CASE("enqueue into a missing table gives one hint, the migrate command for that table") {
  const std::string missing = unique_name("e2e_enq_missing");
  TestConfig cfg(missing);
  auto r = run({pgxqd(), "enqueue", "noop", "--config", cfg.path});
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(has(r.err, "cannot enqueue into " + missing + ": "));
  CHECK(has(r.err, "(SQLSTATE 42P01)"));
  CHECK(has(r.err, "create it first: pgxqd migrate --config " + cfg.path));
  size_t hints = 0;
  for (size_t at = r.err.find("migrate"); at != std::string::npos; at = r.err.find("migrate", at + 1)) ++hints;
  CHECK(hints == 1);

  auto t = run({pgxqd(), "enqueue", "noop", "--table", missing});
  CHECK(t.code == 1);
  CHECK(has(t.err, "create it first: pgxqd migrate --table " + missing));
  CHECK_FALSE(has(t.err, "pgxq_migrate"));
}
