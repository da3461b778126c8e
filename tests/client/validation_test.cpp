// Validation in libpgxq: table names exactly as go-pgxq checks them, and every job field,
// refused before any SQL is sent (so nothing is written) with a message naming the rule.
#include <doctest/doctest.h>
#include <pgxq/client.h>
#include <pgxq/client.hpp>

#include <cmath>
#include <cstring>
#include <string>

#include "client_test_util.hpp"
#include "support.hpp"

using namespace pgxq::test;
using namespace pgxq::test::client;

namespace {

std::string table_error(const char* table) {
  pgxq_error err{};
  std::strcpy(err.sqlstate, "XXXXX");
  if (pgxq_validate_table_name(table, &err) == 0) return "(accepted)";
  CHECK(std::string(err.sqlstate).empty());
  return err.message;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("table names: valid forms are accepted") {
  for (const char* t : {"pgxq_job", "t", "_", "_9", "a1_b2", "app.jobs", "s_1.t_2", "_s._t"}) {
    INFO(t);
    CHECK(table_error(t) == "(accepted)");
  }
}

TEST_CASE("table names: every invalid form is refused, naming the rule") {
  CHECK(contains(table_error(""), "must not be empty"));
  CHECK(contains(table_error(nullptr), "must not be empty"));
  CHECK(contains(table_error("a.b.c"), "more than one '.'"));
  CHECK(contains(table_error("a..b"), "more than one '.'"));
  CHECK(contains(table_error("."), "empty schema part"));
  CHECK(contains(table_error(".t"), "empty schema part"));
  CHECK(contains(table_error("s."), "empty table part"));
  CHECK(contains(table_error("1t"), "starts with a digit"));
  CHECK(contains(table_error("s.1t"), "starts with a digit"));
  CHECK(contains(table_error("1s.t"), "starts with a digit"));
  for (const char* bad : {"Jobs", "jobS", "my-table", "my table", "t;drop table x", "t\"", "\"t\"", "t$", "t*",
                          "sch/t", "t\n", "caf\xc3\xa9"}) {
    INFO(bad);
    CHECK(contains(table_error(bad), "invalid character"));
  }
  CHECK(contains(table_error("caf\xc3\xa9"), "\\xc3"));
  CHECK(contains(table_error("Jobs"), "'J'"));
}

TEST_CASE("table names: every entry point refuses an invalid name before sending SQL") {
  pgxq_error err{};
  // With a NULL connection nothing can reach a server: these fail in validation first.
  pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
  o.table = "bad-name";
  CHECK(pgxq_insert(nullptr, "k", nullptr, &o, &err) == -1);
  CHECK(contains(err.message, "invalid character '-'"));
  pgxq_job_spec spec{sizeof(pgxq_job_spec), "k", nullptr, nullptr};
  CHECK(pgxq_insert_many(nullptr, "a.b.c", &spec, 1, &err) == -1);
  CHECK(contains(err.message, "more than one '.'"));
  CHECK(pgxq_migrate(nullptr, "1abc", &err) == -1);
  CHECK(contains(err.message, "starts with a digit"));
  CHECK(pgxq_schema("", &err) == nullptr);
  CHECK(contains(err.message, "must not be empty"));
  char ch[PGXQ_NOTIFY_CHANNEL_MAX];
  CHECK(pgxq_notify_channel("x.", ch, sizeof ch, &err) == -1);
  CHECK(contains(err.message, "empty table part"));
  // err may be NULL everywhere.
  CHECK(pgxq_validate_table_name("Bad", nullptr) == -1);
  CHECK(pgxq_insert(nullptr, "", nullptr, nullptr, nullptr) == -1);
}

TEST_CASE("table names longer than PostgreSQL's identifier limit allows for the indexes are refused by migrate") {
  std::string ok(52, 'a');
  std::string too_long(53, 'a');
  pgxq_error err{};
  char* s = pgxq_schema(ok.c_str(), &err);
  CHECK(s != nullptr);
  pgxq_free(s);
  CHECK(pgxq_schema(too_long.c_str(), &err) == nullptr);
  CHECK(contains(err.message, "63-byte"));
  auto conn = connect();
  CHECK(pgxq_migrate(conn.get(), too_long.c_str(), &err) == -1);
  CHECK(contains(err.message, "too long"));
}

TEST_CASE("notify channel: pgxq_ + table with '.' replaced by '_'") {
  CHECK(pgxq::client::notify_channel() == "pgxq_pgxq_job");
  CHECK(pgxq::client::notify_channel("app.jobs") == "pgxq_app_jobs");
  char small[8];
  pgxq_error err{};
  CHECK(pgxq_notify_channel("jobs", small, sizeof small, &err) == -1);
  CHECK(contains(err.message, "too small"));
  char buf[PGXQ_NOTIFY_CHANNEL_MAX];
  CHECK(pgxq_notify_channel(std::string(59, 'a').c_str(), buf, sizeof buf, &err) == -1);
  CHECK(contains(err.message, "63-byte"));
  CHECK(pgxq_notify_channel(std::string(58, 'a').c_str(), buf, sizeof buf, &err) == 0);
}

TEST_CASE("job fields: invalid values are refused and nothing is written") {
  TempTable table("val");
  auto conn = connect();
  auto refuse = [&](const char* kind, const char* args, pgxq_insert_opts o) {
    o.table = table.name().c_str();
    pgxq_error err{};
    std::strcpy(err.sqlstate, "XXXXX");
    int64_t id = pgxq_insert(conn.get(), kind, args, &o, &err);
    CHECK(id == -1);
    CHECK(std::string(err.sqlstate).empty());
    return std::string(err.message);
  };
  const pgxq_insert_opts d = PGXQ_INSERT_OPTS_INIT;

  CHECK(contains(refuse("", nullptr, d), "kind must not be empty"));
  CHECK(contains(refuse(nullptr, nullptr, d), "kind must not be empty"));

  pgxq_insert_opts o = d;
  o.queue = "";
  CHECK(contains(refuse("k", nullptr, o), "queue must not be empty"));

  for (int bad : {0, -1, -32768}) {
    o = d;
    o.has_max_attempts = 1;
    o.max_attempts = bad;
    CHECK(contains(refuse("k", nullptr, o), "max_attempts must be at least 1"));
  }
  o = d;
  o.has_max_attempts = 1;
  o.max_attempts = 32768;
  CHECK(contains(refuse("k", nullptr, o), "max_attempts 32768 is out of range"));

  for (int bad : {32768, -32769, 1 << 30}) {
    o = d;
    o.has_priority = 1;
    o.priority = bad;
    CHECK(contains(refuse("k", nullptr, o), "is out of range (-32768 to 32767)"));
  }

  for (const char* bad : {"{", "{'a': 1}", "{\"a\": 1} x", "{\"a\": }", "nul", "{\"a\": \"\xff\"}", "{\"a\": tru}"}) {
    INFO(bad);
    CHECK(contains(refuse("k", bad, d), "args is not valid JSON"));
  }
  for (const char* bad : {"[1]", "\"text\"", "1", "null", "true", "[1e400]"}) {
    INFO(bad);
    CHECK(contains(refuse("k", bad, d), "args must be a JSON object"));
  }
  CHECK(contains(refuse("k", "{\"a\": \"x\\u0000y\"}", d), "\\u0000"));

  o = d;
  o.has_scheduled_at = 1;
  o.has_delay = 1;
  CHECK(contains(refuse("k", nullptr, o), "at most one of scheduled_at and delay"));
  o = d;
  o.has_delay = 1;
  o.delay_seconds = std::nan("");
  CHECK(contains(refuse("k", nullptr, o), "delay_seconds must be a finite"));
  o.delay_seconds = 1e300;
  CHECK(contains(refuse("k", nullptr, o), "delay_seconds must be a finite"));
  o = d;
  o.has_scheduled_at = 1;
  o.scheduled_at_unix_us = INT64_MAX;
  CHECK(contains(refuse("k", nullptr, o), "out of range (years 0001 to 9999)"));

  CHECK(count_rows(conn, table.name()) == 0);
}

TEST_CASE("job fields: the C++ header throws pgxq::client::Error") {
  pgxq::client::Options o;
  o.max_attempts = 0;
  try {
    pgxq::client::insert(nullptr, "k", "{}", o);
    FAIL("expected an exception");
  } catch (const pgxq::client::Error& e) {
    CHECK(contains(e.what(), "max_attempts must be at least 1"));
    CHECK(e.sqlstate().empty());
  }
  CHECK_THROWS_AS(pgxq::client::validate_table_name("A"), pgxq::client::Error);
  CHECK_THROWS_AS(pgxq::client::schema("a.b.c"), pgxq::client::Error);
}

TEST_CASE("validation: without a connection pgxq_insert only judges the job") {
  pgxq_error err{};
  CHECK(pgxq_insert(nullptr, "k", "[1]", nullptr, &err) == -1);
  CHECK(std::string(err.sqlstate).empty());
  CHECK(std::string(err.message).find("JSON object") != std::string::npos);

  err = pgxq_error{};
  CHECK(pgxq_insert(nullptr, "k", "{\"a\":1}", nullptr, &err) == -1);
  CHECK(std::string(err.sqlstate) == "08006");
}
