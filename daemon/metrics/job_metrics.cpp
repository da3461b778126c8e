// metrics/job_metrics: see job_metrics.hpp.
#include "metrics/job_metrics.hpp"

namespace pgxq::metrics {

namespace {

using prometheus::Histogram;

Histogram::BucketBoundaries handler_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900};
}

Histogram::BucketBoundaries pickup_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
}

// A kind read from a row, not from a handler: printable ASCII only, so the exposition stays valid
// whatever bytes the row holds.
std::string label_safe(std::string_view text) {
  std::string out(text.substr(0, 200));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '_';
  return out;
}

double seconds(std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1e6; }

}  // namespace

JobMetrics::JobMetrics(prometheus::Registry& registry, const std::vector<std::string>& queues,
                       const std::vector<std::string>& kinds)
    : claimed_(prometheus::BuildCounter()
                   .Name("pgxqd_jobs_claimed_total")
                   .Help("Jobs claimed by this daemon.")
                   .Register(registry)),
      finished_(prometheus::BuildCounter()
                    .Name("pgxqd_jobs_finished_total")
                    .Help("Job attempts whose outcome this daemon wrote, by outcome (completed, retried, snoozed, "
                          "discarded, panicked, failed, rescued).")
                    .Register(registry)),
      handler_duration_(prometheus::BuildHistogram()
                            .Name("pgxqd_handler_duration_seconds")
                            .Help("How long handlers ran, per attempt.")
                            .Register(registry)),
      pickup_delay_(prometheus::BuildHistogram()
                        .Name("pgxqd_pickup_delay_seconds")
                        .Help("Time from a job being due (the later of scheduled_at and created_at) to its claim.")
                        .Register(registry)),
      retention_deleted_(prometheus::BuildCounter()
                             .Name("pgxqd_retention_deleted_total")
                             .Help("Expired finished jobs this daemon deleted as its table's leader ([retention]), by "
                                   "table and state.")
                             .Register(registry)) {
  for (const auto& q : queues) {
    auto& by_kind = known_[q];
    for (const auto& k : kinds) by_kind.emplace(k, std::unique_ptr<Series>(make_series(q, k)));
  }
}

JobMetrics::Series* JobMetrics::make_series(const std::string& queue, const std::string& kind) {
  auto series = std::make_unique<Series>();
  series->claimed = &claimed_.Add({{"queue", queue}, {"kind", kind}});
  for (size_t i = 0; i < kOutcomes; ++i)
    series->finished[i] = &finished_.Add(
        {{"queue", queue}, {"kind", kind}, {"outcome", queue::to_string(static_cast<queue::FinishOutcome>(i))}});
  series->handler_duration = &handler_duration_.Add({{"queue", queue}, {"kind", kind}}, handler_buckets());
  series->pickup_delay = &pickup_delay_.Add({{"queue", queue}, {"kind", kind}}, pickup_buckets());
  return series.release();
}

JobMetrics::Series& JobMetrics::series(std::string_view queue, std::string_view kind) {
  if (auto q = known_.find(queue); q != known_.end())
    if (auto k = q->second.find(kind); k != q->second.end()) return *k->second;
  std::lock_guard lock(unknown_mu_);
  auto& by_kind = unknown_[std::string(queue)];
  if (auto k = by_kind.find(kind); k != by_kind.end()) return *k->second;
  const std::string label = unknown_count_ < kMaxUnknownKinds ? label_safe(kind) : std::string("other");
  if (auto k = by_kind.find(label); k != by_kind.end()) return *k->second;
  ++unknown_count_;
  auto [it, inserted] = by_kind.emplace(label, std::unique_ptr<Series>(make_series(label_safe(queue), label)));
  return *it->second;
}

void JobMetrics::claimed(std::string_view queue, std::string_view kind, std::chrono::microseconds pickup_delay) noexcept {
  try {
    Series& s = series(queue, kind);
    s.claimed->Increment();
    s.pickup_delay->Observe(seconds(pickup_delay));
  } catch (...) {
    // Metrics never stop a job: an allocation failure here loses one sample.
  }
}

void JobMetrics::finished(std::string_view queue, std::string_view kind, queue::FinishOutcome outcome,
                          std::optional<std::chrono::microseconds> handler_duration) noexcept {
  try {
    Series& s = series(queue, kind);
    const auto i = static_cast<size_t>(outcome);
    if (i < kOutcomes) s.finished[i]->Increment();
    if (handler_duration) s.handler_duration->Observe(seconds(*handler_duration));
  } catch (...) {
  }
}

void JobMetrics::retention_deleted(std::string_view table, std::string_view state, uint64_t rows) noexcept {
  try {
    std::lock_guard lock(retention_mu_);
    retention_deleted_.Add({{"table", label_safe(table)}, {"state", label_safe(state)}}).Increment(static_cast<double>(rows));
  } catch (...) {
    // A metric that cannot be counted is not worth failing a retention pass for.
  }
}

}  // namespace pgxq::metrics
