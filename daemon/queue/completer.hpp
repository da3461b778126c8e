// queue/completer: records the outcomes of jobs whose handler did not use a transaction, in
// batches (one guarded UPDATE ... FROM unnest(...) per statement kind and table), so a no-op
// job costs a fraction of a round trip. Batches form by themselves under load: while one
// batch is written the next one accumulates. Writes are guarded by the claim (state, attempt
// and the claim's attempted_at), which makes re-running a batch after a lost connection safe;
// a batch that still cannot be written is left for the rescuer, never guessed.
//
// Bounded: at most kMaxPendingOutcomes wait to be written. When outcomes cannot be written (a
// row lock, a slow disk) a worker with one more waits in submit(), its slot stays taken, and
// the producers, which claim only for free slots, stop claiming: backpressure, not memory.
//
// One outcome the database refuses (a user trigger raising, a value out of range) does not
// cost the batch: the batch is split in halves until the refused one is alone, the others are
// recorded, and the refused one is recorded as failed with the database's error.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_set>
#include <thread>
#include <vector>

#include "queue/core.hpp"
#include "queue/resolution.hpp"
#include "queue/session.hpp"

namespace pgxq::queue {

inline constexpr size_t kMaxPendingOutcomes = 1024;

struct CompletionRecord {
  const TableSql* table;
  QueueCounters* counters;
  int64_t id;
  int attempt;
  int64_t attempted_at_us;  // the claim's token (Job::attempted_at_us)
  std::string kind;
  std::string queue;
  Resolution resolution;
  bool panicked = false;  // the handler panicked (for the observer: resolution says discarded)
  std::optional<std::chrono::microseconds> handler_duration;  // none when no handler ran
  int snoozes = 0;  // the job's snoozes before this run (Job::snoozes), for the snooze's log line
};

class Completer {
public:
  explicit Completer(std::shared_ptr<Core> core);
  ~Completer();
  void start();
  // Queues an outcome; waits while kMaxPendingOutcomes are already waiting (backpressure).
  void submit(CompletionRecord record);
  // Writes everything submitted so far, then stops the thread. Later submits are dropped
  // (and logged): their jobs stay running for the rescuer.
  void stop();
  // Outcomes submitted and not yet being written.
  size_t backlog();

private:
  void run();
  void write(std::vector<CompletionRecord>& batch);
  // Writes `records`, splitting them while the database refuses one of them.
  void write_table(const TableSql& table, std::span<CompletionRecord* const> records);
  // One write of `records`, retried on a lost connection or a transient error (without end
  // while the engine runs, for failures that pass by themselves). The error when the database
  // refused it for a row's sake; nullopt when written, or given up on stop (logged).
  std::optional<pg::Error> try_write(const TableSql& table, std::span<CompletionRecord* const> records);
  void report(const TableSql& table, std::span<CompletionRecord* const> records,
              const std::unordered_set<int64_t>& applied);
  // One info line per snooze written: delay, how many so far and the bound.
  void log_snooze(const CompletionRecord& record, const TableSql& table);
  bool stop_requested();

  std::shared_ptr<Core> core_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable space_cv_;  // submitters waiting for room
  bool full_logged_ = false;
  std::vector<CompletionRecord> pending_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
  Session session_;  // the completer thread's
};

// Counts an applied outcome in the queue's counters.
void count_outcome(QueueCounters& c, JobState state);
// What an applied resolution was, for the observer.
FinishOutcome finish_outcome(const Resolution& resolution, bool panicked) noexcept;

}  // namespace pgxq::queue
