// [[periodic]] in the config: what the reader accepts, the defaults, and errors that name file,
// line and key (the reader's own, and the app's for cron expressions and time zones).
#include <doctest/doctest.h>

#include <algorithm>

#include "app/options.hpp"
#include "app/reload.hpp"
#include "config/config.hpp"
#include "queue/periodic.hpp"

using pgxq::app::config_defaults;
using pgxq::config::ConfigError;
using pgxq::config::load_string;

namespace {

// Every problem of `text` as "<line>: <key>: <message>", from the reader or the app's mapping.
std::vector<std::string> problems(const std::string& text) {
  std::vector<std::string> out;
  try {
    auto cfg = load_string(text, "p.toml", config_defaults());
    pgxq::app::periodic_entries(*cfg);
  } catch (const ConfigError& e) {
    for (const auto& p : e.problems()) {
      CHECK(p.file == "p.toml");
      out.push_back(std::to_string(p.pos.line) + ": " + p.key + ": " + p.message);
    }
  }
  return out;
}

bool has(const std::vector<std::string>& all, const std::string& needle) {
  for (const auto& p : all)
    if (p.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("periodic config: entries, defaults, and the job table of each") {
  auto cfg = load_string(R"([queues.mail]
table = "mail_jobs"

[[periodic]]
kind = "cleanup"
every = "10m"

[[periodic]]
name = "nightly-report"
kind = "report"
args = { format = "pdf", days = 7 }
queue = "mail"
priority = -5
max_attempts = 2
cron = "30 2 * * MON-FRI"
timezone = "Europe/Berlin"
catch_up = false
)",
                         "p.toml", config_defaults());
  REQUIRE(cfg->periodic.size() == 2);
  const auto& a = cfg->periodic[0];
  CHECK(a.name == "cleanup");
  CHECK(a.args == "{}");
  CHECK(a.queue == "default");
  CHECK(a.priority == 0);
  CHECK(a.max_attempts == 5);
  CHECK(a.every == std::chrono::minutes(10));
  CHECK(a.catch_up);
  const auto& b = cfg->periodic[1];
  CHECK(b.name == "nightly-report");
  CHECK(b.args.find("\"format\"") != std::string::npos);
  CHECK(b.args.find("\"pdf\"") != std::string::npos);
  CHECK(b.timezone == "Europe/Berlin");
  CHECK_FALSE(b.catch_up);
  auto engine = pgxq::app::engine_options(*cfg, "");
  REQUIRE(engine.periodic.size() == 2);
  CHECK(pgxq::queue::periodic_table(engine, engine.periodic[0]) == "pgxq_job");
  CHECK(pgxq::queue::periodic_table(engine, engine.periodic[1]) == "mail_jobs");
  CHECK(engine.periodic[1].schedule->describe() == "cron \"30 2 * * MON-FRI\" (Europe/Berlin)");
  CHECK(engine.periodic[1].priority == -5);
}

TEST_CASE("periodic config: errors name file, line and key") {
  auto p = problems(R"([[periodic]]
kind = "a"
cron = "*/0 * * * *"
timezone = "Mars/Olympus"

[[periodic]]
kind = "b"
cron = "0 3 * * *"
every = "1h"

[[periodic]]
kind = "c"
evry = "1h"

[[periodic]]
name = "has space"
kind = "d"
every = "1500ms"
)");
  CHECK(has(p, "13: periodic[2].evry: unknown key \"evry\" in [periodic[2]]; did you mean \"every\"?"));
  CHECK(has(p, "11: periodic[2]: missing a schedule"));
  CHECK(has(p, "9: periodic[1].every: set either cron or every, not both (cron at line 8)"));
  CHECK(has(p, "16: periodic[3].name: \"has space\" is not a valid entry name"));
  CHECK(has(p, "18: periodic[3].every: expected whole seconds, at least 1s"));
  // The reader's problems come first; the cron check runs on a file the reader accepted.
  p = problems(R"([[periodic]]
kind = "a"
cron = "*/0 * * * *"
timezone = "Mars/Olympus"
)");
  CHECK(has(p, "3: periodic[0].cron: invalid cron expression \"*/0 * * * *\": minute field \"*/0\" at column 3: a step "
               "must be at least 1, got 0"));
  CHECK(has(p, "4: periodic[0].timezone: unknown time zone \"Mars/Olympus\""));
}

TEST_CASE("periodic config: names are unique, kind is required, maintenance must be on") {
  auto p = problems(R"([maintenance]
enabled = false

[[periodic]]
kind = "a"
every = "1m"

[[periodic]]
kind = "a"
cron = "@daily"

[[periodic]]
every = "1m"
timezone = "UTC"
)");
  CHECK(has(p, "8: periodic[1].name: \"a\" is already the name of periodic[0]"));
  CHECK(has(p, "12: periodic[2].kind: missing"));
  CHECK(has(p, "14: periodic[2].timezone: applies to cron only"));
  CHECK(has(p, "2: maintenance.enabled: is false, but there are [[periodic]] entries (the first at line 4)"));
  p = problems("[periodic]\nkind = \"a\"\n");
  CHECK(has(p, "1: periodic: expected entries written as [[periodic]] tables"));
}

TEST_CASE("periodic config: a changed entry needs a restart, a moved one does not") {
  const std::string entry = "[[periodic]]\nkind = \"a\"\nevery = \"1m\"\n";
  auto running = load_string(entry, "p.toml", config_defaults());
  auto moved = load_string("\n\n# moved down\n" + entry, "p.toml", config_defaults());
  auto changed = load_string("[[periodic]]\nkind = \"a\"\nevery = \"2m\"\n", "p.toml", config_defaults());
  auto needs = [](const pgxq::app::ReloadPlan& plan) {
    return std::find(plan.needs_restart.begin(), plan.needs_restart.end(), "periodic") != plan.needs_restart.end();
  };
  CHECK_FALSE(needs(pgxq::app::plan_reload(*running, *moved)));
  CHECK(needs(pgxq::app::plan_reload(*running, *changed)));
  CHECK(needs(pgxq::app::plan_reload(*running, *load_string("", "p.toml", config_defaults()))));
}
