// queue/retry_policy: exponential backoff with cap and jitter, as a pure function.
#include "queue/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace pgxq::queue {

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt, double unit_sample) noexcept {
  const double initial = static_cast<double>(std::max<int64_t>(policy.initial.count(), 0));
  const double cap = static_cast<double>(std::max<int64_t>(policy.max.count(), 0));
  const double multiplier = policy.multiplier < 1.0 ? 1.0 : policy.multiplier;
  const int exponent = std::max(attempt, 1) - 1;
  // pow overflows to +inf for huge exponents; min() with the cap keeps the result finite.
  double delay = std::min(initial * std::pow(multiplier, exponent), cap);
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  const double sample = std::clamp(unit_sample, 0.0, 1.0);
  delay *= (1.0 - jitter) + 2.0 * jitter * sample;
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(delay)));
}

}  // namespace pgxq::queue
