// A plugin refusing a mistyped setting: pgxqd's message points at the setting's own line in
// pgxqd.toml, not at the [plugins.<name>] header above it.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>

#include "plugin_test_support.hpp"
#include "support.hpp"

using namespace pgxq::test;

TEST_CASE("pgxqd check-config: a mistyped plugin setting is reported at the key's line") {
  PluginDir plugins;
  plugins.add_plugin("hello_c");
  const std::string dir = temp_dir("pgxq-setting");
  const std::string config = dir + "/pgxqd.toml";
  write_file(config,
             "[plugins.hello_c]\n"
             "# the greeting hello_c prints\n"
             "\n"
             "greeting = 5\n");
  std::vector<std::string> argv{bin_dir() + "/pgxqd", "check-config", "--offline", "--config", config,
                                "--plugins-dir", plugins.path()};
  if (geteuid() == 0) argv.push_back("--allow-root");  // check-config refuses root as run does
  auto r = run(argv);
  INFO(r.out << r.err);
  CHECK(r.code == 78);
  CHECK(r.err.find(config + ":4:1: plugins.hello_c.greeting: ") != std::string::npos);
  CHECK(r.err.find("setting \"greeting\" must be a string, found an integer") != std::string::npos);
  CHECK(r.err.find(config + ":1:") == std::string::npos);
  std::filesystem::remove_all(dir);
}
