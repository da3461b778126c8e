// Retention of finished jobs: the leader deletes the jobs of each final state older than that
// state's retention, in batches, and keeps young ones, unfinished ones, and everything of a
// state whose retention is "0s"; a daemon that does not lead deletes nothing.
#include <doctest/doctest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "maintenance.hpp"
#include "queue/retention.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
using namespace pgxq::test::maint;
namespace pg = pgxq::pg;
namespace queue = pgxq::queue;

namespace {

// Rows of every kind retention must tell apart; each row's args name it.
void insert_rows(const std::string& table) {
  auto c = connect();
  c.exec("INSERT INTO " + table +
         " (kind, args, state, attempt, created_at, attempted_at, completed_at) VALUES"
         " ('noop', '{\"row\":\"old completed\"}', 'completed', 1, now() - interval '3 h', now() - interval '3 h', now() - interval '2 h'),"
         " ('noop', '{\"row\":\"young completed\"}', 'completed', 1, now() - interval '3 h', now() - interval '3 h', now() - interval '10 min'),"
         " ('noop', '{\"row\":\"old discarded\"}', 'discarded', 1, now() - interval '3 h', now() - interval '3 h', now() - interval '2 h'),"
         " ('noop', '{\"row\":\"old failed\"}', 'failed', 5, now() - interval '3 h', now() - interval '3 h', now() - interval '2 h'),"
         " ('noop', '{\"row\":\"old failed, no completed_at\"}', 'failed', 5, now() - interval '3 h', now() - interval '2 h', NULL),"
         " ('noop', '{\"row\":\"young failed\"}', 'failed', 5, now() - interval '3 h', now() - interval '3 h', now() - interval '1 min'),"
         " ('noop', '{\"row\":\"old available\"}', 'available', 0, now() - interval '3 h', NULL, NULL),"
         " ('noop', '{\"row\":\"old running\"}', 'running', 1, now() - interval '3 h', now() - interval '2 h', NULL)");
  // The available row must stay available: scheduled far ahead, nobody claims it.
  c.exec("UPDATE " + table + " SET scheduled_at = now() + interval '1 day' WHERE args->>'row' = 'old available'");
}

std::vector<std::string> rows_left(const std::string& table) {
  auto c = connect();
  auto r = c.exec("SELECT args->>'row' FROM " + table + " ORDER BY 1");
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0));
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : "; ") + s;
  return out;
}

const std::string kOneHour = "completed = \"1h\"\ndiscarded = \"1h\"\nfailed = \"1h\"\ninterval = \"200ms\"\n";

}  // namespace

TEST_CASE("retention: the leader deletes old finished jobs of each state and keeps the rest") {
  TempTable t("maint_ret");
  insert_rows(t.name());
  // A long rescue_after: the running row must stay running.
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"200ms\""}, {"rescue_after", "\"1d\""}},
                   maintenance_toml("200ms", kOneHour) + "\n[http]\nlisten = \"127.0.0.1:0\"\n");
  Daemon d(cfg.path);
  d.start();
  REQUIRE(wait_until([&] { return count_jobs_where(t.name(), "completed_at < now() - interval '1 h' OR (completed_at IS NULL AND state = 'failed')") == 0; }, 60s));
  INFO(d.log());
  CHECK(joined(rows_left(t.name())) == "old available; old running; young completed; young failed");
  CHECK(d.log().find("retention of table " + t.name() + ": deleted 1 completed, 1 discarded, 2 failed jobs") !=
        std::string::npos);
  // The same counts in the metrics.
  const std::string marker = "http: listening on 127.0.0.1:";
  REQUIRE(wait_until([&] { return d.log().find(marker) != std::string::npos; }, 30s));
  const std::string log = d.log();
  const auto at = log.find(marker) + marker.size();
  const std::string port = log.substr(at, log.find_first_not_of("0123456789", at) - at);
  auto metrics = run({"curl", "-sS", "--max-time", "30", "http://127.0.0.1:" + port + "/metrics"});
  REQUIRE(metrics.code == 0);
  const std::string series = "pgxqd_retention_deleted_total{state=\"";
  const std::string table = "\",table=\"" + t.name() + "\"} ";
  CHECK(metrics.out.find(series + "completed" + table + "1") != std::string::npos);
  CHECK(metrics.out.find(series + "discarded" + table + "1") != std::string::npos);
  CHECK(metrics.out.find(series + "failed" + table + "2") != std::string::npos);
}

TEST_CASE("retention \"0s\" keeps that state's jobs forever") {
  TempTable t("maint_keep");
  insert_rows(t.name());
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"200ms\""}, {"rescue_after", "\"1d\""}},
                   maintenance_toml("200ms", "completed = \"0s\"\ndiscarded = \"1h\"\nfailed = \"0s\"\ninterval = \"200ms\"\n"));
  Daemon d(cfg.path);
  d.start();
  // A pass goes through the states in order completed, discarded, failed: once the old
  // discarded job is gone, the pass has looked at completed jobs too.
  REQUIRE(wait_until([&] { return count_jobs_where(t.name(), "state = 'discarded'") == 0; }, 60s));
  REQUIRE(wait_until([&] { return d.log().find("retention of table " + t.name()) != std::string::npos; }, 30s));
  INFO(d.log());
  CHECK(joined(rows_left(t.name())) ==
        "old available; old completed; old failed; old failed, no completed_at; old running; young completed; young failed");
}

TEST_CASE("retention: a daemon that does not lead deletes nothing, and does once it leads") {
  TempTable t("maint_follow");
  insert_rows(t.name());
  // The test holds the table's leader lock, as another daemon would.
  auto holder = connect();
  REQUIRE(scalar_text(holder, pgxq::queue::maintenance_sql::kTryLeaderLock, {pg::Param(t.name())}) == "t");
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"200ms\""}, {"rescue_after", "\"1d\""}},
                   maintenance_toml("200ms", kOneHour) + "\n[http]\nlisten = \"127.0.0.1:0\"\n");
  Daemon d(cfg.path);
  d.start();
  // The daemon has tried for the lock (its candidate session ran the try) and lost.
  auto tried = [&] {
    auto c = connect();
    return scalar(c,
                  "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1 AND state = 'idle'"
                  " AND query LIKE '%pg_try_advisory_lock%'",
                  {pg::Param("pgxqd candidate %:" + std::to_string(d.pid()))}) == 1;
  };
  REQUIRE(wait_until(tried, 60s));
  CHECK(rows_left(t.name()).size() == 8);
  CHECK(d.log().find("became leader") == std::string::npos);
  holder = pg::Connection(conninfo());  // the "other leader" goes away
  REQUIRE(wait_until([&] { return rows_left(t.name()).size() == 4; }, 60s));
  INFO(d.log());
  CHECK(d.log().find("became leader of table " + t.name()) != std::string::npos);
}

TEST_CASE("retention deletes in statements of at most batch_size rows") {
  TempTable t("maint_batch");
  {
    auto c = connect();
    c.exec("INSERT INTO " + t.name() + " (kind, args, state, attempt, completed_at) SELECT 'noop', '{}', 'completed', 1,"
           " now() - interval '2 days' FROM generate_series(1, 25)");
    c.exec("INSERT INTO " + t.name() + " (kind, args, state, attempt, completed_at) SELECT 'noop', '{}', 'completed', 1,"
           " now() FROM generate_series(1, 3)");
  }
  std::ostringstream out;
  auto log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  log->set_level(spdlog::level::debug);
  queue::RetentionOptions o;
  o.batch_size = 10;
  auto c = connect();
  const auto pass = queue::run_retention(c, queue::TableSql(t.name()), o, *log);
  INFO(out.str());
  CHECK(pass.completed == 25);
  CHECK(pass.largest_statement_rows == 10);
  CHECK(pass.statements >= 3);
  CHECK(pass.finished);
  CHECK(count_jobs_where(t.name(), "true") == 3);
  CHECK(out.str().find("deleted 25 completed, 0 discarded, 0 failed jobs") != std::string::npos);
}
