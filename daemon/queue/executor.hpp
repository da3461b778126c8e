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

void execute_job(Core& core, Completer& completer, const ExecutionTarget& target, const Job& job);

}  // namespace pgxq::queue
