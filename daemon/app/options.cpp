// app/options: see options.hpp.
#include "app/options.hpp"

#include "queue/cron.hpp"

namespace pgxq::app {

config::Defaults config_defaults() {
  const queue::EngineOptions engine;
  config::Defaults d;
  d.pool_size = engine.pool_size;
  const queue::Timeouts& t = engine.timeouts;
  d.timeouts = {t.connect, t.keepalives_idle, t.keepalives_interval, t.keepalives_count,
                t.tcp_user, t.statement, t.lock, t.pool_acquire};
  d.worker.handler_statement_timeout = t.handler_statement;
  d.worker.table = engine.table;
  d.worker.poll_interval = engine.poll_interval;
  d.worker.batch_size = engine.batch_size;
  d.worker.max_workers = engine.max_workers;
  d.worker.rescue_after = engine.rescue_after;
  d.worker.shutdown_timeout = engine.shutdown_timeout;
  d.worker.cancel_grace = engine.cancel_grace;
  d.worker.max_args_bytes = engine.max_args_bytes;
  d.worker.max_snoozes = engine.max_snoozes;
  d.worker.job_timeout = engine.job_timeout.limit;
  d.backoff = {engine.backoff.initial, engine.backoff.max, engine.backoff.multiplier, engine.backoff.jitter};
  const queue::MaintenanceOptions& m = engine.maintenance;
  d.retention = {m.retention.completed, m.retention.discarded, m.retention.failed, m.retention.interval,
                 m.retention.batch_size};
  d.maintenance = {m.enabled, m.leader_check, m.health.interval, m.health.long_transaction, m.reindex};
  return d;
}

queue::EngineOptions engine_options(const config::Config& config, const std::string& conninfo) {
  queue::EngineOptions o;
  o.conninfo = conninfo;
  o.pool_size = config.database.pool_size;
  o.table = config.worker.table;
  o.poll_interval = config.worker.poll_interval;
  o.batch_size = config.worker.batch_size;
  o.max_workers = config.worker.max_workers;
  o.rescue_after = config.worker.rescue_after;
  o.shutdown_timeout = config.worker.shutdown_timeout;
  o.cancel_grace = config.worker.cancel_grace;
  o.max_args_bytes = config.worker.max_args_bytes;
  o.max_snoozes = config.worker.max_snoozes;
  o.backoff = {config.backoff.initial, config.backoff.max, config.backoff.multiplier, config.backoff.jitter};
  const config::DatabaseTimeouts& t = config.database.timeouts;
  o.timeouts.connect = t.connect_timeout;
  o.timeouts.keepalives_idle = std::chrono::duration_cast<std::chrono::seconds>(t.keepalives_idle);
  o.timeouts.keepalives_interval = std::chrono::duration_cast<std::chrono::seconds>(t.keepalives_interval);
  o.timeouts.keepalives_count = t.keepalives_count;
  o.timeouts.tcp_user = t.tcp_user_timeout;
  o.timeouts.statement = t.statement_timeout;
  o.timeouts.lock = t.lock_timeout;
  o.timeouts.pool_acquire = t.acquire_timeout;
  o.timeouts.handler_statement = config.worker.handler_statement_timeout;
  for (const auto& q : config.queues) o.queues.push_back({q.name, q.table, q.max_workers});
  const config::RetentionConfig& r = config.retention;
  o.maintenance.retention.completed = r.completed;
  o.maintenance.retention.discarded = r.discarded;
  o.maintenance.retention.failed = r.failed;
  o.maintenance.retention.interval = r.interval;
  o.maintenance.retention.batch_size = r.batch_size;
  o.maintenance.enabled = config.maintenance.enabled;
  o.maintenance.leader_check = config.maintenance.leader_check;
  o.maintenance.health.interval = config.maintenance.health_check;
  o.maintenance.health.long_transaction = config.maintenance.long_transaction;
  o.maintenance.reindex = config.maintenance.reindex;
  o.periodic = periodic_entries(config);
  o.job_timeout = {config.worker.job_timeout, config.worker.job_timeout_text};
  for (const auto& [kind, k] : config.kinds)
    if (k.timeout) o.kind_timeouts[kind] = {*k.timeout, k.timeout_text};
  return o;
}

std::vector<queue::PeriodicEntry> periodic_entries(const config::Config& config) {
  std::vector<queue::PeriodicEntry> out;
  std::vector<config::Problem> problems;
  auto position = [&](const std::string& key) {
    auto it = config.positions.find(key);
    return it == config.positions.end() ? config::Position{} : it->second;
  };
  for (const auto& p : config.periodic) {
    queue::PeriodicEntry e;
    e.name = p.name;
    e.kind = p.kind;
    e.args = p.args;
    e.queue = p.queue;
    e.priority = p.priority;
    e.max_attempts = p.max_attempts;
    e.catch_up = p.catch_up;
    if (p.cron.empty()) {
      e.schedule = queue::Schedule::every(std::chrono::duration_cast<std::chrono::seconds>(p.every));
    } else {
      auto parsed = queue::parse_cron(p.cron);
      if (!parsed.ok())
        problems.push_back({config.path, position(p.key + ".cron"), p.key + ".cron",
                            "invalid cron expression \"" + p.cron + "\": " + parsed.error});
      auto zone_problem = queue::time_zone_problem(p.timezone);
      if (!zone_problem.empty())
        problems.push_back({config.path, position(p.key + ".timezone"), p.key + ".timezone", zone_problem});
      if (parsed.ok() && zone_problem.empty()) e.schedule = queue::Schedule::cron(p.cron, p.timezone);
    }
    out.push_back(std::move(e));
  }
  if (!problems.empty()) throw config::ConfigError(std::move(problems));
  return out;
}

}  // namespace pgxq::app
