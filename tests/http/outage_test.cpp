// /readyz follows the database: 503 while PostgreSQL is down, 200 again once it is back, while
// /healthz stays 200 (an outage is not a stuck engine: the watchdog keeps being fed) and /metrics
// says pgxqd_database_up 0. Stopping the shared test cluster disturbs every other test, so this
// executable runs with ctest's RUN_SERIAL. Needs PGXQ_TEST_PGDIR (exported by scripts/test).
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>

#include "e2e.hpp"
#include "http_e2e.hpp"

using namespace pgxq::test;

namespace {

// Stops the cluster; starts it again at scope exit, whatever the test did.
class ClusterDown {
public:
  explicit ClusterDown(std::string dir) : dir_(std::move(dir)) {
    const auto r = run({source_dir() + "/scripts/pg", "stop", dir_});
    INFO(r.err);
    REQUIRE(r.code == 0);
  }
  ~ClusterDown() { start(); }
  void start() {
    if (up_) return;
    up_ = true;
    const auto r = run({source_dir() + "/scripts/pg", "start", dir_});
    CHECK(r.code == 0);
  }

private:
  std::string dir_;
  bool up_ = false;
};

}  // namespace

TEST_CASE("readyz: 503 while the database is down and 200 when it is back, while healthz stays 200") {
  const char* pgdir = std::getenv("PGXQ_TEST_PGDIR");
  if (!pgdir || !*pgdir) {
    MESSAGE("PGXQ_TEST_PGDIR is not set (scripts/test sets it): cannot stop the server; skipped");
    return;
  }
  TempTable t("http_outage");
  TestConfig cfg(t.name(), "\n[http]\nlisten = \":0\"\n[database]\npool_size = 2\n");
  Process p(run_argv(cfg.path));
  const int port = logged_http_port(p);
  REQUIRE(port > 0);
  REQUIRE(wait_until([&] { return fetch(port, "/readyz").status == 200; }));
  {
    ClusterDown down(pgdir);
    HttpReply ready;
    CHECK(wait_until([&] {
      ready = fetch(port, "/readyz");
      return ready.status == 503;
    }));
    CHECK(ready.body.find("\"reason\":\"the database is unreachable\"") != std::string::npos);
    CHECK(fetch(port, "/healthz").status == 200);
    const auto metrics = fetch(port, "/metrics");
    CHECK(metrics.status == 200);
    CHECK(metric_value(metrics.body, "pgxqd_database_up") == 0);
    CHECK(promtool_check_metrics(metrics.body).code == 0);
    down.start();
    CHECK(wait_until([&] { return fetch(port, "/readyz").status == 200; }));
  }
  CHECK(fetch(port, "/healthz").status == 200);
  p.signal(SIGTERM);
  CHECK(p.wait() == 0);
}
