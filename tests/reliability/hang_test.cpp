// A handler that ignores should-stop and never returns (testkit `hang`): a graceful shutdown
// still ends within shutdown_timeout plus cancel_grace, says so in the log, and leaves the job
// `running` for the rescuer of the next daemon — which then hands it out again.
#include <doctest/doctest.h>

#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
namespace pg = pgxq::pg;

TEST_CASE("a handler that never returns: shutdown ends within shutdown_timeout + cancel_grace, job left for rescue") {
  TempTable t("rel_hang");
  const auto db = conninfo();
  auto c = connect();
  auto id = scalar(c, "INSERT INTO " + t.name() + " (kind, args) VALUES ('hang', '{}') RETURNING id");
  c.exec("INSERT INTO " + t.name() + " (kind, args) SELECT 'noop', '{}' FROM generate_series(1, 20)");
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""},
                              {"shutdown_timeout", "\"1s\""},
                              {"cancel_grace", "\"1s\""},
                              {"rescue_after", "\"1h\""}});
  Daemon d(cfg.path);
  d.start();
  const std::string running_sql =
      "SELECT count(*) FROM " + t.name() + " WHERE id = " + std::to_string(id) + " AND state = 'running'";
  REQUIRE(wait_count(db, running_sql, 1, std::chrono::seconds(30)));
  REQUIRE(wait_count(db, "SELECT count(*) FROM " + t.name() + " WHERE kind = 'noop' AND state = 'completed'", 20));

  auto t0 = std::chrono::steady_clock::now();
  // Deadline: timeout (1s) + grace (1s) + slack for a loaded machine; the point is that it ends.
  auto code = d.stop(std::chrono::seconds(20));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  REQUIRE(code);
  MESSAGE("shutdown with a hung handler took ", took.count(), "ms, exit code ", *code);
  INFO(d.log());
  CHECK(*code == 0);
  auto log = d.log();
  CHECK(log.find("shutdown timeout (1000ms) reached") != std::string::npos);
  CHECK(log.find("job " + std::to_string(id) + " kind=hang queue=default: handler still running") != std::string::npos);
  CHECK(scalar(c, running_sql) == 1);  // left for the rescuer, not guessed
}
