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
  // Nothing invalid left behind.
  auto c = connect();
  CHECK(scalar(c, "SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass AND NOT indisvalid",
               {pg::Param(t.name())}) == 0);
}
