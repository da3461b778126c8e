// Test support: everything tests share — a connection to the throwaway cluster (from the libpq
// environment that scripts/test exports), unique object names so tests can run in parallel,
// waiting for a condition with a deadline (never a bare sleep), and child processes (the real
// pgxqd binary) with captured output.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgxq::test {

// Built with AddressSanitizer: its shadow memory makes address-space limits and resident-memory
// figures meaningless, so the tests of memory limits say so and return early there.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif

using namespace std::chrono_literals;

// Connection string for the test cluster: "" (libpq environment), or PGXQ_TEST_DATABASE_URL.
std::string conninfo();
pg::Connection connect();

// A lower-case identifier unique to this process and call: "<prefix>_<pid>_<n>".
std::string unique_name(const std::string& prefix);

// A fresh job table (migrated with the client library) that is dropped at scope exit.
class TempTable {
public:
  explicit TempTable(const std::string& prefix = "t");
  ~TempTable();
  TempTable(const TempTable&) = delete;
  TempTable& operator=(const TempTable&) = delete;
  const std::string& name() const { return name_; }

private:
  std::string name_;
};

// Polls `condition` every few milliseconds until it is true or `deadline` passes.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds deadline = 60s);

// First column of the first row of `sql` as an integer (0 when no row or NULL).
int64_t scalar(pg::Connection& conn, const std::string& sql, std::initializer_list<pg::Param> params = {});
// First column of the first row as text (nullopt when no row or NULL).
std::optional<std::string> scalar_text(pg::Connection& conn, const std::string& sql,
                                       std::initializer_list<pg::Param> params = {});

std::string bin_dir();      // build/bin
std::string plugin_dir();   // build/plugins
std::string source_dir();   // the source tree
std::string temp_dir(const std::string& prefix);  // a new directory under /tmp, mode 0755

void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

// A child process with stdout and stderr captured to files. Killed (SIGKILL) at destruction
// if still running.
// How often `needle` occurs in `hay` (overlapping occurrences counted): for "logged exactly once".
inline size_t occurrences(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

class Process {
public:
  Process(std::vector<std::string> argv, std::map<std::string, std::string> extra_env = {},
          std::optional<std::string> stdin_text = std::nullopt);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  int pid() const { return pid_; }
  void signal(int sig);
  // Waits up to `deadline` for exit; returns the exit code (128+signal when killed by one),
  // nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds deadline = 60s);
  bool running();
  std::string out() const;  // stdout so far
  std::string err() const;  // stderr so far
  // Waits until stdout or stderr contains `text`.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds deadline = 60s);

private:
  int pid_ = -1;
  std::optional<int> status_;
  std::string dir_;
};

// PGXQ_TEST_ISOLATION=process (set by the "(process)" ctest entries) runs the testkit plugin in
// worker processes: the extra config of an end-to-end test gets `isolation = "process"` in its
// [plugins.testkit] table (added at the end when it has none, so the line numbers of what the
// test wrote do not move). A test that sets isolation itself keeps its own. Unset: unchanged.
std::string with_test_isolation(const std::string& extra_toml);

// Runs a command to completion (deadline 120s) and returns {exit code, stdout, stderr}.
struct RunResult {
  int code;
  std::string out;
  std::string err;
};
RunResult run(std::vector<std::string> argv, std::map<std::string, std::string> extra_env = {},
              std::optional<std::string> stdin_text = std::nullopt);

}  // namespace pgxq::test
