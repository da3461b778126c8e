// bench/bench: what the parts of pgxq-bench share — the options, the environment (where the
// daemon, the plugin and the database are), one reported figure, and the failure type a
// scenario throws when its outcome does not verify (so no figure is reported for it).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgxq::bench {

struct Options {
  bool quick = false;
  bool json = false;
  std::vector<std::string> scenarios;  // empty: all
  std::string database;                // empty: libpq environment
  std::string pgxqd;                   // empty: next to pgxq-bench
  std::string plugins;                 // empty: ../plugins next to pgxq-bench
  int64_t enqueue_one = 10'000;        // jobs inserted one per transaction
  int64_t enqueue_many = 200'000;      // jobs inserted through COPY
  int enqueue_batch = 1'000;
  int rounds = 3;                      // enqueue: best of this many alternating rounds
  int64_t process_jobs = 100'000;
  std::vector<int> process_workers{10, 100};
  int64_t tx_jobs = 50'000;
  int tx_workers = 10;
  int pool_size = 10;
  int64_t backlog_big = 1'000'000;
  int64_t backlog_small = 10'000;
  int backlog_workers = 100;
  double latency_rate = 50;            // jobs per second
  double latency_seconds = 10;
  int64_t retry_jobs = 10'000;
  int retry_workers = 100;
  bool http = false;                   // process: pgxqd serves [http], /metrics scraped every second
  int64_t retention_old = 5'000'000;    // finished jobs past their retention
  int64_t retention_backlog = 100'000;  // available jobs worked while the cleaner runs
  int64_t long_tx_jobs = 200'000;       // backlog worked beside a transaction held open
  int long_tx_seconds = 60;             // how long it is held
  int64_t isolation_jobs = 100'000;     // isolation: no-op backlog, per mode
  int64_t isolation_tx_jobs = 20'000;   // isolation: record backlog, per mode
};

Options quick_defaults(Options o);

struct Env {
  Options options;
  std::string conninfo;  // "" = libpq environment
  std::string pgxqd;     // the daemon binary
  std::string plugins;   // a private plugin dir holding only testkit.so
  std::string workdir;   // temp dir for configs and logs, removed at exit
};

// The kinds the testkit plugin registers (an interface of pgxqd): the daemon's handled set,
// so the SQL-only ceiling claims with exactly the kinds array the daemon uses.
const std::vector<std::string>& testkit_kinds();

// One line of the report.
struct Figure {
  std::string scenario;            // e.g. "process"
  std::string name;                // e.g. "noop, 100 workers, batch 100"
  std::string unit;                // "jobs/s", "ms", "MB"
  double value = 0;
  std::optional<double> ceiling;   // same unit
  std::string ceiling_name;        // what the ceiling is
  std::optional<double> ratio;     // value / ceiling, or against another figure
  std::string target;              // e.g. ">= 70% of batched ceiling"
  std::optional<bool> met;
  std::optional<double> cpu_ms_per_1k;  // daemon CPU (user+system) per 1,000 jobs
  std::optional<double> workers_cpu_ms_per_1k;  // its plugin worker processes' CPU, the same way
  int64_t jobs = 0;
  double seconds = 0;
  std::string note;
};

// Thrown when a scenario's outcome is not what it must be: the scenario reports nothing.
struct VerifyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A progress line on stderr (long runs only show a few of these).
void progress(const std::string& scenario, const std::string& message);

// 1234567 -> "1,234,567".
std::string group_thousands(int64_t n);

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start);

}  // namespace pgxq::bench
