// End-to-end: the short commands — check-config exit codes, enqueue options and --stdin read
// back from the table, usage errors, schema/migrate, version, the example config and the
// systemd units.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>

#include "e2e.hpp"

using namespace pgxq::test;
namespace pg = pgxq::pg;

namespace {
bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }
}  // namespace

TEST_CASE("check-config: 0 when run would start, 78 for a bad config or a bad plugin dir") {
  TempTable t("e2e_check");
  TestConfig cfg(t.name());
  auto ok = check_config({"--config", cfg.path});
  CHECK(ok.code == 0);
  CHECK(has(ok.out, ": OK"));
  CHECK(has(ok.out, "testkit"));
  CHECK(has(ok.out, "job table present"));

  TestConfig bad(t.name(), "[worker2]\n");
  auto b = check_config({"--config", bad.path});
  CHECK(b.code == 78);
  CHECK(has(b.err, bad.path + ":11:2: worker2: unknown section [worker2]; did you mean \"worker\"?"));

  auto missing = check_config({"--config", cfg.dir + "/nope.toml"});
  CHECK(missing.code == 78);
  CHECK(has(missing.err, cfg.dir + "/nope.toml: config file not found"));

  auto nodir = check_config({"--config", cfg.path, "--plugins-dir", cfg.dir + "/no-such-dir"});
  CHECK(nodir.code == 78);
  CHECK(has(nodir.err, "no-such-dir"));

  // A plugin dir others can write to is refused: anyone could drop code into the daemon.
  auto open_dir = cfg.dir + "/open-plugins";
  std::filesystem::create_directory(open_dir);
  std::filesystem::copy_file(plugin_dir() + "/testkit.so", open_dir + "/testkit.so");
  chmod(open_dir.c_str(), 0777);
  auto w = check_config({"--config", cfg.path, "--plugins-dir", open_dir});
  CHECK(w.code == 78);

  auto table = check_config({"--config", TestConfig(unique_name("e2e_nt")).path});
  CHECK(table.code == 1);
  CHECK(has(table.err, "pgxqd migrate --table"));

  auto settings = check_config({"--config", TestConfig(t.name(), "[plugins.no_such_plugin]\nx = 1\n").path});
  CHECK(settings.code == 78);
  CHECK(has(settings.err, ":11:"));
  CHECK(has(settings.err, "plugins.no_such_plugin: [plugins.no_such_plugin]"));
}

TEST_CASE("the example config passes check-config") {
  auto r = check_config({"--config", source_dir() + "/config/pgxqd.toml", "--plugins-dir", plugin_dir(), "--offline"});
  INFO(r.out, r.err);
  CHECK(r.code == 0);
}

TEST_CASE("enqueue: options land in the row and the id is printed") {
  TempTable t("e2e_enq");
  auto r = run({pgxqd(), "enqueue", "hello", R"({"name":"world"})", "--table", t.name(), "--queue", "mail", "--priority", "7",
                "--max-attempts", "3", "--in", "1h"});
  REQUIRE(r.code == 0);
  auto id = std::stoll(r.out);
  auto conn = connect();
  auto row = conn.exec("SELECT kind, args->>'name', queue, priority, max_attempts, state, "
                       "scheduled_at > now() + interval '50 minutes' FROM " + t.name() + " WHERE id = $1",
                       {pg::Param(std::to_string(id))});
  REQUIRE(row.rows() == 1);
  CHECK(row.text(0, 0) == "hello");
  CHECK(row.text(0, 1) == "world");
  CHECK(row.text(0, 2) == "mail");
  CHECK(row.text(0, 3) == "7");
  CHECK(row.text(0, 4) == "3");
  CHECK(row.text(0, 5) == "available");
  CHECK(row.text(0, 6) == "t");

  auto at = run({pgxqd(), "enqueue", "noop", "--table", t.name(), "--at", "2031-01-02 03:04:05+00"});
  REQUIRE(at.code == 0);
  CHECK(scalar_text(conn, "SELECT scheduled_at = '2031-01-02 03:04:05+00' FROM " + t.name() + " WHERE id = $1",
                    {pg::Param(std::to_string(std::stoll(at.out)))}) == "t");
  auto plain = run({pgxqd(), "enqueue", "noop", "--table", t.name()});
  REQUIRE(plain.code == 0);
  CHECK(scalar_text(conn, "SELECT queue || ',' || priority || ',' || max_attempts || ',' || args::text FROM " + t.name() +
                              " WHERE id = $1",
                    {pg::Param(std::to_string(std::stoll(plain.out)))}) == "default,0,5,{}");
}

TEST_CASE("enqueue: bad input is a usage error (64) and inserts nothing") {
  TempTable t("e2e_enq_bad");
  std::vector<std::vector<std::string>> cases = {
      {"hello", "{not json"},
      {"hello", "[1,2]"},
      {"hello", "--in", "5"},
      {"hello", "--in", "-1s"},
      {"hello", "--in", "1s", "--at", "2031-01-01"},
      {"hello", "--at", "not a time"},
      {"hello", "--priority", "100000"},
      {"hello", "--max-attempts", "0"},
      {"hello", "--priority", "abc"},
      {"hello", "--bogus-flag"},
      {"hello", "--table", "x; drop table y"},
      {},
  };
  for (auto args : cases) {
    std::vector<std::string> argv{pgxqd(), "enqueue"};
    argv.insert(argv.end(), args.begin(), args.end());
    if (std::find(args.begin(), args.end(), "--table") == args.end()) {
      argv.push_back("--table");
      argv.push_back(t.name());
    }
    auto r = run(argv);
    INFO(r.err);
    CHECK(r.code == 64);
    CHECK(!r.err.empty());
  }
  CHECK(count_jobs(t.name(), "true") == 0);
  auto unknown = run({pgxqd(), "frobnicate"});
  CHECK(unknown.code == 64);
}

TEST_CASE("enqueue --stdin: batch insert read back, a bad line names its number and inserts nothing") {
  TempTable t("e2e_stdin");
  std::string input;
  for (int i = 0; i < 2500; ++i) input += R"({"kind":"noop","args":{"i":)" + std::to_string(i) + "}}\n";
  input += "\n";  // blank lines are skipped
  input += R"({"kind":"hello","args":{"name":"x"},"queue":"q2","priority":-3,"max_attempts":9})" "\n";
  auto r = run({pgxqd(), "enqueue", "--stdin", "--table", t.name()}, {}, input);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "2501\n");
  CHECK(count_jobs(t.name(), "kind = 'noop'") == 2500);
  CHECK(count_jobs(t.name(), "kind = 'hello' AND queue = 'q2' AND priority = -3 AND max_attempts = 9 AND args->>'name' = 'x'") == 1);

  TempTable t2("e2e_stdin_bad");
  for (auto bad : {R"({"kind":"noop","args":[1]})", R"({"kind":"noop","colour":"red"})", "{oops", R"({"args":{}})"}) {
    std::string in = std::string(R"({"kind":"noop"})") + "\n" + R"({"kind":"noop"})" + "\n" + bad + "\n" + R"({"kind":"noop"})" + "\n";
    auto b = run({pgxqd(), "enqueue", "--stdin", "--table", t2.name()}, {}, in);
    INFO(bad, " -> ", b.err);
    CHECK(b.code == 64);
    CHECK(has(b.err, "stdin line 3"));
    CHECK(has(b.err, "nothing was inserted"));
  }
  CHECK(count_jobs(t2.name(), "true") == 0);
}

TEST_CASE("enqueue --stdin: libpgxq judges the values, and its refusal names the line, also past the first batch") {
  TempTable t("e2e_stdin_values");
  struct Case {
    std::string line, message;
  };
  for (const Case& c : {Case{R"({"kind":"noop","max_attempts":0})", "max_attempts must be at least 1, got 0"},
                        Case{R"({"kind":"noop","priority":40000})", "priority 40000 is out of range"},
                        Case{R"({"kind":"noop","queue":""})", "queue must not be empty"},
                        Case{R"({"kind":"noop","args":[1]})", "args must be a JSON object"},
                        Case{R"({"kind":""})", "kind must not be empty"}}) {
    std::string in;
    for (int i = 0; i < 1499; ++i) in += R"({"kind":"noop"})" "\n";
    in += c.line + "\n" + R"({"kind":"noop"})" + "\n";
    auto r = run({pgxqd(), "enqueue", "--stdin", "--table", t.name()}, {}, in);
    INFO(c.line, " -> ", r.err);
    CHECK(r.code == 64);
    CHECK(has(r.err, "stdin line 1500: " + c.message));
    CHECK(has(r.err, "nothing was inserted"));
  }
  CHECK(count_jobs(t.name(), "true") == 0);
}

TEST_CASE("check-config reads the table's schema version from the migrations ledger, as run does") {
  TempTable t("e2e_ledger");
  TestConfig cfg(t.name());
  auto conn = connect();
  const std::string latest = std::to_string(scalar(conn, "SELECT max(version) FROM pgxq_schema_migrations WHERE job_table = $1", {t.name()}));
  REQUIRE(latest != "0");

  auto current = check_config({"--config", cfg.path});
  CHECK(current.code == 0);
  CHECK(has(current.out, t.name() + ": schema version " + latest + " of " + latest));
  CHECK_FALSE(has(current.out, "warning:"));

  // The ledger decides, not the catalog: with migrations 2.. unrecorded, the trigger and the
  // index still exist but the table reads as version 1, with a warning for each.
  conn.exec("DELETE FROM pgxq_schema_migrations WHERE job_table = $1 AND version >= 2", {t.name()});
  auto behind = check_config({"--config", cfg.path});
  CHECK(behind.code == 0);
  CHECK(has(behind.out, t.name() + ": schema version 1 of " + latest));
  CHECK(has(behind.out, "warning: job table " + t.name() + " is at schema version 1 of " + latest +
                            ": claims do not use the claim index of migration 4"));
  CHECK(has(behind.out, ": without the NOTIFY trigger of migration 2 new jobs are found by polling"));

  auto migrated = run({pgxqd(), "migrate", "--table", t.name()});
  CHECK(migrated.code == 0);
  auto again = check_config({"--config", cfg.path});
  CHECK(has(again.out, t.name() + ": schema version " + latest + " of " + latest));
  CHECK_FALSE(has(again.out, "warning:"));
}

TEST_CASE("check-config checks the tables run works: a worker table every queue overrides need not exist") {
  TempTable t("e2e_own");
  TestConfig cfg(unique_name("e2e_unused"), "\n[queues.default]\ntable = \"" + t.name() + "\"\n");
  auto r = check_config({"--config", cfg.path});
  CHECK(r.code == 0);
  CHECK(has(r.out, t.name() + ": schema version"));
}

TEST_CASE("enqueue: bad input is a usage error (64) even when the database is down") {
  auto r = run({pgxqd(), "enqueue", "noop", "[1,2]"}, {{"PGHOST", "/nonexistent"}});
  CHECK(r.code == 64);
  CHECK(has(r.err, "JSON object"));
  auto down = run({pgxqd(), "enqueue", "noop", "{}"}, {{"PGHOST", "/nonexistent"}});
  CHECK(down.code == 69);
}

TEST_CASE("migrate and schema: idempotent migrate, schema printed without a database") {
  auto name = unique_name("e2e_mig");
  auto m1 = run({pgxqd(), "migrate", "--table", name});
  CHECK(m1.code == 0);
  auto m2 = run({pgxqd(), "migrate", "--table", name});
  CHECK(m2.code == 0);
  CHECK(count_jobs(name, "true") == 0);
  auto conn = connect();
  conn.exec("DROP TABLE " + name + " CASCADE");

  auto s = run({pgxqd(), "schema", "--table", "app.jobs"}, {{"PGHOST", "/nonexistent"}});
  CHECK(s.code == 0);
  CHECK(has(s.out, "CREATE TABLE IF NOT EXISTS"));
  CHECK(has(s.out, "idx_app_jobs_fetch"));
  auto bad = run({pgxqd(), "schema", "--table", "pgxq_job; drop table x"});
  CHECK(bad.code == 64);
}

TEST_CASE("version and --help on every command") {
  auto v = run({pgxqd(), "version"});
  CHECK(v.code == 0);
  CHECK(has(v.out, "pgxqd " PGXQ_VERSION));
  CHECK(has(v.out, "plugin ABI 1."));
  for (auto cmd : {"run", "migrate", "schema", "enqueue", "check-config", "version"}) {
    auto h = run({pgxqd(), cmd, "--help"});
    INFO(cmd);
    CHECK(h.code == 0);
    CHECK(has(h.out, "Example"));
  }
}

TEST_CASE("systemd units pass systemd-analyze verify") {
  if (std::system("command -v systemd-analyze >/dev/null 2>&1") != 0) {
    MESSAGE("systemd-analyze not installed: skipped");
    return;
  }
  auto dir = temp_dir("pgxqd-units");
  for (auto unit : {"pgxqd.service", "pgxqd@.service"}) {
    // Point ExecStart at the built binary: verify checks that the command exists.
    auto text = read_file(source_dir() + "/systemd/" + unit);
    for (size_t at = text.find("/usr/bin/pgxqd"); at != std::string::npos; at = text.find("/usr/bin/pgxqd", at + 1))
      text.replace(at, 14, pgxqd());
    write_file(dir + "/" + unit, text);
  }
  for (auto unit : {"pgxqd.service", "pgxqd@test.service"}) {
    std::string target = std::string(unit) == "pgxqd@test.service" ? dir + "/pgxqd@.service" : dir + "/" + unit;
    if (std::string(unit) == "pgxqd@test.service") {
      std::filesystem::copy_file(target, dir + "/pgxqd@test.service");
      target = dir + "/pgxqd@test.service";
    }
    auto r = run({"systemd-analyze", "verify", "--man=no", target}, {{"SYSTEMD_LOG_LEVEL", "warning"}});
    INFO(unit, r.out, r.err);
    CHECK(r.code == 0);
    // Noise about the host (no running systemd, no user 'pgxqd') is fine; complaints about our unit are not.
    CHECK_FALSE(has(r.err, "Unknown key"));
    CHECK_FALSE(has(r.err, "Unknown lvalue"));
    CHECK_FALSE(has(r.err, "Failed to parse"));
    CHECK_FALSE(has(r.err, "is not executable"));
  }
  if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
  }
}
