// The status page's endpoints on the real pgxqd, fetched with curl: the headers that keep job
// data inert (CSP, nosniff, no caching), /api/status as JSON with its fields, and bad input —
// an unknown path, a malformed query string, a method that would change something.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "page_support.hpp"

namespace {

const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace

TEST_CASE("status page e2e: /, /status.js and /status.css come with the CSP, nosniff and no-store") {
  pgxq::test::TempTable table("page_hdr");
  pgxq::test::PageDaemon daemon(table.name());
  for (const auto& [path, type] : std::vector<std::pair<std::string, std::string>>{
           {"/", "text/html"}, {"/status.js", "text/javascript"}, {"/status.css", "text/css"}}) {
    INFO(path);
    auto r = pgxq::test::fetch(daemon.url(path));
    INFO(r.headers);
    CHECK(r.status == 200);
    CHECK(r.header("Content-Type").rfind(type, 0) == 0);
    CHECK(r.header("Content-Security-Policy") == kPolicy);
    CHECK(r.header("X-Content-Type-Options") == "nosniff");
    CHECK(r.header("Cache-Control") == "no-store");
    CHECK(r.header("Referrer-Policy") == "no-referrer");
    CHECK_FALSE(r.body.empty());
  }
  CHECK(pgxq::test::fetch(daemon.url("/")).body.find("<script src=\"/status.js\" defer></script>") != std::string::npos);
}

TEST_CASE("status page e2e: /api/status is JSON with the table's figures, failures, paused queues and throughput") {
  pgxq::test::TempTable table("page_json");
  pgxq::test::seed_status_table(table.name());
  pgxq::test::PageDaemon daemon(table.name());
  auto r = pgxq::test::fetch(daemon.url("/api/status"));
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json; charset=utf-8");
  CHECK(r.header("Content-Security-Policy") == kPolicy);
  auto doc = nlohmann::json::parse(r.body);
  for (const char* field : {"generated_at", "tables", "database_up", "stats", "recent_failures", "paused", "throughput"})
    CHECK_MESSAGE(doc.contains(field), field);
  CHECK(doc.at("database_up") == true);
  CHECK(doc.at("tables") == nlohmann::json::array({table.name()}));
  CHECK(doc.at("stats").at(0).at("table") == table.name());
  CHECK(doc.at("paused").at(0).at("queue") == "reports");
  bool hostile = false;
  for (const auto& f : doc.at("recent_failures")) hostile = hostile || f.at("error") == pgxq::test::kHostileError;
  CHECK(hostile);
  CHECK(doc.at("throughput").at("interval_seconds") == 5);
  CHECK(doc.at("throughput").at("completed").is_array());
}

TEST_CASE("status page e2e: bad input — unknown path 404, malformed query 400, POST 405, nothing changed") {
  pgxq::test::TempTable table("page_bad");
  pgxq::test::seed_status_table(table.name());
  pgxq::test::PageDaemon daemon(table.name());
  CHECK(pgxq::test::fetch(daemon.url("/nope")).status == 404);
  CHECK(pgxq::test::fetch(daemon.url("/index.html")).status == 404);
  CHECK(pgxq::test::fetch(daemon.url("/../../etc/passwd")).status == 404);  // no file is ever served
  auto bad = pgxq::test::fetch(daemon.url("/api/status?x=%zz"));
  CHECK(bad.status == 400);
  INFO(bad.body);
  CHECK(nlohmann::json::parse(bad.body).at("error").get<std::string>().find("malformed query string") != std::string::npos);
  CHECK(pgxq::test::fetch(daemon.url("/api/status?x=1")).status == 200);  // unknown parameters: ignored
  for (const char* path : {"/", "/api/status"}) {
    INFO(path);
    auto post = pgxq::test::fetch(daemon.url(path), {"-X", "POST", "-d", "state=available"});
    CHECK(post.status == 405);
    CHECK(post.header("Allow") == "GET, HEAD");
  }
  CHECK(pgxq::test::count_jobs(table.name(), "state = 'failed'") == 1);
  CHECK(pgxq::test::count_jobs(table.name() + "_pause", "true") == 1);
}
