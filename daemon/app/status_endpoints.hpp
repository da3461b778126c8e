// app/status_endpoints: the status page as a running daemon serves it — the page's files,
// /api/status on the daemon's job tables, and the throughput sampler that reads the engine
// while it runs (started and stopped with it, so it never reads an engine being torn down).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "app/status_api.hpp"
#include "app/throughput.hpp"
#include "config/config.hpp"
#include "http/server.hpp"
#include "queue/engine.hpp"

namespace pgxq::app {

class StatusEndpoints {
public:
  StatusEndpoints(const config::Config& config, const std::string& conninfo);
  ~StatusEndpoints();
  StatusEndpoints(const StatusEndpoints&) = delete;
  StatusEndpoints& operator=(const StatusEndpoints&) = delete;

  // "/", "/status.js", "/status.css" and "/api/status". The routes hold on to this object.
  static std::map<std::string, http::Route> routes(const std::shared_ptr<StatusEndpoints>& self);

  // Throughput sampling runs from engine_started to engine_stopping (which waits for it).
  void engine_started(const queue::Engine& engine);
  void engine_stopping() noexcept;

private:
  Throughput throughput_;
  StatusApi api_;
  std::mutex sampler_mutex_;
  std::unique_ptr<ThroughputSampler> sampler_;
};

}  // namespace pgxq::app
