// app/reload: see reload.hpp.
#include "app/reload.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace pgxq::app {

int effective_max_workers(const config::Config& config, const config::QueueConfig& queue) {
  return queue.max_workers > 0 ? queue.max_workers : config.worker.max_workers;
}

ReloadPlan plan_reload(const config::Config& running, const config::Config& fresh) {
  ReloadPlan plan;
  auto applied = std::make_shared<config::Config>(running);
  auto restart = [&](bool changed, const char* key) {
    if (changed) plan.needs_restart.emplace_back(key);
  };

  if (fresh.log.level != running.log.level) {
    plan.log_level = fresh.log.level;
    applied->log.level = fresh.log.level;
  }
  if (fresh.worker.poll_interval != running.worker.poll_interval) {
    plan.poll_interval = fresh.worker.poll_interval;
    applied->worker.poll_interval = fresh.worker.poll_interval;
  }

  // Queues: the same set (and tables) is needed to apply max_workers live.
  bool same_queues = fresh.queues.size() == running.queues.size();
  for (size_t i = 0; same_queues && i < fresh.queues.size(); ++i) {
    const auto& a = running.queues[i];
    bool found = false;
    for (const auto& b : fresh.queues)
      if (b.name == a.name) {
        found = true;
        if (b.table != a.table) plan.needs_restart.push_back("queues." + a.name + ".table");
      }
    same_queues = found;
  }
  if (!same_queues) {
    plan.needs_restart.emplace_back("queues (added or removed)");
  } else {
    for (const auto& fq : fresh.queues) {
      for (auto& rq : applied->queues) {
        if (rq.name != fq.name) continue;
        int before = effective_max_workers(running, rq);
        int after = effective_max_workers(fresh, fq);
        if (before != after) plan.max_workers[fq.name] = after;
        rq.max_workers = fq.max_workers;
      }
    }
    applied->worker.max_workers = fresh.worker.max_workers;
  }

  restart(fresh.log.format != running.log.format, "log.format");
  restart(fresh.database.url != running.database.url, "database.url");
  restart(fresh.database.pool_size != running.database.pool_size, "database.pool_size");
  restart(fresh.worker.table != running.worker.table, "worker.table");
  restart(fresh.worker.batch_size != running.worker.batch_size, "worker.batch_size");
  restart(fresh.worker.rescue_after != running.worker.rescue_after, "worker.rescue_after");
  restart(fresh.worker.shutdown_timeout != running.worker.shutdown_timeout, "worker.shutdown_timeout");
  restart(fresh.worker.cancel_grace != running.worker.cancel_grace, "worker.cancel_grace");
  restart(fresh.worker.max_args_bytes != running.worker.max_args_bytes, "worker.max_args_bytes");
  restart(fresh.worker.max_snoozes != running.worker.max_snoozes, "worker.max_snoozes");
  restart(fresh.backoff.initial != running.backoff.initial || fresh.backoff.max != running.backoff.max ||
              fresh.backoff.multiplier != running.backoff.multiplier || fresh.backoff.jitter != running.backoff.jitter,
          "backoff");
  restart(fresh.plugins.dir != running.plugins.dir, "plugins.dir");
  restart(fresh.http.listen != running.http.listen, "http.listen");
  restart(fresh.periodic.size() != running.periodic.size() ||
              !std::equal(fresh.periodic.begin(), fresh.periodic.end(), running.periodic.begin(),
                          [](const auto& a, const auto& b) { return a.same_as(b); }),
          "periodic");
  restart(fresh.worker.job_timeout != running.worker.job_timeout, "worker.job_timeout");
  bool kind_timeouts_changed = fresh.kinds.size() != running.kinds.size();
  for (const auto& [kind, k] : fresh.kinds) {
    auto it = running.kinds.find(kind);
    if (it == running.kinds.end() || it->second.timeout != k.timeout) kind_timeouts_changed = true;
  }
  restart(kind_timeouts_changed, "kinds.<kind> timeout");
  bool settings_changed = fresh.plugins.settings.size() != running.plugins.settings.size();
  for (const auto& [name, s] : fresh.plugins.settings) {
    auto it = running.plugins.settings.find(name);
    if (it == running.plugins.settings.end() || !(it->second.table == s.table)) settings_changed = true;
  }
  restart(settings_changed, "plugins.<name> settings");
  // Where a plugin runs and its workers' limits: the pools are made at start.
  std::map<std::string, std::pair<config::PluginSettings, config::PluginSettings>> host_keys;
  for (const auto& [name, s] : running.plugins.settings) host_keys[name].first = s;
  for (const auto& [name, s] : fresh.plugins.settings) host_keys[name].second = s;
  for (const auto& [name, pair] : host_keys) {
    const auto& [before, after] = pair;
    const std::string key = "plugins." + name + ".";
    if (before.isolation != after.isolation) plan.needs_restart.push_back(key + "isolation");
    if (before.processes != after.processes) plan.needs_restart.push_back(key + "processes");
    if (before.memory_limit != after.memory_limit) plan.needs_restart.push_back(key + "memory_limit");
    if (before.cpu_limit != after.cpu_limit) plan.needs_restart.push_back(key + "cpu_limit");
  }
  const auto& fr = fresh.retention;
  const auto& rr = running.retention;
  restart(fr.completed != rr.completed || fr.discarded != rr.discarded || fr.failed != rr.failed ||
              fr.interval != rr.interval || fr.batch_size != rr.batch_size,
          "retention");
  const auto& fm = fresh.maintenance;
  const auto& rm = running.maintenance;
  restart(fm.enabled != rm.enabled || fm.leader_check != rm.leader_check || fm.health_check != rm.health_check ||
              fm.long_transaction != rm.long_transaction || fm.reindex != rm.reindex,
          "maintenance");
  plan.applied = std::move(applied);
  return plan;
}

}  // namespace pgxq::app
