// queue/claim_policy: the producer's decisions, as pure objects — no threads, no SQL, the time
// passed in — so each rule is unit-tested with a clock set by hand:
//
// - When to claim. A wake-up (NOTIFY, the rescuer, a changed max_workers, the start) or the
//   poll claims for any free slot, keeping pickup latency low. While the last claim said more
//   is due (a backlog), the loop waits for half a batch of free slots, so claims stay batched.
//   With no free slot there is nothing to claim for: a worker that frees one asks again.
// - How many: the free slots, never more than the batch size.
// - Whether more is due after a claim (ClaimFollowUp).
// Where each kind's scan starts, and when it scans in full, is ScanFront's.
#pragma once

#include <chrono>
#include <functional>

#include "queue/clock.hpp"

namespace pgxq::queue {

// When the claim loop claims, and how many. The producer keeps one under its lock: the claim
// loop asks it when to claim, and so does a worker that frees a slot (whether to wake the loop).
class ClaimPolicy {
public:
  using TimePoint = Clock::TimePoint;
  // next_claim's answers besides a poll time: claim now, and nothing to claim for.
  static constexpr TimePoint kNow = TimePoint::min();
  static constexpr TimePoint kNever = TimePoint::max();

  ClaimPolicy(int batch_size, int max_workers, std::chrono::milliseconds poll_interval);

  // New jobs may be due: claim at once.
  void wake() { woken_ = true; }
  // At least 1. Wakes, so new slots are filled at once.
  void set_max_workers(int n);
  int max_workers() const { return max_workers_; }
  // Takes effect with the poll after the next one.
  void set_poll_interval(std::chrono::milliseconds d) { poll_interval_ = d; }

  // When the next claim is due with `busy` slots taken (jobs claimed and not finished): kNow,
  // kNever, or the time of the next poll.
  TimePoint next_claim(int busy) const;
  // Whether a claim is due; reads the clock only when the answer depends on it.
  static bool due(TimePoint at, const Clock& clock) {
    return at == kNow || (at != kNever && clock.now() >= at);
  }
  // A claim starts at `now` with `busy` slots taken: how many jobs it claims. It uses up the
  // wake-up, and the next poll is due a poll interval later.
  int start_claim(int busy, TimePoint now);
  // The claim came back: whether more jobs are likely due (ClaimFollowUp).
  void claimed(bool more_due) { more_ = more_due; }

private:
  int free_slots(int busy) const { return max_workers_ - busy; }

  int batch_size_;
  int max_workers_;
  std::chrono::milliseconds poll_interval_;
  bool woken_ = true;    // claim at once on start
  bool more_ = false;    // the last claim said more is likely due
  TimePoint next_poll_{};
};

// Whether the next claim should follow at once. The claim loop's own: it decides after each
// claim, before taking the producer's lock.
class ClaimFollowUp {
public:
  // How many claims in a row that took nothing may be followed at once because the database
  // said a job is due (a competing claimer held every candidate).
  static constexpr int kEmptyRetries = 3;

  // A claim of `wanted` jobs took `got`; `full_scan`: every kind was scanned from the start.
  // `any_due` asks the database whether an unlocked job is due; it is asked only when a full
  // scan took nothing, and at most kEmptyRetries times in a row.
  bool more_due(int wanted, int got, bool full_scan, const std::function<bool()>& any_due);

private:
  int empty_retries_ = 0;
};

}  // namespace pgxq::queue
