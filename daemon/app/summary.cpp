// app/summary: see summary.hpp.
#include "app/summary.hpp"

#include "app/context.hpp"
#include "app/reload.hpp"
#include "config/duration.hpp"

namespace pgxq::app {

std::string startup_summary(const config::Config& config, const std::string& conninfo,
                            const std::vector<plugin::PluginInfo>& plugins) {
  std::string s = "pgxqd " PGXQ_VERSION " started: database=" + describe_database(conninfo) +
                  " table=" + config.worker.table + " queues=[";
  for (size_t i = 0; i < config.queues.size(); ++i) {
    const auto& q = config.queues[i];
    if (i) s += ", ";
    s += q.name + ":" + std::to_string(effective_max_workers(config, q));
    if (!q.table.empty()) s += "@" + q.table;
  }
  s += "] kinds=[";
  for (size_t i = 0; i < plugins.size(); ++i) {
    const auto& p = plugins[i];
    if (i) s += "; ";
    s += p.name + " " + p.version + ":";
    for (size_t k = 0; k < p.kinds.size(); ++k) s += (k ? ", " : " ") + p.kinds[k];
  }
  s += "] poll=" + config::format_duration(config.worker.poll_interval) +
       " config=" + (config.path.empty() ? std::string("(built-in defaults)") : config.path);
  return s;
}

std::string status_line(const std::vector<queue::QueueStats>& stats) {
  std::string s;
  uint64_t completed = 0, retried = 0, discarded = 0, failed = 0, rescued = 0;
  for (size_t i = 0; i < stats.size(); ++i) {
    const auto& q = stats[i];
    if (i) s += ", ";
    s += q.name + " " + std::to_string(q.running) + "/" + std::to_string(q.max_workers) + " running";
    completed += q.completed;
    retried += q.retried;
    discarded += q.discarded;
    failed += q.failed;
    rescued += q.rescued;
  }
  s += "; completed " + std::to_string(completed) + ", retried " + std::to_string(retried) + ", discarded " +
       std::to_string(discarded) + ", failed " + std::to_string(failed) + ", rescued " + std::to_string(rescued);
  return s;
}

}  // namespace pgxq::app
