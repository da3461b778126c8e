// The engine obeying the operator's controls, in process (so the sanitizers see the control
// thread, the producers' pause and the executor's cancel): a paused queue claims nothing while
// another queue is worked, from the engine's first claim on and until it is resumed; a cancelled
// running job's handler sees should_stop, its SQL is rolled back and the job ends discarded; a
// request left for an available job discards it; a request for a finished job is forgotten.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "engine_fixture.hpp"
#include "queue/executor.hpp"

using namespace pgxq;
using namespace pgxq::test;

namespace {

queue::EngineOptions two_queues(EngineFixture& f) {
  auto o = f.options();
  o.queues = {queue::QueueOptions{"default", "", 2}, queue::QueueOptions{"other", "", 2}};
  return o;
}

}  // namespace

TEST_CASE("a queue paused before start claims nothing while another queue is worked, and claims again once resumed") {
  EngineFixture f("steer_pause");
  f.db().exec("INSERT INTO " + f.table() + "_pause (queue, paused_by) VALUES ('default', 'test')");
  const int64_t held = f.insert("noop", "{}", "default");
  auto engine = f.make_engine(two_queues(f));
  engine->start();
  // Jobs of the other queue complete: the engine claims, and its control has read the pause
  // table more than once by the time a job inserted after the first one has completed.
  const int64_t first = f.insert("noop", "{}", "other");
  REQUIRE(wait_state(f, first, "completed"));
  const int64_t second = f.insert("sleep", "{\"ms\":1200}", "other");  // spans more than one control pass
  REQUIRE(wait_state(f, second, "completed"));
  CHECK(f.row(held).state == "available");
  CHECK(f.log.contains("queue default on " + f.table() + ": paused by the operator"));

  f.db().exec("DELETE FROM " + f.table() + "_pause WHERE queue = 'default'");
  CHECK(wait_state(f, held, "completed", std::chrono::seconds(30)));
  CHECK(f.log.contains("queue default on " + f.table() + ": resumed"));
  engine->stop();
}

TEST_CASE("a queue paused while the engine runs stops claiming, running jobs finish") {
  EngineFixture f("steer_pause_live");
  auto engine = f.make_engine(two_queues(f));
  engine->start();
  const int64_t running = f.insert("sleep", "{\"ms\":1500}", "default");
  REQUIRE(wait_state(f, running, "running"));
  f.db().exec("INSERT INTO " + f.table() + "_pause (queue, paused_by) VALUES ('default', 'test')");
  REQUIRE(wait_until([&] { return f.log.contains("paused by the operator"); }, std::chrono::seconds(30)));
  const int64_t held = f.insert("noop", "{}", "default");
  CHECK(wait_state(f, running, "completed"));
  const int64_t other = f.insert("sleep", "{\"ms\":1200}", "other");
  REQUIRE(wait_state(f, other, "completed"));
  CHECK(f.row(held).state == "available");
  engine->stop();
}

TEST_CASE("cancelling a running job: its handler sees should_stop, its SQL is rolled back, the job ends discarded") {
  EngineFixture f("steer_cancel");
  const std::string rec = f.record_table();
  std::atomic<bool> saw_stop{false};
  queue::HandlerMap extra;
  // Writes a row, then waits for should_stop and claims success: the cancel must win anyway.
  extra["write_then_wait"] = [&, rec](const queue::Job& job, queue::JobContext& ctx) {
    const std::string id = std::to_string(job.id);
    ctx.exec("INSERT INTO " + rec + " (job_id, value) VALUES ($1, 'written')", std::vector<pg::Param>{id});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!ctx.should_stop() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    saw_stop = ctx.should_stop();
    return queue::Outcome::complete();
  };
  auto engine = f.make_engine(f.options(), extra);
  engine->start();
  const int64_t id = f.insert("write_then_wait");
  const int64_t bystander = f.insert("sleep", "{\"ms\":300}");
  REQUIRE(wait_state(f, id, "running"));
  f.db().exec("INSERT INTO " + f.table() + "_cancel (job_id, requested_by) VALUES ($1, 'test')",
              {pg::Param(std::to_string(id))});
  REQUIRE(wait_state(f, id, "discarded", std::chrono::seconds(30)));
  CHECK(saw_stop.load());
  auto row = f.row(id);
  CHECK(row.error == std::optional<std::string>(queue::kCancelledByOperator));
  CHECK_FALSE(row.completed_at_null);
  CHECK(f.count("true") == 2);
  CHECK(scalar(f.db(), "SELECT count(*) FROM " + rec) == 0);  // the handler's insert was rolled back
  CHECK(wait_state(f, bystander, "completed"));                // other jobs are untouched
  // The request of the finished job is forgotten.
  CHECK(wait_until([&] { return scalar(f.db(), "SELECT count(*) FROM " + f.table() + "_cancel") == 0; },
                   std::chrono::seconds(30)));
  CHECK(f.log.contains("job " + std::to_string(id) + " kind=write_then_wait queue=default: cancelled by the operator"));
  engine->stop();
}

TEST_CASE("a cancellation request left for an available job (its daemon died, the job was rescued) discards it") {
  EngineFixture f("steer_cancel_avail");
  // Not due for an hour: no claim takes it before the control sees the request.
  f.db().exec("INSERT INTO " + f.table() + " (kind, args, attempt, scheduled_at) VALUES ('noop', '{}', 1, now() + "
              "interval '1 hour')");
  const int64_t id = scalar(f.db(), "SELECT max(id) FROM " + f.table());
  const int64_t done = f.insert("noop");
  f.db().exec("INSERT INTO " + f.table() + "_cancel (job_id) VALUES ($1), ($2)",
              {pg::Param(std::to_string(id)), pg::Param(std::to_string(done))});
  auto engine = f.make_engine(f.options());
  engine->start();
  REQUIRE(wait_state(f, id, "discarded", std::chrono::seconds(30)));
  CHECK(f.row(id).error == std::optional<std::string>(queue::kCancelledByOperator));
  CHECK(wait_until([&] { return scalar(f.db(), "SELECT count(*) FROM " + f.table() + "_cancel") == 0; },
                   std::chrono::seconds(30)));
  engine->stop();
}
