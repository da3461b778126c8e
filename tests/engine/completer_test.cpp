// The completer under trouble: outcomes it cannot write (a job row locked by someone else)
// make claiming pause instead of piling up in memory, and one outcome the database refuses (a
// user trigger raising) is recorded as a failure with the error while the rest of its batch is
// recorded as usual.
#include <doctest/doctest.h>

#include <atomic>

#include "engine_fixture.hpp"
#include "queue/completer.hpp"

using namespace pgxq;
using namespace pgxq::test;
using namespace std::chrono_literals;

namespace {

// A `gated` handler that returns only once the test opens the gate.
struct Gate {
  std::atomic<bool> entered{false}, open{false};
  auto handler() {
    return [this](const queue::Job&, queue::JobContext& ctx) {
      entered = true;
      while (!open && !ctx.should_stop()) std::this_thread::sleep_for(1ms);
      return queue::Outcome::complete();
    };
  }
};

// Starts `e`, waits until the gated job `id` runs, locks its row from another session (the
// returned connection: the lock lasts until it commits), then lets the handler return, so the
// completer's write of its outcome meets the lock.
pg::Connection lock_row_of_running_job(EngineFixture& f, queue::Engine& e, Gate& gate, int64_t id) {
  e.start();
  REQUIRE(wait_until([&] { return gate.entered.load(); }));
  pg::Connection holder = connect();
  holder.exec("BEGIN");
  holder.exec("SELECT 1 FROM " + f.table() + " WHERE id = $1 FOR UPDATE", {std::to_string(id)});
  gate.open = true;
  return holder;
}

}  // namespace

TEST_CASE("outcomes that cannot be written pause claiming (bounded), and all are written once the row is free") {
  EngineFixture f("cbound");
  auto& db = f.db();
  Gate gate;
  auto o = f.options();
  o.max_workers = 4;
  o.batch_size = 10;
  auto e = f.make_engine(o, {{"gated", gate.handler()}});
  const int64_t locked = f.insert("gated");
  // Someone else holds the job's row: the completer's write of its outcome waits for it.
  pg::Connection holder = lock_row_of_running_job(f, *e, gate, locked);
  REQUIRE(wait_until([&] {
    return scalar(db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%" +
                          f.table() + "%'") >= 1;
  }));

  const int jobs = 3000;
  db.exec("INSERT INTO " + f.table() + " (kind) SELECT 'noop' FROM generate_series(1, " + std::to_string(jobs) + ")");
  // Every worker ends up waiting to hand in an outcome; then nothing more is claimed. At most:
  // the locked job, the waiting outcomes, one finished job per worker, one claim's worth ready.
  const uint64_t bound = 1 + queue::kMaxPendingOutcomes + o.max_workers + o.max_workers;
  REQUIRE(wait_until([&] { return e->stats()[0].claimed >= queue::kMaxPendingOutcomes + 1; }, 60s));
  // Watched for a while (20 polls): the claims must stay under the bound. Without the bound
  // the producer goes on claiming all 3000.
  const bool exceeded = wait_until([&] { return e->stats()[0].claimed > bound; }, 2s);
  CHECK(!exceeded);
  INFO("claimed: ", e->stats()[0].claimed, ", bound: ", bound);
  CHECK(e->stats()[0].claimed <= bound);
  CHECK(f.count("state = 'running'") <= static_cast<int64_t>(bound));
  CHECK(f.count("state = 'available'") >= jobs - static_cast<int64_t>(bound));
  CHECK(f.log.contains("job outcomes are waiting to be written"));

  holder.exec("COMMIT");
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == jobs + 1; }, 120s));
  CHECK(f.log.contains("claiming resumes"));
  e->stop();
  CHECK(e->stats()[0].completed == static_cast<uint64_t>(jobs + 1));
}

TEST_CASE("an outcome the database refuses is recorded as a failure, the rest of its batch is recorded") {
  EngineFixture f("crefuse");
  auto& db = f.db();
  std::vector<int64_t> ids;
  for (int i = 0; i < 60; ++i) ids.push_back(f.insert("noop"));
  const int64_t bad = ids[29];
  const std::string fn = f.table() + "_refuse";
  db.exec("CREATE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
          " RAISE EXCEPTION 'job % may not complete', NEW.id; END $$");
  db.exec("CREATE TRIGGER refuse BEFORE UPDATE ON " + f.table() + " FOR EACH ROW WHEN (NEW.id = " +
          std::to_string(bad) + " AND NEW.state = 'completed') EXECUTE FUNCTION " + fn + "()");
  auto o = f.options();
  o.batch_size = 60;
  o.max_workers = 8;
  auto e = f.make_engine(o);
  e->start();
  REQUIRE(wait_until([&] { return f.count("state IN ('completed', 'failed')") == 60; }, 60s));
  e->stop();
  CHECK(f.count("state = 'completed'") == 59);
  auto row = f.row(bad);
  CHECK(row.state == "failed");
  INFO(row.error.value_or(""));
  CHECK(row.error.value_or("").find("outcome 'completed' could not be recorded") != std::string::npos);
  CHECK(row.error.value_or("").find("may not complete") != std::string::npos);
  CHECK(row.error.value_or("").find("P0001") != std::string::npos);
  CHECK(e->stats()[0].completed == 59);
  CHECK(e->stats()[0].failed == 1);
  db.exec("DROP FUNCTION " + fn + "() CASCADE");
}

TEST_CASE("a row lock that outlasts lock_timeout again and again: the outcome waits and is written once the row is free") {
  EngineFixture f("clockwait");
  Gate gate;
  auto o = f.options();
  o.timeouts.lock = 50ms;  // each write gives up on the lock quickly: many more attempts than six
  auto e = f.make_engine(o, {{"gated", gate.handler()}});
  const int64_t locked = f.insert("gated");
  pg::Connection holder = lock_row_of_running_job(f, *e, gate, locked);
  // Held until the write has failed on the lock more often than the six attempts other errors
  // get: a completer that gave up would have left the job running for the rescuer by now.
  auto failures = [&] {
    const std::string text = f.log.text();
    size_t n = 0;
    for (size_t at = text.find("retrying until it can be written"); at != std::string::npos;
         at = text.find("retrying until it can be written", at + 1))
      ++n;
    return n;
  };
  REQUIRE(wait_until([&] { return failures() >= 7 || f.log.contains("left running for the rescuer"); }, 120s));
  CHECK_FALSE(f.log.contains("could not be recorded; left running for the rescuer"));
  holder.exec("COMMIT");
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == 1; }, 60s));
  e->stop();
  auto row = f.row(locked);
  CHECK(row.state == "completed");
  CHECK(row.attempt == 1);
  CHECK(e->stats()[0].completed == 1);
}
