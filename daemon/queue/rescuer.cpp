// queue/rescuer: periodic rescue of stale running jobs, per queue, every kind.
#include "queue/rescuer.hpp"

#include <spdlog/spdlog.h>

namespace pgxq::queue {

namespace {
constexpr int kRescueBatch = 1000;
}

Rescuer::Rescuer(std::shared_ptr<Core> core, std::vector<std::shared_ptr<Producer>> producers)
    : core_(std::move(core)), producers_(std::move(producers)), session_(*core_, "rescuer", "rescuer") {}

void Rescuer::run_once() {
  try {
    pg::Connection& conn = session_.connection();
    for (auto& p : producers_) rescue_queue(conn, *p);
    session_.ok();
  } catch (const pg::Error& e) {
    // A lost connection is reopened on the next run, which is the rescuer's backoff.
    if (!session_.failed(e)) core_->log->error("rescuer: {}", e.what());
  }
}

void Rescuer::rescue_queue(pg::Connection& conn, Producer& p) {
  const TableSql& t = p.table();
  const std::string after = std::to_string(core_->options.rescue_after.count());
  const std::string limit = std::to_string(kRescueBatch);
  const std::string stmt = "rescue:" + t.table;
  conn.prepare(stmt, t.rescue);
  bool any_available = false;
  for (;;) {
    int rows = 0;
    try {
      auto r = conn.exec_prepared(stmt, {p.name(), after, limit});
      rows = r.rows();
      any_available |= report(r, p);
    } catch (const pg::Error& e) {
      if (!row_specific(e)) throw;
      core_->log->error("rescuer: rescuing jobs of queue {} in {} failed: {}; rescuing them one at a time", p.name(),
                        t.table, e.what());
      any_available |= rescue_isolated(conn, p, after);
      break;
    }
    if (rows < kRescueBatch) break;
  }
  if (any_available) p.wake();
}

bool Rescuer::rescue_isolated(pg::Connection& conn, Producer& p, const std::string& after) {
  const TableSql& t = p.table();
  const std::string ids_stmt = "stale_ids:" + t.table, one_stmt = "rescue_ids:" + t.table;
  conn.prepare(ids_stmt, t.stale_ids);
  conn.prepare(one_stmt, t.rescue_ids);
  auto stale = conn.exec_prepared(ids_stmt, {p.name(), after, std::to_string(kRescueBatch)});
  bool any_available = false;
  for (int i = 0; i < stale.rows(); ++i) {
    const std::string id(stale.text(i, 0));
    try {
      any_available |= report(conn.exec_prepared(one_stmt, {p.name(), after, "1", "{" + id + "}"}), p);
    } catch (const pg::Error& e) {
      if (!row_specific(e)) throw;
      // Nothing more to do for it here: the row refuses this update. The others go on.
      core_->log->error("job {} kind={} queue={}: cannot be rescued: {} (SQLSTATE {}); it stays running until the "
                        "row is fixed",
                        id, stale.text(i, 1), p.name(), e.what(), e.sqlstate());
    }
  }
  return any_available;
}

bool Rescuer::report(const pg::Result& r, Producer& p) {
  bool any_available = false;
  for (int i = 0; i < r.rows(); ++i) {
    bool failed = r.text(i, 2) == "failed";
    any_available |= !failed;
    if (auto* observer = core_->options.observer.get())
      observer->finished(p.name(), r.text(i, 1), failed ? FinishOutcome::failed : FinishOutcome::rescued, std::nullopt);
    core_->log->warn("job {} kind={} queue={}: rescued after attempt {} of {} (worker lost); {}", r.int64(i, 0),
                     r.text(i, 1), p.name(), r.text(i, 3), r.text(i, 4),
                     failed ? "failed: attempts used up" : "available again");
  }
  p.count_rescued(static_cast<uint64_t>(r.rows()));
  return any_available;
}

}  // namespace pgxq::queue
