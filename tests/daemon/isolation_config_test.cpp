// [plugins.<name>] isolation, processes, memory_limit and cpu_limit: read, taken out of the table
// the plugin sees, refused with file, line and key when wrong or set without isolation =
// "process", mapped onto what a worker is told, and reported by reload as needing a restart.
#include <doctest/doctest.h>

#include <string>

#include "app/isolated_plugins.hpp"
#include "app/options.hpp"
#include "app/reload.hpp"
#include "config/config.hpp"
#include "config_load.hpp"

using namespace pgxq;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<const config::Config> load(const std::string& text) { return test::load_config(text, "/etc/pgxqd/i.toml"); }
std::string error_of(const std::string& text) { return test::config_error(text, "/etc/pgxqd/i.toml"); }

bool contains(const std::string& hay, const std::string& needle) {
  if (hay.find(needle) != std::string::npos) return true;
  MESSAGE("looked for: " << needle << "\nin: " << hay);
  return false;
}

bool needs(const app::ReloadPlan& plan, const std::string& key) {
  for (const auto& k : plan.needs_restart)
    if (k == key) return true;
  return false;
}

}  // namespace

TEST_CASE("isolation config: thread by default, and a table without host keys is the plugin's as written") {
  auto c = load("[plugins.testkit]\ngreeting = \"hi\"\n");
  const auto& s = c->plugins.settings.at("testkit");
  CHECK(s.isolation == config::Isolation::thread);
  CHECK(s.processes == 0);
  CHECK(s.memory_limit == 0);
  CHECK(s.cpu_limit == 0ms);
  CHECK(s.table.size() == 1);
  CHECK(app::isolated_names(*c).empty());
  CHECK_FALSE(app::loader_options(*c, nullptr).start_isolated);
}

TEST_CASE("isolation config: process with its keys, which the plugin's table no longer holds") {
  auto c = load(
      "[plugins.testkit]\n"
      "isolation = \"process\"\n"
      "processes = 3\n"
      "memory_limit = \"256MiB\"\n"
      "cpu_limit = \"2s\"\n"
      "greeting = \"hi\"\n");
  const auto& s = c->plugins.settings.at("testkit");
  CHECK(s.isolation == config::Isolation::process);
  CHECK(s.processes == 3);
  CHECK(s.memory_limit == 256ull << 20);
  CHECK(s.cpu_limit == 2s);
  CHECK(s.table.size() == 1);
  CHECK(s.table["greeting"].value_or(std::string()) == "hi");
  for (const char* key : config::kPluginHostKeys) CHECK_FALSE(s.table.contains(key));
  CHECK(app::isolated_names(*c) == std::vector<std::string>{"testkit"});
  auto o = app::loader_options(*c, nullptr);
  CHECK(o.isolated == std::set<std::string>{"testkit"});
  CHECK(static_cast<bool>(o.start_isolated));
  CHECK(o.settings.at("testkit").size() == 1);
}

TEST_CASE("isolation config: sizes as integers or with a binary unit") {
  auto size_of = [](const std::string& value) {
    return load("[plugins.p]\nisolation = \"process\"\nmemory_limit = " + value + "\n")->plugins.settings.at("p").memory_limit;
  };
  CHECK(size_of("1048576") == 1048576);
  CHECK(size_of("\"100B\"") == 100);
  CHECK(size_of("\"64KiB\"") == 64 * 1024);
  CHECK(size_of("\"512MiB\"") == 512ull << 20);
  CHECK(size_of("\"1GiB\"") == 1ull << 30);
  CHECK(size_of("\"2 GiB\"") == 2ull << 30);
  std::string error;
  CHECK(config::parse_size("12", error) == 0);
  CHECK(contains(error, "a size string needs a unit"));
  error.clear();
  CHECK(config::parse_size("5MB", error) == 0);
  CHECK(contains(error, "units: B, KiB, MiB, GiB, TiB"));
  error.clear();
  CHECK(config::parse_size("0MiB", error) == 0);
  CHECK(contains(error, "expected a positive size"));
  error.clear();
  CHECK(config::parse_size("99999999999999999TiB", error) == 0);
  CHECK(contains(error, "too large"));
}

TEST_CASE("isolation config: wrong values are refused at their line, with the choices") {
  CHECK(contains(error_of("[plugins.p]\nisolation = \"fork\"\n"),
                 "/etc/pgxqd/i.toml:2:13: plugins.p.isolation: expected \"thread\" (handlers run in pgxqd's own threads, "
                 "the default) or \"process\""));
  CHECK(contains(error_of("[plugins.p]\nisolation = true\n"), "plugins.p.isolation: expected \"thread\""));
  CHECK(contains(error_of("[plugins.p]\nisolation = \"process\"\nprocesses = 0\n"),
                 "i.toml:3:13: plugins.p.processes: expected an integer from 1 to 1024, got 0"));
  CHECK(contains(error_of("[plugins.p]\nisolation = \"process\"\nprocesses = 1025\n"),
                 "plugins.p.processes: expected an integer from 1 to 1024, got 1025"));
  CHECK(contains(error_of("[plugins.p]\nisolation = \"process\"\nmemory_limit = \"lots\"\n"),
                 "i.toml:3:16: plugins.p.memory_limit: expected a size such as \"512MiB\""));
  CHECK(contains(error_of("[plugins.p]\nisolation = \"process\"\nmemory_limit = -5\n"),
                 "plugins.p.memory_limit: expected a positive size, got an integer -5"));
  CHECK(contains(error_of("[plugins.p]\nisolation = \"process\"\ncpu_limit = 2\n"),
                 "plugins.p.cpu_limit: expected a positive duration string"));
  CHECK(contains(error_of("[plugins.p]\nisolation = \"process\"\ncpu_limit = \"0s\"\n"),
                 "plugins.p.cpu_limit: expected a positive duration string"));
}

TEST_CASE("isolation config: processes and limits without isolation = \"process\" are refused, each at its line") {
  const std::string e = error_of("[plugins.p]\nprocesses = 2\nmemory_limit = \"1GiB\"\ncpu_limit = \"1s\"\n");
  CHECK(contains(e, "/etc/pgxqd/i.toml:2:13: plugins.p.processes: applies only to plugins in worker processes; add "
                    "isolation = \"process\" to [plugins.p], or remove processes"));
  CHECK(contains(e, "/etc/pgxqd/i.toml:3:16: plugins.p.memory_limit: applies only to plugins in worker processes"));
  CHECK(contains(e, "/etc/pgxqd/i.toml:4:13: plugins.p.cpu_limit: applies only to plugins in worker processes"));
  CHECK(contains(error_of("[plugins.p]\nisolation = \"thread\"\nprocesses = 2\n"), "plugins.p.processes: applies only"));
}

TEST_CASE("isolation config: the default number of processes") {
  CHECK(app::default_processes(100, 2) == 16);  // max(16, 4 × 2)
  CHECK(app::default_processes(100, 8) == 32);  // 4 per CPU
  CHECK(app::default_processes(3, 2) == 3);     // never more than handler threads
  CHECK(app::default_processes(100, 1) == 16);  // at least 16
  CHECK(app::default_processes(10, 64) == 10);
  CHECK(app::default_processes(5000, 512) == 1024);
  CHECK(app::default_processes(0, 0) == 16);
}

TEST_CASE("isolation config: what a worker is told — the plugin's settings, their lines, the log level") {
  auto c = load(
      "[log]\nlevel = \"debug\"\n"
      "[plugins.testkit]\n"
      "isolation = \"process\"\n"
      "greeting = \"hi\"\n"
      "[plugins.testkit.nested]\n"
      "depth = 2\n"
      "[plugins.other]\n"
      "x = 1\n");
  const auto& s = c->plugins.settings.at("testkit");
  auto setup = app::worker_setup(*c, "testkit", "/p/testkit.so", s.table);
  CHECK(setup.plugin_name == "testkit");
  CHECK(setup.plugin_path == "/p/testkit.so");
  CHECK(setup.config_file == "/etc/pgxqd/i.toml");
  CHECK(setup.log_level == 1);  // PGXQ_LOG_DEBUG
  auto back = toml::parse(setup.settings_toml);
  CHECK(back == s.table);
  CHECK_FALSE(back.contains("isolation"));
  std::map<std::string, uint32_t> lines(setup.setting_lines.begin(), setup.setting_lines.end());
  CHECK(lines == std::map<std::string, uint32_t>{{"greeting", 5}, {"nested", 6}, {"nested.depth", 7}});
}

TEST_CASE("isolation config: reload says a change of isolation or of the workers' limits needs a restart") {
  auto running = load("[plugins.p]\nisolation = \"process\"\nprocesses = 2\n");
  CHECK(app::plan_reload(*running, *load("[plugins.p]\nisolation = \"process\"\nprocesses = 2\n")).needs_restart.empty());
  auto plan = app::plan_reload(
      *running, *load("[plugins.p]\nisolation = \"process\"\nprocesses = 3\nmemory_limit = \"1GiB\"\ncpu_limit = \"1s\"\n"));
  CHECK(needs(plan, "plugins.p.processes"));
  CHECK(needs(plan, "plugins.p.memory_limit"));
  CHECK(needs(plan, "plugins.p.cpu_limit"));
  CHECK_FALSE(needs(plan, "plugins.<name> settings"));  // the plugin's own table did not change
  auto back = app::plan_reload(*running, *load("[plugins.p]\n"));
  CHECK(needs(back, "plugins.p.isolation"));
  CHECK(needs(back, "plugins.p.processes"));
}
