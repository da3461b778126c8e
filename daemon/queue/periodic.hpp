// queue/periodic: periodic jobs. Each entry (a kind, its args and options, and a Schedule)
// belongs to one job table; that table's maintenance leader (queue/maintainer) runs
// PeriodicEnqueuer::run on its own session about every second. Exactly once per (entry,
// scheduled time), however many daemons, restarts and leader changes: the transaction that
// inserts a run first moves <table>_periodic.last_run_at forwards to that time (only
// forwards), and inserts the job only if it moved; the job's unique_key
// "periodic:<name>:<time>" is a second guard (migration 8's unique index). Times come from the
// database's clock, the same for every daemon.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"
#include "queue/cron.hpp"
#include "queue/engine.hpp"
#include "queue/periodic_options.hpp"
#include "queue/sql.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::queue {

// The job table `entry` goes to: its queue's own table, else the engine's table.
std::string periodic_table(const EngineOptions& options, const PeriodicEntry& entry);

// What one pass does for one entry: pure, so tests drive it with times of their own.
struct PeriodicPlan {
  bool first_seen = false;             // no row yet: record `now`, enqueue nothing
  std::vector<Instant> runs;           // enqueue each, in order
  std::optional<Instant> skip_to;      // catch_up = false: move last_run_at here, no job
  std::optional<Instant> caught_up;    // the run standing for the missed times (also in runs)
  int64_t missed = 0;                  // scheduled times missed (older than the grace)
};

// `last_run`: the entry's last_run_at (nullopt: no row). A scheduled time is on time while it
// is at most `grace` old; older ones are missed. At most `max_runs` on-time runs at once.
PeriodicPlan plan_periodic(const Schedule& schedule, bool catch_up, std::optional<Instant> last_run, Instant now,
                           std::chrono::seconds grace, size_t max_runs = 1000);

// How many of `options.periodic` go to job table `table`.
size_t periodic_entries_of(const EngineOptions& options, const std::string& table);

// How late a scheduled time may be noticed and still count as on time: a leader change takes
// up to a few leader checks.
std::chrono::seconds periodic_grace(std::chrono::milliseconds leader_check);

// "periodic:<name>:2026-03-29T01:00:00Z".
std::string periodic_unique_key(const std::string& name, Instant at);

class PeriodicEnqueuer {
public:
  PeriodicEnqueuer(const TableSql& table, std::vector<PeriodicEntry> entries, std::chrono::seconds grace,
                   std::shared_ptr<spdlog::logger> log);
  bool empty() const noexcept { return entries_.empty(); }
  // One pass over the entries on the leader's session `conn`. Throws pg::Error.
  void run(pg::Connection& conn);

private:
  void enqueue(pg::Connection& conn, const PeriodicEntry& e, Instant at, const PeriodicPlan& plan);

  const TableSql& table_;
  PeriodicSql sql_;
  std::vector<PeriodicEntry> entries_;
  std::chrono::seconds grace_;
  std::shared_ptr<spdlog::logger> log_;
  std::string names_;  // the entries' names as a text[] literal
};

}  // namespace pgxq::queue
