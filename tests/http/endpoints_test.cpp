// The real pgxqd with [http] listen: /metrics scraped with curl during and after a run, checked
// with promtool, its counters equal to the table's counts; the depth gauges from the periodic
// sample; /healthz and /readyz; bad input to each endpoint; a listen address in use; SIGHUP.
#include <doctest/doctest.h>

#include <csignal>

#include "e2e.hpp"
#include "http/server.hpp"
#include "http_e2e.hpp"

using namespace pgxq::test;

namespace {

const char* kListenAnyPort = "\n[http]\nlisten = \":0\"\n";

void insert_jobs(const std::string& table, const std::string& kind, const std::string& args, int n, int max_attempts,
                 const std::string& queue = "default", const std::string& scheduled = "now()", int priority = 0) {
  auto conn = connect();
  conn.exec("INSERT INTO " + table + " (kind, args, queue, max_attempts, scheduled_at, priority) SELECT $1, $2::jsonb, $3, "
                "$4::int, " + scheduled + ", $5::int FROM generate_series(1, " + std::to_string(n) + ")",
            {kind, args, queue, std::to_string(max_attempts), std::to_string(priority)});
}

int64_t count(const std::string& table, const std::string& where) {
  auto conn = connect();
  return scalar(conn, "SELECT count(*) FROM " + table + " WHERE " + where);
}

std::string scrape_checked(int port) {
  const auto reply = fetch(port, "/metrics");
  REQUIRE(reply.status == 200);
  CHECK(reply.headers.find("text/plain; version=0.0.4") != std::string::npos);
  const auto check = promtool_check_metrics(reply.body);
  INFO(check.out, check.err);
  CHECK(check.code == 0);
  return reply.body;
}

}  // namespace

TEST_CASE("metrics: scraped during and after a run, valid for promtool, counters equal to the table's counts") {
  TempTable t("http_metrics");
  insert_jobs(t.name(), "noop", "{}", 40, 5);
  insert_jobs(t.name(), "fail", R"({"message":"always"})", 6, 2);   // retried once, then failed
  insert_jobs(t.name(), "fail", R"({"times":1})", 4, 5);            // retried once, then completed
  insert_jobs(t.name(), "discard", "{}", 5, 5);
  insert_jobs(t.name(), "throw", "{}", 3, 1);                       // failed at once
  insert_jobs(t.name(), "sleep", R"({"ms":1500})", 4, 5);           // keeps workers busy for a scrape
  TestConfig cfg(t.name(), kListenAnyPort);
  Process p(run_argv(cfg.path));
  const int port = logged_http_port(p);
  REQUIRE(port > 0);

  // During the run: a scrape that sees a handler running.
  std::string during;
  CHECK(wait_until([&] {
    during = scrape_checked(port);
    return metric_value(during, "pgxqd_workers_busy", {"queue=\"default\""}) >= 1;
  }));
  CHECK(metric_value(during, "pgxqd_workers_max", {"queue=\"default\""}) == 100);
  CHECK(metric_value(during, "pgxqd_database_up") == 1);
  CHECK(metric_value(during, "pgxqd_build_info", {"version=\"" PGXQ_VERSION "\"", "plugin_abi=\"1.1\""}) == 1);

  REQUIRE(wait_until([&] { return count(t.name(), "state IN ('available', 'running')") == 0; }));
  std::string after;
  // The outcome rows are written before the counters move (both in the completer's report), so
  // the last counts may trail the table by a moment.
  CHECK(wait_until([&] {
    after = scrape_checked(port);
    return metric_value(after, "pgxqd_jobs_finished_total", {"outcome=\"completed\""}) ==
           count(t.name(), "state = 'completed'");
  }));
  INFO(after);
  for (const std::string kind : {"noop", "fail", "discard", "throw", "sleep"}) {
    CAPTURE(kind);
    const std::string k = "kind=\"" + kind + "\"";
    const std::string of_kind = "kind = '" + kind + "'";
    for (const std::string state : {"completed", "failed", "discarded"}) {
      CAPTURE(state);
      CHECK(metric_value(after, "pgxqd_jobs_finished_total", {k, "outcome=\"" + state + "\""}) ==
            count(t.name(), of_kind + " AND state = '" + state + "'"));
    }
    auto conn = connect();
    const int64_t attempts = scalar(conn, "SELECT COALESCE(sum(attempt), 0) FROM " + t.name() + " WHERE " + of_kind);
    const int64_t jobs = count(t.name(), of_kind);
    // Every attempt was claimed once; every attempt but each job's last was a retry.
    CHECK(metric_value(after, "pgxqd_jobs_claimed_total", {k}) == attempts);
    CHECK(metric_value(after, "pgxqd_jobs_finished_total", {k, "outcome=\"retried\""}) == attempts - jobs);
    CHECK(metric_value(after, "pgxqd_pickup_delay_seconds_count", {k}) == attempts);
    CHECK(metric_value(after, "pgxqd_handler_duration_seconds_count", {k}) == attempts);
  }
  CHECK(metric_value(after, "pgxqd_jobs_finished_total", {"outcome=\"completed\""}) == 48);
  CHECK(metric_value(after, "pgxqd_jobs_finished_total", {"outcome=\"failed\""}) == 9);
  CHECK(metric_value(after, "pgxqd_jobs_finished_total", {"outcome=\"discarded\""}) == 5);
  // The sleeps ran 1.5s each: the histogram's sum says so.
  CHECK(metric_value(after, "pgxqd_handler_duration_seconds_sum", {"kind=\"sleep\""}) >= 4 * 1.5);
  p.signal(SIGTERM);
  CHECK(p.wait() == 0);
}

TEST_CASE("metrics: queue depth by state and the oldest due job's age, from the periodic sample") {
  TempTable t("http_depth");
  // Queue "blocked" has one worker, taken by a long sleep (priority -1: claimed first); the noop
  // jobs behind it have been due for ten minutes.
  insert_jobs(t.name(), "sleep", R"({"ms":60000})", 1, 5, "blocked", "now()", -1);
  insert_jobs(t.name(), "noop", "{}", 3, 5, "blocked", "now() - interval '10 minutes'");
  insert_jobs(t.name(), "noop", "{}", 7, 5, "blocked", "now() + interval '1 hour'");
  TestConfig cfg(t.name(), std::string(kListenAnyPort) + "\n[queues.blocked]\nmax_workers = 1\n",
                 "shutdown_timeout = \"1s\"\ncancel_grace = \"1s\"\n");
  Process p(run_argv(cfg.path));
  const int port = logged_http_port(p);
  REQUIRE(port > 0);
  std::string body;
  // The first sample is taken as the engine starts (then every 15s).
  CHECK(wait_until([&] {
    body = scrape_checked(port);
    return metric_value(body, "pgxqd_queue_jobs", {"queue=\"blocked\"", "kind=\"noop\"", "state=\"available\""}) == 3;
  }));
  INFO(body);
  CHECK(metric_value(body, "pgxqd_queue_jobs", {"queue=\"blocked\"", "kind=\"noop\"", "state=\"scheduled\""}) == 7);
  CHECK(metric_value(body, "pgxqd_queue_jobs", {"queue=\"blocked\"", "kind=\"noop\"", "state=\"running\""}) == 0);
  CHECK(metric_value(body, "pgxqd_oldest_due_job_age_seconds", {"queue=\"blocked\"", "kind=\"noop\""}) >= 600);
  CHECK(metric_value(body, "pgxqd_oldest_due_job_age_seconds", {"queue=\"blocked\"", "kind=\"noop\""}) < 3600);
  // The sleep job, sampled before or after its claim.
  CHECK(metric_value(body, "pgxqd_queue_jobs", {"queue=\"blocked\"", "kind=\"sleep\"", "state=\"available\""}) +
            metric_value(body, "pgxqd_queue_jobs", {"queue=\"blocked\"", "kind=\"sleep\"", "state=\"running\""}) ==
        1);
  p.signal(SIGTERM);
  CHECK(p.wait() == 0);
}

TEST_CASE("health: /healthz and /readyz are 200 while running, and each endpoint refuses bad input") {
  TempTable t("http_health");
  TestConfig cfg(t.name(), kListenAnyPort);
  Process p(run_argv(cfg.path));
  const int port = logged_http_port(p);
  REQUIRE(port > 0);
  // Health answers "starting" until the engine runs: wait for it.
  REQUIRE(wait_until([&] { return fetch(port, "/readyz").status == 200; }));
  for (const std::string path : {"/healthz", "/readyz"}) {
    CAPTURE(path);
    auto reply = fetch(port, path);
    CHECK(reply.status == 200);
    CHECK(reply.body == "{\"status\":\"ok\"}\n");
    CHECK(reply.headers.find("Content-Type: application/json") != std::string::npos);
    CHECK(fetch(port, path, {"-I"}).status == 200);
  }
  for (const std::string path : {"/metrics", "/healthz", "/readyz"}) {
    CAPTURE(path);
    CHECK(fetch(port, path, {"-X", "POST", "-d", "x=1"}).status == 405);
    CHECK(fetch(port, path, {"-X", "DELETE"}).status == 405);
    auto bad = fetch(port, path + "?x=%zz");
    CHECK(bad.status == 400);
    CHECK(bad.body.find("malformed query") != std::string::npos);
    CHECK(fetch(port, path + "?=1").status == 400);
    CHECK(fetch(port, path + "?ok=1").status == 200);  // well-formed parameters are ignored
    CHECK(fetch(port, path + "/").status == 404);
  }
  CHECK(fetch(port, "/index.html").status == 404);  // "/" is the status page
  CHECK(fetch(port, "/metricsx").status == 404);
  CHECK(fetch(port, "/../etc/passwd", {"--path-as-is"}).status == 404);
  p.signal(SIGTERM);
  CHECK(p.wait() == 0);
  CHECK(fetch(port, "/healthz").status == 0);  // closed with the daemon
}

TEST_CASE("http: a listen address in use stops pgxqd before it claims a job (exit 78, says what to do)") {
  TempTable t("http_inuse");
  insert_jobs(t.name(), "noop", "{}", 3, 5);
  pgxq::http::Server holder("127.0.0.1:0", {}, nullptr);
  holder.start();
  TestConfig cfg(t.name(), "\n[http]\nlisten = \"127.0.0.1:" + std::to_string(holder.port()) + "\"\n");
  Process p(run_argv(cfg.path));
  const auto code = p.wait();
  REQUIRE(code);
  CHECK(*code == 78);
  const std::string log = p.err() + p.out();
  INFO(log);
  CHECK(log.find("cannot listen on 127.0.0.1:" + std::to_string(holder.port())) != std::string::npos);
  CHECK(log.find("choose another [http] listen address") != std::string::npos);
  CHECK(log.find(cfg.path + ":") != std::string::npos);  // where the key is
  CHECK(count(t.name(), "state = 'available' AND attempt = 0") == 3);
}

TEST_CASE("http: check-config names the file, line and key of a bad listen address") {
  for (const std::string bad : {"9187", "localhost:9187", "127.0.0.1:99999", "::1:9187", "127.0.0.1"}) {
    CAPTURE(bad);
    TestConfig cfg("http_cfg", "\n[http]\nlisten = \"" + bad + "\"\n");
    const auto r = check_config({"--config", cfg.path});
    INFO(r.out, r.err);
    CHECK(r.code == 78);
    CHECK(r.err.find(cfg.path + ":") != std::string::npos);
    CHECK(r.err.find("http.listen: invalid listen address") != std::string::npos);
  }
  TestConfig unknown("http_cfg", "\n[http]\nlisten = \":9187\"\nlisen = 1\n");
  const auto r = check_config({"--config", unknown.path});
  CHECK(r.code == 78);
  CHECK(r.err.find("unknown key \"lisen\" in [http]") != std::string::npos);
}

TEST_CASE("http: SIGHUP with a changed listen address says it needs a restart and keeps serving") {
  TempTable t("http_hup");
  TestConfig cfg(t.name(), kListenAnyPort);
  Process p(run_argv(cfg.path));
  const int port = logged_http_port(p);
  REQUIRE(port > 0);
  REQUIRE(wait_until([&] { return fetch(port, "/readyz").status == 200; }));
  cfg.write(t.name(), "\n[http]\nlisten = \"127.0.0.1:1\"\n");
  p.signal(SIGHUP);
  REQUIRE(p.wait_for_output("SIGHUP: reloaded"));
  CHECK(p.wait_for_output("http.listen changed"));
  CHECK(fetch(port, "/healthz").status == 200);
  p.signal(SIGTERM);
  CHECK(p.wait() == 0);
}
