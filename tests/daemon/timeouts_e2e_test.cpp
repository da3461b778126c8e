// End-to-end: per-job timeouts through the real pgxqd binary and the testkit plugin — a handler
// that honours should_stop ends as a timed-out attempt, retried and then failed; work done in
// time still commits; a handler that ignores should_stop is logged once and recorded as timed
// out when it returns; [worker] job_timeout as the default with a kind turning it off; and a
// timeout not below rescue_after refused by check-config and run.
#include <doctest/doctest.h>

#include <signal.h>

#include "e2e.hpp"

using namespace pgxq;
using namespace pgxq::test;

namespace {

int64_t insert_job(const std::string& table, const std::string& kind, const std::string& args, int max_attempts) {
  auto conn = connect();
  return scalar(conn,
                "INSERT INTO " + table + " (kind, args, max_attempts) VALUES ($1, $2::jsonb, " +
                    std::to_string(max_attempts) + ") RETURNING id",
                {pg::Param(kind), pg::Param(args)});
}

std::string job_field(const std::string& table, int64_t id, const std::string& column) {
  auto conn = connect();
  return scalar_text(conn, "SELECT " + column + "::text FROM " + table + " WHERE id = $1", {pg::Param(std::to_string(id))})
      .value_or("<null>");
}

}  // namespace

TEST_CASE("timeouts: a handler that honours should_stop is timed out, retried, then failed after max_attempts") {
  TempTable t("e2e_timeout");
  const int64_t id = insert_job(t.name(), "sleep", R"({"ms": 60000})", 2);
  TestConfig cfg(t.name(), "\n[kinds.sleep]\ntimeout = \"1s\"\n");
  Process p(run_argv(cfg.path));
  // The sleep would take a minute; two timed-out attempts take far less. No timing asserted:
  // the outcome is, and the wait is generous.
  REQUIRE(wait_until([&] { return job_field(t.name(), id, "state") == "failed"; }, 55s));
  CHECK(job_field(t.name(), id, "error") == "timeout after 1s");
  CHECK(job_field(t.name(), id, "attempt") == "2");
  stop_cleanly(p);
}

TEST_CASE("timeouts: work done within the timeout commits") {
  TempTable t("e2e_timeout_ok");
  auto conn = connect();
  const std::string rec = unique_name("rec");
  conn.exec("CREATE TABLE " + rec + " (job_id bigint, value text)");
  const int64_t id = insert_job(t.name(), "record", R"({"table": ")" + rec + R"(", "value": "kept"})", 1);
  TestConfig cfg(t.name(), "\n[kinds.record]\ntimeout = \"30s\"\n", "job_timeout = \"20s\"\n");
  Process p(run_argv(cfg.path));
  REQUIRE(wait_until([&] { return job_field(t.name(), id, "state") == "completed"; }));
  CHECK(scalar(conn, "SELECT count(*) FROM " + rec + " WHERE value = 'kept'") == 1);
  stop_cleanly(p);
  conn.exec("DROP TABLE " + rec);
}

TEST_CASE("timeouts: a handler that ignores should_stop is logged once and recorded as timed out when it returns") {
  TempTable t("e2e_timeout_hang");
  const int64_t id = insert_job(t.name(), "hang", R"({"ms": 3000})", 1);
  TestConfig cfg(t.name(), "\n[kinds.hang]\ntimeout = \"1s\"\n");
  Process p(run_argv(cfg.path));
  REQUIRE(wait_until([&] { return job_field(t.name(), id, "state") == "failed"; }));
  CHECK(job_field(t.name(), id, "error") == "timeout after 1s");
  stop_cleanly(p);
  const std::string log = p.out() + p.err();
  const std::string warning = "job " + std::to_string(id) + " kind=hang queue=default: still running past its timeout of 1s";
  CHECK(occurrences(log, warning) == 1);
  CHECK(occurrences(log, "still running past its timeout") == 1);
  CHECK(log.find("should_stop is set but the handler has not returned; it keeps its worker until it returns") !=
        std::string::npos);
  CHECK(log.find("If it still runs [worker] rescue_after (1h) after it was claimed, the job is rescued and run again") !=
        std::string::npos);
}

TEST_CASE("timeouts: [worker] job_timeout applies to every kind, and a kind's \"0s\" turns it off for that kind") {
  TempTable t("e2e_timeout_default");
  const int64_t hang = insert_job(t.name(), "hang", R"({"ms": 3000})", 1);
  const int64_t sleep = insert_job(t.name(), "sleep", R"({"ms": 3000})", 1);
  TestConfig cfg(t.name(), "\n[kinds.sleep]\ntimeout = \"0s\"\n\n[kinds.\"not.here\"]\ntimeout = \"5s\"\n",
                 "job_timeout = \"1s\"\n");
  Process p(run_argv(cfg.path));
  REQUIRE(wait_until([&] { return job_field(t.name(), hang, "state") == "failed"; }));
  CHECK(job_field(t.name(), hang, "error") == "timeout after 1s");
  REQUIRE(wait_until([&] { return job_field(t.name(), sleep, "state") == "completed"; }));
  // Settings for a kind no plugin here registered: a warning at start, not an error.
  CHECK(p.err().find("[kinds.\"not.here\"]: no plugin loaded here registered the kind \"not.here\"") != std::string::npos);
  stop_cleanly(p);
}

TEST_CASE("timeouts: check-config and run refuse a timeout at or above rescue_after, naming file, line, key and why") {
  const std::string dir = temp_dir("pgxqd-e2e");
  const std::string path = dir + "/pgxqd.toml";
  write_file(path, "[worker]\nrescue_after = \"10m\"\n\n[plugins]\ndir = \"" + plugin_dir() +
                       "\"\n\n[kinds.sleep]\ntimeout = \"10m\"\n");
  const std::string expected = path + ":8:11: kinds.sleep.timeout: \"10m\" is not below [worker] rescue_after (10m): a "
                                      "job still running at rescue_after is rescued and run a second time while its "
                                      "first run goes on";
  auto check = check_config({"--config", path, "--offline"});
  CHECK(check.code == 78);
  CHECK(check.err.find(expected) != std::string::npos);
  auto run_result = run(run_argv(path));
  CHECK(run_result.code == 78);
  CHECK(run_result.err.find(expected) != std::string::npos);

  // Below it, check-config passes and names a [kinds.X] no plugin registered.
  write_file(path, "[worker]\nrescue_after = \"10m\"\n\n[plugins]\ndir = \"" + plugin_dir() +
                       "\"\n\n[kinds.sleep]\ntimeout = \"9m\"\n\n[kinds.slep]\ntimeout = \"1s\"\n");
  auto ok = check_config({"--config", path, "--offline"});
  CHECK(ok.code == 0);
  CHECK(ok.out.find("warning: " + path + ":10:8: [kinds.\"slep\"]: no plugin loaded here registered the kind \"slep\"") !=
        std::string::npos);
  CHECK(ok.out.find("did you mean \"sleep\"?") != std::string::npos);
  if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
  }
}
