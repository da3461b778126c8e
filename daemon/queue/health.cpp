// queue/health: outage tracking across the engine's database users.
#include "queue/health.hpp"

#include <spdlog/spdlog.h>

namespace pgxq::queue {

void Health::failed(std::string_view component, std::string_view error, std::optional<TimePoint> connected_at) {
  std::lock_guard lock(mu_);
  if (failing_.empty() && connected_at && last_recovery_ && *connected_at < *last_recovery_) {
    log_->debug("database connection ({}) was broken by the last outage: {}; reconnecting", component, error);
    return;
  }
  bool first = failing_.empty();
  bool inserted = failing_.emplace(component).second;
  if (first) {
    outage_start_ = clock_->now();
    log_->warn("database unavailable ({}): {}; retrying with backoff, jobs are kept", component, error);
  } else if (inserted) {
    log_->debug("database unavailable ({}): {}", component, error);
  }
}

void Health::ok(std::string_view component) {
  std::lock_guard lock(mu_);
  if (failing_.empty()) return;
  auto it = failing_.find(component);
  if (it == failing_.end()) return;
  failing_.erase(it);
  if (failing_.empty()) {
    last_recovery_ = clock_->now();
    auto secs = std::chrono::duration<double>(*last_recovery_ - outage_start_).count();
    log_->info("database reachable again after {:.1f}s", secs);
  }
}

bool Health::healthy() const {
  std::lock_guard lock(mu_);
  return failing_.empty();
}

}  // namespace pgxq::queue
