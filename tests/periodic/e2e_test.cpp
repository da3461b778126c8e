// Periodic jobs through the real pgxqd binary with the testkit plugin: exactly once per
// scheduled time across two daemons, a leader killed and a daemon restarted; catch_up on and
// off after an outage; start refused on a table below schema version 8; check-config's next
// runs. Conditions are waited for with deadlines; nothing asserts on timing.
#include <doctest/doctest.h>

#include <csignal>
#include <string>

#include "e2e.hpp"
#include "queue/leader.hpp"

using namespace pgxq::test;

namespace {

std::string periodic_config(const std::string& entries) {
  return "\n[maintenance]\nleader_check = \"1s\"\n\n" + entries;
}

int64_t periodic_jobs(const std::string& table, const std::string& name) {
  return count_jobs(table, "unique_key LIKE 'periodic:" + name + ":%'");
}

// The pid of the daemon that leads `table` (its leader session is "pgxqd leader host:pid"), or 0.
int leader_pid(const std::string& table) {
  auto conn = connect();
  auto info = pgxq::queue::read_leader(conn, table);
  if (!info) return 0;
  return std::stoi(info->application_name.substr(info->application_name.rfind(':') + 1));
}

}  // namespace

TEST_CASE("periodic: two daemons, a killed leader and a restart enqueue each scheduled time exactly once") {
  TempTable t("per_two");
  TestConfig cfg(t.name(), periodic_config("[[periodic]]\nkind = \"noop\"\nevery = \"1s\"\n"));
  auto a = std::make_unique<Process>(run_argv(cfg.path));
  auto b = std::make_unique<Process>(run_argv(cfg.path));
  REQUIRE(wait_until([&] { return periodic_jobs(t.name(), "noop") >= 4; }));

  // Kill whichever leads, without a goodbye: the other takes over.
  int leader = 0;
  REQUIRE(wait_until([&] { return (leader = leader_pid(t.name())) != 0; }));
  REQUIRE((leader == a->pid() || leader == b->pid()));
  auto& killed = leader == a->pid() ? a : b;
  auto& survivor = leader == a->pid() ? b : a;
  killed->signal(SIGKILL);
  REQUIRE(killed->wait());
  int64_t before = periodic_jobs(t.name(), "noop");
  REQUIRE(wait_until([&] { return periodic_jobs(t.name(), "noop") >= before + 4; }));

  // A daemon restarts beside the survivor, then the survivor stops gracefully: the restarted one leads.
  killed = std::make_unique<Process>(run_argv(cfg.path));
  REQUIRE(killed->wait_for_output("started"));
  survivor->signal(SIGTERM);
  REQUIRE(survivor->wait() == std::optional<int>(0));
  before = periodic_jobs(t.name(), "noop");
  REQUIRE(wait_until([&] { return periodic_jobs(t.name(), "noop") >= before + 4; }));
  killed->signal(SIGTERM);
  REQUIRE(killed->wait() == std::optional<int>(0));

  auto conn = connect();
  const std::string jobs = t.name() + " WHERE unique_key LIKE 'periodic:noop:%'";
  const int64_t n = scalar(conn, "SELECT count(*) FROM " + jobs);
  CHECK(n >= 12);
  // Distinct, whole seconds, consecutive: no duplicate and no gap.
  CHECK(scalar(conn, "SELECT count(DISTINCT scheduled_at) FROM " + jobs) == n);
  CHECK(scalar(conn, "SELECT count(*) FROM " + jobs + " AND scheduled_at <> date_trunc('second', scheduled_at)") == 0);
  CHECK(scalar(conn, "SELECT extract(epoch FROM max(scheduled_at) - min(scheduled_at))::int8 FROM " + jobs) == n - 1);
  // Each job's key names its scheduled time.
  CHECK(scalar(conn, "SELECT count(*) FROM " + jobs +
                         " AND unique_key <> 'periodic:noop:' || to_char(scheduled_at AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')") == 0);
  CHECK(scalar(conn, "SELECT count(*) FROM " + jobs + " AND (kind <> 'noop' OR queue <> 'default' OR args <> '{}')") == 0);
  // <table>_periodic agrees: the last time enqueued, and its job.
  CHECK(scalar(conn, "SELECT count(*) FROM " + t.name() + "_periodic p WHERE p.name = 'noop' AND p.last_run_at = (SELECT "
                     "max(scheduled_at) FROM " + jobs + ") AND p.last_job_id = (SELECT id FROM " + jobs +
                     " ORDER BY scheduled_at DESC LIMIT 1)") == 1);
}

namespace {

struct MissedDaily {
  std::string cron;       // a daily time half an hour ago (UTC)
  std::string latest;     // that time today, as epoch seconds
};

MissedDaily seed_missed_daily(const std::string& table, const std::string& name) {
  auto conn = connect();
  MissedDaily m;
  m.cron = *scalar_text(conn, "SELECT to_char((now() - interval '30 minutes') AT TIME ZONE 'UTC', 'FMMI FMHH24') || ' * * *'");
  m.latest = std::to_string(scalar(
      conn, "SELECT extract(epoch FROM date_trunc('minute', now() - interval '30 minutes'))::int8"));
  // The last run three days before that: three daily times missed.
  conn.exec("INSERT INTO " + table + "_periodic (name, last_run_at) VALUES ($1, to_timestamp($2::int8) - interval '3 days')",
            {pgxq::pg::Param(name), pgxq::pg::Param(m.latest)});
  return m;
}

bool last_run_is(const std::string& table, const std::string& name, const std::string& epoch) {
  auto conn = connect();
  return scalar(conn, "SELECT count(*) FROM " + table + "_periodic WHERE name = $1 AND last_run_at = to_timestamp($2::int8)",
                {pgxq::pg::Param(name), pgxq::pg::Param(epoch)}) == 1;
}

}  // namespace

TEST_CASE("periodic: with catch_up, the missed times of an outage run once, for the latest") {
  TempTable t("per_catch");
  auto missed = seed_missed_daily(t.name(), "daily");
  TestConfig cfg(t.name(), periodic_config("[[periodic]]\nname = \"daily\"\nkind = \"noop\"\ncron = \"" + missed.cron + "\"\n"));
  Process p(run_argv(cfg.path));
  REQUIRE(wait_until([&] { return last_run_is(t.name(), "daily", missed.latest); }));
  REQUIRE(p.wait_for_output("3 scheduled time(s) missed"));
  CHECK(periodic_jobs(t.name(), "daily") == 1);
  CHECK(count_jobs(t.name(), "unique_key LIKE 'periodic:daily:%' AND scheduled_at = to_timestamp(" + missed.latest + ")") == 1);
  auto conn = connect();
  CHECK(scalar(conn, "SELECT count(*) FROM " + t.name() + "_periodic p JOIN " + t.name() +
                         " j ON j.id = p.last_job_id WHERE p.name = 'daily'") == 1);
  p.signal(SIGTERM);
  CHECK(p.wait() == std::optional<int>(0));
}

TEST_CASE("periodic: without catch_up, the missed times of an outage are skipped") {
  TempTable t("per_skip");
  auto missed = seed_missed_daily(t.name(), "daily");
  TestConfig cfg(t.name(), periodic_config("[[periodic]]\nname = \"daily\"\nkind = \"noop\"\ncron = \"" + missed.cron +
                                           "\"\ncatch_up = false\n"));
  Process p(run_argv(cfg.path));
  REQUIRE(wait_until([&] { return last_run_is(t.name(), "daily", missed.latest); }));
  REQUIRE(p.wait_for_output("skipped 3 missed run(s)"));
  CHECK(periodic_jobs(t.name(), "daily") == 0);
  p.signal(SIGTERM);
  CHECK(p.wait() == std::optional<int>(0));
}

TEST_CASE("periodic: a table below schema version 8 refuses to start with periodic entries, naming pgxqd migrate") {
  TempTable t("per_old");
  {
    auto conn = connect();
    conn.exec("DELETE FROM pgxq_schema_migrations WHERE job_table = $1 AND version >= 7", {pgxq::pg::Param(t.name())});
  }
  TestConfig cfg(t.name(), periodic_config("[[periodic]]\nkind = \"noop\"\nevery = \"1m\"\n"));
  Process p(run_argv(cfg.path));
  auto code = p.wait();
  REQUIRE(code);
  CHECK(*code == 78);
  CHECK(p.err().find("schema version 6") != std::string::npos);
  CHECK(p.err().find("pgxqd migrate --table " + t.name()) != std::string::npos);
  auto check = check_config({"--config", cfg.path});
  CHECK(check.code == 78);
  CHECK(check.err.find("pgxqd migrate --table " + t.name()) != std::string::npos);
  // Without periodic entries the same table starts.
  TestConfig plain(t.name());
  CHECK(check_config({"--config", plain.path}).code == 0);
}

TEST_CASE("periodic: check-config prints each entry's next three runs, in its time zone and UTC") {
  TempTable t("per_check");
  TestConfig cfg(t.name(), periodic_config("[[periodic]]\nname = \"nightly\"\nkind = \"noop\"\ncron = \"30 2 * * *\"\n"
                                           "timezone = \"Europe/Berlin\"\n\n[[periodic]]\nkind = \"noop\"\nevery = \"10m\"\n"));
  auto r = check_config({"--config", cfg.path, "--offline"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("nightly: kind noop, queue default, table " + t.name() + ", cron \"30 2 * * *\" (Europe/Berlin)") !=
        std::string::npos);
  CHECK(r.out.find("noop: kind noop, queue default, table " + t.name() + ", every 10m") != std::string::npos);
  size_t lines = 0;
  for (size_t at = r.out.find("      next: "); at != std::string::npos; at = r.out.find("      next: ", at + 1)) ++lines;
  CHECK(lines == 6);
  CHECK(r.out.find(" 02:30:00 CE") != std::string::npos);  // CET or CEST, then " = <UTC>"
  CHECK(r.out.find(":00Z\n") != std::string::npos);
}
