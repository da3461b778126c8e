// app/throughput: see throughput.hpp.
#include "app/throughput.hpp"

#include <algorithm>

namespace pgxq::app {

Throughput::Throughput(std::chrono::seconds interval, std::chrono::seconds window)
    : interval_(std::max(interval, std::chrono::seconds(1))),
      capacity_(static_cast<size_t>(std::max<int64_t>(1, window / interval_))) {}

void Throughput::push(Bucket bucket) {
  buckets_.push_back(bucket);
  while (buckets_.size() > capacity_) buckets_.pop_front();
}

void Throughput::sample(TimePoint now, const std::vector<queue::QueueStats>& stats) {
  Totals totals;
  for (const auto& q : stats) {
    totals.completed += q.completed;
    totals.failed += q.retried + q.failed + q.discarded;
  }
  std::lock_guard lock(mutex_);
  if (!last_) {
    last_ = {now, totals};
    return;
  }
  auto& [then, before] = *last_;
  auto elapsed = now - then;
  if (elapsed < interval_) return;
  if (totals.completed < before.completed || totals.failed < before.failed) {
    last_ = {now, totals};
    return;
  }
  // A late sample covers several intervals: the ones it missed stay empty (their counts are
  // not known apart), capped at the window so a long stall does not loop long.
  auto missed = static_cast<size_t>(elapsed / interval_) - 1;
  for (size_t i = 0; i < std::min(missed, capacity_); ++i) push({});
  push({totals.completed - before.completed, totals.failed - before.failed});
  last_ = {now, totals};
}

ThroughputSeries Throughput::series() const {
  ThroughputSeries out;
  out.interval = interval_;
  std::lock_guard lock(mutex_);
  out.completed.reserve(buckets_.size());
  out.failed.reserve(buckets_.size());
  for (const auto& b : buckets_) {
    out.completed.push_back(b.completed);
    out.failed.push_back(b.failed);
  }
  return out;
}

ThroughputSampler::ThroughputSampler(Throughput& throughput, std::function<std::vector<queue::QueueStats>()> stats,
                                     std::shared_ptr<const queue::Clock> clock)
    : throughput_(throughput), stats_(std::move(stats)), clock_(std::move(clock)) {
  thread_ = std::thread([this] { loop(); });
}

ThroughputSampler::~ThroughputSampler() { stop(); }

void ThroughputSampler::stop() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ThroughputSampler::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    try {
      throughput_.sample(clock_->now(), stats_());
    } catch (...) {
      // A missed sample leaves an empty bucket; the page must not take the daemon down.
    }
    lock.lock();
    wake_.wait_for(lock, throughput_.interval(), [this] { return stopping_; });
  }
}

}  // namespace pgxq::app
