// Reliability test helpers: the real pgxqd binary restarted, killed and starved of its
// database while it works testkit jobs. Owns the short/long mode switch, the seeded PRNG that
// picks fault moments (printed so a failure can be replayed), an isolated database per test
// (so pg_stat_activity shows only this test's daemon), the daemon's config file, a daemon
// handle whose logs survive restarts, and the exactly-once tally of a job table against the
// table its `record` jobs write to.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "support.hpp"

namespace pgxq::test::rel {

// Long mode (PGXQ_RELIABILITY_LONG=1): full-size runs and more fault rounds.
bool long_mode();
// Short-mode value, or the long-mode one.
inline int sized(int short_value, int long_value) { return long_mode() ? long_value : short_value; }

// The PRNG for fault moments: seeded from PGXQ_RELIABILITY_SEED when set, else at random.
// describe() is printed by each test ("seed=N; replay with PGXQ_RELIABILITY_SEED=N").
class Rng {
public:
  Rng();
  int64_t uniform(int64_t lo, int64_t hi);  // inclusive
  uint64_t seed() const { return seed_; }
  std::string describe() const;

private:
  uint64_t seed_;
  std::mt19937_64 gen_;
};

// A database of its own, dropped (WITH FORCE) at scope exit.
class TempDatabase {
public:
  TempDatabase();
  ~TempDatabase();
  TempDatabase(const TempDatabase&) = delete;
  TempDatabase& operator=(const TempDatabase&) = delete;
  const std::string& name() const { return name_; }
  std::string conninfo() const;  // key=value, on top of the libpq environment
  pg::Connection connect() const { return pg::Connection(conninfo()); }

private:
  std::string name_;
};

// Creates the job table `table` (migrated through libpgxq) in the database at `conninfo`.
void migrate(const std::string& conninfo, const std::string& table);
// A table for testkit `record` jobs: (seq, job_id, value) with no unique constraint, so a
// doubled job shows up as two rows instead of being hidden by an error.
void create_record_table(const std::string& conninfo, const std::string& table);
// Inserts n `record` jobs (then: complete) writing to `record_table`, max_attempts as given.
void enqueue_records(const std::string& conninfo, const std::string& table, const std::string& record_table, int n,
                     int max_attempts = 25);

// Integer result of `sql`, or nullopt when the database cannot be reached right now (a
// restarting server): wait conditions use it so they survive an outage.
std::optional<int64_t> try_scalar(const std::string& conninfo, const std::string& sql);
// Waits until `sql` returns at least `at_least`.
bool wait_count(const std::string& conninfo, const std::string& sql, int64_t at_least,
                std::chrono::milliseconds deadline = std::chrono::seconds(180));

// What the tables say after a run.
struct Tally {
  int64_t jobs = 0, completed = 0, not_completed = 0;
  int64_t record_rows = 0, record_jobs = 0;   // rows, and distinct job ids among them
  int64_t completed_without_row = 0;          // lost: completed but its work is missing
  int64_t rows_without_completion = 0;        // work committed for a job not completed
  int64_t doubled() const { return record_rows - record_jobs; }
  std::string str() const;
};
Tally tally(const std::string& conninfo, const std::string& table, const std::string& record_table);

// The daemon's config file in a temp dir. Keys under [worker] and others given as TOML text.
struct DaemonConfig {
  std::string dir, path;
  DaemonConfig(const std::string& table, const std::map<std::string, std::string>& worker,
               const std::string& extra = "");
  ~DaemonConfig();
};

// One pgxqd "service": started, killed, restarted; stderr of every run kept in order.
class Daemon {
public:
  Daemon(std::string config_path, std::map<std::string, std::string> env = {},
         std::vector<std::string> extra_args = {});
  ~Daemon();
  void start();
  bool running();
  int pid() const;
  void kill9();                                   // SIGKILL and reap
  std::optional<int> wait_exit(std::chrono::milliseconds deadline);
  std::optional<int> stop(std::chrono::milliseconds deadline = std::chrono::seconds(60));  // SIGTERM
  std::string log() const;                       // stderr and stdout of every run so far
  int starts() const { return starts_; }

private:
  void archive();
  std::vector<std::string> argv_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<Process> proc_;
  std::string history_;
  int starts_ = 0;
};

// Number of lines of `text` containing `needle`.
int count_lines(const std::string& text, const std::string& needle);

}  // namespace pgxq::test::rel
