// app/throughput: how many jobs this daemon finished over the last minutes, for the status
// page's chart. The engine only keeps running totals (Engine::stats()); a ring of periodic
// samples turns them into per-interval counts. The ring is plain logic fed with explicit
// times, so it is tested without waiting; ThroughputSampler is the thread that feeds it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "queue/clock.hpp"
#include "queue/engine.hpp"

namespace pgxq::app {

struct ThroughputSeries {
  std::chrono::seconds interval{5};
  // One entry per interval, oldest first; the last one ends at the latest sample.
  std::vector<uint64_t> completed;
  // Attempts that ended in an error: retried, failed or discarded.
  std::vector<uint64_t> failed;
};

class Throughput {
public:
  using TimePoint = queue::Clock::TimePoint;

  // Keeps window / interval buckets (15 minutes of 5 s: 180).
  explicit Throughput(std::chrono::seconds interval = std::chrono::seconds(5),
                      std::chrono::seconds window = std::chrono::minutes(15));

  // Records the engine's running totals as of `now`. The first sample is the baseline. A sample
  // taken less than an interval after the last one is ignored; intervals with no sample (the
  // sampler was late) are kept as empty buckets before the one that gets the counts. Totals
  // that went down (a different engine) start a new baseline. Thread-safe.
  void sample(TimePoint now, const std::vector<queue::QueueStats>& stats);

  ThroughputSeries series() const;  // thread-safe
  std::chrono::seconds interval() const noexcept { return interval_; }

private:
  struct Totals {
    uint64_t completed = 0, failed = 0;
  };
  struct Bucket {
    uint64_t completed = 0, failed = 0;
  };
  void push(Bucket bucket);

  const std::chrono::seconds interval_;
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::optional<std::pair<TimePoint, Totals>> last_;
  std::deque<Bucket> buckets_;
};

// Samples `stats()` into `throughput` every interval on a thread of its own, from construction
// to destruction (or stop()).
class ThroughputSampler {
public:
  ThroughputSampler(Throughput& throughput, std::function<std::vector<queue::QueueStats>()> stats,
                    std::shared_ptr<const queue::Clock> clock = queue::real_clock());
  ~ThroughputSampler();
  ThroughputSampler(const ThroughputSampler&) = delete;
  ThroughputSampler& operator=(const ThroughputSampler&) = delete;
  void stop() noexcept;

private:
  void loop();
  Throughput& throughput_;
  std::function<std::vector<queue::QueueStats>()> stats_;
  std::shared_ptr<const queue::Clock> clock_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pgxq::app
