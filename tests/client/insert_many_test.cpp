// pgxq_insert_many against the real database: a 10,000-job COPY, escaping of every special
// character, per-job options, and all-or-nothing on client- and server-side failures.
#include <doctest/doctest.h>
#include <pgxq/client.h>
#include <pgxq/client.hpp>

#include <string>
#include <vector>

#include "client_test_util.hpp"
#include "support.hpp"

using namespace pgxq::test;
using namespace pgxq::test::client;

TEST_CASE("insert_many: 10,000 jobs in one call") {
  TempTable table("many");
  auto conn = connect();
  std::vector<std::string> args;
  args.reserve(10000);
  for (int i = 0; i < 10000; ++i) args.push_back("{\"i\": " + std::to_string(i) + ", \"pad\": \"" + std::string(i % 50, 'x') + "\"}");
  pgxq_insert_opts q_a = PGXQ_INSERT_OPTS_INIT;
  q_a.queue = "q_a";
  std::vector<pgxq_job_spec> specs(10000, pgxq_job_spec PGXQ_JOB_SPEC_INIT);
  for (int i = 0; i < 10000; ++i) {
    specs[i].kind = i % 2 ? "odd" : "even";
    specs[i].args_json = args[i].c_str();
    specs[i].opts = i % 3 ? &q_a : nullptr;
  }
  pgxq_error err{};
  CHECK(pgxq_insert_many(conn.get(), table.name().c_str(), specs.data(), specs.size(), &err) == 10000);
  INFO(err.message);
  CHECK(count_rows(conn, table.name()) == 10000);
  CHECK(count_rows(conn, table.name(), "kind = 'even'") == 5000);
  CHECK(count_rows(conn, table.name(), "queue = 'default'") == 3334);
  CHECK(count_rows(conn, table.name(), "(args->>'i')::int = 9997 AND kind = 'odd' AND queue = 'q_a'") == 1);
  CHECK(scalar(conn, "SELECT count(DISTINCT args->>'i') FROM " + table.name()) == 10000);
  CHECK(count_rows(conn, table.name(), "state = 'available' AND priority = 0 AND max_attempts = 5 AND attempt = 0"
                                      " AND scheduled_at = created_at") == 10000);
}

TEST_CASE("insert_many: special characters survive COPY's text format") {
  TempTable table("many");
  auto conn = connect();
  const std::string kind = "k\\ind\twith\nall\rspecials\\N";
  const std::string queue = "q\\\t\n\r";
  const std::string args = "{\"s\": \"back\\\\slash \\t tab \\n nl \\r cr \\\\N\",\n\t\"u\": \"\xc3\xa9\xe2\x82\xac\"}\r\n";
  pgxq_insert_opts opts = PGXQ_INSERT_OPTS_INIT;
  opts.queue = queue.c_str();
  pgxq_job_spec spec = PGXQ_JOB_SPEC_INIT;
  spec.kind = kind.c_str();
  spec.args_json = args.c_str();
  spec.opts = &opts;
  pgxq_error err{};
  REQUIRE_MESSAGE(pgxq_insert_many(conn.get(), table.name().c_str(), &spec, 1, &err) == 1, err.message);
  CHECK(scalar_text(conn, "SELECT kind FROM " + table.name()) == kind);
  CHECK(scalar_text(conn, "SELECT queue FROM " + table.name()) == queue);
  CHECK(scalar(conn, "SELECT count(*) FROM " + table.name() + " WHERE args = $1::jsonb", {args}) == 1);
  CHECK(scalar_text(conn, "SELECT args->>'s' FROM " + table.name()) == "back\\slash \t tab \n nl \r cr \\N");
}

TEST_CASE("insert_many: per-job options are read back") {
  TempTable table("many");
  auto conn = connect();
  std::vector<pgxq_insert_opts> opts(3, pgxq_insert_opts PGXQ_INSERT_OPTS_INIT);
  opts[0].has_priority = 1;
  opts[0].priority = 32767;
  opts[0].has_max_attempts = 1;
  opts[0].max_attempts = 1;
  opts[1].has_scheduled_at = 1;
  opts[1].scheduled_at_unix_us = -62135596800LL * 1000000;  // 0001-01-01 00:00:00 UTC
  opts[2].has_delay = 1;
  opts[2].delay_seconds = 3600;
  opts[2].table = "ignored-in-a-batch";
  std::vector<pgxq_job_spec> specs(3, pgxq_job_spec PGXQ_JOB_SPEC_INIT);
  for (size_t i = 0; i < specs.size(); ++i) {
    specs[i].kind = "k";
    specs[i].opts = &opts[i];
  }
  pgxq_error err{};
  // Inside the caller's transaction, so a delay is measured from that transaction's now().
  pgxq::pg::Transaction tx(conn);
  REQUIRE_MESSAGE(pgxq_insert_many(conn.get(), table.name().c_str(), specs.data(), specs.size(), &err) == 3,
                  err.message);
  tx.commit();
  CHECK(count_rows(conn, table.name(), "priority = 32767 AND max_attempts = 1 AND scheduled_at = created_at") == 1);
  CHECK(count_rows(conn, table.name(), "scheduled_at = '0001-01-01 00:00:00+00'") == 1);
  CHECK(count_rows(conn, table.name(), "scheduled_at = created_at + interval '1 hour'") == 1);
}

TEST_CASE("insert_many: one invalid spec means nothing is sent") {
  TempTable table("many");
  auto conn = connect();
  std::vector<pgxq_job_spec> specs(10000, pgxq_job_spec{sizeof(pgxq_job_spec), "k", "{}", nullptr});
  specs[5000].kind = "";
  pgxq_error err{};
  CHECK(pgxq_insert_many(conn.get(), table.name().c_str(), specs.data(), specs.size(), &err) == -1);
  CHECK(std::string(err.message) == "job 5000: kind must not be empty");
  specs[5000].kind = "k";
  specs[9999].args_json = "[]";
  CHECK(pgxq_insert_many(conn.get(), table.name().c_str(), specs.data(), specs.size(), &err) == -1);
  CHECK(std::string(err.message).rfind("job 9999: args must be a JSON object", 0) == 0);
  CHECK(count_rows(conn, table.name()) == 0);

  CHECK(pgxq_insert_many(conn.get(), table.name().c_str(), nullptr, 0, &err) == 0);
  CHECK(pgxq_insert_many(conn.get(), table.name().c_str(), nullptr, 1, &err) == -1);
}

TEST_CASE("insert_many: a row the server refuses fails the whole batch and the connection stays usable") {
  TempTable table("many");
  auto conn = connect();
  std::vector<pgxq_job_spec> specs(5000, pgxq_job_spec{sizeof(pgxq_job_spec), "k", "{}", nullptr});
  specs[4000].kind = "invalid utf-8 \xff";  // only the server checks the encoding of text
  pgxq_error err{};
  CHECK(pgxq_insert_many(conn.get(), table.name().c_str(), specs.data(), specs.size(), &err) == -1);
  CHECK(std::string(err.sqlstate) == "22021");
  CHECK(PQtransactionStatus(conn.get()) == PQTRANS_IDLE);
  CHECK(count_rows(conn, table.name()) == 0);

  // A missing table is reported before any data is sent.
  const std::string missing = unique_name("missing");
  CHECK(pgxq_insert_many(conn.get(), missing.c_str(), specs.data(), 1, &err) == -1);
  CHECK(std::string(err.sqlstate) == "42P01");
  CHECK(count_rows(conn, table.name()) == 0);
}

TEST_CASE("insert_many: a batch inside a rolled-back transaction leaves no row") {
  TempTable table("many");
  auto conn = connect();
  std::vector<pgxq::client::JobSpec> jobs(100, pgxq::client::JobSpec{"k", R"({"a": 1})", {}});
  {
    pgxq::pg::Transaction tx(conn);
    CHECK(pgxq::client::insert_many(conn.get(), jobs, table.name()) == 100);
    CHECK(count_rows(conn, table.name()) == 100);
    tx.rollback();
  }
  CHECK(count_rows(conn, table.name()) == 0);
  jobs[3].options.max_attempts = 0;
  CHECK_THROWS_WITH_AS(pgxq::client::insert_many(conn.get(), jobs, table.name()),
                       "job 3: max_attempts must be at least 1, got 0", pgxq::client::Error);
}
