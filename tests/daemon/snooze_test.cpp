// End-to-end: snooze through the real pgxqd binary and the testkit plugin's `snooze` kind — the
// attempt given back and the count kept in the row, scheduled_at moved by the delay, the
// [worker] max_snoozes bound turning further snoozes into failed attempts, one log line per
// snooze, `pgxqd show`, and a job table below schema v7 (no snoozes column) where snoozes work
// uncounted, with a warning at start.
#include <doctest/doctest.h>

#include <signal.h>

#include "e2e.hpp"
#include "http_e2e.hpp"

using namespace pgxq::test;

namespace {

int64_t insert_job(const std::string& table, const std::string& kind, const std::string& args, int max_attempts = 5) {
  auto conn = connect();
  return scalar(conn, "INSERT INTO " + table + " (kind, args, max_attempts) VALUES ($1, $2::jsonb, $3::int) RETURNING id",
                {pgxq::pg::Param(kind), pgxq::pg::Param(args), pgxq::pg::Param(std::to_string(max_attempts))});
}

int64_t column(const std::string& table, int64_t id, const std::string& expression) {
  auto conn = connect();
  return scalar(conn, "SELECT " + expression + " FROM " + table + " WHERE id = $1::int8", {pgxq::pg::Param(std::to_string(id))});
}

std::string text_column(const std::string& table, int64_t id, const std::string& expression) {
  auto conn = connect();
  return scalar_text(conn, "SELECT " + expression + " FROM " + table + " WHERE id = $1::int8",
                     {pgxq::pg::Param(std::to_string(id))})
      .value_or("(null)");
}

}  // namespace

TEST_CASE("snooze: a job snoozing 3 times completes on attempt 1 with snoozes 3, each snooze moving scheduled_at") {
  TempTable t("e2e_snooze");
  const int64_t id = insert_job(t.name(), "snooze", R"({"ms": 200, "times": 3})");
  TestConfig cfg(t.name(), "[http]\nlisten = \"127.0.0.1:0\"\n");
  Process p(run_argv(cfg.path));
  const int port = logged_http_port(p);
  REQUIRE(port > 0);
  REQUIRE(wait_until([&] { return text_column(t.name(), id, "state") == "completed"; }));
  CHECK(column(t.name(), id, "attempt") == 1);  // three snoozes gave their attempts back
  CHECK(column(t.name(), id, "snoozes") == 3);
  // Each snooze scheduled the job at its own now() + 200ms, and the next run came after that:
  // the last scheduled_at is at least three delays after the job was created.
  CHECK(column(t.name(), id, "(scheduled_at >= created_at + interval '600 milliseconds')::int") == 1);
  CHECK(column(t.name(), id, "(completed_at >= scheduled_at)::int") == 1);
  CHECK(text_column(t.name(), id, "error") == "(null)");  // a snooze is not an error
  // One info line per snooze, with the job, the delay and the count against the bound.
  const std::string log = p.out() + p.err();
  for (int n = 1; n <= 3; ++n)
    CHECK(log.find("job " + std::to_string(id) + " kind=snooze queue=default: snoozed for 200ms (snooze " +
                   std::to_string(n) + " of at most 100), attempt 1 given back") != std::string::npos);
  // Each snooze counted in the finished-jobs metric.
  const auto metrics = fetch(port, "/metrics");
  CHECK(metric_value(metrics.body, "pgxqd_jobs_finished_total", {"kind=\"snooze\"", "outcome=\"snoozed\""}) == 3);
  CHECK(metric_value(metrics.body, "pgxqd_jobs_finished_total", {"kind=\"snooze\"", "outcome=\"completed\""}) == 1);
  stop_cleanly(p);

  // `pgxqd show` prints the count.
  auto shown = run({pgxqd(), "show", std::to_string(id), "--config", cfg.path});
  CHECK(shown.code == 0);
  const auto at = shown.out.find("snoozes:");
  REQUIRE(at != std::string::npos);
  const std::string shown_line = shown.out.substr(at, shown.out.find('\n', at) - at);
  CHECK(shown_line.ends_with(" 3"));
  auto json = run({pgxqd(), "show", std::to_string(id), "--json", "--config", cfg.path});
  CHECK(json.out.find("\"snoozes\": 3") != std::string::npos);
}

TEST_CASE("snooze: the job is available again at now + the delay, its attempt given back") {
  TempTable t("e2e_snooze_later");
  const int64_t id = insert_job(t.name(), "snooze", R"({"ms": 3600000})");
  TestConfig cfg(t.name());
  Process p(run_argv(cfg.path));
  REQUIRE(wait_until([&] { return column(t.name(), id, "snoozes") == 1; }));
  CHECK(text_column(t.name(), id, "state") == "available");
  CHECK(column(t.name(), id, "attempt") == 0);
  // now() of the snooze's write is after the claim's attempted_at, and before this read.
  CHECK(column(t.name(), id, "(scheduled_at >= attempted_at + interval '1 hour')::int") == 1);
  CHECK(column(t.name(), id, "(scheduled_at <= now() + interval '1 hour')::int") == 1);
  stop_cleanly(p);
}

TEST_CASE("snooze: beyond [worker] max_snoozes a snooze is a failed attempt, and the job ends failed saying why") {
  TempTable t("e2e_snooze_bound");
  const int64_t id = insert_job(t.name(), "snooze", R"({"ms": 0, "times": 1000})", 3);
  TestConfig cfg(t.name(), "", "max_snoozes = 2\n");
  Process p(run_argv(cfg.path));
  REQUIRE(wait_until([&] { return text_column(t.name(), id, "state") == "failed"; }));
  CHECK(column(t.name(), id, "snoozes") == 2);  // the two allowed, then none counted
  CHECK(column(t.name(), id, "attempt") == 3);  // every attempt used by a refused snooze
  CHECK(text_column(t.name(), id, "error") == "snoozed 2 times, the limit ([worker] max_snoozes)");
  const std::string log = p.out() + p.err();
  CHECK(occurrences(log, "job " + std::to_string(id) + " kind=snooze queue=default: snoozed for 0ms") == 2);
  CHECK(log.find("snooze 2 of at most 2") != std::string::npos);
  stop_cleanly(p);
}

TEST_CASE("snooze: [worker] max_snoozes is checked like every key") {
  TempTable t("e2e_snooze_cfg");
  TestConfig cfg(t.name(), "", "max_snoozes = -1\n");
  auto r = check_config({"--config", cfg.path});
  CHECK(r.code == 78);
  CHECK(r.err.find(cfg.path + ":") != std::string::npos);
  CHECK(r.err.find("worker.max_snoozes: expected an integer from 0 to 2147483647") != std::string::npos);
}

TEST_CASE("snooze: on a table below schema v7 snoozes work uncounted and unbounded, with one warning at start") {
  TempTable t("e2e_snooze_v6");
  {
    auto conn = connect();
    conn.exec("ALTER TABLE " + t.name() + " DROP COLUMN snoozes");  // as a table before migration 7
  }
  // testkit sees 0 snoozes there, so this job snoozes on every run; max_snoozes cannot stop it.
  const int64_t id = insert_job(t.name(), "snooze", R"({"ms": 0})");
  const int64_t other = insert_job(t.name(), "noop", "{}");
  TestConfig cfg(t.name(), "", "max_snoozes = 1\n");
  Process p(run_argv(cfg.path));
  const std::string line = "job " + std::to_string(id) + " kind=snooze queue=default: snoozed for 0ms (not counted: "
                           "table " + t.name() + " has no snoozes column), attempt 1 given back";
  REQUIRE(wait_until([&] { return occurrences(p.out() + p.err(), line) >= 3; }));
  CHECK(text_column(t.name(), other, "state") == "completed");  // the claim and completion work there
  CHECK(text_column(t.name(), id, "state") != "failed");
  CHECK(column(t.name(), id, "attempt") <= 1);  // each run gave its attempt back
  CHECK(text_column(t.name(), id, "error") == "(null)");
  const std::string log = p.out() + p.err();
  CHECK(occurrences(log, "job table " + t.name() + " has no snoozes column (schema version 7): snoozed jobs are neither "
                   "counted nor bounded by [worker] max_snoozes; run `pgxqd migrate --table " + t.name() + "`") == 1);
  stop_cleanly(p);
  // `pgxqd show` works there too, without the count.
  auto shown = run({pgxqd(), "show", std::to_string(id), "--json", "--config", cfg.path});
  CHECK(shown.code == 0);
  CHECK(shown.out.find("\"snoozes\": null") != std::string::npos);
}
