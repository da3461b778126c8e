// The daemon side of a job in a worker process (isolation/remote_handler) against a real
// WorkerPool whose workers are tests/isolation/fake_worker: SQL served in the job's transaction
// on a real connection (rows, errors with their SQLSTATE, a NUL refused before libpq), outcomes
// mapped by plugin::to_outcome's rules (COMPLETE after a failed statement, delays, snooze,
// unknown codes, bad UTF-8 repaired), the job log and plugin log, should_stop through the shared
// flag; and everything a broken worker can do — a malformed, unexpected, truncated or oversized
// frame, an out-of-range delay, exiting, a signal, memory and CPU limits — ends as a failed
// attempt with the cause, never as an exception out of the handler, and the pool serves the
// next job with a fresh worker.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <pgxq/plugin.h>
#include <unistd.h>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "isolation/protocol.hpp"
#include "isolation/remote_handler.hpp"
#include "isolation/worker_pool.hpp"
#include "queue/job.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;
using namespace std::chrono_literals;

namespace {

// The job's context as the engine gives it: SQL in one transaction on a real connection, opened
// by the first statement and rolled back at the end (the test does not complete jobs).
class Context final : public queue::JobContext {
public:
  explicit Context(pg::Connection& conn) : conn_(conn) {}
  ~Context() override {
    if (began_) conn_.exec("ROLLBACK", {});
  }
  pg::Result exec(std::string_view sql, std::span<const pg::Param> params) override {
    if (!began_) {
      conn_.exec("BEGIN", {});
      began_ = true;
    }
    ++statements;
    return conn_.exec(sql, params);
  }
  bool should_stop() const noexcept override { return stop.load(); }
  void log(queue::LogLevel level, std::string_view message) override {
    std::lock_guard lock(mu_);
    logs.emplace_back(level, std::string(message));
    if (message.find("waiting for stop") != std::string_view::npos) stop.store(true);
  }
  bool logged(queue::LogLevel level, const std::string& text) {
    std::lock_guard lock(mu_);
    for (const auto& [l, m] : logs)
      if (l == level && m.find(text) != std::string::npos) return true;
    return false;
  }

  std::atomic<bool> stop{false};
  int statements = 0;
  std::vector<std::pair<queue::LogLevel, std::string>> logs;

private:
  pg::Connection& conn_;
  bool began_ = false;
  std::mutex mu_;
};

isolation::PoolOptions options(isolation::Limits limits = {}) {
  isolation::PoolOptions o;
  o.plugin_name = "fake";
  o.plugin_path = "/nonexistent/fake.so";
  o.plugin_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  o.executable = PGXQ_FAKE_WORKER;
  o.setup.plugin_name = "fake";
  o.setup.plugin_path = o.plugin_path;
  o.processes = 1;
  o.limits = limits;
  o.log = std::make_shared<spdlog::logger>("remote-handler-test", std::make_shared<spdlog::sinks::null_sink_mt>());
  return o;
}

queue::Job job(const std::string& kind) {
  static int64_t next_id = 1000;
  queue::Job j;
  j.id = ++next_id;
  j.kind = kind;
  j.queue = "default";
  j.args = "{}";
  j.attempt = 1;
  j.max_attempts = 5;
  return j;
}

struct Run {
  queue::Outcome outcome;
  std::vector<std::pair<queue::LogLevel, std::string>> logs;
  int statements = 0;
};

Run run(queue::Handler& handler, pg::Connection& conn, const std::string& kind) {
  Context ctx(conn);
  queue::Job j = job(kind);
  Run r;
  r.outcome = handler(j, ctx);  // must not throw, whatever the worker did
  r.logs = ctx.logs;
  r.statements = ctx.statements;
  return r;
}

bool logged(const Run& r, queue::LogLevel level, const std::string& text) {
  for (const auto& [l, m] : r.logs)
    if (l == level && m.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("remote handler: SQL, outcomes and logs of a well-behaved worker") {
  auto conn = connect();
  isolation::WorkerPool pool(options());
  std::ostringstream plugin_lines;
  auto log = std::make_shared<spdlog::logger>("remote-handler-plugin-log",
                                              std::make_shared<spdlog::sinks::ostream_sink_mt>(plugin_lines));
  log->set_pattern("%l %v");
  log->set_level(spdlog::level::trace);
  queue::Handler handler = isolation::make_remote_handler(pool, "fake", log);

  auto r = run(handler, conn, "complete");
  CHECK(r.outcome.code == queue::OutcomeCode::complete);

  r = run(handler, conn, "exec_rows");
  CHECK(r.outcome.code == queue::OutcomeCode::complete);
  CHECK(r.outcome.message == "");
  CHECK(r.statements == 1);

  // The worker ignored the failed statement and returned COMPLETE: the work cannot commit.
  r = run(handler, conn, "sql_error");
  CHECK(r.outcome.code == queue::OutcomeCode::error);
  CHECK(r.outcome.message.find("handler returned COMPLETE after a failed SQL statement") == 0);
  CHECK(r.outcome.message.find("pgxq_no_such_table_at_all") != std::string::npos);

  r = run(handler, conn, "nul_sql");
  CHECK(r.outcome.code == queue::OutcomeCode::retry);
  CHECK(r.outcome.message.find("code " + std::to_string(PGXQ_PLUGIN_E_INVALID)) == 0);
  CHECK(r.outcome.message.find("NUL") != std::string::npos);
  CHECK(r.statements == 0);  // never reached the database

  r = run(handler, conn, "retry_delay");
  CHECK(r.outcome.code == queue::OutcomeCode::retry);
  CHECK(r.outcome.message == "later");
  CHECK(r.outcome.delay == std::optional<std::chrono::milliseconds>(1500ms));

  r = run(handler, conn, "snooze");
  CHECK(r.outcome.code == queue::OutcomeCode::snooze);
  CHECK(r.outcome.delay == std::optional<std::chrono::milliseconds>(10ms));

  r = run(handler, conn, "unknown_code");
  CHECK(r.outcome.code == queue::OutcomeCode::error);
  CHECK(r.outcome.message == "handler returned unknown outcome code 77");

  r = run(handler, conn, "bad_utf8");
  CHECK(r.outcome.code == queue::OutcomeCode::discard);
  CHECK(r.outcome.message == "bad \xef\xbf\xbd byte");

  r = run(handler, conn, "logs");
  CHECK(r.outcome.code == queue::OutcomeCode::complete);
  CHECK(logged(r, spdlog::level::warn, "plugin fake: job \xef\xbf\xbd line"));
  // A plugin_log line goes to the daemon's logger, not the job's; an unknown level is an error.
  log->flush();
  CHECK(plugin_lines.str().find("error plugin fake: plugin line") != std::string::npos);
  CHECK_FALSE(logged(r, spdlog::level::err, "plugin line"));

  // should_stop reaches the worker through the shared flag while it works.
  r = run(handler, conn, "wait_stop");
  CHECK(r.outcome.code == queue::OutcomeCode::retry);
  CHECK(r.outcome.message == "stopped");

  CHECK(pool.stats().died == 0);
  pool.stop();
}

TEST_CASE("remote handler: a broken worker fails the attempt with the cause, and the next job gets a new one") {
  auto conn = connect();
  isolation::WorkerPool pool(options());
  queue::Handler handler = isolation::make_remote_handler(pool, "fake");

  struct Case {
    const char* kind;
    std::vector<std::string> cause;  // every piece must be in the job's error
  };
  const std::vector<Case> cases = {
      {"garbage_type", {"worker process sent a malformed message (", "type 999", "); killed"}},
      {"truncated_outcome", {"worker process sent a malformed message (", "); killed"}},
      {"oversize", {"worker process sent a malformed message (", "); killed"}},
      {"bad_delay", {"worker process sent a malformed message (outcome delay -5 ms out of range); killed"}},
      {"hello_again", {"worker process sent a malformed message (unexpected ", "during a job); killed"}},
      {"rows_from_worker", {"worker process sent a malformed message (unexpected ", "during a job); killed"}},
      {"exit3", {"worker process exited with status 3"}},
      {"segv", {"worker process died: signal 11 (SIGSEGV)"}},
  };
  uint64_t died = 0;
  for (const auto& c : cases) {
    CAPTURE(c.kind);
    auto r = run(handler, conn, c.kind);
    INFO(r.outcome.message);
    CHECK(r.outcome.code == queue::OutcomeCode::retry);
    for (const auto& piece : c.cause) CHECK(r.outcome.message.find(piece) != std::string::npos);
    // The job log names the worker's pid.
    bool with_pid = false;
    for (const auto& [l, m] : r.logs)
      with_pid = with_pid || (l == spdlog::level::warn && m.find("plugin fake: worker process ") == 0);
    CHECK(with_pid);
    CHECK(pool.stats().died == ++died);
    // A fresh worker serves the next job.
    CHECK(run(handler, conn, "complete").outcome.code == queue::OutcomeCode::complete);
  }
  pool.stop();
}

TEST_CASE("remote handler: memory and CPU limits are checked while the job runs") {
  auto conn = connect();
  {
    isolation::WorkerPool pool(options({.memory_bytes = uint64_t{64} << 20, .cpu = {}}));
    queue::Handler handler = isolation::make_remote_handler(pool, "fake");
    auto r = run(handler, conn, "oom");
    CHECK(r.outcome.code == queue::OutcomeCode::retry);
    CHECK(r.outcome.message == "killed: memory limit 64 MiB");
    CHECK(run(handler, conn, "complete").outcome.code == queue::OutcomeCode::complete);
    pool.stop();
  }
  {
    isolation::WorkerPool pool(options({.memory_bytes = 0, .cpu = 1s}));
    queue::Handler handler = isolation::make_remote_handler(pool, "fake");
    auto r = run(handler, conn, "spin");
    CHECK(r.outcome.code == queue::OutcomeCode::retry);
    CHECK(r.outcome.message == "killed: cpu limit 1s");
    pool.stop();
  }
}
