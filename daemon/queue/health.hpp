// queue/health: one place that knows whether the database is reachable, so an outage is
// logged once when it starts and once when it ends — not once per component, job or retry.
// Also the interruptible sleep the engine's loops use, and Liveness: whether the engine's loops
// still take steps, which the systemd watchdog reports. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
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

// Whether the engine's loops are stuck. A loop is *busy* while it is inside a use of the database
// (from opening or taking its connection to the end of that use) and marks a step at each
// connection attempt and each statement; outside such a use it waits for work or for a timer,
// which is never stuck. stalled() names a loop that has been busy without a step for longer than
// the bound a step can take (see queue/timeouts' stall_bound): no configured timeout explains
// that. A database outage is no stall: connects fail within connect_timeout and the backoff
// between them is a wait.
class Liveness {
public:
  explicit Liveness(std::shared_ptr<const Clock> clock) : clock_(std::move(clock)) {}
  using TimePoint = Clock::TimePoint;

  // One loop's registration; removed when it goes (a loop that ended cannot stall).
  class Loop {
  public:
    Loop(Liveness& owner, std::string name);
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;
    void busy();  // a use of the database begins (and is a step)
    void step();  // one more statement or connection attempt
    void idle();  // the use ended: the loop waits for work or a timer

  private:
    Liveness& owner_;
    int id_;
  };

  // "<loop>: busy for <n>ms without a step" for the loop stuck longest, if one exceeds `bound`
  // (zero: no bound, never stalled).
  std::optional<std::string> stalled(Clock::Duration bound) const;

private:
  struct Entry {
    std::string name;
    bool busy = false;
    TimePoint last_step;
  };
  std::shared_ptr<const Clock> clock_;
  mutable std::mutex mu_;
  std::map<int, Entry> loops_;
  int next_id_ = 0;
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
