// metrics/queue_depth: how many jobs wait and run, per queue and kind, and how long the oldest
// due job has waited — sampled by a periodic query on a connection of its own (never the claim
// path's), every `interval`. Each figure reads a partial index and is bounded: the available
// jobs are counted over at most `count_cap` index entries, the running ones over the running
// rows, and the oldest due job is found by one index probe per priority (the first 100
// priorities), so a sample costs the same on a table of ten million rows as on a small one.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "queue/health.hpp"
#include "queue/timeouts.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::metrics {

struct DepthQueue {
  std::string name;
  std::string table;  // validated job table name
};

struct DepthOptions {
  std::string conninfo;
  queue::Timeouts timeouts;
  std::vector<DepthQueue> queues;
  std::vector<std::string> kinds;  // the handled kinds: one sample row per queue and kind
  std::chrono::milliseconds interval{std::chrono::seconds(15)};
  int64_t count_cap = 100000;
  std::string application_name = "pgxqd metrics";
};

struct DepthSample {
  std::string queue;
  std::string kind;
  int64_t available = 0;  // due now
  int64_t scheduled = 0;  // available, due later
  int64_t running = 0;
  double oldest_due_age_seconds = 0;  // 0: nothing due
};

// The statement one sample runs per queue and kind, on `quoted_table`: $1 queue, $2 kind, $3 cap.
std::string depth_sql(const std::string& quoted_table);

class QueueDepth {
public:
  QueueDepth(DepthOptions options, std::shared_ptr<spdlog::logger> log);
  ~QueueDepth();  // stops
  QueueDepth(const QueueDepth&) = delete;
  QueueDepth& operator=(const QueueDepth&) = delete;

  void start();
  void stop();
  // The last complete sample; empty before the first one succeeded.
  std::vector<DepthSample> latest() const;
  // Takes one sample now on `conn` (the loop's step; tests and the cost measurement call it).
  std::vector<DepthSample> sample(pg::Connection& conn) const;

private:
  void loop();

  DepthOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::string> sql_;  // per queue, in options_.queues order
  mutable std::mutex mu_;
  std::vector<DepthSample> latest_;
  queue::StopSignal stop_;
  std::thread thread_;
};

}  // namespace pgxq::metrics
