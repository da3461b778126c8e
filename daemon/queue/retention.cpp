// queue/retention: the batched deletes of expired finished jobs.
#include "queue/retention.hpp"

#include <spdlog/spdlog.h>

namespace pgxq::queue {

namespace {

using Ms = std::chrono::milliseconds;

Ms since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - start);
}

// Deletes in batches with `sql` until a batch comes back short; false when told to stop first.
bool delete_batches(pg::Connection& conn, const std::string& sql, Ms age, int batch, RetentionPass& pass,
                    int64_t& deleted, const RetentionPause& pause) {
  const std::string age_ms = std::to_string(age.count()), limit = std::to_string(batch);
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    const int64_t rows = conn.exec(sql, {pg::Param(age_ms), pg::Param(limit)}).affected();
    const Ms took = since(start);
    ++pass.statements;
    deleted += rows;
    if (rows > pass.largest_statement_rows) pass.largest_statement_rows = rows;
    if (took > pass.largest_statement_time) pass.largest_statement_time = took;
    if (rows < batch) return true;
    if (pause && pause(took)) return false;
  }
}

}  // namespace

RetentionPass run_retention(pg::Connection& conn, const TableSql& table, const RetentionOptions& options,
                            spdlog::logger& log, const RetentionPause& pause) {
  RetentionPass pass;
  const auto start = std::chrono::steady_clock::now();
  struct Target {
    const char* state;
    Ms age;
    int64_t* deleted;
  };
  const Target targets[] = {{"completed", options.completed, &pass.completed},
                            {"discarded", options.discarded, &pass.discarded},
                            {"failed", options.failed, &pass.failed}};
  for (const auto& t : targets) {
    if (t.age.count() <= 0) continue;  // kept forever
    const int batch = std::max(1, options.batch_size);
    if (!delete_batches(conn, maintenance_sql::retention_delete(table.quoted, t.state), t.age, batch, pass, *t.deleted,
                        pause) ||
        !delete_batches(conn, maintenance_sql::retention_delete_undated(table.quoted, t.state), t.age, batch, pass,
                        *t.deleted, pause)) {
      pass.finished = false;
      break;
    }
  }
  pass.elapsed = since(start);
  const auto level = pass.total() > 0 ? spdlog::level::info : spdlog::level::debug;
  log.log(level,
          "retention of table {}: deleted {} completed, {} discarded, {} failed jobs in {}ms ({} statements, the "
          "largest {} rows, the slowest {}ms){}",
          table.table, pass.completed, pass.discarded, pass.failed, pass.elapsed.count(), pass.statements,
          pass.largest_statement_rows, pass.largest_statement_time.count(),
          pass.finished ? "" : "; stopped early, the rest on the next pass");
  return pass;
}

}  // namespace pgxq::queue
