// queue/maintainer: the leader's schedule of retention passes and health checks per table.
#include "queue/maintainer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "queue/leader.hpp"
#include "queue/periodic.hpp"
#include "queue/reindex.hpp"
#include "queue/retention.hpp"
#include "queue/table_health.hpp"

namespace pgxq::queue {

void validate_maintenance(const MaintenanceOptions& o) {
  auto not_negative = [](std::chrono::milliseconds d, const char* what) {
    if (d.count() < 0) throw std::invalid_argument(std::string(what) + " must not be negative (0: off)");
  };
  if (o.leader_check.count() <= 0) throw std::invalid_argument("maintenance.leader_check must be positive");
  if (o.retention.interval.count() <= 0) throw std::invalid_argument("retention.interval must be positive");
  if (o.retention.batch_size < 1) throw std::invalid_argument("retention.batch_size must be at least 1");
  not_negative(o.retention.completed, "retention.completed");
  not_negative(o.retention.discarded, "retention.discarded");
  not_negative(o.retention.failed, "retention.failed");
  not_negative(o.health.interval, "maintenance.health_check");
  not_negative(o.reindex, "maintenance.reindex");
}

struct Maintainer::Table {
  Table(Core& core, const TableSql& sql, const std::string& identity) : sql(sql), lead(core, sql, identity) {}
  const TableSql& sql;
  Leadership lead;
  Clock::TimePoint next_retention{}, next_health{}, next_reindex{};
  bool retention_possible = false;  // the finished-jobs index is there
  bool reindex_waiting = false;     // the last reindex was skipped for a backlog
  std::unique_ptr<PeriodicEnqueuer> periodic;  // the table's periodic entries, if any
  Clock::TimePoint next_periodic{};
};

Maintainer::Maintainer(std::shared_ptr<Core> core) : core_(std::move(core)) {
  const auto identity = process_identity();
  const auto grace = periodic_grace(core_->options.maintenance.leader_check);
  for (const auto& [name, sql] : core_->tables) {
    tables_.push_back(std::make_unique<Table>(*core_, sql, identity));
    std::vector<PeriodicEntry> entries;
    for (const auto& e : core_->options.periodic)
      if (periodic_table(core_->options, e) == name) entries.push_back(e);
    if (!entries.empty())
      tables_.back()->periodic = std::make_unique<PeriodicEnqueuer>(sql, std::move(entries), grace, core_->log);
  }
}

Maintainer::~Maintainer() { stop(); }

void Maintainer::start() {
  thread_ = std::thread([this] { loop(); });
}

void Maintainer::stop() {
  stop_.request();
  // A statement without a timeout (a rebuild waiting for old transactions) must not hold up
  // the shutdown; any other ends within statement_timeout anyway.
  if (thread_.joinable())
    for (auto& t : tables_) t->lead.cancel_statement();
  if (thread_.joinable()) thread_.join();
  for (auto& t : tables_) t->lead.resign();
}

void Maintainer::loop() {
  const Clock& clock = *core_->options.clock;
  const auto check_every = core_->options.maintenance.leader_check;
  // The schedule is on the engine's clock; the loop looks at it every tick of real time.
  const auto tick = std::min(check_every, std::chrono::milliseconds(1000));
  auto next_check = clock.now();
  while (!stop_.requested()) {
    const auto now = clock.now();
    if (now >= next_check) {
      next_check = now + check_every;
      for (auto& t : tables_) {
        const bool was_leader = t->lead.leader();
        if (!t->lead.check()) continue;
        if (!was_leader) {
          // A new leader does its upkeep at once: its predecessor's schedule is unknown.
          t->next_retention = now;
          t->next_health = now;
          t->next_reindex = now + core_->options.maintenance.reindex;
          try {
            auto r = t->lead.connection().exec(maintenance_sql::kHasFinishedIndex, {pg::Param(t->sql.quoted)});
            t->retention_possible = r.text(0, 0) == "t";
            if (!t->retention_possible && !core_->options.maintenance.retention.keeps_everything())
              core_->log->warn("retention of table {} is off: the table lacks the finished-jobs index (state, "
                               "completed_at) that keeps its deletes cheap; run `pgxqd migrate --table {}` to add it",
                               t->sql.table, t->sql.table);
          } catch (const pg::Error& e) {
            if (!t->lead.failed(e)) core_->log->error("maintenance of table {}: {}", t->sql.table, e.what());
          }
        }
      }
    }
    for (auto& t : tables_)
      if (t->lead.leader() && !stop_.requested()) upkeep(*t, clock.now());
    stop_.sleep_for(tick);
  }
}

void Maintainer::upkeep(Table& t, Clock::TimePoint now) {
  const auto& m = core_->options.maintenance;
  // Periodic jobs first, and about every second: a long retention pass or rebuild after it
  // must not make a scheduled time late.
  if (t.periodic && now >= t.next_periodic) {
    t.next_periodic = now + std::chrono::seconds(1);
    try {
      t.periodic->run(t.lead.connection());
    } catch (const pg::Error& e) {
      if (t.lead.failed(e)) return;
      t.next_periodic = now + std::chrono::seconds(10);
      core_->log->error("periodic jobs of table {}: {} (SQLSTATE {}); trying again in 10s", t.sql.table, e.what(),
                        e.sqlstate());
    }
  }
  try {
    if (t.retention_possible && !m.retention.keeps_everything() && now >= t.next_retention) {
      // The next pass is due an interval after this one started: a long pass is followed at once.
      t.next_retention = now + m.retention.interval;
      const auto pass =
          run_retention(t.lead.connection(), t.sql, m.retention, *core_->log,
                        [this](std::chrono::milliseconds d) { return stop_.sleep_for(d) || core_->stopping.load(); });
      if (auto* observer = core_->options.observer.get()) {
        observer->retention_deleted(t.sql.table, "completed", static_cast<uint64_t>(pass.completed));
        observer->retention_deleted(t.sql.table, "discarded", static_cast<uint64_t>(pass.discarded));
        observer->retention_deleted(t.sql.table, "failed", static_cast<uint64_t>(pass.failed));
      }
    }
    if (m.health.interval.count() > 0 && now >= t.next_health) {
      t.next_health = now + m.health.interval;
      const auto health = read_table_health(t.lead.connection(), t.sql.table);
      for (const auto& warning : health_warnings(health, m.health)) core_->log->warn("{}", warning);
    }
    if (m.reindex.count() > 0 && now >= t.next_reindex) {
      // A skipped rebuild is tried again a dozen leader checks later (a minute by default).
      t.next_reindex = now + 12 * m.leader_check;
      const auto outcome =
          reindex_churned(t.lead.connection(), t.sql, core_->options.timeouts.statement.count(), *core_->log);
      if (outcome == ReindexOutcome::done) t.next_reindex = now + m.reindex;
      else if (!t.reindex_waiting)
        core_->log->info("reindex of table {} postponed: a backlog is being worked; trying again every {}ms until "
                         "it is not",
                         t.sql.table, (12 * m.leader_check).count());
      t.reindex_waiting = outcome != ReindexOutcome::done;
    }
  } catch (const pg::Error& e) {
    if (!t.lead.failed(e))
      core_->log->error("maintenance of table {}: {} (SQLSTATE {}); trying again at its next interval", t.sql.table,
                        e.what(), e.sqlstate());
  }
}

}  // namespace pgxq::queue
