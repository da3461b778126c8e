// Snooze in the engine against a real PostgreSQL: many jobs snoozing at once on every worker
// (each ends on attempt 1 with its count), a snooze in a handler's transaction rolls its work
// back, the observer (the metrics) hears each snooze as `snoozed`, and a table without the
// snoozes column (below schema v7) works with one warning. Also run under the sanitizers.
#include <doctest/doctest.h>

#include <atomic>

#include "engine_fixture.hpp"
#include "queue/observer.hpp"

using namespace pgxq;
using namespace pgxq::test;
using namespace std::chrono_literals;

namespace {

class CountingObserver final : public queue::JobObserver {
public:
  void claimed(std::string_view, std::string_view, std::chrono::microseconds) noexcept override {}
  void finished(std::string_view, std::string_view, queue::FinishOutcome outcome,
                std::optional<std::chrono::microseconds>) noexcept override {
    if (outcome == queue::FinishOutcome::snoozed) snoozed++;
    if (outcome == queue::FinishOutcome::completed) completed++;
  }
  std::atomic<int> snoozed{0}, completed{0};
};

}  // namespace

TEST_CASE("engine snooze: 40 jobs snoozing 3 times each on 8 workers end on attempt 1 with snoozes 3") {
  EngineFixture f("snz");
  std::vector<int64_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(f.insert("snooze", R"({"ms": 0, "times": 3})"));
  auto observer = std::make_shared<CountingObserver>();
  auto o = f.options();
  o.max_workers = 8;
  o.observer = observer;
  auto e = f.make_engine(o);
  e->start();
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == 40; }));
  e->stop();
  CHECK(f.count("attempt = 1 AND snoozes = 3") == 40);
  CHECK(observer->snoozed == 120);
  CHECK(observer->completed == 40);
  for (auto id : ids) CHECK_FALSE(f.row(id).error.has_value());
}

TEST_CASE("engine snooze: a snooze rolls back the handler's work, and the bound fails the job after its attempts") {
  EngineFixture f("snz_tx");
  auto rec = f.record_table();
  const std::string insert = "INSERT INTO " + rec + " (job_id, value) VALUES ($1::int8, 'snoozed')";
  auto snooze_after_work = [insert](const queue::Job& job, queue::JobContext& ctx) {
    const std::string id = std::to_string(job.id);
    pg::Param params[] = {pg::Param(id)};
    ctx.exec(insert, params);
    return queue::Outcome::snooze(0ms);
  };
  const int64_t id = f.insert("snooze_after_work", "{}", "default", 0, 2);
  auto o = f.options();
  o.max_snoozes = 3;
  auto e = f.make_engine(o, {{"snooze_after_work", snooze_after_work}});
  e->start();
  REQUIRE(wait_state(f, id, "failed"));
  e->stop();
  CHECK(scalar(f.db(), "SELECT count(*) FROM " + rec) == 0);  // every run rolled back
  CHECK(f.row(id).attempt == 2);
  CHECK(scalar(f.db(), "SELECT snoozes FROM " + f.table() + " WHERE id = $1::int8", {pg::Param(std::to_string(id))}) == 3);
  CHECK(*f.row(id).error == "snoozed 3 times, the limit ([worker] max_snoozes)");
}

TEST_CASE("engine snooze: on a table without the snoozes column the claim works and snoozes are not counted") {
  EngineFixture f("snz_v6");
  f.db().exec("ALTER TABLE " + f.table() + " DROP COLUMN snoozes");
  std::atomic<int> runs{0};
  auto snooze_twice = [&runs](const queue::Job& job, queue::JobContext&) {
    CHECK(job.snoozes == 0);  // nothing to read it from
    return ++runs <= 2 ? queue::Outcome::snooze(0ms) : queue::Outcome::complete();
  };
  const int64_t id = f.insert("snooze_twice");
  const int64_t other = f.insert("noop");
  auto o = f.options();
  o.max_snoozes = 1;  // cannot bound what is not counted
  auto e = f.make_engine(o, {{"snooze_twice", snooze_twice}});
  e->start();
  REQUIRE(wait_state(f, id, "completed"));
  REQUIRE(wait_state(f, other, "completed"));
  e->stop();
  CHECK(runs == 3);
  CHECK(f.row(id).attempt == 1);
  CHECK(f.log.contains("job table " + f.table() + " has no snoozes column (schema version 7)"));
  CHECK(f.log.contains("(not counted: table " + f.table() + " has no snoozes column)"));
}
