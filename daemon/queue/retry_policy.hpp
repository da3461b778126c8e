// queue/retry_policy: the backoff between attempts — a pure function of the attempt number
// and a jitter sample, so it is tested without clocks or randomness.
#pragma once

#include <chrono>

namespace pgxq::queue {

struct BackoffPolicy {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max{std::chrono::hours(1)};
  double multiplier = 2.0;
  double jitter = 0.2;  // the delay is multiplied by a factor in [1 - jitter, 1 + jitter]
};

// Delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed:
// initial × multiplier^(attempt-1), capped at max, then scaled by the jitter factor derived
// from `unit_sample` in [0, 1) (0 → 1 - jitter, 1 → 1 + jitter).
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt, double unit_sample) noexcept;

}  // namespace pgxq::queue
