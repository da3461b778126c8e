// pgxq_migrate and pgxq_schema against the real database: idempotence, concurrent migrations,
// a table created by go-pgxq's own DDL (which must keep working with go-pgxq's INSERT), the
// NOTIFY trigger, schema-qualified names, and the version ledger.
#include <doctest/doctest.h>
#include <pgxq/client.h>
#include <pgxq/client.hpp>

#include <algorithm>
#include <thread>

#include "client_test_util.hpp"
#include "support.hpp"

using namespace pgxq::test;
using namespace pgxq::test::client;

namespace {

// go-pgxq v0.2.0's Insert statement, verbatim.
const char* go_pgxq_insert =
    "INSERT INTO {t} (kind, args, queue, priority, scheduled_at, max_attempts)\n"
    "VALUES ($1, $2, $3, $4, COALESCE($5, now()), $6)\n"
    "RETURNING id, kind, args, state, queue, priority, attempt, max_attempts,\n"
    "          scheduled_at, created_at, attempted_at, completed_at, error";

int64_t go_insert(pgxq::pg::Connection& conn, const std::string& table, const char* kind, const char* queue) {
  auto r = conn.exec(replace_all(go_pgxq_insert, "{t}", table), {kind, "{\"from\": \"go\"}", queue, "0", std::nullopt, "5"});
  REQUIRE(r.rows() == 1);
  return r.int64(0, 0);
}

int64_t versions(pgxq::pg::Connection& conn, const std::string& ledger, const std::string& base) {
  return scalar(conn, "SELECT count(*) FROM " + ledger + " WHERE job_table = $1", {base});
}

std::string ledger_versions(pgxq::pg::Connection& conn, const std::string& ledger, const std::string& base) {
  return scalar_text(conn, "SELECT string_agg(version::text, ',' ORDER BY version) FROM " + ledger + " WHERE job_table = $1",
                     {base})
      .value_or("");
}

}  // namespace

TEST_CASE("migrate: creates the table, records every version, and is idempotent") {
  auto conn = connect();
  const std::string t = unique_name("mig");
  Cleanup drop("DROP TABLE IF EXISTS " + t + ", " + t + "_pause, " + t + "_cancel, " + t + "_periodic; DROP FUNCTION IF EXISTS " + t + "_notify()");
  pgxq_error err{};
  REQUIRE_MESSAGE(pgxq_migrate(conn.get(), t.c_str(), &err) == 0, err.message);
  REQUIRE_MESSAGE(pgxq_migrate(conn.get(), t.c_str(), &err) == 0, err.message);
  CHECK(ledger_versions(conn, "pgxq_schema_migrations", t) == "1,2,3,4,5,6,7,8");
  CHECK(PQtransactionStatus(conn.get()) == PQTRANS_IDLE);

  // The columns, defaults and indexes of go-pgxq's table.
  CHECK(scalar_text(conn,
                    "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position)"
                    " FROM information_schema.columns WHERE table_name = $1",
                    {t}) ==
        "id:bigint,kind:text,args:jsonb,state:text,queue:text,priority:smallint,attempt:smallint,"
        "max_attempts:smallint,scheduled_at:timestamp with time zone,created_at:timestamp with time zone,"
        "attempted_at:timestamp with time zone,completed_at:timestamp with time zone,error:text,"
        // v7, appended after go-pgxq's columns.
        "unique_key:text,snoozes:integer");
  CHECK(scalar(conn, "SELECT count(*) FROM pg_indexes WHERE tablename = $1 AND indexname IN ($2, $3)",
               {t, "idx_" + t + "_fetch", "idx_" + t + "_rescue"}) == 2);
  CHECK(scalar_text(conn, "SELECT indexdef FROM pg_indexes WHERE indexname = $1", {"idx_" + t + "_fetch"})
            ->find("(queue, kind, priority, scheduled_at) WHERE (state = 'available'::text)") != std::string::npos);
  CHECK_THROWS(conn.exec("INSERT INTO " + t + " (kind, state) VALUES ('k', 'bogus')"));
  // The fetch index already serves the claim: no second index.
  CHECK(scalar(conn, "SELECT count(*) FROM pg_indexes WHERE indexname = $1", {"idx_" + t + "_claim"}) == 0);
  // v4: the claim's front index, with id after go-pgxq's columns.
  CHECK(scalar_text(conn, "SELECT indexdef FROM pg_indexes WHERE indexname = $1", {"idx_" + t + "_front"})
            .value_or("")
            .find("(queue, kind, priority, scheduled_at, id) WHERE (state = 'available'::text)") != std::string::npos);

  // Dropping the table and migrating again re-creates it despite the recorded versions.
  conn.exec("DROP TABLE " + t);
  REQUIRE_MESSAGE(pgxq_migrate(conn.get(), t.c_str(), &err) == 0, err.message);
  CHECK(count_rows(conn, t) == 0);
  CHECK(ledger_versions(conn, "pgxq_schema_migrations", t) == "1,2,3,4,5,6,7,8");
}

TEST_CASE("migrate: two connections migrating the same table at once both succeed") {
  for (int round = 0; round < 3; ++round) {
    const std::string t = unique_name("conc");
    Cleanup drop("DROP TABLE IF EXISTS " + t + ", " + t + "_pause, " + t + "_cancel, " + t + "_periodic; DROP FUNCTION IF EXISTS " + t + "_notify()");
    auto a = connect();
    auto b = connect();
    pgxq_error ea{}, eb{};
    int ra = -2, rb = -2;
    std::thread ta([&] { ra = pgxq_migrate(a.get(), t.c_str(), &ea); });
    std::thread tb([&] { rb = pgxq_migrate(b.get(), t.c_str(), &eb); });
    ta.join();
    tb.join();
    CHECK_MESSAGE(ra == 0, ea.message);
    CHECK_MESSAGE(rb == 0, eb.message);
    CHECK(versions(a, "pgxq_schema_migrations", t) == 8);
    CHECK(ledger_versions(a, "pgxq_schema_migrations", t) == "1,2,3,4,5,6,7,8");
  }
}

TEST_CASE("migrate: refuses a connection that is inside a transaction") {
  TempTable table("mig");
  auto conn = connect();
  pgxq::pg::Transaction tx(conn);
  pgxq_error err{};
  CHECK(pgxq_migrate(conn.get(), table.name().c_str(), &err) == -1);
  CHECK(std::string(err.message).find("inside a transaction") != std::string::npos);
  CHECK(PQtransactionStatus(conn.get()) == PQTRANS_INTRANS);  // the caller's transaction is untouched
}

TEST_CASE("migrate: a table created by go-pgxq is upgraded unharmed and go-pgxq's INSERT still works") {
  auto conn = connect();
  const std::string t = unique_name("gopgxq");
  Cleanup drop("DROP TABLE IF EXISTS " + t + ", " + t + "_pause, " + t + "_cancel, " + t + "_periodic; DROP FUNCTION IF EXISTS " + t + "_notify()");
  exec_script(conn, go_pgxq_ddl(t));
  int64_t before = go_insert(conn, t, "from_go", "default");

  pgxq_error err{};
  REQUIRE_MESSAGE(pgxq_migrate(conn.get(), t.c_str(), &err) == 0, err.message);
  CHECK(ledger_versions(conn, "pgxq_schema_migrations", t) == "1,2,3,4,5,6,7,8");
  CHECK(count_rows(conn, t, "id = " + std::to_string(before) + " AND kind = 'from_go' AND args->>'from' = 'go'") == 1);

  // The NOTIFY trigger fires for go-pgxq's own INSERT, with the queue as payload.
  auto listener = connect();
  char channel[PGXQ_NOTIFY_CHANNEL_MAX];
  REQUIRE(pgxq_notify_channel(t.c_str(), channel, sizeof channel, &err) == 0);
  CHECK(std::string(channel) == "pgxq_" + t);
  listener.exec(std::string("LISTEN ") + channel);
  int64_t after = go_insert(conn, t, "from_go_again", "mail");
  CHECK(after > before);
  auto got = wait_notifications(listener, 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].channel == channel);
  CHECK(got[0].payload == "mail");

  // And libpgxq inserts land in the same table.
  pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
  o.table = t.c_str();
  CHECK(pgxq_insert(conn.get(), "from_c", nullptr, &o, &err) > after);
  CHECK(count_rows(conn, t) == 3);
}

TEST_CASE("migrate: a go-pgxq table whose fetch index lacks kind gets a claim index") {
  auto conn = connect();
  const std::string t = unique_name("oldidx");
  Cleanup drop("DROP TABLE IF EXISTS " + t + ", " + t + "_pause, " + t + "_cancel, " + t + "_periodic; DROP FUNCTION IF EXISTS " + t + "_notify()");
  exec_script(conn, replace_all(go_pgxq_ddl(t), "(queue, kind, priority, scheduled_at)", "(queue, priority, scheduled_at)"));
  REQUIRE(scalar_text(conn, "SELECT indexdef FROM pg_indexes WHERE indexname = $1", {"idx_" + t + "_fetch"})
              ->find("(queue, priority, scheduled_at)") != std::string::npos);
  pgxq_error err{};
  REQUIRE_MESSAGE(pgxq_migrate(conn.get(), t.c_str(), &err) == 0, err.message);
  CHECK(scalar_text(conn, "SELECT indexdef FROM pg_indexes WHERE indexname = $1", {"idx_" + t + "_claim"})
            .value_or("")
            .find("(queue, kind, priority, scheduled_at) WHERE (state = 'available'::text)") != std::string::npos);
  // go-pgxq's own index is left as it was.
  CHECK(scalar(conn, "SELECT count(*) FROM pg_indexes WHERE indexname = $1", {"idx_" + t + "_fetch"}) == 1);
}

TEST_CASE("migrate: a bulk insert notifies once per queue, and only for jobs due now") {
  TempTable table("ntf");
  auto conn = connect();
  auto listener = connect();
  listener.exec("LISTEN " + pgxq::client::notify_channel(table.name()));

  std::vector<pgxq::client::JobSpec> jobs;
  for (int i = 0; i < 1000; ++i) jobs.push_back({"k", "{}", {}});
  for (int i = 0; i < 500; ++i) jobs[i].options.queue = "other";
  // Future jobs are found by polling; they must not wake anyone.
  pgxq::client::JobSpec future{"k", "{}", {}};
  future.options.queue = "future";
  future.options.delay = std::chrono::hours(1);
  CHECK(pgxq::client::insert_many(conn.get(), std::span(&future, 1), table.name()) == 1);
  CHECK(pgxq::client::insert_many(conn.get(), jobs, table.name()) == 1000);

  auto got = wait_notifications(listener, 2);
  for (auto& n : remaining_notifications(listener)) got.push_back(n);
  REQUIRE(got.size() == 2);
  std::vector<std::string> payloads{got[0].payload, got[1].payload};
  std::sort(payloads.begin(), payloads.end());
  CHECK(payloads == std::vector<std::string>{"default", "other"});
}

TEST_CASE("migrate: a schema-qualified table") {
  auto conn = connect();
  const std::string schema = unique_name("sch");
  const std::string t = schema + ".jobs";
  Cleanup drop("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  conn.exec("CREATE SCHEMA " + schema);

  pgxq_error err{};
  REQUIRE_MESSAGE(pgxq_migrate(conn.get(), t.c_str(), &err) == 0, err.message);
  REQUIRE_MESSAGE(pgxq_migrate(conn.get(), t.c_str(), &err) == 0, err.message);
  CHECK(ledger_versions(conn, schema + ".pgxq_schema_migrations", "jobs") == "1,2,3,4,5,6,7,8");
  CHECK(scalar(conn, "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname IN ($2, $3)",
               {schema, "idx_" + schema + "_jobs_fetch", "idx_" + schema + "_jobs_rescue"}) == 2);
  CHECK(scalar(conn, "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                     " WHERE n.nspname = $1 AND p.proname = 'jobs_notify'",
               {schema}) == 1);

  auto listener = connect();
  CHECK(pgxq::client::notify_channel(t) == "pgxq_" + schema + "_jobs");
  listener.exec("LISTEN " + pgxq::client::notify_channel(t));

  pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
  o.table = t.c_str();
  o.queue = "sq";
  CHECK(pgxq_insert(conn.get(), "k", "{}", &o, &err) > 0);
  pgxq_job_spec spec{sizeof(pgxq_job_spec), "k", "{}", nullptr};
  CHECK(pgxq_insert_many(conn.get(), t.c_str(), &spec, 1, &err) == 1);
  CHECK(count_rows(conn, t) == 2);
  auto got = wait_notifications(listener, 2);
  REQUIRE(got.size() == 2);
  CHECK(got[0].payload == "sq");
  CHECK(got[1].payload == "default");

  // A schema that does not exist is the server's error, with its SQLSTATE.
  const std::string nowhere = unique_name("nosuch") + ".jobs";
  CHECK(pgxq_migrate(conn.get(), nowhere.c_str(), &err) == -1);
  CHECK(std::string(err.sqlstate) == "3F000");
  CHECK(PQtransactionStatus(conn.get()) == PQTRANS_IDLE);
}

TEST_CASE("schema: the SQL text of every migration, runnable by hand") {
  const std::string t = unique_name("sql");
  std::string text = pgxq::client::schema(t);
  CHECK(text.find("CREATE TABLE IF NOT EXISTS \"" + t + "\"") != std::string::npos);
  CHECK(text.find("-- migration 1:") != std::string::npos);
  CHECK(text.find("-- migration 2:") != std::string::npos);
  CHECK(text.find("pg_notify('pgxq_" + t + "'") != std::string::npos);

  auto conn = connect();
  Cleanup drop("DROP TABLE IF EXISTS " + t + ", " + t + "_pause, " + t + "_cancel, " + t + "_periodic; DROP FUNCTION IF EXISTS " + t + "_notify()");
  exec_script(conn, text);
  exec_script(conn, text);  // idempotent
  pgxq::client::migrate(conn.get(), t);
  CHECK(ledger_versions(conn, "pgxq_schema_migrations", t) == "1,2,3,4,5,6,7,8");
  pgxq::client::Options o;
  o.table = t;
  CHECK(pgxq::client::insert(conn.get(), "k", "", o) > 0);
}
