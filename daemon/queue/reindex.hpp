// queue/reindex: the leader's optional periodic REINDEX INDEX CONCURRENTLY of the indexes a
// queue's churn bloats — the partial indexes on available jobs (the claim's) and on running
// ones (the rescuer's). Skipped while a backlog is being worked (a due available job or a
// running one), when the rebuild would compete with the claims. REINDEX CONCURRENTLY locks
// nothing the claims need; it runs without a statement timeout (the maintainer cancels it at
// shutdown). An interrupted rebuild leaves an invalid copy (<index>_ccnew), which the next
// rebuild drops first.
#pragma once

#include "pg/connection.hpp"
#include "queue/sql.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::queue {

enum class ReindexOutcome { done, skipped_backlog };

// Rebuilds the churned indexes of `table` on `conn` (the leader's session), one by one, and logs
// each; or, while a backlog is being worked, nothing. `statement_timeout_ms` is restored afterwards. Throws pg::Error.
ReindexOutcome reindex_churned(pg::Connection& conn, const TableSql& table, int64_t statement_timeout_ms,
                               spdlog::logger& log);

}  // namespace pgxq::queue
