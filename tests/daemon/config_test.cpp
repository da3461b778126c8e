// Config reader: defaults, every key, and each kind of error naming the file, line, column and
// key and saying what was expected.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "app/options.hpp"
#include "config/config.hpp"
#include "config_load.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace std::chrono_literals;

namespace {

// The daemon's loading: keys a file leaves out take the engine's defaults.
std::shared_ptr<const config::Config> load_file(const std::string& path) {
  return config::load_file(path, app::config_defaults());
}

// The error text of loading `text` as "test.toml" ("" when it loads).
std::string error_of(const std::string& text) { return test::config_error(text, "/etc/pgxqd/test.toml"); }

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("config: empty file gives go-pgxq's defaults and one queue 'default'") {
  auto c = test::load_config("", "/etc/pgxqd/pgxqd.toml");
  CHECK(c->database.url.empty());
  CHECK(c->database.pool_size == 10);
  CHECK(c->worker.table == "pgxq_job");
  CHECK(c->worker.poll_interval == 1s);
  CHECK(c->worker.batch_size == 10);
  CHECK(c->worker.max_workers == 100);
  CHECK(c->worker.rescue_after == 1h);
  CHECK(c->worker.shutdown_timeout == 30s);
  CHECK(c->worker.cancel_grace == 5s);
  CHECK(c->backoff.initial == 1s);
  CHECK(c->backoff.max == 1h);
  CHECK(c->backoff.multiplier == 2.0);
  CHECK(c->backoff.jitter == doctest::Approx(0.2));
  REQUIRE(c->queues.size() == 1);
  CHECK(c->queues[0].name == "default");
  CHECK(c->plugins.dir == PGXQ_DEFAULT_PLUGIN_DIR);
  CHECK(c->log.level == config::LogLevel::info);
  CHECK(c->log.format == config::LogFormat::automatic);
}

TEST_CASE("config: keys a file leaves out take the defaults it is loaded with, in checks too") {
  config::Defaults d;
  d.pool_size = 3;
  d.worker.table = "other_job";
  d.worker.poll_interval = 7s;
  d.backoff.initial = 1s;
  d.backoff.max = 2s;
  d.backoff.multiplier = 1.5;
  auto c = config::load_string("[worker]\nbatch_size = 4\n", "f.toml", d);
  CHECK(c->database.pool_size == 3);
  CHECK(c->worker.table == "other_job");
  CHECK(c->worker.poll_interval == 7s);
  CHECK(c->worker.batch_size == 4);
  CHECK(c->backoff.multiplier == 1.5);
  CHECK(config::built_in(d)->worker.poll_interval == 7s);
  // The unset backoff.max is the default's 2s, which the initial given here exceeds.
  try {
    config::load_string("[backoff]\ninitial = \"3s\"\n", "f.toml", d);
    FAIL("expected a ConfigError");
  } catch (const config::ConfigError& e) {
    CHECK(contains(e.what(), "backoff.max: must be at least backoff.initial (3s), got 2s"));
  }
}

TEST_CASE("config: every key is read and mapped to engine and loader options") {
  auto c = test::load_config(R"(
[database]
url = "postgresql://app@db/jobs"
pool_size = 20

[worker]
table = "jobs.pgxq_job"
poll_interval = "250ms"
batch_size = 50
max_workers = 40
rescue_after = "10m"
shutdown_timeout = "1m"
cancel_grace = "2s"

[backoff]
initial = "100ms"
max = "5m"
multiplier = 3
jitter = 0.1

[queues.default]
max_workers = 8

[queues.mail]
max_workers = 2
table = "mail_job"

[plugins]
dir = "plugins"

[plugins.hello_c]
greeting = "hi"

[log]
level = "debug"
format = "json"
)",
                               "/etc/pgxqd/pgxqd.toml");
  CHECK(c->database.url == "postgresql://app@db/jobs");
  CHECK(c->worker.table == "jobs.pgxq_job");
  CHECK(c->worker.poll_interval == 250ms);
  CHECK(c->backoff.multiplier == 3.0);
  REQUIRE(c->queues.size() == 2);
  CHECK(c->plugins.dir == "/etc/pgxqd/plugins");  // relative to the config file
  REQUIRE(c->plugins.settings.count("hello_c") == 1);
  CHECK(c->plugins.settings.at("hello_c").table["greeting"].value_or(std::string()) == "hi");
  CHECK(c->plugins.settings.at("hello_c").pos.line == 31);
  CHECK(c->log.level == config::LogLevel::debug);
  CHECK(c->log.format == config::LogFormat::json);

  auto e = app::engine_options(*c, "dbname=x");
  CHECK(e.conninfo == "dbname=x");
  CHECK(e.pool_size == 20);
  CHECK(e.batch_size == 50);
  CHECK(e.max_workers == 40);
  CHECK(e.rescue_after == 10min);
  CHECK(e.shutdown_timeout == 1min);
  CHECK(e.cancel_grace == 2s);
  CHECK(e.backoff.initial == 100ms);
  CHECK(e.backoff.jitter == doctest::Approx(0.1));
  REQUIRE(e.queues.size() == 2);
  bool saw_mail = false;
  for (auto& q : e.queues)
    if (q.name == "mail") {
      saw_mail = true;
      CHECK(q.max_workers == 2);
      CHECK(q.table == "mail_job");
    }
  CHECK(saw_mail);

  auto l = app::loader_options(*c, nullptr);
  CHECK(l.dir == "/etc/pgxqd/plugins");
  CHECK(l.settings.count("hello_c") == 1);
  CHECK(c->where("worker.batch_size") == "/etc/pgxqd/pgxqd.toml:9:14");
}

TEST_CASE("config: unknown key names file, line, column, key and suggests the closest") {
  auto e = error_of("[worker]\nbatch_size = 5\npol_interval = \"1s\"\n");
  CHECK(contains(e, "/etc/pgxqd/test.toml:3:1: worker.pol_interval: unknown key \"pol_interval\" in [worker]"));
  CHECK(contains(e, "did you mean \"poll_interval\"?"));
  CHECK(contains(e, "valid keys:"));
}

TEST_CASE("config: unknown section suggests the closest, far-off names get no suggestion") {
  auto e = error_of("[wroker]\nmax_workers = 3\n");
  CHECK(contains(e, "test.toml:1:2: wroker: unknown section [wroker]; did you mean \"worker\"?"));
  auto f = error_of("[zzzzzzzz]\n");
  CHECK(contains(f, "unknown section [zzzzzzzz]"));
  CHECK_FALSE(contains(f, "did you mean"));
  auto g = error_of("[log]\nlevel = \"warnings\"\n");
  CHECK(contains(g, "test.toml:2:9: log.level: unknown log level \"warnings\"; did you mean \"warning\"?"));
}

TEST_CASE("config: wrong types say what was expected and what was found") {
  auto e = error_of("[worker]\nmax_workers = \"ten\"\n");
  CHECK(contains(e, "test.toml:2:15: worker.max_workers: expected an integer from 1 to 10000, got a string \"ten\""));
  auto d = error_of("[worker]\npoll_interval = 5\n");
  CHECK(contains(d, "test.toml:2:17: worker.poll_interval: expected a positive duration string"));
  CHECK(contains(d, "got an integer 5"));
  auto u = error_of("[database]\nurl = 5432\n");
  CHECK(contains(u, "test.toml:2:7: database.url: expected a string, got an integer 5432"));
  auto s = error_of("worker = 3\n");
  CHECK(contains(s, "test.toml:1:1: worker: expected a table [worker]"));
  auto m = error_of("[backoff]\nmultiplier = \"2\"\n");
  CHECK(contains(m, "backoff.multiplier: expected a number from 1 to 1000"));
}

TEST_CASE("config: zero, negative and malformed durations") {
  CHECK(contains(error_of("[worker]\npoll_interval = \"0s\"\n"), "test.toml:2:17: worker.poll_interval: expected a positive duration"));
  CHECK(contains(error_of("[worker]\nrescue_after = \"-5m\"\n"), "worker.rescue_after: invalid duration \"-5m\": durations cannot be negative"));
  CHECK(contains(error_of("[backoff]\ninitial = \"1 s\"\n"), "test.toml:2:11: backoff.initial: invalid duration"));
  CHECK(contains(error_of("[backoff]\ninitial = \"5\"\n"), "a unit is missing"));
  CHECK(error_of("[worker]\nshutdown_timeout = \"0s\"\n").empty());  // zero allowed: release at once
  CHECK(contains(error_of("[backoff]\ninitial = \"10s\"\nmax = \"1s\"\n"), "backoff.max: must be at least backoff.initial (10s), got 1s"));
}

TEST_CASE("config: out-of-range numbers") {
  CHECK(contains(error_of("[worker]\nbatch_size = 0\n"), "worker.batch_size: expected an integer from 1 to 10000, got 0"));
  CHECK(contains(error_of("[database]\npool_size = -1\n"), "database.pool_size: expected an integer from 1 to 1000, got -1"));
  CHECK(contains(error_of("[backoff]\njitter = 1.5\n"), "backoff.jitter: expected a number from 0 to 0.99, got 1.5"));
  CHECK(contains(error_of("[queues.q]\nmax_workers = 0\n"), "queues.q.max_workers: expected an integer from 1 to 10000, got 0"));
}

TEST_CASE("config: bad table names, including injection attempts, are refused before any SQL") {
  for (const char* bad : {"pgxq_job; drop table x", "Jobs", "1job", "a.b.c", "", "job'", ".job", "job."}) {
    std::string text = std::string("[worker]\ntable = \"") + bad + "\"\n";
    auto e = error_of(text);
    INFO(bad, " -> ", e);
    CHECK(contains(e, "test.toml:2:9: worker.table: invalid table name"));
  }
  auto q = error_of("[queues.mail]\ntable = \"x;drop\"\n");
  CHECK(contains(q, "test.toml:2:9: queues.mail.table: invalid table name \"x;drop\""));
  CHECK(error_of("[worker]\ntable = \"app.jobs_2\"\n").empty());
}

TEST_CASE("config: duplicate queue names are refused with their line") {
  auto e = error_of("[queues.mail]\nmax_workers = 1\n[queues.mail]\nmax_workers = 2\n");
  CHECK(contains(e, "test.toml:3:"));
  CHECK(contains(e, "queue names must be unique"));
  auto f = error_of("[queues.mail]\nmax_workers = 1\n[queues.\"mail\"]\nmax_workers = 2\n");
  CHECK(contains(f, "test.toml:3:"));
  CHECK(contains(e, "invalid TOML"));
  auto g = error_of("[queues]\nmail = 3\n");
  CHECK(contains(g, "test.toml:2:1: queues.mail: expected a table [queues.mail] with max_workers, got an integer 3"));
}

TEST_CASE("config: plugin settings, plugin dir, log format") {
  auto c = test::load_config("[plugins]\ndir = \"/opt/p\"\n[plugins.matview]\nx = 1\n", "f.toml");
  CHECK(c->plugins.dir == "/opt/p");
  CHECK(c->plugins.settings.count("matview") == 1);
  CHECK(contains(error_of("[plugins]\ndri = \"/x\"\n"), "test.toml:2:1: plugins.dri: unknown key \"dri\" in [plugins]; did you mean \"dir\"?"));
  CHECK(contains(error_of("[plugins]\ndir = 3\n"), "plugins.dir: expected a string (a directory path), got an integer 3"));
  CHECK(contains(error_of("[log]\nformat = \"jsn\"\n"), "log.format: unknown log format \"jsn\"; did you mean \"json\"?"));
}

TEST_CASE("config: all problems are reported, not just the first") {
  try {
    test::load_config("[worker]\nbatch_size = 0\nmax_workers = 0\n[nope]\n", "x.toml");
    FAIL("expected an error");
  } catch (const config::ConfigError& e) {
    CHECK(e.problems().size() == 3);
  }
}

TEST_CASE("config: invalid TOML names the line") {
  auto e = error_of("[worker]\nmax_workers = = 3\n");
  CHECK(contains(e, "test.toml:2:"));
  CHECK(contains(e, "invalid TOML"));
}

TEST_CASE("config: missing and unreadable files") {
  try {
    load_file("/nonexistent/dir/pgxqd.toml");
    FAIL("expected an error");
  } catch (const config::ConfigError& e) {
    CHECK(contains(e.what(), "/nonexistent/dir/pgxqd.toml: config file not found"));
  }
  auto dir = test::temp_dir("pgxq-config");
  try {
    load_file(dir);
    FAIL("expected an error");
  } catch (const config::ConfigError& e) {
    CHECK(contains(e.what(), "is a directory"));
  }
  auto path = dir + "/pgxqd.toml";
  test::write_file(path, "[worker]\nmax_workers = 3\n");
  CHECK(load_file(path)->worker.max_workers == 3);
  if (geteuid() != 0) {  // root reads everything, so the refusal cannot be observed as root
    chmod(path.c_str(), 0);
    try {
      load_file(path);
      FAIL("expected an error");
    } catch (const config::ConfigError& e) {
      CHECK(contains(e.what(), path + ": cannot read the config file: Permission denied"));
    }
  }
  unlink(path.c_str());
  rmdir(dir.c_str());
}

TEST_CASE("config: did-you-mean distance") {
  CHECK(config::closest("max_worker", {"max_workers", "batch_size"}) == "max_workers");
  CHECK(config::closest("Poll-Interval", {"poll_interval"}) == "poll_interval");
  CHECK(config::closest("xyz", {"poll_interval"}).empty());
}
