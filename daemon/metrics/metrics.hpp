// metrics/metrics: every metric pgxqd exposes, in one prometheus-cpp registry, and its text
// exposition. Counters and histograms are fed as jobs move (JobMetrics, the engine's observer);
// gauges are read when scraped — from the engine (workers, pool, database, completer) and
// from the last queue-depth sample — so a scrape never waits on the database.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "metrics/job_metrics.hpp"
#include "metrics/queue_depth.hpp"
#include "queue/engine.hpp"

namespace pgxq::metrics {

struct MetricsOptions {
  std::vector<std::string> queues;
  std::vector<std::string> kinds;  // handled kinds
  std::string version;             // pgxqd's
  std::string plugin_abi;          // "1.1"
};

class Metrics {
public:
  explicit Metrics(MetricsOptions options);

  // For EngineOptions::observer.
  std::shared_ptr<queue::JobObserver> observer() const { return jobs_; }
  // Where the gauges are read at each scrape. The engine must be started (and outlive the
  // scrapes); the depth sampler may be null (then the depth gauges stay 0).
  void watch(const queue::Engine* engine, const QueueDepth* depth);
  // The Prometheus text exposition (format 0.0.4).
  std::string render();

private:
  void update_gauges();

  MetricsOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<JobMetrics> jobs_;
  prometheus::Family<prometheus::Gauge>& queue_jobs_;
  prometheus::Family<prometheus::Gauge>& oldest_due_;
  prometheus::Family<prometheus::Gauge>& workers_busy_;
  prometheus::Family<prometheus::Gauge>& workers_max_;
  prometheus::Gauge& pool_in_use_;
  prometheus::Gauge& pool_max_;
  prometheus::Gauge& database_up_;
  prometheus::Gauge& completer_backlog_;
  std::mutex mu_;  // scrapes run on several server threads
  const queue::Engine* engine_ = nullptr;
  const QueueDepth* depth_ = nullptr;
};

}  // namespace pgxq::metrics
