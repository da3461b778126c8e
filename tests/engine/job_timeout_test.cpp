// Per-job timeouts in the engine, on a clock the test sets: should_stop turns true at the
// deadline (counted from the handler's call), a handler returning after it has its work rolled
// back and the attempt recorded as "timeout after <limit>" whatever it returned, and the
// operator's cancel wins over a timeout that passed too.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "engine_fixture.hpp"
#include "manual_clock.hpp"

using namespace pgxq;
using namespace pgxq::test;
using namespace std::chrono_literals;

namespace {

// What the test's handler did, as the test reads it from its own thread.
struct Probe {
  std::atomic<bool> started{false};
  std::atomic<int> polls{0};         // calls of should_stop
  std::atomic<bool> saw_stop{false};
  std::atomic<bool> release{false};  // the test lets the handler return
};

// Writes a row in the job's transaction, waits until told to stop (in real time at most a
// minute, so a broken engine fails the test instead of hanging it), then until released, and
// returns COMPLETE however it was stopped.
queue::Handler wait_for_stop(Probe& probe, const std::string& record_table) {
  return [&probe, record_table](const queue::Job& job, queue::JobContext& ctx) {
    const std::string id = std::to_string(job.id);
    const pg::Param params[] = {pg::Param(id)};
    ctx.exec("INSERT INTO " + record_table + " (job_id, value) VALUES ($1, 'late')", params);
    probe.started = true;
    const auto limit = std::chrono::steady_clock::now() + 60s;
    for (;;) {
      const bool stop = ctx.should_stop();
      probe.polls++;
      if (stop || std::chrono::steady_clock::now() >= limit) break;
      std::this_thread::sleep_for(1ms);
    }
    probe.saw_stop = ctx.should_stop();
    while (!probe.release && std::chrono::steady_clock::now() < limit) std::this_thread::sleep_for(1ms);
    return queue::Outcome::complete();
  };
}

// Waits until the handler has asked should_stop a few more times since now.
bool polled_again(const Probe& probe) {
  const int seen = probe.polls.load();
  return wait_until([&] { return probe.polls.load() > seen + 3 || probe.saw_stop.load(); });
}

}  // namespace

TEST_CASE("job timeout: should_stop turns true at the deadline, and a COMPLETE after it is rolled back as a failed attempt") {
  EngineFixture f;
  auto clock = std::make_shared<ManualClock>();
  auto rec = f.record_table();
  Probe probe;
  auto o = f.options();
  o.clock = clock;
  o.job_timeout = {std::chrono::hours(2), "2h"};  // the kind's own wins
  o.rescue_after = std::chrono::hours(3);
  o.kind_timeouts["waiter"] = {std::chrono::seconds(30), "30s"};
  auto id = f.insert("waiter", "{}", "default", 0, 2);
  auto e = f.make_engine(o, {{"waiter", wait_for_stop(probe, rec)}});
  e->start();
  REQUIRE(wait_until([&] { return probe.started.load(); }));
  clock->advance(29s);
  REQUIRE(polled_again(probe));
  CHECK_FALSE(probe.saw_stop.load());  // before the deadline, the handler goes on
  clock->advance(1s);
  REQUIRE(wait_until([&] { return probe.saw_stop.load(); }));
  probe.release = true;
  REQUIRE(wait_state(f, id, "available"));
  e->stop();
  auto r = f.row(id);
  CHECK(r.attempt == 1);
  CHECK(r.error.value_or("") == "timeout after 30s");
  // The handler's INSERT did not commit: its COMPLETE came after the deadline.
  CHECK(scalar(f.db(), "SELECT count(*) FROM " + rec) == 0);
  CHECK(e->stats()[0].retried == 1);
  CHECK(e->stats()[0].completed == 0);
}

TEST_CASE("job timeout: the operator's cancel wins over a timeout that passed as well") {
  EngineFixture f;
  auto clock = std::make_shared<ManualClock>();
  auto rec = f.record_table();
  Probe probe;
  auto o = f.options();
  o.clock = clock;
  o.job_timeout = {std::chrono::seconds(1), "1s"};
  auto id = f.insert("waiter", "{}", "default", 0, 5);
  auto e = f.make_engine(o, {{"waiter", wait_for_stop(probe, rec)}});
  e->start();
  REQUIRE(wait_until([&] { return probe.started.load(); }));
  REQUIRE(polled_again(probe));
  CHECK_FALSE(probe.saw_stop.load());
  clock->advance(1s);
  REQUIRE(wait_until([&] { return probe.saw_stop.load(); }));  // the timeout passed
  f.db().exec("INSERT INTO " + f.table() + "_cancel (job_id, requested_by) VALUES ($1, 'test')", {std::to_string(id)});
  REQUIRE(wait_until([&] { return f.log.contains("job " + std::to_string(id) + " kind=waiter queue=default: cancelled by the operator"); }));
  probe.release = true;
  REQUIRE(wait_state(f, id, "discarded"));
  e->stop();
  auto r = f.row(id);
  CHECK(r.error.value_or("") == "cancelled by operator");
  CHECK(r.attempt == 1);
  // Discarded by its own run, not retried as a timeout first (and then discarded by the
  // request that outlived the run).
  CHECK(e->stats()[0].discarded == 1);
  CHECK(e->stats()[0].retried == 0);
  CHECK_FALSE(f.log.contains("cancelled by the operator while not running"));
  CHECK(scalar(f.db(), "SELECT count(*) FROM " + rec) == 0);
}

TEST_CASE("job timeout: a handler past its deadline that does not return is logged once, with what happens next") {
  EngineFixture f;
  auto clock = std::make_shared<ManualClock>();
  auto rec = f.record_table();
  Probe probe;
  auto o = f.options();
  o.clock = clock;
  o.kind_timeouts["waiter"] = {std::chrono::seconds(2), "2s"};
  auto id = f.insert("waiter", "{}", "default", 0, 1);
  auto e = f.make_engine(o, {{"waiter", wait_for_stop(probe, rec)}});
  e->start();
  REQUIRE(wait_until([&] { return probe.started.load(); }));
  clock->advance(3s);
  const std::string warning = "job " + std::to_string(id) + " kind=waiter queue=default: still running past its timeout of 2s";
  REQUIRE(wait_until([&] { return f.log.contains(warning); }));
  CHECK(f.log.contains("should_stop is set but the handler has not returned; it keeps its worker until it returns"));
  CHECK(f.log.contains("recorded as failed with \"timeout after 2s\""));
  CHECK(f.log.contains("[worker] rescue_after (1h)"));
  // Later passes of the control loop do not repeat it: wait for a cancel request to be seen by
  // one of them (two passes at least), then count.
  f.db().exec("INSERT INTO " + f.table() + "_cancel (job_id, requested_by) VALUES (-1, 'test')");
  REQUIRE(wait_until([&] { return scalar(f.db(), "SELECT count(*) FROM " + f.table() + "_cancel") == 0; }));
  clock->advance(10s);
  f.db().exec("INSERT INTO " + f.table() + "_cancel (job_id, requested_by) VALUES (-2, 'test')");
  REQUIRE(wait_until([&] { return scalar(f.db(), "SELECT count(*) FROM " + f.table() + "_cancel") == 0; }));
  probe.release = true;
  REQUIRE(wait_state(f, id, "failed"));
  e->stop();
  const std::string log = f.log.text();
  size_t n = 0;
  for (auto at = log.find(warning); at != std::string::npos; at = log.find(warning, at + 1)) ++n;
  CHECK(n == 1);
  CHECK(f.row(id).error.value_or("") == "timeout after 2s");
}
