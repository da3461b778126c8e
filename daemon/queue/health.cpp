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

Liveness::Loop::Loop(Liveness& owner, std::string name) : owner_(owner) {
  std::lock_guard lock(owner_.mu_);
  id_ = owner_.next_id_++;
  owner_.loops_[id_] = Entry{std::move(name), false, owner_.clock_->now()};
}

Liveness::Loop::~Loop() {
  std::lock_guard lock(owner_.mu_);
  owner_.loops_.erase(id_);
}

void Liveness::Loop::busy() {
  const auto now = owner_.clock_->now();
  std::lock_guard lock(owner_.mu_);
  auto& e = owner_.loops_[id_];
  e.busy = true;
  e.last_step = now;
}

void Liveness::Loop::step() {
  const auto now = owner_.clock_->now();
  std::lock_guard lock(owner_.mu_);
  owner_.loops_[id_].last_step = now;
}

void Liveness::Loop::idle() {
  std::lock_guard lock(owner_.mu_);
  owner_.loops_[id_].busy = false;
}

std::optional<std::string> Liveness::stalled(Clock::Duration bound) const {
  if (bound <= Clock::Duration::zero()) return std::nullopt;
  const auto now = clock_->now();
  std::lock_guard lock(mu_);
  const Entry* worst = nullptr;
  for (const auto& [id, e] : loops_)
    if (e.busy && now - e.last_step > bound && (!worst || e.last_step < worst->last_step)) worst = &e;
  if (!worst) return std::nullopt;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - worst->last_step).count();
  return worst->name + ": busy on the database for " + std::to_string(ms) + "ms without finishing a statement or connect";
}

}  // namespace pgxq::queue
