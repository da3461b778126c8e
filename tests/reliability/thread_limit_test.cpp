// pgxqd started under a thread limit lower than its queues' max_workers (prlimit --nproc, like
// LimitNPROC= or a small TasksMax=) says so at start, naming the limit, and still works.
#include <doctest/doctest.h>

#include <unistd.h>

#include <csignal>

#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;

TEST_CASE("max_workers above the process's thread limit: a warning at start, and the queue works") {
  if (access("/usr/bin/prlimit", X_OK) != 0) {
    MESSAGE("skipped: /usr/bin/prlimit (util-linux) is not installed");
    return;
  }
  TempTable t("rel_nproc");
  auto c = connect();
  c.exec("INSERT INTO " + t.name() + " (kind, args) SELECT 'noop', '{}' FROM generate_series(1, 20)");
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}, {"max_workers", "5000"}});
  // The limit counts every process of the user: high enough for this user's others and pgxqd's
  // few threads, far below 5,000 workers.
  std::vector<std::string> argv = {"/usr/bin/prlimit", "--nproc=3000:3000", "--", bin_dir() + "/pgxqd", "run",
                                   "--config", cfg.path};
  if (geteuid() == 0) argv.push_back("--allow-root");
  Process d(argv);
  REQUIRE(d.wait_for_output("more than this process may start", std::chrono::seconds(30)));
  CHECK(d.err().find("RLIMIT_NPROC") != std::string::npos);
  CHECK(d.err().find("allows 3000") != std::string::npos);
  REQUIRE(wait_count(conninfo(), "SELECT count(*) FROM " + t.name() + " WHERE state = 'completed'", 20));
  d.signal(SIGTERM);
  CHECK(d.wait(std::chrono::seconds(60)) == std::optional<int>(0));
}
