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

// `unit_sample` in [0,1) drives the backoff jitter.
Resolution resolve(const Outcome& outcome, int attempt, int max_attempts, const BackoffPolicy& backoff,
                   double unit_sample);

}  // namespace pgxq::queue
