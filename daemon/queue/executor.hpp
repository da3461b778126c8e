// queue/executor: runs one claimed job — calls its handler with a context whose transaction
// opens only if the handler runs SQL, then either commits the handler's work together with
// the guarded completion (exactly once), or rolls it back and hands the outcome to the
// completer.
#pragma once

#include <atomic>

#include "queue/completer.hpp"
#include "queue/core.hpp"

namespace pgxq::queue {

struct ExecutionTarget {
  const TableSql* table;
  QueueCounters* counters;
  const std::atomic<bool>* cancel;  // the queue's own should-stop (besides core.cancel)
};

// `cancelled`: set by the operator's cancel (Producer::cancel_job) while the job runs; the
// handler then sees should_stop, its work is rolled back and the job is discarded with
// kCancelledByOperator, whatever it returned.
void execute_job(Core& core, Completer& completer, const ExecutionTarget& target, const Job& job,
                 const std::atomic<bool>* cancelled = nullptr);

// The error recorded on a job the operator cancelled (pgxqd cancel).
inline constexpr const char* kCancelledByOperator = "cancelled by operator";

}  // namespace pgxq::queue
