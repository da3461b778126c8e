// The config file chooses the plugins directory, so whoever can write it chooses the code pgxqd
// runs: pgxqd run and check-config refuse a config file others can write, saying how to fix it.
// (The loader's own tests, tests/plugin/loader_trust_test.cpp, cover every rule; this one holds
// that the binary applies them to the file it was given.)
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;

TEST_CASE("pgxqd refuses a config file others can write, and runs once it is fixed") {
  DaemonConfig cfg("rel_config_trust", {}, "");
  REQUIRE(::chmod(cfg.path.c_str(), 0666) == 0);
  std::vector<std::string> run_argv{bin_dir() + "/pgxqd", "run", "--config", cfg.path};
  if (geteuid() == 0) run_argv.push_back("--allow-root");
  std::vector<std::string> check_argv{bin_dir() + "/pgxqd", "check-config", "--offline", "--config", cfg.path};
  if (geteuid() == 0) check_argv.push_back("--allow-root");  // check-config refuses root as run does
  for (const auto& argv : {run_argv, check_argv}) {
    auto r = run(argv);
    INFO(argv[1], " -> ", r.code, ": ", r.err);
    CHECK(r.code == 78);
    CHECK(r.err.find("config file " + cfg.path + " is writable by others (mode 0666)") != std::string::npos);
    CHECK(r.err.find("chmod go-w " + cfg.path) != std::string::npos);
  }
  REQUIRE(::chmod(cfg.path.c_str(), 0644) == 0);
  auto r = run(check_argv);
  INFO(r.err);
  CHECK(r.code == 0);
}
