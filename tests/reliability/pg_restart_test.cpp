// PostgreSQL restarted under a working daemon (pg_ctl restart -m fast, and -m immediate, which
// is a crash and recovery for the server): the daemon reconnects by itself, no job is lost or
// doubled, and the outage is logged once ("database unavailable" once per outage, then
// "reachable again"), not once per job or component. Restarting the shared test cluster
// disturbs everything else, so this executable runs with ctest's RUN_SERIAL. Needs
// PGXQ_TEST_PGDIR (exported by scripts/test) to find the cluster.
#include <doctest/doctest.h>

#include <cstdlib>

#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
namespace pg = pgxq::pg;

namespace {

void restart_under_load(const std::string& mode) {
  const char* pgdir = std::getenv("PGXQ_TEST_PGDIR");
  if (!pgdir || !*pgdir) {
    MESSAGE("PGXQ_TEST_PGDIR is not set (scripts/test sets it): cannot restart the server; skipped");
    return;
  }
  Rng rng;
  const int jobs = sized(3000, 20000);
  const int restarts = sized(1, 3);
  MESSAGE(rng.describe(), "; mode=", mode, " jobs=", jobs, " restarts=", restarts);
  TempTable t("rel_pgrst");
  auto rec = unique_name("rel_pgrst_rec");
  const auto db = conninfo();
  create_record_table(db, rec);
  enqueue_records(db, t.name(), rec, jobs);
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"200ms\""}, {"rescue_after", "\"2s\""}, {"max_workers", "16"}},
                   "[database]\npool_size = 8\n");
  Daemon d(cfg.path);
  d.start();
  const std::string done_sql = "SELECT count(*) FROM " + t.name() + " WHERE state = 'completed'";
  for (int i = 1; i <= restarts; ++i) {
    auto at = rng.uniform(jobs * (i - 1) / (restarts + 1) + 1, jobs * i / (restarts + 1));
    REQUIRE(wait_count(db, done_sql, at));
    auto r = run({source_dir() + "/scripts/pg", "restart", pgdir, mode});
    MESSAGE("restart ", i, " (", mode, ") at ", at, " completed");
    INFO(r.err);
    REQUIRE(r.code == 0);
    // The daemon notices and comes back before the next fault.
    REQUIRE(d.running());
    REQUIRE(wait_until([&] { return count_lines(d.log(), "reachable again") >= i; }, std::chrono::seconds(60)));
  }
  REQUIRE(wait_count(db, done_sql, jobs, std::chrono::seconds(240)));
  auto code = d.stop();
  REQUIRE(code);
  CHECK(*code == 0);
  auto tl = tally(db, t.name(), rec);
  auto log = d.log();
  MESSAGE(mode, " restarts: ", tl.str(), "; 'database unavailable' lines: ", count_lines(log, "database unavailable"),
          ", 'reachable again' lines: ", count_lines(log, "reachable again"));
  CHECK(tl.completed == jobs);
  CHECK(tl.record_rows == jobs);
  CHECK(tl.record_jobs == jobs);
  CHECK(tl.completed_without_row == 0);
  CHECK(tl.rows_without_completion == 0);
  INFO(log);
  CHECK(count_lines(log, "database unavailable") == restarts);
  CHECK(count_lines(log, "reachable again") == restarts);
  auto c = connect();
  c.exec("DROP TABLE IF EXISTS " + rec);
}

}  // namespace

TEST_CASE("PostgreSQL restarted (fast) mid-run: reconnect, nothing lost or doubled, outage logged once") {
  restart_under_load("fast");
}

TEST_CASE("PostgreSQL restarted (immediate: crash and recovery) mid-run: reconnect, nothing lost or doubled") {
  restart_under_load("immediate");
}
