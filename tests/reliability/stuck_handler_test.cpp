// A handler that ignores should-stop and keeps calling the host after shutdown gave up on it
// (testkit `hang_log`): pgxqd exits cleanly without tearing down the plugin under it. Run in an
// AddressSanitizer build, this catches a plugin record freed while the handler still uses it.
#include <doctest/doctest.h>

#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;

TEST_CASE("a handler still running after shutdown gave up: pgxqd exits without freeing its plugin") {
  TempTable t("rel_stuck");
  const auto db = conninfo();
  auto c = connect();
  auto id = scalar(c, "INSERT INTO " + t.name() + " (kind, args) VALUES ('hang_log', '{\"every_ms\": 5}') RETURNING id");
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""},
                              {"shutdown_timeout", "\"200ms\""},
                              {"cancel_grace", "\"200ms\""},
                              {"rescue_after", "\"1h\""}});
  // Several shutdowns: the handler has to hit the window between teardown and exit only once.
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    c.exec("UPDATE " + t.name() + " SET state = 'available', attempt = 0 WHERE id = $1", {std::to_string(id)});
    Daemon d(cfg.path);
    d.start();
    REQUIRE(wait_until([&] { return d.log().find("plugin testkit: still running") != std::string::npos; },
                       std::chrono::seconds(30)));
    auto code = d.stop(std::chrono::seconds(30));
    REQUIRE(code);
    const auto log = d.log();
    INFO(log.substr(log.size() > 20000 ? log.size() - 20000 : 0));
    CHECK(*code == 0);
    CHECK(log.find("AddressSanitizer") == std::string::npos);
    CHECK(log.find("runtime error") == std::string::npos);
    CHECK(log.find("exiting without running plugin shutdown hooks") != std::string::npos);
    CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + " WHERE id = " + std::to_string(id) +
                        " AND state = 'running'") == 1);  // left for the rescuer
  }
}
