// The embedded HTTP server: routes by exact path, status codes for what it refuses (404, 405,
// 400 from a malformed query, 500 from a throwing route), HEAD, request limits, listen address
// forms and bind errors — fetched with curl. Also parse_query on its own.
#include <civetweb.h>
#include <doctest/doctest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>

#include "curl.hpp"
#include "http/server.hpp"

namespace {

using pgxq::http::Request;
using pgxq::http::Response;
using pgxq::http::Server;
using pgxq::test::curl;

std::shared_ptr<spdlog::logger> quiet() {
  return std::make_shared<spdlog::logger>("http-test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

std::map<std::string, pgxq::http::Route> test_routes() {
  return {
      {"/hello",
       [](const Request& r) {
         Response response;
         response.body = "hello " + r.method + "\n";
         response.headers.emplace_back("X-Test", "yes");
         return response;
       }},
      {"/echo",
       [](const Request& r) {
         const auto params = pgxq::http::parse_query(r.query);
         Response response;
         for (const auto& [name, value] : params) response.body += name + "=" + value + ";";
         return response;
       }},
      {"/throws", [](const Request&) -> Response { throw std::runtime_error("boom"); }},
      {"/unavailable",
       [](const Request&) {
         Response response;
         response.status = 503;
         response.content_type = "application/json";
         response.body = R"({"status":"stalled"})";
         return response;
       }},
  };
}

std::string base(const Server& server) { return "http://127.0.0.1:" + std::to_string(server.port()); }

}  // namespace

TEST_CASE("http server: routes answer GET by exact path, with their status, type and headers") {
  Server server("127.0.0.1:0", test_routes(), quiet());
  server.start();
  REQUIRE(server.port() > 0);

  auto reply = curl(base(server) + "/hello");
  CHECK(reply.status == 200);
  CHECK(reply.body == "hello GET\n");
  CHECK(reply.headers.find("X-Test: yes") != std::string::npos);
  CHECK(reply.headers.find("Content-Type: text/plain; charset=utf-8") != std::string::npos);

  reply = curl(base(server) + "/unavailable");
  CHECK(reply.status == 503);
  CHECK(reply.body == R"({"status":"stalled"})");
  CHECK(reply.headers.find("Content-Type: application/json") != std::string::npos);

  reply = curl(base(server) + "/echo?state=failed&kind=a+b&x=%3Cscript%3E&state=discarded");
  CHECK(reply.status == 200);
  CHECK(reply.body == "kind=a b;state=failed;state=discarded;x=<script>;");
}

TEST_CASE("http server: HEAD gets the headers and no body") {
  Server server("127.0.0.1:0", test_routes(), quiet());
  server.start();
  const auto reply = curl(base(server) + "/hello", {"-I"});
  CHECK(reply.status == 200);
  CHECK(reply.headers.find("Content-Length: 11") != std::string::npos);  // "hello HEAD\n"
  CHECK(reply.body.find("hello") == std::string::npos);  // with -I, curl's output is the headers
}

TEST_CASE("http server: unknown paths are 404, other methods 405, no file is ever served") {
  Server server("127.0.0.1:0", test_routes(), quiet());
  server.start();
  CHECK(curl(base(server) + "/nope").status == 404);
  CHECK(curl(base(server) + "/").status == 404);
  CHECK(curl(base(server) + "/hello/").status == 404);
  CHECK(curl(base(server) + "/../../etc/passwd", {"--path-as-is"}).status == 404);
  CHECK(curl(base(server) + "/etc/passwd").status == 404);

  auto reply = curl(base(server) + "/hello", {"-X", "POST", "-d", "x=1"});
  CHECK(reply.status == 405);
  CHECK(reply.headers.find("Allow: GET, HEAD") != std::string::npos);
  CHECK(curl(base(server) + "/hello", {"-X", "DELETE"}).status == 405);
  CHECK(curl(base(server) + "/hello", {"-X", "PUT", "-d", "x"}).status == 405);
  // The server still answers afterwards.
  CHECK(curl(base(server) + "/hello").status == 200);
}

TEST_CASE("http server: a malformed query is a 400, a throwing route a 500, and serving goes on") {
  Server server("127.0.0.1:0", test_routes(), quiet());
  server.start();
  auto reply = curl(base(server) + "/echo?a=%zz");
  CHECK(reply.status == 400);
  CHECK(reply.body.find("malformed query") != std::string::npos);
  CHECK(curl(base(server) + "/echo?=value").status == 400);
  CHECK(curl(base(server) + "/echo?a=%4").status == 400);

  reply = curl(base(server) + "/throws");
  CHECK(reply.status == 500);
  CHECK(reply.body.find("boom") == std::string::npos);  // no internals to the client
  CHECK(curl(base(server) + "/hello").status == 200);
}

TEST_CASE("http server: an oversized request is refused") {
  Server server("127.0.0.1:0", test_routes(), quiet());
  server.start();
  const std::string huge(40000, 'a');
  const auto reply = curl(base(server) + "/hello", {"-H", "X-Big: " + huge});
  // civetweb answers 400 to a request head over max_request_size (16 KiB).
  CHECK((reply.status == 400 || reply.status == 413 || reply.status == 431));
  CHECK(curl(base(server) + "/hello").status == 200);
}

TEST_CASE("http server: listen forms — IPv6 in brackets, a port-only form binds loopback") {
  // Debian 12's civetweb is built without IPv6 (feature bit 8): then the bracket form is refused
  // with a message saying so, instead of civetweb's bare "Failed to setup server ports".
  if (mg_check_feature(8) != 0) {
    Server server("[::1]:0", test_routes(), quiet());
    server.start();
    REQUIRE(server.port() > 0);
    CHECK(curl("http://[::1]:" + std::to_string(server.port()) + "/hello").status == 200);
  } else {
    Server server("[::1]:0", test_routes(), quiet());
    CHECK_THROWS_WITH_AS(server.start(), doctest::Contains("without IPv6"), std::runtime_error);
  }
  {
    Server server(":0", test_routes(), quiet());
    server.start();
    REQUIRE(server.port() > 0);
    CHECK(curl("http://127.0.0.1:" + std::to_string(server.port()) + "/hello").status == 200);
  }
}

TEST_CASE("http server: bind errors and bad addresses say what, why and what to do") {
  Server first("127.0.0.1:0", test_routes(), quiet());
  first.start();
  Server second("127.0.0.1:" + std::to_string(first.port()), test_routes(), quiet());
  try {
    second.start();
    FAIL("a second server bound a port in use");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK(what.find("127.0.0.1:" + std::to_string(first.port())) != std::string::npos);
    CHECK(what.find("[http] listen") != std::string::npos);
  }
  for (const char* bad : {"9187", "localhost", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:x", "::1:9187",
                          "[::1]9187", "[]:9187"}) {
    Server server(bad, test_routes(), quiet());
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(server.start(), doctest::Contains("[http] listen"), std::runtime_error);
  }
  // A stopped server frees its port for the next one.
  const int port = first.port();
  first.stop();
  Server third("127.0.0.1:" + std::to_string(port), test_routes(), quiet());
  third.start();
  CHECK(curl("http://127.0.0.1:" + std::to_string(port) + "/hello").status == 200);
}

TEST_CASE("parse_query: decoding, repeated names, and malformed strings") {
  using pgxq::http::parse_query;
  CHECK(parse_query("").empty());
  auto params = parse_query("a=1&b=two+words&c=%41%2b&flag&&d=");
  CHECK(params.size() == 5);
  CHECK(params.find("a")->second == "1");
  CHECK(params.find("b")->second == "two words");
  CHECK(params.find("c")->second == "A+");
  CHECK(params.find("flag")->second.empty());
  CHECK(params.find("d")->second.empty());
  CHECK(parse_query("s=1&s=2").count("s") == 2);
  CHECK_THROWS_AS(parse_query("a=%"), std::invalid_argument);
  CHECK_THROWS_AS(parse_query("a=%g1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_query("=1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_query("%zz=1"), std::invalid_argument);
}
