// Faults of the daemon process itself: kill -9 at random moments while it works transactional
// `record` jobs, restarted each time (no job lost, none doubled); and a poison job that aborts
// the daemon on every attempt, restarted systemd-style until the rescuer fails it.
#include <doctest/doctest.h>

#include <signal.h>

#include <thread>

#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
namespace pg = pgxq::pg;

TEST_CASE("kill -9 at random moments: every record job completes, exactly one row each") {
  Rng rng;
  // Enough work, at modest concurrency, that every kill lands while jobs are in flight.
  const int jobs = sized(10000, 20000);
  const int kills = sized(5, 10);
  MESSAGE(rng.describe(), "; jobs=", jobs, " kills=", kills);

  TempTable t("rel_kill");
  auto rec = unique_name("rel_kill_rec");
  const auto db = conninfo();
  create_record_table(db, rec);
  // max_attempts above the number of kills: a job in flight at every kill must still finish.
  enqueue_records(db, t.name(), rec, jobs, kills + 5);
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}, {"rescue_after", "\"2s\""}, {"max_workers", "4"}},
                   "[database]\npool_size = 4\n");
  Daemon d(cfg.path);
  const std::string done_sql = "SELECT count(*) FROM " + t.name() + " WHERE state = 'completed'";

  int killed_mid_work = 0;
  for (int round = 1; round <= kills; ++round) {
    d.start();
    auto before = try_scalar(db, done_sql).value_or(0);
    // The kill moment: after a random amount of further progress (sized so work remains for
    // the later rounds), then a random few milliseconds into whatever batch is in flight.
    int64_t left = jobs - before;
    int64_t step = rng.uniform(1, std::max<int64_t>(1, left / (kills - round + 2)));
    int64_t extra_ms = rng.uniform(0, 30);
    REQUIRE(wait_count(db, done_sql, std::min<int64_t>(before + step, jobs)));
    std::this_thread::sleep_for(std::chrono::milliseconds(extra_ms));  // picks the moment; not a sync
    auto running = try_scalar(db, "SELECT count(*) FROM " + t.name() + " WHERE state = 'running'").value_or(0);
    REQUIRE(d.running());
    d.kill9();
    if (running > 0) ++killed_mid_work;
    MESSAGE("round ", round, ": killed after +", step, " jobs +", extra_ms, "ms with ", running, " running");
  }

  d.start();
  REQUIRE(wait_count(db, done_sql, jobs, std::chrono::seconds(240)));
  auto code = d.stop();
  REQUIRE(code);
  CHECK(*code == 0);

  auto tl = tally(db, t.name(), rec);
  MESSAGE("after ", kills, " kills (", killed_mid_work, " with jobs running): ", tl.str(),
          "; rescued lines: ", count_lines(d.log(), "rescued after attempt"));
  CHECK(tl.jobs == jobs);
  CHECK(tl.completed == jobs);
  CHECK(tl.record_rows == jobs);
  CHECK(tl.record_jobs == jobs);
  CHECK(tl.doubled() == 0);
  CHECK(tl.completed_without_row == 0);
  CHECK(tl.rows_without_completion == 0);
  CHECK(killed_mid_work >= 1);  // the kills did land while work was in flight
  auto c = connect();
  c.exec("DROP TABLE IF EXISTS " + rec);
}

TEST_CASE("poison job: the daemon dies on every attempt, after 3 rescues the job is failed and the rest completed") {
  TempTable t("rel_poison");
  const auto db = conninfo();
  const int others = 200;
  auto c = connect();
  c.exec("INSERT INTO " + t.name() + " (kind, args) SELECT 'noop', '{}' FROM generate_series(1, " +
         std::to_string(others) + ")");
  auto poison = scalar(c, "INSERT INTO " + t.name() + " (kind, args, max_attempts) VALUES ('abort', '{}', 3) RETURNING id");
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}, {"rescue_after", "\"2s\""}, {"max_workers", "4"}});
  Daemon d(cfg.path);
  const std::string poison_sql = "SELECT count(*) FROM " + t.name() + " WHERE id = " + std::to_string(poison) +
                                 " AND state = 'failed'";
  const std::string others_sql = "SELECT count(*) FROM " + t.name() + " WHERE kind = 'noop' AND state = 'completed'";

  int deaths = 0;
  // A systemd-style restart loop (Restart=on-failure): start, and restart whenever it dies,
  // until the poison job is failed and everything else completed.
  for (int start = 0; start < 10; ++start) {
    d.start();
    bool settled = wait_until(
        [&] {
          if (!d.running()) return true;
          return try_scalar(db, poison_sql).value_or(0) == 1 && try_scalar(db, others_sql).value_or(0) == others;
        },
        std::chrono::seconds(60));
    REQUIRE(settled);
    if (d.running()) break;
    auto code = d.wait_exit(std::chrono::seconds(5));
    REQUIRE(code);
    CHECK(*code == 128 + SIGABRT);
    ++deaths;
  }
  REQUIRE(d.running());
  auto code = d.stop();
  REQUIRE(code);
  CHECK(*code == 0);
  MESSAGE("poison job: daemon died ", deaths, " times and was restarted each time");
  CHECK(deaths == 3);
  auto err = scalar_text(c, "SELECT error FROM " + t.name() + " WHERE id = $1", {pg::Param(std::to_string(poison))});
  CHECK(err == "rescued after attempt 3 of 3: worker lost");
  CHECK(scalar(c, "SELECT attempt FROM " + t.name() + " WHERE id = " + std::to_string(poison)) == 3);
  CHECK(scalar(c, others_sql) == others);
  CHECK(d.log().find("rescued after attempt 3 of 3") != std::string::npos);
}
