// Every testkit kind that can run in-process, through the real engine: jobs inserted with SQL,
// claimed, handled by the loaded plugin and recorded in the table. (abort is covered by the
// rescue tests, which run pgxqd as a child process.)
#include <doctest/doctest.h>

#include "plugin_test_support.hpp"
#include "queue/engine.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;

namespace {

int64_t enqueue(pg::Connection& conn, const std::string& table, const std::string& kind, const std::string& args,
                int max_attempts = 5) {
  auto r = conn.exec("INSERT INTO " + table + " (kind, args, max_attempts) VALUES ($1, $2::jsonb, $3) RETURNING id",
                     {kind, args, std::to_string(max_attempts)});
  return r.int64(0, 0);
}

std::optional<std::string> column(pg::Connection& conn, const std::string& table, const char* col, int64_t id) {
  return scalar_text(conn, std::string("SELECT ") + col + " FROM " + table + " WHERE id = $1", {std::to_string(id)});
}

}  // namespace

TEST_CASE("engine + testkit: each kind ends in the state and error the interface promises") {
  TempTable jobs("pk");
  auto conn = connect();
  std::string rec = unique_name("rec");
  conn.exec("CREATE TABLE " + rec + " (job_id bigint NOT NULL, value text)");

  PluginDir dir;
  dir.add_plugin("testkit");
  CapturedLog log;
  auto loaded = plugin::load_plugins(loader_options(dir.path(), log.logger));

  struct Expect {
    int64_t id;
    const char* state;
    std::optional<std::string> error;
  };
  std::vector<Expect> expect;
  auto add = [&](const std::string& kind, const std::string& args, const char* state,
                 std::optional<std::string> error, int max_attempts = 5) {
    expect.push_back({enqueue(conn, jobs.name(), kind, args, max_attempts), state, std::move(error)});
  };
  add("noop", "{}", "completed", std::nullopt);
  add("sleep", R"({"ms": 20})", "completed", std::nullopt);
  add("fail", R"({"message": "nope"})", "failed", "nope", 1);
  add("discard", R"({"message": "bye"})", "discarded", "discard: bye");
  add("throw", R"({"message": "kaboom"})", "failed", "std::runtime_error: kaboom", 1);
  add("record", R"({"table": ")" + rec + R"(", "value": "kept"})", "completed", std::nullopt);
  add("record", R"({"table": ")" + rec + R"(", "value": "dropped", "then": "discard"})", "discarded",
      "discard: record: then discard");
  add("unknown_outcome", "{}", "failed", "handler returned unknown outcome code 99", 1);

  queue::EngineOptions options;
  options.conninfo = conninfo();
  options.table = jobs.name();
  options.poll_interval = std::chrono::milliseconds(50);
  options.pool_size = 4;
  options.max_workers = 4;
  queue::Engine engine(options, loaded.handlers(), log.logger);
  engine.start();
  bool done = wait_until([&] {
    return scalar(conn, "SELECT count(*) FROM " + jobs.name() + " WHERE state IN ('available', 'running')") == 0;
  });
  engine.stop();
  REQUIRE(done);

  for (const auto& e : expect) {
    CAPTURE(e.id);
    CHECK(column(conn, jobs.name(), "state", e.id) == std::string(e.state));
    if (e.error) CHECK(column(conn, jobs.name(), "error", e.id).value_or("").find(*e.error) != std::string::npos);
  }
  // Side effects commit exactly when the job completes.
  CHECK(scalar(conn, "SELECT count(*) FROM " + rec) == 1);
  CHECK(scalar_text(conn, "SELECT value FROM " + rec) == "kept");
  conn.exec("DROP TABLE " + rec);
}
