// isolation/worker_pool: the worker processes of one isolated plugin — started at boot, lent to
// one job at a time, watched for their limits while they run it, reaped with the cause when they
// die, and replaced (with backoff when they keep dying). All spawning happens on threads that
// live as long as the pool, because a worker's parent-death signal fires when the thread that
// started it ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "isolation/protocol.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::isolation {

struct Limits {
  uint64_t memory_bytes = 0;           // 0: none; the worker's resident memory
  std::chrono::milliseconds cpu{0};    // 0: none; CPU time per job
};

struct PoolOptions {
  std::string plugin_name;
  std::string plugin_path;       // for messages
  int plugin_fd = -1;            // the checked plugin file; the pool keeps a duplicate
  std::string executable;        // what to exec for a worker (pgxqd itself: /proc/self/exe)
  Setup setup;                   // sent to every worker
  int processes = 1;
  Limits limits;
  std::chrono::milliseconds start_timeout{std::chrono::seconds(30)};  // Setup → Hello
  std::shared_ptr<spdlog::logger> log;
};

class WorkerPool;

// Logs a line a worker's plugin sent with plugin_log (between jobs, at start or at shutdown, or
// during a job): "plugin <name>: <text>" at its level, the text repaired to UTF-8.
void log_plugin_line(spdlog::logger& log, const std::string& plugin_name, const PluginLog& line);

// One worker process lent to one job. Move-only; when destroyed without finish() or retire(),
// the worker is retired ("abandoned by its job").
class WorkerLease {
public:
  WorkerLease(WorkerLease&&) noexcept;
  WorkerLease& operator=(WorkerLease&&) noexcept;
  ~WorkerLease();

  pid_t pid() const;
  Channel& channel();
  // The flag the worker's should_stop() reads; start_job() clears it.
  void set_stop(bool stop) noexcept;
  // Marks the start of a job: clears the stop flag and takes the CPU baseline for cpu_limit.
  void start_job();
  // Called about every 20 ms while the job waits on the worker: when the worker is over a
  // limit, kills it (SIGKILL) and returns the cause ("killed: memory limit 512 MiB",
  // "killed: cpu limit 2s"); the caller then retires it.
  std::optional<std::string> check_limits();
  // The worker answered with an outcome. Gives it back to the pool — unless it went over its
  // memory limit at its peak meanwhile: then it is killed and retired, and the cause returned
  // (the job's outcome does not count).
  std::optional<std::string> finish();
  // The worker broke: EOF on its channel, a malformed or oversized message, a limit. Kills it if
  // it is still alive, reaps it and returns the cause for the job's error, e.g. "worker process
  // died: signal 11 (SIGSEGV)", "worker process exited with status 3", "killed: memory limit
  // 512 MiB", or "worker process <why_if_alive>; killed" when it was alive. A replacement is
  // started (with backoff when workers keep dying).
  std::string retire(std::string_view why_if_alive);

private:
  friend class WorkerPool;
  struct Slot;
  WorkerLease(WorkerPool* pool, Slot* slot) noexcept : pool_(pool), slot_(slot) {}
  WorkerPool* pool_ = nullptr;
  Slot* slot_ = nullptr;
};

class WorkerPool {
public:
  // Starts the first worker and waits for its Hello; throws std::runtime_error with the whole
  // refusal (the worker's InitFailed message, or why it could not start) when it does not come.
  // The other processes start in the background.
  explicit WorkerPool(PoolOptions options);
  ~WorkerPool();  // stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // What the first worker said: the plugin's name, version, ABI and kinds.
  const Hello& hello() const;

  // Blocks until a worker is free. Returns nullopt when give_up() says so (asked about every
  // 20 ms) or the pool is stopping.
  std::optional<WorkerLease> acquire(const std::function<bool()>& give_up);

  // Sends Shutdown to every idle worker (they run the plugin's shutdown hook and exit), waits up
  // to `grace` for them, then SIGKILLs and reaps whatever is left (busy ones included).
  // Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5)) noexcept;

  // For the status page and tests.
  struct Stats {
    int processes = 0, idle = 0, busy = 0, starting = 0;
    uint64_t started = 0, died = 0;
  };
  Stats stats() const;

  struct State;

private:
  friend class WorkerLease;
  std::unique_ptr<State> state_;
};

}  // namespace pgxq::isolation
