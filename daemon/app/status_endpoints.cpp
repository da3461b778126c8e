// app/status_endpoints: see status_endpoints.hpp.
#include "app/status_endpoints.hpp"

#include "app/options.hpp"
#include "http/status_page.hpp"

namespace pgxq::app {

namespace {

StatusApiOptions api_options(const config::Config& config, const std::string& conninfo) {
  StatusApiOptions options;
  options.conninfo = conninfo;
  options.tables = queue::job_tables(engine_options(config, conninfo));
  return options;
}

}  // namespace

StatusEndpoints::StatusEndpoints(const config::Config& config, const std::string& conninfo)
    : api_(api_options(config, conninfo), &throughput_) {}

StatusEndpoints::~StatusEndpoints() { engine_stopping(); }

std::map<std::string, http::Route> StatusEndpoints::routes(const std::shared_ptr<StatusEndpoints>& self) {
  auto routes = http::status_page_routes();
  routes["/api/status"] = [self](const http::Request& request) { return self->api_.handle(request); };
  return routes;
}

void StatusEndpoints::engine_started(const queue::Engine& engine) {
  std::lock_guard lock(sampler_mutex_);
  sampler_ = std::make_unique<ThroughputSampler>(throughput_, [&engine] { return engine.stats(); });
}

void StatusEndpoints::engine_stopping() noexcept {
  std::lock_guard lock(sampler_mutex_);
  sampler_.reset();  // joins the sampler's thread
}

}  // namespace pgxq::app
