// Faults of the daemon's database sessions: pg_terminate_backend on each of its backends in
// turn (producer, handler, completer, listener) while it works. Each test runs in a database
// of its own so pg_stat_activity shows only this daemon's sessions. No job lost or doubled,
// and after the LISTEN session is killed, NOTIFY wake-ups still come (poll interval 60s).
#include <doctest/doctest.h>

#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
namespace pg = pgxq::pg;

namespace {

int64_t terminate_role(const TempDatabase& db, const std::string& role) {
  auto c = connect();  // from the default database: we are not among the victims
  return scalar(c,
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 "
                "AND application_name = $2) k",
                {pg::Param(db.name()), pg::Param("pgxqd " + role)});
}

std::string sessions_sql(const TempDatabase& db, const std::string& role) {
  return "SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db.name() + "' AND application_name = 'pgxqd " +
         role + "'";
}

}  // namespace

TEST_CASE("pg_terminate_backend on producer, handler, completer and listener sessions: nothing lost or doubled") {
  TempDatabase db;
  const auto ci = db.conninfo();
  const std::string table = "rel_term_jobs", rec = "rel_term_rec";
  migrate(ci, table);
  create_record_table(ci, rec);
  const int records = sized(4000, 20000);
  const int noops = records / 2;  // no-SQL jobs go through the batched completer
  {
    auto c = db.connect();
    c.exec("INSERT INTO " + table + " (kind, args) SELECT 'noop', '{}' FROM generate_series(1, " +
           std::to_string(noops) + ")");
  }
  enqueue_records(ci, table, rec, records);
  const int jobs = records + noops;
  DaemonConfig cfg(table, {{"poll_interval", "\"60s\""}, {"rescue_after", "\"2s\""}, {"max_workers", "8"}},
                   "[database]\nurl = \"" + ci + "\"\npool_size = 4\n");
  Daemon d(cfg.path);
  d.start();
  const std::string done_sql = "SELECT count(*) FROM " + table + " WHERE state = 'completed'";
  const std::string stats_sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db.name() + "'";

  int terminated = 0;
  int64_t progress = 0;
  for (std::string role : {"producer", "handler", "completer", "listener"}) {
    // Some progress since the last fault, with the role's session present.
    progress = try_scalar(ci, done_sql).value_or(0);
    REQUIRE(wait_count(ci, done_sql, std::min<int64_t>(progress + 200, jobs - 1)));
    INFO("role ", role);
    REQUIRE(wait_count(ci, sessions_sql(db, role), 1, std::chrono::seconds(30)));
    auto n = terminate_role(db, role);
    CHECK(n >= 1);
    terminated += static_cast<int>(n);
    MESSAGE("terminated ", n, " '", role, "' session(s) at ", try_scalar(ci, done_sql).value_or(-1), " completed");
    if (role == "listener") {
      // The LISTEN connection comes back by itself.
      CHECK(wait_count(ci, sessions_sql(db, role), 1, std::chrono::seconds(30)));
    }
  }
  REQUIRE(wait_count(ci, done_sql, jobs, std::chrono::seconds(180)));

  // Wake-ups after the listener was killed: the poll interval is 60s, so each of these jobs is
  // found through NOTIFY (a poll landing inside all three short windows is not plausible).
  for (int i = 0; i < 3; ++i) {
    auto c = db.connect();
    auto id = scalar(c, "INSERT INTO " + table + " (kind, args) VALUES ('noop', '{}') RETURNING id");
    INFO("wake-up job ", id);
    CHECK(wait_count(ci, "SELECT count(*) FROM " + table + " WHERE id = " + std::to_string(id) + " AND state = 'completed'",
                     1, std::chrono::seconds(10)));
  }

  auto code = d.stop();
  REQUIRE(code);
  CHECK(*code == 0);
  auto tl = tally(ci, table, rec);
  MESSAGE("terminated ", terminated, " backends; ", tl.str());
  CHECK(tl.completed == tl.jobs);
  CHECK(tl.record_rows == records);
  CHECK(tl.record_jobs == records);
  CHECK(tl.completed_without_row == 0);
  CHECK(tl.rows_without_completion == 0);
}
