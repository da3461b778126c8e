// queue/control: the operator's controls, as every daemon on a table obeys them. Paused queues
// (`<table>_pause`, written by `pgxqd pause`/`resume`) and cancellation requests
// (`<table>_cancel`, written by `pgxqd cancel` for running jobs) are read every
// min(poll_interval, 1s) on a connection of its own: producers of a paused queue stop claiming,
// the handler of a cancelled running job is told to stop. The same pass discards the available
// jobs that have a request (a cancelled job that was retried or rescued meanwhile must not run
// again) and forgets the requests whose jobs are finished. Statements on the two small tables,
// and primary-key lookups of the requested jobs. The same pass also logs, once per job, a
// handler still running past its timeout (Producer::warn_overdue).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "queue/core.hpp"
#include "queue/health.hpp"
#include "queue/producer.hpp"
#include "queue/session.hpp"

namespace pgxq::queue {

// The statements on a job table's control tables.
struct ControlSql {
  explicit ControlSql(const TableSql& table);
  std::string pause_table;   // quoted, beside the job table
  std::string cancel_table;
  std::string control_tables_exist;  // $1 pause_table, $2 cancel_table: one row, both exist (bool)
  std::string paused_queues;         // every paused queue
  std::string cancel_requests;       // every requested job id
  // $1 ids int8[]: those of the requested jobs that are still available or running, and state.
  std::string requested_jobs;
  // $1 ids int8[]: the available ones among them discarded as cancelled. RETURNING id, kind, queue.
  std::string discard_requested;
  // $1 ids int8[]: requests forgotten (their jobs are finished or gone).
  std::string forget;
};

// The queues paused on `table`, or nullopt when the table has no control tables (schema
// version below 5: `pgxqd migrate` adds them). Throws pg::Error.
std::optional<std::set<std::string>> read_paused_queues(pg::Connection& conn, const TableSql& table);

class Control {
public:
  Control(std::shared_ptr<Core> core, std::vector<std::shared_ptr<Producer>> producers);
  ~Control();
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  void start();
  void stop();
  // The poll interval changed (a reload): passes run every min(interval, 1s) from the next one.
  void set_poll_interval(std::chrono::milliseconds interval);
  // One pass over every table; errors are logged (a lost connection is retried next pass).
  void run_once();

private:
  void loop();
  void control_table(pg::Connection& conn, const TableSql& table);

  std::shared_ptr<Core> core_;
  std::vector<std::shared_ptr<Producer>> producers_;
  Session session_;
  StopSignal stop_;
  std::thread thread_;
  std::set<std::string> without_control_tables_;  // warned about once
  std::atomic<int64_t> every_ms_;
};

}  // namespace pgxq::queue
