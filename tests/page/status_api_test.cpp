// /api/status (app/status_api) against a real table: the figures of a seeded table, the failure
// texts as stored, paused queues, the cache that bounds the queries, a database that cannot be
// reached (said in the document, password scrubbed), and a malformed query string.
#include <doctest/doctest.h>

#include <set>

#include <nlohmann/json.hpp>

#include "../engine/manual_clock.hpp"
#include "app/status_api.hpp"
#include "page_support.hpp"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const json* find_kind(const json& doc, const std::string& queue, const std::string& kind) {
  for (const auto& q : doc.at("stats").at(0).at("queues"))
    if (q.at("queue") == queue)
      for (const auto& k : q.at("kinds"))
        if (k.at("kind") == kind) return &k;
  return nullptr;
}

}  // namespace

TEST_CASE("status api: the document has the seeded table's counts, failures, paused queues and throughput") {
  pgxq::test::TempTable table("page_api");
  pgxq::test::seed_status_table(table.name());
  pgxq::app::Throughput throughput(5s, 15min);
  auto t0 = pgxq::queue::Clock::TimePoint{} + 1h;
  pgxq::queue::QueueStats q;
  throughput.sample(t0, {q});
  q.completed = 3;
  throughput.sample(t0 + 5s, {q});

  pgxq::app::StatusApiOptions options;
  options.conninfo = pgxq::test::conninfo();
  options.tables = {table.name()};
  pgxq::app::StatusApi api(options, &throughput);
  auto response = api.handle({"GET", "/api/status", ""});
  CHECK(response.status == 200);
  CHECK(response.content_type == "application/json; charset=utf-8");
  json doc = json::parse(response.body);
  INFO(response.body);
  CHECK(doc.at("database_up") == true);
  CHECK_FALSE(doc.contains("error"));
  CHECK(doc.at("generated_at").get<std::string>().size() == 24);
  CHECK(doc.at("tables") == json::array({table.name()}));

  auto* mail = find_kind(doc, "mail", "email.send");
  REQUIRE(mail != nullptr);
  CHECK(mail->at("available") == 7);
  CHECK(mail->at("scheduled") == 2);
  CHECK(mail->at("running") == 1);
  CHECK(mail->at("completed_last_hour") == 4);
  CHECK(mail->at("failed_last_hour") == 1);
  CHECK(mail->at("discarded_last_hour") == 1);
  auto* reports = find_kind(doc, "reports", "report.pdf");
  REQUIRE(reports != nullptr);
  CHECK(reports->at("available") == 5);

  REQUIRE(doc.at("paused").size() == 1);
  CHECK(doc.at("paused").at(0).at("queue") == "reports");
  CHECK(doc.at("paused").at(0).at("paused_by") == "page test");

  auto& failures = doc.at("recent_failures");
  REQUIRE(failures.size() == 2);
  std::set<std::string> errors, states;
  for (const auto& f : failures) {
    errors.insert(f.at("error").get<std::string>());
    states.insert(f.at("state").get<std::string>());
    CHECK(f.at("kind") == "email.send");
    CHECK(f.at("queue") == "mail");
    CHECK(f.at("table") == table.name());
    CHECK(f.at("at").is_string());
  }
  CHECK(errors == std::set<std::string>{pgxq::test::kHostileError, "gave up: smtp 550"});
  CHECK(states == std::set<std::string>{"failed", "discarded"});

  CHECK(doc.at("throughput").at("interval_seconds") == 5);
  CHECK(doc.at("throughput").at("completed") == json::array({3}));
  CHECK(doc.at("throughput").at("failed") == json::array({0}));
}

TEST_CASE("status api: answers are reused for max_age, so open pages cost one query set per interval") {
  pgxq::test::TempTable table("page_cache");
  auto clock = std::make_shared<pgxq::test::ManualClock>();
  pgxq::app::StatusApiOptions options;
  options.conninfo = pgxq::test::conninfo();
  options.tables = {table.name()};
  options.max_age = 1s;
  options.clock = clock;
  pgxq::app::StatusApi api(options, nullptr);
  auto first = api.document();
  for (int i = 0; i < 20; ++i) CHECK(api.document() == first);
  CHECK(api.refreshes() == 1);
  clock->advance(1s);
  auto second = api.document();
  CHECK(api.refreshes() == 2);
  CHECK(json::parse(second).at("database_up") == true);
}

TEST_CASE("status api: an unreachable database is said in the document, without the password") {
  // Nothing listens on port 1; the password must not reach the page.
  pgxq::app::StatusApiOptions options;
  options.conninfo = "postgresql://pgxq:s3cretpw@127.0.0.1:1/pgxq?connect_timeout=2";
  options.max_age = 0ms;
  pgxq::app::StatusApi api(options, nullptr);
  auto response = api.handle({"GET", "/api/status", ""});
  CHECK(response.status == 200);
  INFO(response.body);
  auto doc = json::parse(response.body);
  CHECK(doc.at("database_up") == false);
  CHECK_FALSE(doc.at("error").get<std::string>().empty());
  CHECK(response.body.find("s3cretpw") == std::string::npos);
  CHECK(doc.at("throughput").at("completed").empty());
}

TEST_CASE("status api: a missing table is an error in the document, the database still up") {
  pgxq::app::StatusApiOptions options;
  options.conninfo = pgxq::test::conninfo();
  options.tables = {pgxq::test::unique_name("page_missing")};
  pgxq::app::StatusApi api(options, nullptr);
  auto doc = json::parse(api.document());
  CHECK(doc.at("database_up") == true);
  CHECK(doc.at("error").get<std::string>().find(options.tables[0]) != std::string::npos);
}

TEST_CASE("status api: a malformed query string is a 400 with a JSON error, unknown parameters are ignored") {
  pgxq::test::TempTable table("page_query");
  pgxq::app::StatusApiOptions options;
  options.conninfo = pgxq::test::conninfo();
  options.tables = {table.name()};
  pgxq::app::StatusApi api(options, nullptr);
  for (const char* bad : {"x=%zz", "=1", "a=%4"}) {
    INFO(bad);
    auto r = api.handle({"GET", "/api/status", bad});
    CHECK(r.status == 400);
    CHECK(json::parse(r.body).at("error").get<std::string>().find("malformed") != std::string::npos);
  }
  CHECK(api.refreshes() == 0);  // bad input reads nothing
  auto ok = api.handle({"GET", "/api/status", "x=1&verbose"});
  CHECK(ok.status == 200);
  CHECK(json::parse(ok.body).at("database_up") == true);
}
