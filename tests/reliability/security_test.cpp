// Passwords never shown: a password in the config file's [database] url (tests/daemon covers
// PGXQD_DATABASE_URL and --database) must not appear in any output of run — including the
// reconnect errors after its sessions are killed mid-run — check-config, migrate and enqueue,
// on success or on connection failure. (Refusing to run as root without --allow-root is
// covered by tests/daemon/run_test.cpp; plugin file and directory permissions by
// tests/plugin/loader_test.cpp.)
#include <doctest/doctest.h>

#include <unistd.h>

#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
namespace pg = pgxq::pg;

TEST_CASE("a password in the config file's url never appears in any output, even across reconnects") {
  const std::string secret = "S3cretPw";
  TempDatabase db;
  const std::string table = "rel_pw_jobs";
  migrate(db.conninfo(), table);
  const char* host = std::getenv("PGHOST");
  const char* port = std::getenv("PGPORT");
  const char* user = std::getenv("PGUSER");
  std::string base = std::string("postgresql://") + (user ? user : "postgres") + ":" + secret + "@/" + db.name();
  std::string good = base + "?host=" + (host ? host : "/tmp") + "&port=" + (port ? port : "5432");
  std::string bad = base + "?host=/nonexistent-dir&port=1";

  std::vector<std::pair<std::string, RunResult>> outputs;
  for (auto url : {good, bad}) {
    DaemonConfig cfg(table, {{"poll_interval", "\"100ms\""}},
                     "[database]\nurl = \"" + url + "\"\n[log]\nlevel = \"trace\"\n");
    std::string tag = url == good ? "good url: " : "bad url: ";
    if (url == good) {
      auto c = db.connect();
      c.exec("INSERT INTO " + table + " (kind, args) SELECT 'noop', '{}' FROM generate_series(1, 50)");
      Daemon d(cfg.path);
      d.start();
      REQUIRE(wait_count(db.conninfo(), "SELECT count(*) FROM " + table + " WHERE state = 'completed'", 50));
      // Kill every session of the daemon: the reconnect errors are logged too.
      auto admin = connect();
      admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                 {pg::Param(db.name())});
      c = db.connect();
      c.exec("INSERT INTO " + table + " (kind, args) SELECT 'noop', '{}' FROM generate_series(1, 50)");
      REQUIRE(wait_count(db.conninfo(), "SELECT count(*) FROM " + table + " WHERE state = 'completed'", 100));
      auto code = d.stop();
      outputs.push_back({tag + "run", {code.value_or(-1), "", d.log()}});
    } else {
      std::vector<std::string> argv{bin_dir() + "/pgxqd", "run", "--config", cfg.path};
      if (geteuid() == 0) argv.push_back("--allow-root");
      outputs.push_back({tag + "run", run(argv)});
    }
    std::vector<std::string> check{bin_dir() + "/pgxqd", "check-config", "--config", cfg.path};
    if (geteuid() == 0) check.push_back("--allow-root");
    outputs.push_back({tag + "check-config", run(check)});
    outputs.push_back({tag + "migrate", run({bin_dir() + "/pgxqd", "migrate", "--config", cfg.path})});
    outputs.push_back({tag + "enqueue", run({bin_dir() + "/pgxqd", "enqueue", "noop", "--config", cfg.path})});
  }
  int unreachable = 0;
  for (auto& [what, o] : outputs) {
    INFO(what, " -> ", o.code, "\n", o.out, o.err);
    CHECK(o.out.find(secret) == std::string::npos);
    CHECK(o.err.find(secret) == std::string::npos);
    if (what.rfind("good", 0) == 0) CHECK(o.code == 0);
    if (o.code == 69) ++unreachable;
  }
  CHECK(unreachable == 4);  // every command against the bad url
  MESSAGE("outputs searched for the password: ", outputs.size());
}
