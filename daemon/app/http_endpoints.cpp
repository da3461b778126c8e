// app/http_endpoints: see http_endpoints.hpp.
#include "app/http_endpoints.hpp"

#include <pgxq/plugin.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "app/status_endpoints.hpp"

namespace pgxq::app {

namespace {

// A JSON string; the reasons come from the engine (loop and queue names).
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", u);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

http::Response health(bool ok, std::string_view status, std::string_view reason) {
  http::Response r;
  r.status = ok ? 200 : 503;
  r.content_type = "application/json";
  r.body = ok ? std::string(R"({"status":"ok"})")
              : "{\"status\":" + json_string(status) + ",\"reason\":" + json_string(reason) + "}";
  r.body += "\n";
  return r;
}

}  // namespace

http::Response liveness(const queue::Engine* engine) {
  if (!engine) return health(false, "starting", "the engine is not running (starting or stopping)");
  if (!engine->running()) return health(false, "stopped", "the engine stopped");
  if (auto stuck = engine->stalled()) return health(false, "stalled", *stuck);
  return health(true, "ok", "");
}

http::Response readiness(const queue::Engine* engine, bool plugins_loaded) {
  if (!plugins_loaded) return health(false, "unavailable", "plugins are not loaded");
  if (!engine) return health(false, "starting", "the engine is not running (starting or stopping)");
  if (!engine->running()) return health(false, "stopped", "the engine stopped");
  if (!engine->database_healthy()) return health(false, "unavailable", "the database is unreachable");
  return health(true, "ok", "");
}

std::map<std::string, http::Route> http_routes(const std::shared_ptr<HttpContext>& context) {
  std::map<std::string, http::Route> routes;
  // These take no parameters; a malformed query string is still refused (parse_query throws
  // std::invalid_argument, which the server answers with 400).
  routes["/metrics"] = [context](const http::Request& request) {
    http::parse_query(request.query);
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = context->metrics->render();
    return r;
  };
  routes["/healthz"] = [context](const http::Request& request) {
    http::parse_query(request.query);
    return liveness(context->engine.load());
  };
  routes["/readyz"] = [context](const http::Request& request) {
    http::parse_query(request.query);
    return readiness(context->engine.load(), context->plugins_loaded);
  };
  if (context->status_page) routes.merge(StatusEndpoints::routes(context->status_page));
  return routes;
}

std::unique_ptr<HttpEndpoints> HttpEndpoints::from_config(std::shared_ptr<const config::Config> config,
                                                          std::string conninfo, std::vector<std::string> kinds,
                                                          std::shared_ptr<spdlog::logger> log) {
  if (config->http.listen.empty()) return nullptr;
  std::unique_ptr<HttpEndpoints> endpoints(new HttpEndpoints());
  metrics::MetricsOptions m;
  for (const auto& q : config->queues) m.queues.push_back(q.name);
  m.kinds = std::move(kinds);
  m.version = PGXQ_VERSION;
  m.plugin_abi = std::to_string(PGXQ_PLUGIN_ABI_MAJOR) + "." + std::to_string(PGXQ_PLUGIN_ABI_MINOR);
  endpoints->metrics_ = std::make_unique<metrics::Metrics>(std::move(m));
  auto context = std::make_shared<HttpContext>();
  context->config = config;
  context->conninfo = std::move(conninfo);
  context->log = log;
  context->metrics = endpoints->metrics_.get();
  context->plugins_loaded = true;  // the daemon builds the endpoints after its plugins loaded
  endpoints->context_ = context;
  context->status_page = std::make_shared<StatusEndpoints>(*config, context->conninfo);
  endpoints->server_ = std::make_unique<http::Server>(config->http.listen, http_routes(context), log);
  return endpoints;
}

HttpEndpoints::~HttpEndpoints() { stop(); }

void HttpEndpoints::start() { server_->start(); }

void HttpEndpoints::engine_started(const queue::Engine& engine, const queue::EngineOptions& options) {
  metrics::DepthOptions d;
  d.conninfo = options.conninfo;
  d.timeouts = options.timeouts;
  d.kinds = engine.kinds();
  for (const auto& q : options.queues) d.queues.push_back({q.name, q.table.empty() ? options.table : q.table});
  if (options.queues.empty()) d.queues.push_back({"default", options.table});
  d.application_name = options.application_name + " metrics";
  depth_ = std::make_unique<metrics::QueueDepth>(std::move(d), context_->log);
  depth_->start();
  metrics_->watch(&engine, depth_.get());
  context_->engine.store(&engine);
  if (context_->status_page) context_->status_page->engine_started(engine);
}

void HttpEndpoints::engine_stopping() {
  if (context_) context_->engine.store(nullptr);
  if (metrics_) metrics_->watch(nullptr, nullptr);  // waits for a scrape in progress
  if (context_ && context_->status_page) context_->status_page->engine_stopping();
  if (!server_stopper_.joinable()) server_stopper_ = std::thread([server = server_.get()] { server->stop(); });
}

void HttpEndpoints::stop() {
  engine_stopping();
  server_stopper_.join();
  if (depth_) depth_->stop();
}

}  // namespace pgxq::app
