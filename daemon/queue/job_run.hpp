// queue/job_run: one run of one claimed job, as the worker running it, the handler's context
// and the control pass share it: the operator's cancel and the deadline of the job's timeout.
// Owned by the worker for as long as the run lasts.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

#include "queue/clock.hpp"
#include "queue/job_timeout.hpp"

namespace pgxq::queue {

class JobRun {
public:
  explicit JobRun(JobTimeout timeout) : timeout_(std::move(timeout)) {}
  JobRun(const JobRun&) = delete;
  JobRun& operator=(const JobRun&) = delete;

  const JobTimeout& timeout() const noexcept { return timeout_; }

  // Set by the operator's cancel (pgxqd cancel) while the job runs.
  std::atomic<bool> cancelled{false};

  // The handler is being called now: the timeout counts from here.
  void handler_called(Clock::TimePoint now) noexcept {
    if (timeout_.enabled())
      deadline_.store((now + timeout_.limit).time_since_epoch().count(), std::memory_order_release);
  }
  // The handler returned now: whether it was late is decided here, once, so the executor's
  // later look at the outcome cannot call a handler that returned in time late.
  void handler_returned(const Clock& clock) noexcept {
    timed_out(clock);
    returned_.store(true, std::memory_order_release);
  }
  bool still_in_handler() const noexcept {
    return deadline_.load(std::memory_order_acquire) != kNoDeadline && !returned_.load(std::memory_order_acquire);
  }

  // Whether the deadline passed (while the handler ran, once it returned). Polled by should_stop in handlers' tight loops, so cheap:
  // one load without a timeout; with one, a read of the clock until the deadline is seen passed,
  // then one load.
  bool timed_out(const Clock& clock) const noexcept {
    if (passed_.load(std::memory_order_relaxed)) return true;
    if (returned_.load(std::memory_order_acquire)) return false;  // returned before the deadline
    const int64_t deadline = deadline_.load(std::memory_order_relaxed);
    if (deadline == kNoDeadline || clock.now().time_since_epoch().count() < deadline) return false;
    passed_.store(true, std::memory_order_relaxed);
    return true;
  }
  // How long ago the deadline passed (zero when it has not, or there is none).
  Clock::Duration overdue(const Clock& clock) const noexcept {
    const int64_t deadline = deadline_.load(std::memory_order_acquire);
    if (deadline == kNoDeadline) return Clock::Duration::zero();
    const Clock::Duration past = clock.now().time_since_epoch() - Clock::Duration(deadline);
    return past > Clock::Duration::zero() ? past : Clock::Duration::zero();
  }

  // The control pass logged that the handler ignores the timeout (once per run; under the
  // producer's lock).
  bool overdue_logged = false;

private:
  static constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();
  const JobTimeout timeout_;
  std::atomic<int64_t> deadline_{kNoDeadline};
  std::atomic<bool> returned_{false};
  mutable std::atomic<bool> passed_{false};
};

}  // namespace pgxq::queue
