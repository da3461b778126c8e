// queue/periodic: see periodic.hpp.
#include "queue/periodic.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgxq::queue {

PeriodicPlan plan_periodic(const Schedule& schedule, bool catch_up, std::optional<Instant> last_run, Instant now,
                           std::chrono::seconds grace, size_t max_runs) {
  PeriodicPlan plan;
  if (!last_run) {
    plan.first_seen = true;
    return plan;
  }
  const Instant late = now - grace;  // a time at or before this was missed
  if (late > *last_run) {
    plan.missed = schedule.count_between(*last_run, late, 1000000);
    if (plan.missed > 0) {
      const auto latest_missed = schedule.latest_at_or_before(late);
      if (latest_missed && *latest_missed > *last_run) {
        if (catch_up) {
          plan.caught_up = latest_missed;
          plan.runs.push_back(*latest_missed);
        } else {
          plan.skip_to = latest_missed;
        }
      }
    }
  }
  for (auto at = schedule.next_after(std::max(*last_run, late)); at && *at <= now && plan.runs.size() < max_runs;
       at = schedule.next_after(*at))
    plan.runs.push_back(*at);
  return plan;
}

std::string periodic_table(const EngineOptions& options, const PeriodicEntry& entry) {
  for (const auto& q : options.queues)
    if (q.name == entry.queue && !q.table.empty()) return q.table;
  return options.table;
}

size_t periodic_entries_of(const EngineOptions& options, const std::string& table) {
  return static_cast<size_t>(std::count_if(options.periodic.begin(), options.periodic.end(),
                                           [&](const PeriodicEntry& e) { return periodic_table(options, e) == table; }));
}

std::chrono::seconds periodic_grace(std::chrono::milliseconds leader_check) {
  return std::max(std::chrono::seconds(60), std::chrono::ceil<std::chrono::seconds>(3 * leader_check));
}

std::string periodic_unique_key(const std::string& name, Instant at) { return "periodic:" + name + ":" + format_utc(at); }

namespace {

std::string text_array(const std::vector<PeriodicEntry>& entries) {
  // Entry names are [A-Za-z0-9_.:-] only (the config checks), so they need no escaping.
  std::string out = "{";
  for (size_t i = 0; i < entries.size(); ++i) out += (i ? ",\"" : "\"") + entries[i].name + "\"";
  return out + "}";
}

std::string seconds_text(Instant t) { return std::to_string(t.time_since_epoch().count()); }

}  // namespace

PeriodicEnqueuer::PeriodicEnqueuer(const TableSql& table, std::vector<PeriodicEntry> entries, std::chrono::seconds grace,
                                   std::shared_ptr<spdlog::logger> log)
    : table_(table), sql_(table), entries_(std::move(entries)), grace_(grace), log_(std::move(log)),
      names_(text_array(entries_)) {}

void PeriodicEnqueuer::run(pg::Connection& conn) {
  if (entries_.empty()) return;
  auto state = conn.exec(sql_.read_state, {pg::Param(names_)});
  for (int row = 0; row < state.rows(); ++row) {
    const Instant now(std::chrono::seconds(state.int64(row, 0)));
    const std::string name(state.text(row, 1));
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const PeriodicEntry& e) { return e.name == name; });
    if (it == entries_.end() || !it->schedule) continue;
    const PeriodicEntry& e = *it;
    std::optional<Instant> last_run;
    if (!state.is_null(row, 2)) last_run = Instant(std::chrono::seconds(state.int64(row, 2)));
    const auto plan = plan_periodic(*e.schedule, e.catch_up, last_run, now, grace_);
    if (plan.first_seen) {
      conn.exec(sql_.first_seen, {pg::Param(e.name), pg::Param(seconds_text(now))});
      const auto next = e.schedule->next_after(now);
      log_->info("periodic {} (kind {}, queue {}, table {}): new entry, {}; first run at {}", e.name, e.kind, e.queue,
                 table_.table, e.schedule->describe(),
                 next ? e.schedule->format_local(*next) + " = " + format_utc(*next) : std::string("never"));
      continue;
    }
    if (plan.skip_to) {
      if (conn.exec(sql_.advance, {pg::Param(e.name), pg::Param(seconds_text(*plan.skip_to))}).rows() > 0)
        log_->warn("periodic {} (kind {}, queue {}, table {}): skipped {} missed run(s), the latest at {} "
                   "(catch_up = false; no daemon led the table then)",
                   e.name, e.kind, e.queue, table_.table, plan.missed, format_utc(*plan.skip_to));
    }
    for (const Instant at : plan.runs) enqueue(conn, e, at, plan);
  }
}

void PeriodicEnqueuer::enqueue(pg::Connection& conn, const PeriodicEntry& e, Instant at, const PeriodicPlan& plan) {
  const std::string at_text = seconds_text(at);
  pg::Transaction tx(conn);
  if (conn.exec(sql_.advance, {pg::Param(e.name), pg::Param(at_text)}).rows() == 0) return;  // enqueued already
  const std::string key = periodic_unique_key(e.name, at);
  const std::string priority = std::to_string(e.priority), max_attempts = std::to_string(e.max_attempts);
  auto job = conn.exec(sql_.insert_job, {pg::Param(e.kind), pg::Param(e.args), pg::Param(e.queue), pg::Param(priority),
                                         pg::Param(max_attempts), pg::Param(at_text), pg::Param(key)});
  if (job.rows() == 0) {
    tx.commit();
    log_->warn("periodic {} (kind {}, queue {}, table {}): run at {} not enqueued: an unfinished job already holds "
               "unique_key {}",
               e.name, e.kind, e.queue, table_.table, format_utc(at), key);
    return;
  }
  const std::string id(job.text(0, 0));
  conn.exec(sql_.set_last_job, {pg::Param(e.name), pg::Param(id)});
  tx.commit();
  if (plan.caught_up && *plan.caught_up == at)
    log_->info("periodic {}: enqueued job {} (kind {}, queue {}) for {} to catch up: {} scheduled time(s) missed while "
               "no daemon led table {}, run once",
               e.name, id, e.kind, e.queue, format_utc(at), plan.missed, table_.table);
  else
    log_->info("periodic {}: enqueued job {} (kind {}, queue {}) for {}", e.name, id, e.kind, e.queue, format_utc(at));
}

}  // namespace pgxq::queue
