// queue/resolution: outcome → row update decisions (go-pgxq's semantics plus snooze).
#include "queue/resolution.hpp"

namespace pgxq::queue {

const char* to_string(JobState s) noexcept {
  switch (s) {
    case JobState::completed: return "completed";
    case JobState::available: return "available";
    case JobState::discarded: return "discarded";
    case JobState::failed: return "failed";
  }
  return "failed";
}

std::string snooze_limit_error(int snoozes) {
  return "snoozed " + std::to_string(snoozes) + " times, the limit ([worker] max_snoozes)";
}

Resolution resolve(const Outcome& outcome, int attempt, int max_attempts, const BackoffPolicy& backoff,
                   double unit_sample, SnoozeBound snooze) {
  // Beyond the bound a snooze is an ordinary failed attempt, with the backoff: the job ends
  // `failed` once its attempts are used up, with the reason in its error.
  if (outcome.code == OutcomeCode::snooze && snooze.max > 0 && snooze.snoozes >= snooze.max)
    return resolve(Outcome::error(snooze_limit_error(snooze.snoozes)), attempt, max_attempts, backoff, unit_sample);
  Resolution r;
  switch (outcome.code) {
    case OutcomeCode::complete:
      r.state = JobState::completed;
      return r;
    case OutcomeCode::discard:
      r.state = JobState::discarded;
      r.error = "discard: " + outcome.message;
      return r;
    case OutcomeCode::panic:
      r.state = JobState::discarded;
      r.error = "panic: " + outcome.message;
      return r;
    case OutcomeCode::snooze:
      r.state = JobState::available;
      r.delay = outcome.delay.value_or(std::chrono::milliseconds(0));
      r.refund_attempt = true;
      return r;
    case OutcomeCode::retry:
    case OutcomeCode::error:
      break;
  }
  r.error = outcome.message;
  if (attempt >= max_attempts) {
    r.state = JobState::failed;
  } else {
    r.state = JobState::available;
    r.delay = outcome.delay ? *outcome.delay : backoff_delay(backoff, attempt, unit_sample);
    if (r.delay.count() < 0) r.delay = std::chrono::milliseconds(0);
  }
  return r;
}

}  // namespace pgxq::queue
