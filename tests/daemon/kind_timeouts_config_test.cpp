// [worker] job_timeout and [kinds.<kind>] timeout: read, mapped to the engine's options, and
// refused with file, line and key when a kind name or key is wrong or a timeout is not below
// rescue_after; the settings of kinds no loaded plugin registered are a warning.
#include <doctest/doctest.h>

#include <string>

#include "app/kind_settings.hpp"
#include "app/options.hpp"
#include "app/reload.hpp"
#include "config/config.hpp"
#include "config_load.hpp"

using namespace pgxq;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<const config::Config> load(const std::string& text) { return test::load_config(text, "/etc/pgxqd/k.toml"); }
std::string error_of(const std::string& text) { return test::config_error(text, "/etc/pgxqd/k.toml"); }

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("kind timeouts config: off by default, as in go-pgxq") {
  auto c = load("");
  CHECK(c->worker.job_timeout == 0ms);
  CHECK(c->kinds.empty());
  const auto o = app::engine_options(*c, "");
  CHECK_FALSE(o.job_timeout.enabled());
  CHECK(o.kind_timeouts.empty());
}

TEST_CASE("kind timeouts config: job_timeout is the default and a kind's timeout overrides it, \"0s\" turning it off") {
  auto c = load("[worker]\njob_timeout = \"90s\"\n\n[kinds.sleep]\ntimeout = \"1s\"\n\n[kinds.\"mail.send\"]\ntimeout = "
                "\"0s\"\n\n[kinds.report]\n");
  CHECK(c->worker.job_timeout == 90s);
  REQUIRE(c->kinds.size() == 3);
  CHECK(c->kinds.at("sleep").timeout == 1s);
  CHECK(c->kinds.at("mail.send").timeout == 0s);
  CHECK_FALSE(c->kinds.at("report").timeout.has_value());
  CHECK(c->kinds.at("sleep").pos.line == 4);

  const auto o = app::engine_options(*c, "");
  CHECK(o.job_timeout.limit == 90s);
  CHECK(o.job_timeout.error() == "timeout after 90s");  // as written, not "1m30s"
  const auto& sleep = queue::timeout_for("sleep", o.job_timeout, o.kind_timeouts);
  CHECK(sleep.limit == 1s);
  CHECK(sleep.error() == "timeout after 1s");
  CHECK_FALSE(queue::timeout_for("mail.send", o.job_timeout, o.kind_timeouts).enabled());
  // A table without timeout leaves the default in force.
  CHECK(queue::timeout_for("report", o.job_timeout, o.kind_timeouts).limit == 90s);
  CHECK(queue::timeout_for("other", o.job_timeout, o.kind_timeouts).limit == 90s);
}

TEST_CASE("kind timeouts config: an unknown key in [kinds.<kind>] names file, line and key, with a suggestion") {
  auto e = error_of("[kinds.sleep]\ntimeot = \"1s\"\n");
  CHECK(contains(e, "/etc/pgxqd/k.toml:2:1: kinds.sleep.timeot: unknown key \"timeot\" in [kinds.sleep]; did you mean "
                    "\"timeout\"?"));
  // An unquoted dotted kind is a kind holding a table: the message says how to quote it.
  CHECK(contains(error_of("[kinds.mail.send]\ntimeout = \"1s\"\n"),
                 "k.toml:1:13: kinds.mail.send: read as kind \"mail\" holding a table \"send\"; a kind with a dot is "
                 "quoted: [kinds.\"mail.send\"]"));
  auto q = error_of("[kinds.\"mail.send\"]\nretries = 3\n");
  CHECK(contains(q, "/etc/pgxqd/k.toml:2:1: kinds.\"mail.send\".retries: unknown key \"retries\""));
}

TEST_CASE("kind timeouts config: bad values and kind names are refused with file, line and key") {
  CHECK(contains(error_of("[kinds.sleep]\ntimeout = 30\n"),
                 "k.toml:2:11: kinds.sleep.timeout: expected a duration string"));
  CHECK(contains(error_of("[kinds.sleep]\ntimeout = \"30 parsecs\"\n"), "k.toml:2:11: kinds.sleep.timeout:"));
  CHECK(contains(error_of("[worker]\njob_timeout = \"-1s\"\n"), "k.toml:2:15: worker.job_timeout:"));
  CHECK(contains(error_of("[kinds]\nsleep = \"1s\"\n"),
                 "k.toml:2:1: kinds.sleep: expected a table [kinds.sleep] with timeout, got a string \"1s\""));
  CHECK(contains(error_of("[kinds.\"\"]\ntimeout = \"1s\"\n"), "kinds.\"\": a kind must not be empty"));
  CHECK(contains(error_of("[kinds.\"a\\u0001b\"]\ntimeout = \"1s\"\n"), "a kind must not contain control characters"));
  CHECK(contains(error_of("[kinds.\"" + std::string(201, 'k') + "\"]\ntimeout = \"1s\"\n"),
                 "a kind must be at most 200 bytes (got 201)"));
  CHECK(error_of("[kinds.\"" + std::string(200, 'k') + "\"]\ntimeout = \"1s\"\n").empty());
  CHECK(error_of("[kinds.\"Mail Send ✉\"]\ntimeout = \"1s\"\n").empty());
}

TEST_CASE("kind timeouts config: a timeout at or above rescue_after is refused, saying why") {
  const std::string why = "a job still running at rescue_after is rescued and run a second time while its first run "
                          "goes on";
  auto e = error_of("[worker]\nrescue_after = \"10m\"\n\n[kinds.sleep]\ntimeout = \"10m\"\n");
  CHECK(contains(e, "/etc/pgxqd/k.toml:5:11: kinds.sleep.timeout: \"10m\" is not below [worker] rescue_after (10m): " +
                        why));
  // Against the default rescue_after (1h) too, and for the default timeout.
  auto d = error_of("[worker]\njob_timeout = \"2h\"\n");
  CHECK(contains(d, "/etc/pgxqd/k.toml:2:15: worker.job_timeout: \"2h\" is not below [worker] rescue_after (1h): " + why));
  auto q = error_of("[kinds.\"mail.send\"]\ntimeout = \"61m\"\n");
  CHECK(contains(q, "k.toml:2:11: kinds.\"mail.send\".timeout: \"61m\" is not below"));
  // Below it, and "0s" (off) whatever rescue_after is, are fine.
  CHECK(error_of("[worker]\nrescue_after = \"10m\"\njob_timeout = \"9m59s\"\n[kinds.sleep]\ntimeout = \"0s\"\n").empty());
}

TEST_CASE("kind timeouts config: a changed timeout needs a restart (SIGHUP names it)") {
  auto running = load("[worker]\njob_timeout = \"10s\"\n[kinds.sleep]\ntimeout = \"1s\"\n");
  auto same = app::plan_reload(*running, *load("[worker]\njob_timeout = \"10s\"\n[kinds.sleep]\ntimeout = \"1s\"\n"));
  CHECK(same.needs_restart.empty());
  auto plan = app::plan_reload(*running, *load("[worker]\njob_timeout = \"20s\"\n[kinds.sleep]\ntimeout = \"2s\"\n"));
  CHECK(plan.needs_restart == std::vector<std::string>{"worker.job_timeout", "kinds.<kind> timeout"});
}

TEST_CASE("kind timeouts config: settings for a kind no plugin registered are a warning naming file and line") {
  auto c = load("[kinds.sleep]\ntimeout = \"1s\"\n\n[kinds.slep]\ntimeout = \"1s\"\n\n[kinds.\"mail.send\"]\n");
  auto warnings = app::unregistered_kind_warnings(*c, {"noop", "sleep"});
  REQUIRE(warnings.size() == 2);
  CHECK(contains(warnings[0], "/etc/pgxqd/k.toml:7:8: [kinds.\"mail.send\"]: no plugin loaded here registered the kind "
                              "\"mail.send\", so these settings do nothing in this daemon"));
  CHECK(contains(warnings[1], "/etc/pgxqd/k.toml:4:8: [kinds.\"slep\"]: no plugin loaded here registered the kind"));
  CHECK(contains(warnings[1], "did you mean \"sleep\"?"));
  CHECK(app::unregistered_kind_warnings(*c, {"sleep", "slep", "mail.send"}).empty());
}
