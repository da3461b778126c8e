// queue/producer: one queue's claim loop and its worker threads. The claim loop claims jobs in
// priority order when ClaimPolicy says a claim is due (woken by NOTIFY or the rescuer, a freed
// slot while a backlog drains, the poll), as many as it says (the free worker slots, at most
// a batch). Workers run the jobs through the executor; they are brought in one at a time (see
// add_worker_locked), so short jobs cost no thread switch each. On shutdown the claimed jobs
// that never started are released as if never claimed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "queue/claim_policy.hpp"
#include "queue/completer.hpp"
#include "queue/core.hpp"
#include "queue/executor.hpp"
#include "queue/scan_front.hpp"
#include "queue/session.hpp"

namespace pgxq::queue {

class Producer : public std::enable_shared_from_this<Producer> {
public:
  Producer(std::shared_ptr<Core> core, std::shared_ptr<Completer> completer, QueueOptions options);
  ~Producer();

  const std::string& name() const { return options_.name; }
  const TableSql& table() const { return *table_; }

  void start();
  // New jobs may be due (NOTIFY or rescue).
  void wake();
  // Stops claiming, joins the claim loop, and releases the jobs claimed but not started.
  void stop_claiming();
  // Tells this queue's running handlers to stop.
  void cancel_running() { cancel_.store(true); }
  // Waits until no handler of this queue runs; false when `deadline` (real time) passed first.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);
  // Jobs whose handlers are still running (for the shutdown log).
  std::vector<Job> running_jobs() const;
  // Joins idle workers; workers stuck in a handler are detached (they keep the core alive).
  void finish_workers();

  void set_max_workers(int n);
  void set_poll_interval(std::chrono::milliseconds d);
  QueueStats stats() const;
  void count_rescued(uint64_t n) { counters_->rescued += n; }
  // When the claim loop last went round (for the watchdog), on the engine's clock.
  Clock::TimePoint last_loop() const;

  // Operator controls (queue/control). A paused queue claims nothing until it is resumed; its
  // running jobs go on. Logs the change, once.
  void set_paused(bool paused);
  bool paused() const;
  // The operator cancelled job `id`: if this queue runs it, its handler is told to stop and the
  // job ends discarded whatever the handler returns. True when this call told it (once per job).
  bool cancel_job(int64_t id);
  // Logs, once per run, each running job whose timeout passed (by more than kOverdueGrace) while
  // its handler still runs: it ignores should_stop. Run by the control pass.
  void warn_overdue();
  // How long past its deadline a handler that honours should_stop may take to return.
  static constexpr std::chrono::milliseconds kOverdueGrace{500};

private:
  void claim_loop();
  void worker_loop();
  // Claims up to n jobs; `full_scan` tells whether every kind was scanned from the start.
  std::vector<Job> claim(pg::Connection& conn, int n, bool& full_scan);
  // The jobs a claim returned, logging and counting those it failed instead.
  std::vector<Job> take_claimed(const pg::Result& r);
  // After a claim failed on a row: the candidates claimed one by one, up to n; a candidate that
  // fails alone is failed for good, with the error (fail_unclaimable).
  std::vector<Job> claim_isolated(pg::Connection& conn, int n);
  void fail_unclaimable(pg::Connection& conn, const std::string& id, const pg::Error& e);
  // Tells the observer, if any, of each claimed job and its pickup delay.
  void observe_claimed(const std::vector<Job>& jobs) const;
  bool any_due(pg::Connection& conn);
  void release(const std::vector<Job>& jobs);
  // Starts one more worker on the ready jobs (waking a sleeping one or spawning a thread) unless
  // one is already on its way; true when a sleeping worker must be notified.
  bool add_worker_locked();
  // A worker thread could not be started: logs it, lowers max_workers to the workers there are,
  // and has the claim loop hand back the ready jobs nobody is free to take.
  void worker_start_failed_locked(const std::exception& e);
  // Whether the claim loop, were it waiting, would claim now.
  bool claim_wanted_locked() const;
  // Worker slots taken: jobs claimed and not finished.
  int busy_slots_locked() const;

  std::shared_ptr<Core> core_;
  std::shared_ptr<Completer> completer_;
  QueueOptions options_;
  const TableSql* table_;
  std::string claim_sql_;
  std::string probe_sql_;
  std::string candidate_ids_sql_;
  const Clock& clock_;
  ScanFront front_;            // the claim loop's own
  ClaimFollowUp follow_up_;    // the claim loop's own
  std::shared_ptr<QueueCounters> counters_;
  std::atomic<bool> cancel_{false};
  ExecutionTarget target_;

  mutable std::mutex mu_;
  std::condition_variable claim_cv_;  // producer waits here
  std::condition_variable work_cv_;   // workers wait here
  std::condition_variable idle_cv_;   // shutdown waits here
  std::deque<Job> ready_;             // claimed, not started
  std::vector<const Job*> running_;   // started, not finished (each owned by its worker)
  ClaimPolicy policy_;
  bool stopping_ = false;
  int sleeping_workers_ = 0;  // waiting on work_cv_
  int workers_on_the_way_ = 0;  // notified or spawned, not yet looking at ready_
  int live_workers_ = 0;
  bool hand_back_ = false;  // a worker could not be started: release ready_ (claim loop)
  Clock::TimePoint last_loop_;
  std::thread claimer_;
  std::vector<std::thread> workers_;
  bool paused_ = false;  // by the operator (set_paused)
  // Each running job and its run (cancel flag, timeout), by id; both owned by the worker
  // running the job.
  struct RunningJob {
    const Job* job;
    JobRun* run;
  };
  std::map<int64_t, RunningJob> runs_;
};

}  // namespace pgxq::queue
