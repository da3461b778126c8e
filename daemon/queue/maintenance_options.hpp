// queue/maintenance_options: what the maintenance of a job table does and how often — the
// leader election that makes one daemon per table do it, the retention of finished jobs, the
// table-health warnings and the optional reindex. Plain data; the app fills it from
// [maintenance] and [retention].
#pragma once

#include <chrono>

namespace pgxq::queue {

struct RetentionOptions {
  // How long finished jobs are kept, by final state (completed_at older than this is deleted);
  // zero keeps them forever (go-pgxq's behaviour).
  std::chrono::milliseconds completed{std::chrono::hours(24)};
  std::chrono::milliseconds discarded{std::chrono::hours(24 * 7)};
  std::chrono::milliseconds failed{std::chrono::hours(24 * 7)};
  // How often the leader looks for expired jobs, and how many rows one DELETE removes at most.
  std::chrono::milliseconds interval{std::chrono::minutes(1)};
  int batch_size = 5000;

  bool keeps_everything() const noexcept {
    return completed.count() == 0 && discarded.count() == 0 && failed.count() == 0;
  }
};

struct HealthOptions {
  // How often the leader reads the table's health and warns; zero: never.
  std::chrono::milliseconds interval{std::chrono::minutes(5)};
  // A transaction (or prepared transaction) holding back vacuum for longer than this is warned about.
  std::chrono::milliseconds long_transaction{std::chrono::minutes(5)};
  // Dead rows are warned about past this many and this fraction of the live rows.
  int64_t dead_rows = 100000;
  double dead_ratio = 0.2;
  // Indexes are warned about past this many bytes per live row (and 64 MiB in all).
  int64_t index_bytes_per_row = 2000;
};

struct MaintenanceOptions {
  // Off: this engine never takes part in the election, so it does no maintenance.
  bool enabled = true;
  // How often a follower tries to become leader and the leader confirms it still is. A leader
  // that dies is replaced within this once PostgreSQL has ended its session (at once for a
  // killed process; within idle_session_timeout = 3 × leader_check, at least 10 s, for a
  // vanished host).
  std::chrono::milliseconds leader_check{std::chrono::seconds(5)};
  RetentionOptions retention;
  HealthOptions health;
  // REINDEX INDEX CONCURRENTLY of the claim indexes this often, when no backlog is waiting;
  // zero: never.
  std::chrono::milliseconds reindex{0};
};

}  // namespace pgxq::queue
