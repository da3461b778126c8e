// http/server: the civetweb-backed implementation of http::Server — listen-address parsing,
// civetweb's options (few threads, bounded requests, no file serving), dispatch of GET/HEAD to
// the routes by exact path (404 otherwise, 405 for other methods, 500 when a route throws), and
// parse_query.
#include "http/server.hpp"

#include <civetweb.h>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <exception>
#include <mutex>
#include <stdexcept>

namespace pgxq::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      const int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        throw std::invalid_argument("malformed query string: '%' must be followed by two hex digits");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The listen address split into what civetweb's listening_ports option takes and what the log
// line shows. A port-only form (":9187") binds loopback: exposing the endpoints to the network is
// always an explicit choice ("0.0.0.0:9187").
struct ListenAddress {
  std::string host;  // "127.0.0.1", "::1" (no brackets)
  bool ipv6 = false;
  int port = 0;
};

ListenAddress parse_listen(const std::string& listen) {
  const auto bad = [&](const std::string& why) {
    return std::runtime_error("http: cannot listen on \"" + listen + "\": " + why +
                              "; write [http] listen as \"127.0.0.1:9187\", \"[::1]:9187\" or \":9187\"");
  };
  ListenAddress address;
  std::string_view port_text;
  if (!listen.empty() && listen.front() == '[') {
    const auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      throw bad("an IPv6 address needs the form [address]:port");
    }
    address.host = listen.substr(1, close - 1);
    address.ipv6 = true;
    port_text = std::string_view(listen).substr(close + 2);
    if (address.host.empty()) throw bad("the IPv6 address is empty");
  } else {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) throw bad("no port (host:port)");
    address.host = listen.substr(0, colon);
    if (address.host.find(':') != std::string::npos) throw bad("an IPv6 address must be in brackets");
    if (address.host.empty()) address.host = "127.0.0.1";
    port_text = std::string_view(listen).substr(colon + 1);
  }
  int port = -1;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() || port < 0 ||
      port > 65535) {
    throw bad("the port must be a number from 0 to 65535");
  }
  address.port = port;
  return address;
}

std::string show(const std::string& host, bool ipv6, int port) {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Header values come from routes; a CR or LF in one would split the response.
std::string header_safe(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c != '\r' && c != '\n') out.push_back(c);
  }
  return out;
}

}  // namespace

std::multimap<std::string, std::string> parse_query(std::string_view query) {
  std::multimap<std::string, std::string> params;
  size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    const auto pair = query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;  // "a=1&&b=2", a trailing '&'
    const auto eq = pair.find('=');
    std::string name = percent_decode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    if (name.empty()) throw std::invalid_argument("malformed query string: a parameter without a name");
    params.emplace(std::move(name), std::move(value));
  }
  return params;
}

struct Server::Impl {
  std::string listen;
  std::map<std::string, Route> routes;
  std::shared_ptr<spdlog::logger> log;
  std::mutex mutex;  // start/stop against each other
  mg_context* context = nullptr;
  bool library_initialised = false;
  int port = 0;

  void send(mg_connection* conn, const Response& response, bool head) {
    mg_response_header_start(conn, response.status);
    mg_response_header_add(conn, "Content-Type", header_safe(response.content_type).c_str(), -1);
    mg_response_header_add(conn, "Content-Length", std::to_string(response.body.size()).c_str(), -1);
    mg_response_header_add(conn, "X-Content-Type-Options", "nosniff", -1);
    bool cache_set = false;
    for (const auto& [name, value] : response.headers) {
      if (name == "Cache-Control") cache_set = true;
      mg_response_header_add(conn, header_safe(name).c_str(), header_safe(value).c_str(), -1);
    }
    if (!cache_set) mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_send(conn);
    if (!head && !response.body.empty()) mg_write(conn, response.body.data(), response.body.size());
  }

  static Response plain(int status, std::string body) {
    Response response;
    response.status = status;
    response.body = std::move(body);
    return response;
  }

  int handle(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    Request request;
    request.method = info->request_method ? info->request_method : "";
    request.path = info->local_uri ? info->local_uri : "";
    request.query = info->query_string ? info->query_string : "";
    const bool head = request.method == "HEAD";
    Response response;
    if (request.method != "GET" && !head) {
      response = plain(405, "method not allowed: only GET and HEAD\n");
      response.headers.emplace_back("Allow", "GET, HEAD");
    } else if (const auto route = routes.find(request.path); route == routes.end()) {
      response = plain(404, "not found\n");
    } else {
      try {
        response = route->second(request);
      } catch (const std::invalid_argument& e) {
        response = plain(400, std::string("bad request: ") + e.what() + "\n");
      } catch (const std::exception& e) {
        log->error("http: {} {} failed: {}", request.method, request.path, e.what());
        response = plain(500, "internal error\n");
      } catch (...) {
        log->error("http: {} {} failed with an unknown exception", request.method, request.path);
        response = plain(500, "internal error\n");
      }
    }
    send(conn, response, head);
    return response.status;
  }

  static int begin_request(mg_connection* conn) {
    auto* self = static_cast<Impl*>(mg_get_request_info(conn)->user_data);
    try {
      return self->handle(conn);
    } catch (...) {
      return 500;  // the connection broke while writing; civetweb closes it
    }
  }

  static int log_message(const mg_connection* conn, const char* message) {
    const mg_context* ctx = conn ? mg_get_context(conn) : nullptr;
    auto* self = ctx ? static_cast<Impl*>(mg_get_user_data(ctx)) : nullptr;
    if (self && message) self->log->debug("http: {}", message);  // mostly clients' mistakes
    return 1;
  }
};

Server::Server(std::string listen, std::map<std::string, Route> routes, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<Impl>()) {
  impl_->listen = std::move(listen);
  impl_->routes = std::move(routes);
  impl_->log = log ? std::move(log) : spdlog::default_logger();
}

Server::~Server() { stop(); }

void Server::start() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->context) return;
  const ListenAddress address = parse_listen(impl_->listen);
  if (address.ipv6 && mg_check_feature(8) == 0) {
    throw std::runtime_error("http: cannot listen on \"" + impl_->listen +
                             "\": this civetweb was built without IPv6; use an IPv4 [http] listen address");
  }
  const std::string ports = show(address.host, address.ipv6, address.port);
  // civetweb reads these as strings; no document_root, so no request can reach a file.
  const std::array<const char*, 19> options = {
      "listening_ports", ports.c_str(),
      "num_threads", "3",
      "connection_queue", "32",
      "max_request_size", "16384",
      "request_timeout_ms", "10000",
      "enable_keep_alive", "no",
      "enable_directory_listing", "no",
      "decode_url", "yes",
      "linger_timeout_ms", "100",
      nullptr};
  mg_callbacks callbacks{};
  callbacks.begin_request = &Impl::begin_request;
  callbacks.log_message = &Impl::log_message;
  mg_init_library(0);
  impl_->library_initialised = true;
  std::array<char, 256> error_text{};
  unsigned error_code = 0;
  mg_error_data error{&error_code, error_text.data(), error_text.size()};
  mg_init_data init{&callbacks, impl_.get(), const_cast<const char**>(options.data())};
  impl_->context = mg_start2(&init, &error);
  if (!impl_->context) {
    mg_exit_library();
    impl_->library_initialised = false;
    const std::string why = error_text[0] ? error_text.data() : "civetweb could not start";
    throw std::runtime_error("http: cannot listen on " + ports + ": " + why +
                             "; the address may be in use or not local, or the port privileged: "
                             "choose another [http] listen address");
  }
  std::array<mg_server_port, 4> bound{};
  const int count = mg_get_server_ports(impl_->context, static_cast<int>(bound.size()), bound.data());
  impl_->port = count > 0 ? bound[0].port : address.port;
  impl_->log->info("http: listening on {}", show(address.host, address.ipv6, impl_->port));
}

void Server::stop() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->context) {
    mg_stop(impl_->context);  // waits for the request threads
    impl_->context = nullptr;
    impl_->log->info("http: stopped");
  }
  if (impl_->library_initialised) {
    mg_exit_library();
    impl_->library_initialised = false;
  }
}

int Server::port() const { return impl_->port; }

}  // namespace pgxq::http
