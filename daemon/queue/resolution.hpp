// queue/resolution: what a handler's outcome does to its row — a pure function from outcome,
// attempt and policy to the new state, error text and delay. The completer and the executor
// write what this decides; the tests check the decisions without a database.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "queue/job.hpp"
#include "queue/retry_policy.hpp"

namespace pgxq::queue {

enum class JobState { completed, available, discarded, failed };
const char* to_string(JobState s) noexcept;

struct Resolution {
  JobState state = JobState::completed;
  std::optional<std::string> error;       // recorded in the error column when set
  std::chrono::milliseconds delay{0};     // for `available`: scheduled_at = now() + delay
  bool refund_attempt = false;            // snooze: the attempt does not count
};

// How often the job may still snooze: a snooze when it already has `max` (> 0) is a failed
// attempt instead, so a job cannot snooze forever unnoticed. `max` 0: no bound (also on a
// table without the snoozes column, where `snoozes` is always 0).
struct SnoozeBound {
  int snoozes = 0;  // Job::snoozes
  int max = 0;      // [worker] max_snoozes
};

// The error a snooze beyond the bound is recorded with.
std::string snooze_limit_error(int snoozes);

// `unit_sample` in [0,1) drives the backoff jitter.
Resolution resolve(const Outcome& outcome, int attempt, int max_attempts, const BackoffPolicy& backoff,
                   double unit_sample, SnoozeBound snooze = {});

}  // namespace pgxq::queue
