// End-to-end: check-config agrees with run — the same decision without a config file and as
// root — and the messages both print say each thing once, name where the connection came
// from, and state the real time a stopped handler was waited for.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "e2e.hpp"

using namespace pgxq::test;
namespace pg = pgxq::pg;

namespace {

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

const char* kUnreachable = "host=/nonexistent-pgxqd-test dbname=x connect_timeout=5";

}  // namespace

TEST_CASE("without a config file, check-config and run both go on with the built-in defaults") {
  const bool default_file = std::filesystem::exists("/etc/pgxqd/pgxqd.toml");
  std::vector<std::string> common{"--plugins-dir", plugin_dir(), "--database", kUnreachable};
  if (geteuid() == 0) common.push_back("--allow-root");
  std::vector<std::string> check{pgxqd(), "check-config"}, start{pgxqd(), "run"};
  check.insert(check.end(), common.begin(), common.end());
  start.insert(start.end(), common.begin(), common.end());

  auto c = run(check);
  auto r = run(start);
  INFO("check-config: ", c.code, "\n", c.out, c.err, "\nrun: ", r.code, "\n", r.err);
  // Both read the same config and stop at the same point: the database they cannot reach.
  CHECK(c.code == r.code);
  if (default_file) {
    MESSAGE("/etc/pgxqd/pgxqd.toml exists on this machine: both read it");
    return;
  }
  CHECK(c.code == 69);
  CHECK(has(c.out, "config: none (/etc/pgxqd/pgxqd.toml not found): built-in defaults"));
  CHECK_FALSE(has(c.err, "config file not found"));
  CHECK(has(r.err, "using built-in defaults"));

  // A file named with --config that does not exist is an error for both.
  const std::string dir = temp_dir("pgxqd-agree");
  for (const char* cmd : {"check-config", "run"}) {
    std::vector<std::string> argv{pgxqd(), cmd, "--config", dir + "/missing.toml"};
    argv.insert(argv.end(), common.begin(), common.end());
    auto m = run(argv);
    INFO(cmd, " -> ", m.err);
    CHECK(m.code == 78);
    CHECK(has(m.err, "config file not found (create it from the annotated example /etc/pgxqd/pgxqd.toml.example"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("as root, check-config refuses as run does unless --allow-root, after the config is read") {
  if (geteuid() != 0) {
    MESSAGE("not root: nothing to refuse");
    return;
  }
  TempTable t("e2e_root");
  TestConfig cfg(t.name());
  auto c = run({pgxqd(), "check-config", "--config", cfg.path});
  auto r = run({pgxqd(), "run", "--config", cfg.path});
  INFO(c.out, c.err, r.err);
  CHECK(c.code == 1);
  CHECK(r.code == 1);
  CHECK(has(c.err, "refusing to run as root"));
  CHECK(has(r.err, "refusing to run as root"));
  CHECK_FALSE(has(c.out, "testkit"));  // no plugin was loaded as root
  CHECK(check_config({"--config", cfg.path}).code == 0);

  // A bad config is reported first, by both alike.
  TestConfig bad(t.name(), "[worker2]\n");
  CHECK(run({pgxqd(), "check-config", "--config", bad.path}).code == 78);
  CHECK(run({pgxqd(), "run", "--config", bad.path}).code == 78);
}

TEST_CASE("messages say it once and name where the connection came from") {
  // A bad table name, through the config and through --table.
  TestConfig bad_table("Bad_Jobs");
  auto c = check_config({"--config", bad_table.path, "--offline"});
  INFO(c.err);
  CHECK(c.code == 78);
  CHECK(occurrences(c.err, "invalid table name \"Bad_Jobs\"") == 1);
  auto m = run({pgxqd(), "migrate", "--table", "Bad_Jobs"});
  INFO(m.err);
  CHECK(m.code == 64);
  CHECK(has(m.err, "--table: invalid table name \"Bad_Jobs\""));
  CHECK(occurrences(m.err, "Bad_Jobs") == 1);

  // No url anywhere: the connection comes from PGHOST/PGDATABASE (the test cluster's).
  if (!conninfo().empty()) return;
  const std::string missing = unique_name("e2e_nowhere");
  TestConfig cfg(missing);
  auto k = check_config({"--config", cfg.path});
  INFO(k.out, k.err);
  CHECK(k.code == 1);
  CHECK(has(k.err, "job table " + missing + " does not exist"));
  CHECK(has(k.err, "from the environment (PGHOST, PGDATABASE, PGUSER, PGSERVICE) or libpq's defaults"));
  CHECK(has(k.out, "database: from the environment (PGHOST, PGDATABASE, PGUSER, PGSERVICE) or libpq's defaults"));
  CHECK_FALSE(has(k.out + k.err, "in libpq defaults"));
}

TEST_CASE("a second SIGTERM: the handler left running is reported with the time really waited, not cancel_grace") {
  TempTable t("e2e_twice");
  auto conn = connect();
  const auto id = scalar(conn, "INSERT INTO " + t.name() + " (kind, args) VALUES ('hang', '{}') RETURNING id");
  TestConfig cfg(t.name(), "", "shutdown_timeout = \"0s\"\ncancel_grace = \"10m\"\n");
  // The job is `running` once claimed, a moment before its handler starts (testkit's hang logs
  // nothing); a daemon stopped in that moment hands the job back and exits. Then start again.
  std::string log;
  for (int attempt = 0; attempt < 5 && log.empty(); ++attempt) {
    Process p(run_argv(cfg.path));
    REQUIRE(wait_until([&] { return count_jobs(t.name(), "state = 'running'") == 1; }));
    p.signal(SIGTERM);
    REQUIRE(wait_until([&] { return p.err().find("telling running handlers to stop") != std::string::npos || !p.running(); }));
    if (!p.running()) continue;  // handed back before the handler started
    p.signal(SIGTERM);
    auto code = p.wait(120s);
    REQUIRE(code);
    log = p.err();
  }
  REQUIRE_MESSAGE(!log.empty(), "the handler never started before SIGTERM in 5 attempts");
  INFO(log);
  std::smatch m;
  const std::regex line("job " + std::to_string(id) + " kind=hang queue=default: handler still running ([0-9]+)ms after");
  REQUIRE(std::regex_search(log, m, line));
  // The grace is ten minutes; the second signal ended it long before.
  CHECK(std::stoll(m[1].str()) < 600000);
}
