// The optional reindex: the leader rebuilds the partial indexes on live jobs when the queue is
// idle, and postpones it while jobs are due.
#include <doctest/doctest.h>

#include "maintenance.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
using namespace pgxq::test::maint;
namespace pg = pgxq::pg;

namespace {

// The storage of the table's claim index (idx_<table>_fetch): REINDEX gives it a new one.
int64_t fetch_index_file(const std::string& table) {
  auto c = connect();
  return scalar(c, "SELECT relfilenode FROM pg_class WHERE relname = $1", {pg::Param("idx_" + table + "_fetch")});
}

}  // namespace

TEST_CASE("reindex: the leader rebuilds the claim index of an idle queue, and postpones it while jobs are due") {
  TempTable t("maint_reindex");
  // A due job of a kind nobody handles: a backlog that stays.
  {
    auto c = connect();
    c.exec("INSERT INTO " + t.name() + " (kind, args) VALUES ('nobody_handles_this', '{}')");
  }
  const int64_t before = fetch_index_file(t.name());
  REQUIRE(before != 0);
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"200ms\""}},
                   maintenance_toml("100ms", "", "reindex = \"500ms\"\nhealth_check = \"0s\"\n"));
  Daemon d(cfg.path);
  d.start();
  REQUIRE(wait_until([&] { return d.log().find("reindex of table " + t.name() + " postponed") != std::string::npos; }, 60s));
  CHECK(fetch_index_file(t.name()) == before);
  {
    auto c = connect();
    c.exec("DELETE FROM " + t.name());
  }
  REQUIRE(wait_until([&] { return fetch_index_file(t.name()) != before; }, 60s));
  REQUIRE(wait_until([&] { return d.log().find("_fetch in ") != std::string::npos; }, 30s));
  INFO(d.log());
  CHECK(d.log().find("reindex of table " + t.name() + ": rebuilt") != std::string::npos);
  // Nothing invalid left behind. A rebuild in progress has an invalid copy of its index for a
  // moment (and the leader starts a pass every 500ms here); a leftover would stay for good.
  auto c = connect();
  CHECK(wait_until([&] {
    return scalar(c, "SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass AND NOT indisvalid",
                  {pg::Param(t.name())}) == 0;
  }, 30s));
}

TEST_CASE("reindex: a rebuild waiting for an old transaction does not hold up the daemon's shutdown") {
  TempTable t("maint_reindex_stop");
  // A transaction that REINDEX CONCURRENTLY must wait for: it has a snapshot and an xid.
  auto holder = connect();
  holder.exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
  holder.exec("SELECT txid_current(), count(*) FROM " + t.name());
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"200ms\""}, {"shutdown_timeout", "\"5s\""}},
                   maintenance_toml("100ms", "", "reindex = \"200ms\"\nhealth_check = \"0s\"\n") +
                       // No lock timeout: the rebuild would wait for the transaction for as long as it lasts.
                       "[database]\nlock_timeout = \"0s\"\n");
  Daemon d(cfg.path);
  d.start();
  auto rebuilding = [&] {
    auto c = connect();
    return scalar(c,
                  "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1 AND state = 'active'"
                  " AND query LIKE 'REINDEX INDEX CONCURRENTLY%'",
                  {pg::Param("pgxqd leader %:" + std::to_string(d.pid()))}) == 1;
  };
  REQUIRE(wait_until(rebuilding, 60s));
  // SIGTERM: the daemon cancels the rebuild and exits while the transaction is still open.
  auto code = d.stop(std::chrono::seconds(30));
  INFO(d.log());
  REQUIRE(code);
  CHECK(*code == 0);
  holder.exec("COMMIT");
}
