// Table-health warnings: a transaction held open elsewhere is named by the leader's health
// check, with what to do; read_table_health reports the table's figures; the thresholds decide.
#include <doctest/doctest.h>

#include "maintenance.hpp"
#include "queue/table_health.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
using namespace pgxq::test::maint;
namespace pg = pgxq::pg;
namespace queue = pgxq::queue;

TEST_CASE("health: the leader warns about a transaction holding back the xmin horizon, naming it") {
  TempTable t("maint_health");
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"200ms\""}},
                   maintenance_toml("200ms", "", "health_check = \"300ms\"\nlong_transaction = \"1s\"\n"));
  Daemon d(cfg.path);
  d.start();
  REQUIRE(wait_until([&] { return d.log().find("became leader of table " + t.name()) != std::string::npos; }, 60s));
  const size_t before = d.log().size();
  auto holder = connect();
  holder.exec("SET application_name = 'maint_health_holder'");
  holder.exec("BEGIN");
  const auto pid = std::to_string(scalar(holder, "SELECT pg_backend_pid() + 0 * txid_current()"));
  // The warning names the oldest holder of the horizon, cluster-wide: ours, unless a test
  // running beside this one holds an older transaction.
  const std::string warning = "the xmin horizon is held back by pid ";
  REQUIRE(wait_until([&] { return d.log().find(warning, before) != std::string::npos; }, 60s));
  const std::string ours = warning + pid + " (maint_health_holder, idle in transaction";
  wait_until([&] { return d.log().find(ours, before) != std::string::npos; }, 10s);
  INFO(d.log());
  MESSAGE("the warning named ", d.log().find(ours, before) != std::string::npos ? "this test's transaction" : "an older one");
  CHECK(d.log().find("pg_terminate_backend", before) != std::string::npos);
  holder.exec("COMMIT");
}

TEST_CASE("health: read_table_health reads the table and the xmin holder, and thresholds decide the warnings") {
  TempTable t("maint_read");
  auto c = connect();
  c.exec("INSERT INTO " + t.name() + " (kind, args) SELECT 'noop', '{}' FROM generate_series(1, 100)");
  c.exec("ANALYZE " + t.name());
  auto holder = connect();
  holder.exec("BEGIN");
  holder.exec("SELECT txid_current()");
  const auto h = queue::read_table_health(c, t.name());
  CHECK(h.live_rows == 100);
  CHECK(h.table_bytes > 0);
  CHECK(h.index_bytes > 0);
  REQUIRE(h.oldest_xmin);
  CHECK(h.oldest_xmin->source == "session");
  INFO(h.oldest_xmin->name);
  holder.exec("COMMIT");

  queue::HealthOptions o;
  queue::TableHealth sick;
  sick.table = "jobs";
  sick.live_rows = 1000;
  sick.dead_rows = 500000;
  sick.oldest_xmin = queue::TableHealth::XminHolder{"session", "pid 42 (psql, idle in transaction, database app)", 3600, 90000};
  auto w = queue::health_warnings(sick, o);
  REQUIRE(w.size() == 2);
  CHECK(w[0].find("500000 dead rows") != std::string::npos);
  CHECK(w[1].find("pid 42") != std::string::npos);
  queue::TableHealth fine = sick;
  fine.dead_rows = 10;
  fine.oldest_xmin->seconds = 5;
  CHECK(queue::health_warnings(fine, o).empty());
}
