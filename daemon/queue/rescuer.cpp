// queue/rescuer: periodic rescue of stale running jobs, per queue and handled kinds.
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
    const std::string after = std::to_string(core_->options.rescue_after.count());
    const std::string limit = std::to_string(kRescueBatch);
    for (auto& p : producers_) {
      const TableSql& t = p->table();
      const std::string stmt = "rescue:" + t.table;
      conn.prepare(stmt, t.rescue);
      bool any_available = false;
      for (;;) {
        auto r = conn.exec_prepared(stmt, {p->name(), core_->kinds_array, after, limit});
        for (int i = 0; i < r.rows(); ++i) {
          bool failed = r.text(i, 2) == "failed";
          any_available |= !failed;
          core_->log->warn("job {} kind={} queue={}: rescued after attempt {} of {} (worker lost); {}", r.int64(i, 0),
                           r.text(i, 1), p->name(), r.text(i, 3), r.text(i, 4),
                           failed ? "failed: attempts used up" : "available again");
        }
        p->count_rescued(static_cast<uint64_t>(r.rows()));
        if (r.rows() < kRescueBatch) break;
      }
      if (any_available) p->wake();
    }
    session_.ok();
  } catch (const pg::Error& e) {
    // A lost connection is reopened on the next run, which is the rescuer's backoff.
    if (!session_.failed(e)) core_->log->error("rescuer: {}", e.what());
  }
}

}  // namespace pgxq::queue
