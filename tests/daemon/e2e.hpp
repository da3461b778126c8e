// Shared helpers for the end-to-end tests of the real pgxqd binary: its path, a config file
// for a test table in a temp dir, and the --allow-root flag (run, check-config) when the tests
// run as root.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <vector>

#include "support.hpp"

namespace pgxq::test {

inline std::string pgxqd() { return bin_dir() + "/pgxqd"; }

// A temp dir holding pgxqd.toml for `table`, plugins from build/plugins, short poll and backoff.
struct TestConfig {
  std::string dir;
  std::string path;
  TestConfig(const std::string& table, const std::string& extra = "", const std::string& worker_extra = "")
      : dir(temp_dir("pgxqd-e2e")), path(dir + "/pgxqd.toml") {
    write(table, extra, worker_extra);
  }
  ~TestConfig() {
    std::string cmd = "rm -rf '" + dir + "'";
    if (std::system(cmd.c_str()) != 0) {
    }
  }
  void write(const std::string& table, const std::string& extra = "", const std::string& worker_extra = "") {
    bool own_poll = worker_extra.find("poll_interval") != std::string::npos;
    write_file(path, "[worker]\ntable = \"" + table + "\"\n" + (own_poll ? "" : "poll_interval = \"50ms\"\n") + worker_extra +
                         "\n[backoff]\ninitial = \"50ms\"\nmax = \"200ms\"\n\n[plugins]\ndir = \"" + plugin_dir() +
                         "\"\n" + with_test_isolation(extra));
  }
};

inline std::vector<std::string> run_argv(const std::string& config_path) {
  std::vector<std::string> argv{pgxqd(), "run", "--config", config_path};
  if (geteuid() == 0) argv.push_back("--allow-root");
  return argv;
}

// `pgxqd check-config ARGS`: as root with --allow-root, which it needs there as `run` does.
inline RunResult check_config(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), {pgxqd(), "check-config"});
  if (geteuid() == 0) args.push_back("--allow-root");
  return run(std::move(args), std::move(env));
}

// SIGTERM, then the exit status pgxqd promises for a clean stop (0).
inline void stop_cleanly(Process& p) {
  p.signal(SIGTERM);
  auto code = p.wait();
  REQUIRE(code);
  CHECK(*code == 0);
}

inline int64_t count_jobs(const std::string& table, const std::string& where) {
  auto conn = connect();
  return scalar(conn, "SELECT count(*) FROM " + table + " WHERE " + where);
}

inline void enqueue_sql(const std::string& table, const std::string& kind, const std::string& args, int n,
                        const std::string& queue = "default") {
  auto conn = connect();
  conn.exec("INSERT INTO " + table + " (kind, args, queue) SELECT $1, $2::jsonb, $3 FROM generate_series(1, " +
                std::to_string(n) + ")",
            {pg::Param(kind), pg::Param(args), pg::Param(queue)});
}

}  // namespace pgxq::test
