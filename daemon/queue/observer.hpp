// queue/observer: what the engine tells an observer (the metrics) about jobs, at the moments the
// table changes — a claim, and an outcome the moment it is written (so an observer's counts
// match the table's). The engine calls it from its own threads, concurrently; an observer must
// be cheap and must not throw. No observer set: the engine skips the calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pgxq::queue {

// What a finished attempt did to the job's row. Every outcome a job's row can take from this
// daemon is one of these: completed; retried (available again with backoff); snoozed (available
// again, the attempt given back); discarded (by the handler); panicked (discarded: the handler
// threw or reported a panic); failed (attempts used up, or the job could not be run at all —
// including a rescued job with no attempts left); rescued (running too long, available again).
enum class FinishOutcome { completed, retried, snoozed, discarded, panicked, failed, rescued };

inline const char* to_string(FinishOutcome outcome) noexcept {
  switch (outcome) {
    case FinishOutcome::completed: return "completed";
    case FinishOutcome::retried: return "retried";
    case FinishOutcome::snoozed: return "snoozed";
    case FinishOutcome::discarded: return "discarded";
    case FinishOutcome::panicked: return "panicked";
    case FinishOutcome::failed: return "failed";
    case FinishOutcome::rescued: return "rescued";
  }
  return "failed";
}

class JobObserver {
public:
  virtual ~JobObserver() = default;
  // A job was claimed. `pickup_delay`: the claim's time minus when the job became due
  // (the later of scheduled_at and created_at), both on the database's clock; never negative.
  virtual void claimed(std::string_view queue, std::string_view kind, std::chrono::microseconds pickup_delay) noexcept = 0;
  // An outcome was written to the job's row. `handler_duration`: how long the handler ran, when
  // one ran (not for a job failed at claim, a job never run, or a rescue).
  virtual void finished(std::string_view queue, std::string_view kind, FinishOutcome outcome,
                        std::optional<std::chrono::microseconds> handler_duration) noexcept = 0;
  // This daemon, leading `table`, deleted `rows` expired finished jobs in `state` (retention).
  virtual void retention_deleted(std::string_view table, std::string_view state, uint64_t rows) noexcept {
    (void)table, (void)state, (void)rows;
  }
};

}  // namespace pgxq::queue
