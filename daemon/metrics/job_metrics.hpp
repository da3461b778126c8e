// metrics/job_metrics: the engine's JobObserver as Prometheus metrics — jobs claimed, jobs
// finished by outcome, handler duration and pickup delay, labelled by queue and kind only. The
// metric objects of every (queue, handled kind) are made up front, so a claim or an outcome is
// a lookup in a map nobody writes to, and an atomic add (a histogram: its own short lock).
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "queue/observer.hpp"

namespace pgxq::metrics {

class JobMetrics final : public queue::JobObserver {
public:
  JobMetrics(prometheus::Registry& registry, const std::vector<std::string>& queues,
             const std::vector<std::string>& kinds);

  void claimed(std::string_view queue, std::string_view kind, std::chrono::microseconds pickup_delay) noexcept override;
  void finished(std::string_view queue, std::string_view kind, queue::FinishOutcome outcome,
                std::optional<std::chrono::microseconds> handler_duration) noexcept override;
  void retention_deleted(std::string_view table, std::string_view state, uint64_t rows) noexcept override;

  // Kinds seen that have no handler here (a rescued job of a removed plugin's kind) get their
  // own series up to this many; beyond it they are counted under kind="other".
  static constexpr size_t kMaxUnknownKinds = 50;

private:
  static constexpr size_t kOutcomes = 7;
  struct Series {
    prometheus::Counter* claimed;
    std::array<prometheus::Counter*, kOutcomes> finished;
    prometheus::Histogram* handler_duration;
    prometheus::Histogram* pickup_delay;
  };
  using KindSeries = std::map<std::string, std::unique_ptr<Series>, std::less<>>;

  Series& series(std::string_view queue, std::string_view kind);
  Series* make_series(const std::string& queue, const std::string& kind);

  prometheus::Family<prometheus::Counter>& claimed_;
  prometheus::Family<prometheus::Counter>& finished_;
  prometheus::Family<prometheus::Histogram>& handler_duration_;
  prometheus::Family<prometheus::Histogram>& pickup_delay_;
  prometheus::Family<prometheus::Counter>& retention_deleted_;
  std::mutex retention_mu_;  // Family::Add for retention_deleted_ (once per table and state)
  std::map<std::string, KindSeries, std::less<>> known_;  // written only in the constructor
  std::mutex unknown_mu_;                                  // guards unknown_ (and Family::Add for it)
  std::map<std::string, KindSeries, std::less<>> unknown_;
  size_t unknown_count_ = 0;
};

}  // namespace pgxq::metrics
