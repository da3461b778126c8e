// metrics/metrics: see metrics.hpp.
#include "metrics/metrics.hpp"

#include <prometheus/text_serializer.h>

namespace pgxq::metrics {

namespace {

prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& registry, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

}  // namespace

Metrics::Metrics(MetricsOptions options)
    : options_(std::move(options)),
      registry_(std::make_shared<prometheus::Registry>()),
      jobs_(std::make_shared<JobMetrics>(*registry_, options_.queues, options_.kinds)),
      queue_jobs_(gauge_family(*registry_, "pgxqd_queue_jobs",
                               "Jobs in the table by queue, kind and state (available: due now; scheduled: due "
                               "later; running), from the last periodic sample. Exact up to 100000 available jobs "
                               "per queue and kind; beyond that, available + scheduled = 100000 (the first ones in "
                               "claim order).")),
      oldest_due_(gauge_family(*registry_, "pgxqd_oldest_due_job_age_seconds",
                               "How long the oldest due, unclaimed job has been due (0: none), from the last "
                               "periodic sample.")),
      workers_busy_(gauge_family(*registry_, "pgxqd_workers_busy", "Handlers running now.")),
      workers_max_(gauge_family(*registry_, "pgxqd_workers_max", "Worker slots configured (max_workers).")),
      pool_in_use_(gauge_family(*registry_, "pgxqd_pool_connections_in_use",
                                "Handler connections leased from the pool now.")
                       .Add({})),
      pool_max_(gauge_family(*registry_, "pgxqd_pool_connections_max", "Size of the handler connection pool.").Add({})),
      database_up_(gauge_family(*registry_, "pgxqd_database_up",
                                "1 when the engine's last use of the database worked, else 0.")
                       .Add({})),
      completer_backlog_(gauge_family(*registry_, "pgxqd_completer_backlog",
                                      "Job outcomes waiting to be written by the completer.")
                             .Add({})) {
  gauge_family(*registry_, "pgxqd_build_info", "pgxqd's version and plugin ABI; always 1.")
      .Add({{"version", options_.version}, {"plugin_abi", options_.plugin_abi}})
      .Set(1);
  for (const auto& q : options_.queues) {
    workers_busy_.Add({{"queue", q}});
    workers_max_.Add({{"queue", q}});
    for (const auto& k : options_.kinds) {
      for (const char* state : {"available", "scheduled", "running"})
        queue_jobs_.Add({{"queue", q}, {"kind", k}, {"state", state}});
      oldest_due_.Add({{"queue", q}, {"kind", k}});
    }
  }
}

void Metrics::watch(const queue::Engine* engine, const QueueDepth* depth) {
  std::lock_guard lock(mu_);
  engine_ = engine;
  depth_ = depth;
}

void Metrics::update_gauges() {
  if (engine_) {
    for (const auto& s : engine_->stats()) {
      workers_busy_.Add({{"queue", s.name}}).Set(s.running);
      workers_max_.Add({{"queue", s.name}}).Set(s.max_workers);
    }
    pool_in_use_.Set(engine_->pool_connections_in_use());
    pool_max_.Set(engine_->pool_size());
    database_up_.Set(engine_->database_healthy() ? 1 : 0);
    completer_backlog_.Set(static_cast<double>(engine_->completer_backlog()));
  }
  if (depth_) {
    for (const auto& s : depth_->latest()) {
      queue_jobs_.Add({{"queue", s.queue}, {"kind", s.kind}, {"state", "available"}}).Set(static_cast<double>(s.available));
      queue_jobs_.Add({{"queue", s.queue}, {"kind", s.kind}, {"state", "scheduled"}}).Set(static_cast<double>(s.scheduled));
      queue_jobs_.Add({{"queue", s.queue}, {"kind", s.kind}, {"state", "running"}}).Set(static_cast<double>(s.running));
      oldest_due_.Add({{"queue", s.queue}, {"kind", s.kind}}).Set(s.oldest_due_age_seconds);
    }
  }
}

std::string Metrics::render() {
  std::lock_guard lock(mu_);
  update_gauges();
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace pgxq::metrics
