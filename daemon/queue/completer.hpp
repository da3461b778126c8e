// queue/completer: records the outcomes of jobs whose handler did not use a transaction, in
// batches (one guarded UPDATE ... FROM unnest(...) per statement kind and table), so a no-op
// job costs a fraction of a round trip. Batches form by themselves under load: while one
// batch is written the next one accumulates. Writes are guarded by state and attempt, which
// makes re-running a batch after a lost connection safe; a batch that still cannot be written
// is left for the rescuer, never guessed.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "queue/core.hpp"
#include "queue/resolution.hpp"
#include "queue/session.hpp"

namespace pgxq::queue {

struct CompletionRecord {
  const TableSql* table;
  QueueCounters* counters;
  int64_t id;
  int attempt;
  std::string kind;
  std::string queue;
  Resolution resolution;
};

class Completer {
public:
  explicit Completer(std::shared_ptr<Core> core);
  ~Completer();
  void start();
  void submit(CompletionRecord record);
  // Writes everything submitted so far, then stops the thread. Later submits are dropped
  // (and logged): their jobs stay running for the rescuer.
  void stop();

private:
  void run();
  void write(std::vector<CompletionRecord>& batch);
  void write_table(const TableSql& table, std::vector<CompletionRecord*>& records);

  std::shared_ptr<Core> core_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<CompletionRecord> pending_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
  Session session_;  // the completer thread's
};

// Counts an applied outcome in the queue's counters.
void count_outcome(QueueCounters& c, JobState state);

}  // namespace pgxq::queue
