// queue/engine: the public face of the worker engine — options, start/stop, live tuning and
// statistics. Owns the pool, the listener, and one producer/executor set per queue, plus the
// completer and the rescuer. The daemon app and the tests drive it through this header only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "queue/clock.hpp"
#include "queue/job.hpp"
#include "queue/job_timeout.hpp"
#include "queue/observer.hpp"
#include "queue/maintenance_options.hpp"
#include "queue/periodic_options.hpp"
#include "queue/retry_policy.hpp"
#include "queue/timeouts.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::queue {

struct QueueOptions {
  std::string name = "default";
  std::string table;     // empty: EngineOptions::table
  int max_workers = 0;   // 0: EngineOptions::max_workers
};

struct EngineOptions {
  std::string conninfo;  // libpq URI or key=value; empty = libpq defaults
  int pool_size = 10;    // connections for handler transactions (claims, completions: one each besides)
  std::string table = "pgxq_job";
  std::chrono::milliseconds poll_interval{1000};
  int batch_size = 10;
  int max_workers = 100;
  std::chrono::milliseconds rescue_after{std::chrono::hours(1)};
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds(30)};
  // After the shutdown timeout, handlers are told to stop and get this long to return.
  std::chrono::milliseconds cancel_grace{std::chrono::seconds(5)};
  // A job whose args are longer than this (as JSON text) is failed without being run or read in
  // full: the claim returns only the length of such args.
  int64_t max_args_bytes = 16 * 1024 * 1024;
  // How often one job may snooze (each snooze gives its attempt back): a snooze when it already
  // has this many is recorded as a failed attempt instead. 0: no bound. Needs the table's
  // snoozes column (schema v7); without it snoozes are not counted, so not bounded.
  int max_snoozes = 100;
  BackoffPolicy backoff;
  Timeouts timeouts;                 // connects, keepalives, statements, locks, pool waits
  std::vector<QueueOptions> queues;  // empty: one queue "default"
  bool listen = true;                // LISTEN/NOTIFY wake-ups (poll stays as fallback)
  // Sessions show up in pg_stat_activity as "<application_name> <role>" (producer, completer,
  // listener, rescuer, handler, release).
  std::string application_name = "pgxqd";
  // Where the engine reads the time for its schedules: the poll, the claim's full scans, the
  // rescuer, the length of an outage. Tests drive those with a clock of their own; waits still
  // take real time (see queue/clock.hpp). Null: the real clock (set when the engine is built,
  // so these options stay plain data that needs none of the engine's code).
  std::shared_ptr<const Clock> clock;
  // Starts a worker thread. May throw std::system_error (TasksMax, RLIMIT_NPROC): the queue
  // then hands back the jobs no worker can take and runs with the workers it has. Empty: a
  // plain std::thread. Tests inject failures here.
  std::function<std::thread(std::function<void()>)> start_thread;
  // Told of every claim and every outcome written (the metrics). Null: nobody is told.
  std::shared_ptr<JobObserver> observer;
  // One daemon per job table (the leader) deletes expired finished jobs and warns about the
  // table's health (queue/maintainer).
  MaintenanceOptions maintenance;
  // Periodic jobs, each enqueued by its job table's leader (queue/periodic); needs maintenance.
  std::vector<PeriodicEntry> periodic;
  // How long a handler may run: from then on should_stop is true for its job, and whatever it
  // returns afterwards is rolled back and recorded as a failed attempt ("timeout after 30s").
  // Zero: no limit (go-pgxq's default). Each must be below rescue_after.
  JobTimeout job_timeout;
  // By kind, instead of job_timeout (a zero limit turns it off for that kind).
  std::map<std::string, JobTimeout, std::less<>> kind_timeouts;
};

// The job tables an engine with these options works, each once: every queue's own table, or
// `table` for a queue that names none (and for the default queue when none is configured).
std::vector<std::string> job_tables(const EngineOptions& options);

struct QueueStats {
  std::string name;
  int max_workers = 0;
  int running = 0;
  uint64_t claimed = 0, completed = 0, retried = 0, discarded = 0, failed = 0, rescued = 0;
};

class Engine {
public:
  Engine(EngineOptions options, HandlerMap handlers, std::shared_ptr<spdlog::logger> log);
  ~Engine();  // stops (fast) if still running
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Checks the database answers and the table exists, then starts the loops. Throws
  // std::logic_error when already started or stopped, pg::Error when the database is unusable.
  void start();
  // Graceful stop: stop claiming, release unstarted jobs, wait up to shutdown_timeout for
  // running handlers, then signal cancellation and wait cancel_grace. Idempotent; returns
  // immediately when never started.
  void stop();
  // Fast stop: cancel running handlers now, release, return after cancel_grace at most.
  void stop_fast();
  // Blocks until the engine has stopped (after stop()/stop_fast() from another thread).
  void wait();

  bool running() const noexcept;
  // After a stop: some handler did not return within shutdown_timeout + cancel_grace and still
  // runs on a detached thread. It may call into its plugin and the host at any time, so nothing
  // it can reach (plugins, their host records) may be torn down while the process lives.
  bool handlers_left_running() const noexcept;
  std::vector<QueueStats> stats() const;
  void set_max_workers(const std::string& queue, int max_workers);
  void set_poll_interval(std::chrono::milliseconds interval);
  // Names the loop that is stuck, if one is (see Liveness): the systemd watchdog is kept fed
  // while this is empty. Never touches the database.
  std::optional<std::string> stalled() const;

  // For the metrics and health endpoints; none of these touches the database.
  // Whether the database answered the engine's last use of it (queue/health's view).
  bool database_healthy() const;
  // Outcomes handed to the completer and not written yet.
  size_t completer_backlog() const;
  // Handler connections leased now, and the pool's size.
  int pool_connections_in_use() const;
  int pool_size() const;
  // The kinds this engine claims, sorted.
  std::vector<std::string> kinds() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgxq::queue
