// queue/table_health: reading the statistics views and judging them.
#include "queue/table_health.hpp"

#include "queue/sql.hpp"

namespace pgxq::queue {

namespace {

std::string mib(int64_t bytes) { return std::to_string(bytes / (1024 * 1024)) + " MiB"; }

std::string duration_text(int64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 2 * 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

}  // namespace

TableHealth read_table_health(pg::Connection& conn, const std::string& table) {
  TableHealth h;
  h.table = table;
  const std::string quoted = TableSql(table).quoted;
  auto s = conn.exec(maintenance_sql::kTableStats, {pg::Param(quoted)});
  if (s.rows() == 1) {
    h.live_rows = s.int64(0, 0);
    h.dead_rows = s.int64(0, 1);
    if (!s.is_null(0, 2)) h.seconds_since_vacuum = s.int64(0, 2);
    h.table_bytes = s.is_null(0, 3) ? 0 : s.int64(0, 3);
    h.index_bytes = s.is_null(0, 4) ? 0 : s.int64(0, 4);
  }
  auto x = conn.exec(maintenance_sql::kOldestXminHolder);
  if (x.rows() == 1 && !x.is_null(0, 3)) {
    TableHealth::XminHolder holder;
    holder.source = std::string(x.text(0, 0));
    holder.name = std::string(x.text(0, 1));
    if (!x.is_null(0, 2)) holder.seconds = x.int64(0, 2);
    holder.xids = x.int64(0, 3);
    h.oldest_xmin = holder;
  }
  return h;
}

std::vector<std::string> health_warnings(const TableHealth& h, const HealthOptions& o) {
  std::vector<std::string> out;
  if (h.dead_rows >= o.dead_rows && static_cast<double>(h.dead_rows) >= o.dead_ratio * static_cast<double>(h.live_rows)) {
    out.push_back("table " + h.table + " has " + std::to_string(h.dead_rows) + " dead rows against " +
                  std::to_string(h.live_rows) + " live ones, last vacuumed " +
                  (h.seconds_since_vacuum ? duration_text(*h.seconds_since_vacuum) + " ago" : std::string("never")) +
                  ": claims walk dead rows until vacuum removes them. Check that autovacuum runs on it "
                  "(pg_stat_user_tables), lower its autovacuum_vacuum_scale_factor (ALTER TABLE " +
                  h.table + " SET (autovacuum_vacuum_scale_factor = 0.01)), and look for long transactions");
  }
  if (h.oldest_xmin) {
    const auto& x = *h.oldest_xmin;
    const auto limit_s = std::chrono::duration_cast<std::chrono::seconds>(o.long_transaction).count();
    const bool old = x.seconds ? *x.seconds >= limit_s : x.xids >= 1000000;
    if (old) {
      std::string what = x.source == "session"    ? "End it (SELECT pg_terminate_backend(<pid>)) and set "
                                                    "idle_in_transaction_session_timeout so it cannot happen again"
                         : x.source == "prepared" ? "Finish it with COMMIT PREPARED or ROLLBACK PREPARED"
                                                  : "Drop the slot if nothing consumes it (pg_drop_replication_slot)";
      out.push_back("the xmin horizon is held back by " + x.name + (x.seconds ? ", open for " + duration_text(*x.seconds) : "") +
                    " (" + std::to_string(x.xids) + " transactions old): vacuum cannot remove the dead rows of table " +
                    h.table + " while it lasts, and every claim walks them. " + what);
    }
  }
  constexpr int64_t kIndexFloor = 64LL * 1024 * 1024;
  if (h.index_bytes >= kIndexFloor && h.index_bytes > o.index_bytes_per_row * std::max<int64_t>(h.live_rows, 1)) {
    out.push_back("the indexes of table " + h.table + " take " + mib(h.index_bytes) + " for " +
                  std::to_string(h.live_rows) + " live rows (bloat from the queue's churn): rebuild them with REINDEX "
                  "INDEX CONCURRENTLY, or set [maintenance] reindex to have the leader do it");
  }
  return out;
}

}  // namespace pgxq::queue
