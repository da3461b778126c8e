// app/reload: what a SIGHUP can change in a running daemon. Compares the running config with
// the re-read one and says which changes apply live (log level, poll interval, per-queue
// max_workers) and which need a restart. Pure: the daemon applies the plan.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace pgxq::app {

struct ReloadPlan {
  std::optional<config::LogLevel> log_level;
  std::optional<std::chrono::milliseconds> poll_interval;
  std::map<std::string, int> max_workers;  // queue -> new effective max_workers
  std::vector<std::string> needs_restart;  // dotted keys that changed but cannot apply live
  // The running config after applying the live changes (what the next SIGHUP compares with).
  std::shared_ptr<const config::Config> applied;
};

ReloadPlan plan_reload(const config::Config& running, const config::Config& fresh);

// A queue's effective concurrency: its own max_workers, else worker.max_workers.
int effective_max_workers(const config::Config& config, const config::QueueConfig& queue);

}  // namespace pgxq::app
