// http/server: the one embedded HTTP server (civetweb) that serves every endpoint pgxqd has —
// metrics, health checks, the status page — on the [http] listen address. Routes are plain
// functions from a request to a response; the server knows nothing of what they serve.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spdlog {
class logger;
}

namespace pgxq::http {

struct Request {
  std::string method;  // "GET", "HEAD", ...
  std::string path;    // decoded path, e.g. "/metrics"
  std::string query;   // raw query string without '?', e.g. "limit=5&state=failed"
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (CSP, caching, ...)
};

// Called on the server's threads, concurrently; should not throw: std::invalid_argument (what
// parse_query throws on a malformed query) becomes a 400, any other exception a 500.
using Route = std::function<Response(const Request&)>;

// The query string's parameters, percent-decoded ('+' is a space). Throws std::invalid_argument
// on a malformed one (a bad %-escape, an empty name), which routes turn into a 400.
std::multimap<std::string, std::string> parse_query(std::string_view query);

class Server {
public:
  // `listen`: "host:port", "[v6addr]:port" or ":port"; port 0 picks a free port (see port()).
  // `routes`: by exact path; anything else is a 404.
  Server(std::string listen, std::map<std::string, Route> routes, std::shared_ptr<spdlog::logger> log);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving. Throws std::runtime_error saying what could not be bound, why
  // and what to do (e.g. the port is in use: choose another [http] listen).
  void start();
  void stop();
  int port() const;  // the bound port, after start()

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgxq::http
