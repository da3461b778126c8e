// queue/health: one place that knows whether the database is reachable, so an outage is
// logged once when it starts and once when it ends — not once per component, job or retry.
// Also the interruptible sleep the engine's loops use. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "queue/clock.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::queue {

class Health {
public:
  // Outages are timed on `clock`.
  Health(std::shared_ptr<spdlog::logger> log, std::shared_ptr<const Clock> clock)
      : log_(std::move(log)), clock_(std::move(clock)) {}
  using TimePoint = Clock::TimePoint;
  // A component could not use the database. The first failure of an outage logs a warning.
  // `connected_at` is when the failing connection was opened (none: it failed to open). A
  // connection opened before the last outage ended is a leftover of that outage — e.g. an idle
  // completer finding its socket dead after the others reconnected — and does not start a new
  // one: it is logged at debug level and the component just reconnects.
  void failed(std::string_view component, std::string_view error, std::optional<TimePoint> connected_at = {});
  // A component used the database successfully. The end of an outage is logged.
  void ok(std::string_view component);
  bool healthy() const;

private:
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<const Clock> clock_;
  mutable std::mutex mu_;
  std::set<std::string, std::less<>> failing_;
  TimePoint outage_start_;
  std::optional<TimePoint> last_recovery_;
};

// A stop request that sleeping loops can wait on.
class StopSignal {
public:
  void request() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
  }
  bool requested() const {
    std::lock_guard lock(mu_);
    return stop_;
  }
  // Sleeps for `d` unless a stop is requested first; returns true when stopped.
  bool sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [&] { return stop_; });
  }

private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace pgxq::queue
