// queue/executor: runs one claimed job — calls its handler with a context whose transaction
// opens only if the handler runs SQL, then either commits the handler's work together with
// the guarded completion (exactly once), or rolls it back and hands the outcome to the
// completer.
#pragma once

#include <atomic>

#include "queue/completer.hpp"
#include "queue/core.hpp"
#include "queue/job_run.hpp"

namespace pgxq::queue {

struct ExecutionTarget {
  const TableSql* table;
  QueueCounters* counters;
  const std::atomic<bool>* cancel;  // the queue's own should-stop (besides core.cancel)
};

// `run` (null: no cancel, no timeout) carries the operator's cancel and the job's timeout.
// Cancelled by the operator (Producer::cancel_job) while the job runs: the handler sees
// should_stop, its work is rolled back and the job is discarded with kCancelledByOperator,
// whatever it returned. Its timeout passed (counted from the handler's call): should_stop too,
// and whatever it returns after that is rolled back and recorded as a failed attempt with
// "timeout after <timeout>" (retried with backoff, failed after max_attempts). The operator's
// cancel wins over the timeout; a handler that ends the job's transaction itself fails the job
// whichever came first (its committed work cannot be undone).
void execute_job(Core& core, Completer& completer, const ExecutionTarget& target, const Job& job,
                 JobRun* run = nullptr);

// The error recorded on a job the operator cancelled (pgxqd cancel).
inline constexpr const char* kCancelledByOperator = "cancelled by operator";

}  // namespace pgxq::queue
