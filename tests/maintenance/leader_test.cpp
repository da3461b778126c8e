// The leader election among real pgxqd processes on one table: exactly one leader, visible in
// PostgreSQL and in the logs; a killed leader is replaced; a leader whose session is
// terminated (as a network partition ends it) says so and stops, and a new session leads.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "maintenance.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
using namespace pgxq::test::maint;
namespace pg = pgxq::pg;

namespace {

struct ThreeDaemons {
  TempTable table{"maint_lead"};
  DaemonConfig cfg{table.name(), {{"poll_interval", "\"200ms\""}}, maintenance_toml("200ms")};
  std::vector<std::unique_ptr<Daemon>> daemons;

  ThreeDaemons() {
    for (int i = 0; i < 3; ++i) {
      daemons.push_back(std::make_unique<Daemon>(cfg.path));
      daemons.back()->start();
    }
  }
  // The daemons whose logs say they lead now.
  int claiming_leadership() {
    int n = 0;
    for (auto& d : daemons)
      if (d->running() && log_says_leader(d->log())) ++n;
    return n;
  }
  Daemon* by_pid(int pid) {
    for (auto& d : daemons)
      if (d->pid() == pid) return d.get();
    return nullptr;
  }
  // This test's sessions of the election in pg_stat_activity: "pgxqd leader <host>:<pid>" and
  // "pgxqd candidate <host>:<pid>".
  int64_t sessions(const std::string& role) {
    std::string pids;
    for (auto& d : daemons) pids += (pids.empty() ? "" : "|") + std::to_string(d->pid());
    auto c = connect();
    return scalar(c, "SELECT count(*) FROM pg_stat_activity WHERE application_name ~ $1",
                  {pg::Param("^pgxqd " + role + " .*:(" + pids + ")$")});
  }
  std::string logs() {
    std::string all;
    for (auto& d : daemons) all += "---- daemon " + std::to_string(d->pid()) + "\n" + d->log();
    return all;
  }
};

}  // namespace

TEST_CASE("three daemons on one table: exactly one leads, as pg_locks and the logs show") {
  ThreeDaemons t;
  // Every daemon takes part: one leader session, two candidates that tried and lost.
  REQUIRE(wait_until([&] { return leader_daemon_pid(t.table.name()) != 0; }, 60s));
  REQUIRE(wait_until([&] { return t.sessions("candidate") >= 2; }, 60s));
  const int leader = leader_daemon_pid(t.table.name());
  Daemon* d = t.by_pid(leader);
  INFO(t.logs());
  REQUIRE(d != nullptr);
  REQUIRE(wait_until([&] { return log_says_leader(d->log()); }, 30s));
  CHECK(t.claiming_leadership() == 1);
  int became = 0;
  for (auto& x : t.daemons) became += count_lines(x->log(), "became leader of table " + t.table.name());
  CHECK(became == 1);
  CHECK(t.sessions("leader") == 1);
  // `pgxqd stats` names the same daemon as the table's leader.
  auto stats = run({std::string(PGXQ_BIN_DIR) + "/pgxqd", "stats", "--json", "--table", t.table.name()});
  CHECK(stats.code == 0);
  CHECK(stats.out.find("\"application_name\": \"pgxqd leader ") != std::string::npos);
  CHECK(stats.out.find(":" + std::to_string(leader) + "\"") != std::string::npos);
  auto text = run({std::string(PGXQ_BIN_DIR) + "/pgxqd", "stats", "--table", t.table.name()});
  CHECK(text.out.find("leader: pgxqd leader ") != std::string::npos);
}

TEST_CASE("the leader killed -9: another daemon takes over within the bound") {
  ThreeDaemons t;
  REQUIRE(wait_until([&] { return leader_daemon_pid(t.table.name()) != 0; }, 60s));
  const int first = leader_daemon_pid(t.table.name());
  Daemon* old = t.by_pid(first);
  REQUIRE(old != nullptr);
  old->kill9();
  // leader_check is 200ms: PostgreSQL ends the killed daemon's session at once (its socket
  // closed), and a follower takes the lock at its next check.
  REQUIRE(wait_until(
      [&] {
        const int now = leader_daemon_pid(t.table.name());
        return now != 0 && now != first;
      },
      30s));
  const int second = leader_daemon_pid(t.table.name());
  INFO(t.logs());
  REQUIRE(t.by_pid(second) != nullptr);
  CHECK(t.by_pid(second)->running());
  REQUIRE(wait_until([&] { return log_says_leader(t.by_pid(second)->log()); }, 30s));
  CHECK(t.claiming_leadership() == 1);
}

TEST_CASE("the leader's session terminated: it logs the loss and stops, and a new session leads alone") {
  ThreeDaemons t;
  REQUIRE(wait_until([&] { return leader_of(t.table.name()).has_value(); }, 60s));
  const auto first = *leader_of(t.table.name());
  const int first_daemon = leader_daemon_pid(t.table.name());
  Daemon* old = t.by_pid(first_daemon);
  REQUIRE(old != nullptr);
  REQUIRE(wait_until([&] { return log_says_leader(old->log()); }, 30s));
  {
    auto c = connect();
    CHECK(scalar_text(c, "SELECT pg_terminate_backend($1)", {pg::Param(std::to_string(first.pid))}) == "t");
  }
  // The old leader notices at its next check and says it no longer leads.
  REQUIRE(wait_until([&] { return count_lines(old->log(), "lost leadership of table " + t.table.name()) == 1; }, 30s));
  CHECK(!log_says_leader(old->log()));
  // A new session leads, and exactly one daemon's log says it leads.
  REQUIRE(wait_until(
      [&] {
        auto now = leader_of(t.table.name());
        return now && now->pid != first.pid;
      },
      30s));
  const int now_daemon = leader_daemon_pid(t.table.name());
  INFO(t.logs());
  REQUIRE(t.by_pid(now_daemon) != nullptr);
  REQUIRE(wait_until([&] { return log_says_leader(t.by_pid(now_daemon)->log()); }, 30s));
  CHECK(t.claiming_leadership() == 1);
  MESSAGE("leader after the termination: daemon ", now_daemon, (now_daemon == first_daemon ? " (the same)" : " (another)"));
  // Every daemon still runs: losing the leadership is no reason to stop working jobs.
  for (auto& d : t.daemons) CHECK(d->running());
}

TEST_CASE("a leader that stops hands over: another daemon leads") {
  ThreeDaemons t;
  REQUIRE(wait_until([&] { return leader_daemon_pid(t.table.name()) != 0; }, 60s));
  const int first = leader_daemon_pid(t.table.name());
  Daemon* old = t.by_pid(first);
  REQUIRE(old != nullptr);
  auto code = old->stop();
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(count_lines(old->log(), "resigning leadership of table " + t.table.name()) == 1);
  REQUIRE(wait_until(
      [&] {
        const int now = leader_daemon_pid(t.table.name());
        return now != 0 && now != first;
      },
      30s));
  INFO(t.logs());
  CHECK(t.claiming_leadership() == 1);
}
