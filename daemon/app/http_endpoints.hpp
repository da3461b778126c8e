// app/http_endpoints: the [http] side of a running daemon — the routes (/metrics, /healthz,
// /readyz; the status page adds its own in http_routes), the metrics and queue-depth sampler
// they read, and the server that serves them. Health agrees with the systemd watchdog: /healthz
// is 200 exactly while the engine runs and Engine::stalled() is empty, which is when daemon.cpp
// sends WATCHDOG=1.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "http/server.hpp"
#include "metrics/metrics.hpp"
#include "metrics/queue_depth.hpp"
#include "queue/engine.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::app {

class StatusEndpoints;  // app/status_endpoints.hpp

// What routes may read. Shared by every request thread.
struct HttpContext {
  std::shared_ptr<const config::Config> config;
  std::string conninfo;
  std::shared_ptr<spdlog::logger> log;
  metrics::Metrics* metrics = nullptr;
  // Set once the engine has started, cleared before it stops: null means "not serving jobs".
  std::atomic<const queue::Engine*> engine{nullptr};
  bool plugins_loaded = false;
  std::shared_ptr<StatusEndpoints> status_page;  // "/", its files and /api/status
};

// Every route of the listener, by path. Add a page's routes here.
std::map<std::string, http::Route> http_routes(const std::shared_ptr<HttpContext>& context);

// /healthz and /readyz for an engine (null: not started, or stopping); 200 or 503 with
// {"status":"ok"} or {"status":"...","reason":"..."}.
http::Response liveness(const queue::Engine* engine);
http::Response readiness(const queue::Engine* engine, bool plugins_loaded);

class HttpEndpoints {
public:
  // Null when [http] listen is not set. `kinds`: the handled kinds.
  static std::unique_ptr<HttpEndpoints> from_config(std::shared_ptr<const config::Config> config, std::string conninfo,
                                                    std::vector<std::string> kinds, std::shared_ptr<spdlog::logger> log);
  ~HttpEndpoints();

  // For EngineOptions::observer (before the engine is built).
  std::shared_ptr<queue::JobObserver> observer() const { return metrics_->observer(); }
  // Binds the listener. Throws std::runtime_error (what, why, what to do) when it cannot.
  void start();
  // The engine has started: health answers for it, the gauges read it, depth sampling begins.
  void engine_started(const queue::Engine& engine, const queue::EngineOptions& options);
  // The engine is about to stop: from now on no endpoint reads it (health says "starting or
  // stopping"), and the listener closes in the background (civetweb takes up to 2s to notice,
  // which the engine's own shutdown then overlaps).
  void engine_stopping();
  // Stops serving and sampling; waits for both.
  void stop();
  int port() const { return server_->port(); }

private:
  HttpEndpoints() = default;
  std::shared_ptr<HttpContext> context_;
  std::unique_ptr<metrics::Metrics> metrics_;
  std::unique_ptr<metrics::QueueDepth> depth_;
  std::unique_ptr<http::Server> server_;
  std::thread server_stopper_;
};

}  // namespace pgxq::app
