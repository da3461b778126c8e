// End-to-end: the real pgxqd binary working jobs from a test table with the testkit plugin —
// graceful and fast shutdown, released jobs, SIGHUP reload, log formats, passwords never shown.
#include <doctest/doctest.h>

#include <signal.h>

#include "e2e.hpp"

using namespace pgxq::test;

TEST_CASE("run: works noop jobs, logs one start-up summary, exits 0 on SIGTERM") {
  TempTable t("e2e_run");
  enqueue_sql(t.name(), "noop", "{}", 25);
  TestConfig cfg(t.name());
  Process p(run_argv(cfg.path));
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "state = 'completed'") == 25; }));
  REQUIRE(p.wait_for_output("started:"));
  auto err = p.err();
  CHECK(err.find("table=" + t.name()) != std::string::npos);
  CHECK(err.find("queues=[default:100]") != std::string::npos);
  CHECK(err.find("testkit") != std::string::npos);
  p.signal(SIGTERM);
  auto code = p.wait();
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(p.err().find("pgxqd stopped") != std::string::npos);
}

TEST_CASE("run: SIGTERM lets running jobs finish and leaves unstarted ones available") {
  TempTable t("e2e_release");
  enqueue_sql(t.name(), "sleep", R"({"ms": 700})", 12);
  TestConfig cfg(t.name(), "[queues.default]\nmax_workers = 2\n\n[log]\nlevel = \"debug\"\n");
  Process p(run_argv(cfg.path));
  // Both handlers started (a claimed job a worker has not taken yet is handed back instead).
  auto started = [&] {
    const std::string log = p.out() + p.err();
    int n = 0;
    for (size_t at = log.find("sleeping 700 ms"); at != std::string::npos; at = log.find("sleeping 700 ms", at + 1)) ++n;
    return n;
  };
  REQUIRE(wait_until([&] { return started() >= 2; }));
  p.signal(SIGTERM);
  auto code = p.wait();
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(count_jobs(t.name(), "state = 'running'") == 0);
  CHECK(count_jobs(t.name(), "state = 'completed'") >= 2);
  // Everything not completed is back to available, untouched (never started: attempt 0).
  CHECK(count_jobs(t.name(), "state = 'available' AND attempt = 0 AND attempted_at IS NULL") ==
        12 - count_jobs(t.name(), "state = 'completed'"));
}

TEST_CASE("run: a second SIGTERM stops at once, cancelling running jobs") {
  TempTable t("e2e_fast");
  enqueue_sql(t.name(), "sleep", R"({"ms": 600000})", 3);
  TestConfig cfg(t.name(), "[queues.default]\nmax_workers = 3\n", "shutdown_timeout = \"10m\"\ncancel_grace = \"10s\"\n");
  Process p(run_argv(cfg.path));
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "state = 'running'") == 3; }));
  p.signal(SIGTERM);
  REQUIRE(p.wait_for_output("shutting down gracefully"));
  CHECK(p.running());  // the jobs sleep for ten minutes and the timeout is ten minutes
  p.signal(SIGTERM);
  auto code = p.wait(60s);
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(p.err().find("fast shutdown") != std::string::npos);
  CHECK(count_jobs(t.name(), "state = 'running'") == 0);
  CHECK(count_jobs(t.name(), "state = 'available'") == 3);
}

TEST_CASE("run: SIGHUP applies log level, max_workers and poll interval live and names what needs a restart") {
  TempTable t("e2e_hup");
  TestConfig cfg(t.name(), "[queues.default]\nmax_workers = 2\n");
  Process p(run_argv(cfg.path));
  REQUIRE(p.wait_for_output("started:"));
  cfg.write(t.name(), "[queues.default]\nmax_workers = 5\n[log]\nlevel = \"debug\"\n",
            "poll_interval = \"75ms\"\nbatch_size = 20\n");
  p.signal(SIGHUP);
  REQUIRE(p.wait_for_output("SIGHUP: reloaded"));
  auto err = p.err();
  CHECK(err.find("log.level=debug") != std::string::npos);
  CHECK(err.find("queues.default.max_workers=5") != std::string::npos);
  CHECK(err.find("worker.poll_interval=75ms") != std::string::npos);
  CHECK(err.find("worker.batch_size changed") != std::string::npos);
  CHECK(err.find("needs a restart") != std::string::npos);

  // A broken file on reload keeps the running config.
  write_file(cfg.path, "[worker]\nbatch_siz = 3\n");
  p.signal(SIGHUP);
  REQUIRE(p.wait_for_output("keeping the running config"));
  CHECK(p.err().find("batch_siz") != std::string::npos);
  CHECK(p.running());
  p.signal(SIGTERM);
  auto code = p.wait();
  REQUIRE(code);
  CHECK(*code == 0);
}

TEST_CASE("run: a bad config exits 78 naming file, line and key, a missing table exits 1 with the fix") {
  auto dir = temp_dir("pgxqd-e2e");
  write_file(dir + "/bad.toml", "[worker]\nmax_workers = 3\nrescue_after = \"0s\"\n");
  auto r = run(run_argv(dir + "/bad.toml"));
  CHECK(r.code == 78);
  CHECK(r.err.find(dir + "/bad.toml:3:16: worker.rescue_after: expected a positive duration") != std::string::npos);

  TestConfig cfg(unique_name("e2e_missing"));
  auto m = run(run_argv(cfg.path));
  CHECK(m.code == 1);
  CHECK(m.err.find("pgxqd migrate --table") != std::string::npos);
  if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
  }
}

TEST_CASE("run: refuses to run as root without --allow-root and says why") {
  if (geteuid() != 0) {
    MESSAGE("not root: nothing to refuse");
    return;
  }
  TempTable t("e2e_root");
  TestConfig cfg(t.name());
  auto r = run({pgxqd(), "run", "--config", cfg.path});
  CHECK(r.code == 1);
  CHECK(r.err.find("refusing to run as root") != std::string::npos);
  CHECK(r.err.find("--allow-root") != std::string::npos);
}

TEST_CASE("logs: JSON lines on request, journald priority prefixes under systemd") {
  TempTable t("e2e_logs");
  TestConfig json(t.name(), "[log]\nformat = \"json\"\n");
  auto r = check_config({"--config", json.path, "--offline"});
  REQUIRE(r.code == 0);
  REQUIRE(!r.err.empty());
  size_t lines = 0;
  for (size_t at = 0; at < r.err.size();) {
    auto end = r.err.find('\n', at);
    auto line = r.err.substr(at, end - at);
    CHECK(line.rfind("{\"time\":\"", 0) == 0);
    CHECK(line.back() == '}');
    ++lines;
    at = end == std::string::npos ? r.err.size() : end + 1;
  }
  CHECK(lines >= 1);

  TestConfig plain(t.name());
  auto j = check_config({"--config", plain.path, "--offline"}, {{"JOURNAL_STREAM", "8:12345"}});
  REQUIRE(j.code == 0);
  CHECK(j.err.rfind("<6>plugin ", 0) == 0);
}

TEST_CASE("passwords never appear in any output, on success or on connection failure") {
  const std::string secret = "s3cretPW";
  const char* host = std::getenv("PGHOST");
  const char* port = std::getenv("PGPORT");
  const char* db = std::getenv("PGDATABASE");
  const char* user = std::getenv("PGUSER");
  std::string base = std::string("postgresql://") + (user ? user : "postgres") + ":" + secret + "@/" + (db ? db : "postgres");
  std::string good = base + "?host=" + (host ? host : "/tmp") + "&port=" + (port ? port : "5432");
  std::string bad = base + "?host=/nonexistent-dir&port=1";

  TempTable t("e2e_pw");
  enqueue_sql(t.name(), "noop", "{}", 3);
  TestConfig cfg(t.name(), "[log]\nlevel = \"trace\"\n");
  std::vector<RunResult> outputs;
  {
    Process p(run_argv(cfg.path), {{"PGXQD_DATABASE_URL", good}});
    REQUIRE(wait_until([&] { return count_jobs(t.name(), "state = 'completed'") == 3; }));
    REQUIRE(p.wait_for_output("started:"));
    CHECK(p.err().find("***") != std::string::npos);  // the masked URL is in the summary
    p.signal(SIGTERM);
    auto code = p.wait();
    outputs.push_back({code.value_or(-1), p.out(), p.err()});
  }
  for (auto url : {good, bad}) {
    std::map<std::string, std::string> env{{"PGXQD_DATABASE_URL", url}};
    if (url == bad) outputs.push_back(run(run_argv(cfg.path), env));
    outputs.push_back(run({pgxqd(), "migrate", "--table", t.name()}, env));
    outputs.push_back(run({pgxqd(), "enqueue", "noop", "--table", t.name()}, env));
    outputs.push_back(check_config({"--config", cfg.path}, env));
    outputs.push_back(run({pgxqd(), "migrate", "--database", url, "--table", t.name()}));
  }
  CHECK(outputs[0].code == 0);
  int unreachable = 0;
  for (const auto& o : outputs) {
    INFO(o.out, o.err);
    CHECK(o.out.find(secret) == std::string::npos);
    CHECK(o.err.find(secret) == std::string::npos);
    if (o.code == 69) ++unreachable;
  }
  CHECK(unreachable == 5);  // every command against the bad URL
}
