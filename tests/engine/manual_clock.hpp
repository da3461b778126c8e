// A clock the test sets by hand, for the engine's decisions by the time (queue/clock.hpp): the
// claim policy, the scan fronts' full scans, outage lengths, the engine's schedules. It only
// moves when told to. Thread-safe, so an engine may read it while the test advances it.
#pragma once

#include <atomic>
#include <chrono>

#include "queue/clock.hpp"

namespace pgxq::test {

class ManualClock final : public queue::Clock {
public:
  // Starts an hour after the epoch, so a time before it is still representable.
  explicit ManualClock(TimePoint start = TimePoint{} + std::chrono::hours(1))
      : since_epoch_(start.time_since_epoch().count()) {}

  TimePoint now() const noexcept override { return TimePoint(Duration(since_epoch_.load())); }
  void advance(Duration d) { since_epoch_ += d.count(); }

private:
  std::atomic<Duration::rep> since_epoch_;
};

}  // namespace pgxq::test
