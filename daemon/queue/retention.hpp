// queue/retention: deletes the finished jobs older than their state's retention, as the leader
// of the table, over the leader's session. Each DELETE is its own short transaction of at most
// batch_size rows found through the finished-jobs index (state, completed_at), under the
// engine's statement timeout, skipping rows someone has locked: available and running jobs are
// never read, so claims, inserts and completions never wait on it. One log line per pass.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "pg/connection.hpp"
#include "queue/maintenance_options.hpp"
#include "queue/sql.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::queue {

struct RetentionPass {
  int64_t completed = 0, discarded = 0, failed = 0;  // rows deleted
  int statements = 0;
  int64_t largest_statement_rows = 0;
  std::chrono::milliseconds largest_statement_time{0};  // the slowest statement's duration
  std::chrono::milliseconds elapsed{0};
  bool finished = true;  // false: stopped early (stop requested), more may be left
  int64_t total() const noexcept { return completed + discarded + failed; }
};

// Waits `d` between two full batches unless told to stop (then returns true).
using RetentionPause = std::function<bool(std::chrono::milliseconds d)>;

// One pass over `table` on `conn`: every expired row of each state with a retention, batch by
// batch, until none is left or `pause` says to stop. After a full batch the pass pauses as long
// as that batch's statement took, so a cleaner with much to delete uses at most half of one
// backend's time and leaves the rest to the claims (no pause when `pause` is empty). Logs the
// pass (info when it deleted rows, debug otherwise). Throws pg::Error; rows deleted before stay
// deleted.
RetentionPass run_retention(pg::Connection& conn, const TableSql& table, const RetentionOptions& options,
                            spdlog::logger& log, const RetentionPause& pause = {});

}  // namespace pgxq::queue
