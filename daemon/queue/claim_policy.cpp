// queue/claim_policy: when the producer claims, how many, and whether more is due.
#include "queue/claim_policy.hpp"

#include <algorithm>

namespace pgxq::queue {

ClaimPolicy::ClaimPolicy(int batch_size, int max_workers, std::chrono::milliseconds poll_interval)
    : batch_size_(batch_size), max_workers_(std::max(1, max_workers)), poll_interval_(poll_interval) {}

void ClaimPolicy::set_max_workers(int n) {
  max_workers_ = std::max(1, n);
  woken_ = true;
}

ClaimPolicy::TimePoint ClaimPolicy::next_claim(int busy) const {
  const int free = free_slots(busy);
  if (free <= 0) return kNever;
  if (woken_) return kNow;
  const int refill = std::max(1, std::min(batch_size_, max_workers_) / 2);
  if (more_ && free >= refill) return kNow;
  return next_poll_;
}

int ClaimPolicy::start_claim(int busy, TimePoint now) {
  woken_ = false;
  next_poll_ = now + poll_interval_;
  return std::min(free_slots(busy), batch_size_);
}

bool ClaimFollowUp::more_due(int wanted, int got, bool full_scan, const std::function<bool()>& any_due) {
  if (got == wanted) {
    empty_retries_ = 0;
    return true;
  }
  // The scans started at the fronts: look again from the start at once.
  if (!full_scan) return true;
  if (got > 0) {
    // Partial: some candidates were locked by others; look again.
    empty_retries_ = 0;
    return true;
  }
  // Nothing claimed: either nothing is due, or a competing claimer held every candidate.
  const bool more = empty_retries_ < kEmptyRetries && any_due();
  empty_retries_ = more ? empty_retries_ + 1 : 0;
  return more;
}

}  // namespace pgxq::queue
