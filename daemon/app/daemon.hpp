// app/daemon: `pgxqd run` — the service itself. Wires config, logger, plugins and engine,
// reports readiness and status to systemd, and turns signals into graceful shutdown (first
// SIGTERM/SIGINT), fast shutdown (second) and live reload (SIGHUP).
#pragma once

#include <optional>
#include <string>

namespace pgxq::app {

struct RunOptions {
  std::optional<std::string> config;
  std::optional<std::string> database;
  std::optional<std::string> plugins_dir;
  bool allow_root = false;
};

// Returns the process exit code.
int run_daemon(const RunOptions& options);

}  // namespace pgxq::app
