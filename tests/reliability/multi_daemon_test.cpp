// Several pgxqd daemons on one table and one queue, as when the service runs on many hosts:
// every job is processed once. With three, one of them is killed -9 mid-run and the other two
// rescue and finish its jobs.
#include <doctest/doctest.h>

#include <thread>

#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
namespace pg = pgxq::pg;

namespace {

void run_daemons(int count, bool kill_one) {
  Rng rng;
  const int jobs = sized(3000, 20000);
  MESSAGE(rng.describe(), "; daemons=", count, " jobs=", jobs);
  TempTable t("rel_multi");
  auto rec = unique_name("rel_multi_rec");
  const auto db = conninfo();
  create_record_table(db, rec);
  enqueue_records(db, t.name(), rec, jobs);
  {
    auto c = connect();  // no-SQL jobs too: they complete through each daemon's batched completer
    c.exec("INSERT INTO " + t.name() + " (kind, args) SELECT 'noop', '{}' FROM generate_series(1, " +
           std::to_string(jobs / 2) + ")");
  }
  const int total = jobs + jobs / 2;
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"50ms\""}, {"rescue_after", "\"2s\""}, {"max_workers", "8"},
                              {"batch_size", "5"}},
                   "[database]\npool_size = 4\n");
  std::vector<std::unique_ptr<Daemon>> ds;
  for (int i = 0; i < count; ++i) {
    ds.push_back(std::make_unique<Daemon>(cfg.path));
    ds.back()->start();
  }
  const std::string done_sql = "SELECT count(*) FROM " + t.name() + " WHERE state = 'completed'";
  if (kill_one) {
    auto at = rng.uniform(total / 10, total / 2);
    REQUIRE(wait_count(db, done_sql, at));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform(0, 30)));  // the moment, not a sync
    auto victim = rng.uniform(0, count - 1);
    ds[victim]->kill9();
    MESSAGE("killed daemon ", victim, " at ", at, " completed");
  }
  REQUIRE(wait_count(db, done_sql, total, std::chrono::seconds(240)));
  for (auto& d : ds) {
    if (!d->running()) continue;
    auto code = d->stop();
    REQUIRE(code);
    CHECK(*code == 0);
  }
  auto tl = tally(db, t.name(), rec);
  MESSAGE(count, " daemons: ", tl.str());
  CHECK(tl.completed == total);
  CHECK(tl.record_rows == jobs);
  CHECK(tl.record_jobs == jobs);
  CHECK(tl.completed_without_row == 0);
  CHECK(tl.rows_without_completion == 0);
  auto c = connect();
  c.exec("DROP TABLE IF EXISTS " + rec);
}

}  // namespace

TEST_CASE("two daemons on one table and queue: every job processed once") { run_daemons(2, false); }

TEST_CASE("three daemons on one table and queue, one killed -9 mid-run: every job processed once") {
  run_daemons(3, true);
}
