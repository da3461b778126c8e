// queue/reindex: REINDEX INDEX CONCURRENTLY of the churned indexes, when the queue is idle.
#include "queue/reindex.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace pgxq::queue {

namespace {

void set_statement_timeout(pg::Connection& conn, int64_t ms) {
  conn.exec("SELECT set_config('statement_timeout', $1, false)", {pg::Param(std::to_string(ms))});
}

void drop_leftovers(pg::Connection& conn, const TableSql& table, spdlog::logger& log) {
  auto left = conn.exec(maintenance_sql::kReindexLeftovers, {pg::Param(table.quoted)});
  for (int i = 0; i < left.rows(); ++i) {
    const std::string name(left.text(i, 0));
    conn.exec("DROP INDEX CONCURRENTLY IF EXISTS " + name);
    log.info("reindex of table {}: dropped {}, left invalid by an interrupted rebuild", table.table, name);
  }
}

}  // namespace

ReindexOutcome reindex_churned(pg::Connection& conn, const TableSql& table, int64_t statement_timeout_ms,
                               spdlog::logger& log) {
  if (conn.exec(maintenance_sql::backlog_waiting(table.quoted)).text(0, 0) == "t") return ReindexOutcome::skipped_backlog;
  auto indexes = conn.exec(maintenance_sql::kChurnedIndexes, {pg::Param(table.quoted)});
  set_statement_timeout(conn, 0);
  try {
    drop_leftovers(conn, table, log);
    for (int i = 0; i < indexes.rows(); ++i) {
      const std::string name(indexes.text(i, 0));
      const auto start = std::chrono::steady_clock::now();
      conn.exec("REINDEX INDEX CONCURRENTLY " + name);
      log.info("reindex of table {}: rebuilt {} in {}ms", table.table, name,
               std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
    }
  } catch (const pg::Error& e) {
    // An interrupted rebuild's invalid copy is dropped by the next rebuild (dropping it now
    // could wait as long as the rebuild did, e.g. through a shutdown).
    if (!e.connection_lost()) {
      try {
        set_statement_timeout(conn, statement_timeout_ms);
      } catch (...) {
      }
    }
    throw;
  }
  set_statement_timeout(conn, statement_timeout_ms);
  return ReindexOutcome::done;
}

}  // namespace pgxq::queue
