// pgxq_insert against the real database: defaults and every option read back from the row,
// transactional behaviour on the caller's connection, server errors with their SQLSTATE.
#include <doctest/doctest.h>
#include <pgxq/client.h>
#include <pgxq/client.hpp>

#include <string>

#include "client_test_util.hpp"
#include "support.hpp"

using namespace pgxq::test;
using namespace pgxq::test::client;

TEST_CASE("insert: defaults are read back from the row") {
  TempTable table("ins");
  auto conn = connect();
  pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
  o.table = table.name().c_str();
  pgxq_error err{};
  int64_t id = pgxq_insert(conn.get(), "send_email", nullptr, &o, &err);
  REQUIRE_MESSAGE(id > 0, err.message);
  const std::string where = "id = " + std::to_string(id);
  CHECK(count_rows(conn, table.name(),
                   where + " AND kind = 'send_email' AND args = '{}'::jsonb AND state = 'available'"
                           " AND queue = 'default' AND priority = 0 AND attempt = 0 AND max_attempts = 5"
                           " AND scheduled_at = created_at AND scheduled_at <= now()"
                           " AND attempted_at IS NULL AND completed_at IS NULL AND error IS NULL") == 1);

  // "" means {} too, and the default table is pgxq_job (not touched here: table is explicit).
  int64_t id2 = pgxq_insert(conn.get(), "k", "", &o, &err);
  REQUIRE(id2 > id);
  CHECK(count_rows(conn, table.name(), "id = " + std::to_string(id2) + " AND args = '{}'::jsonb") == 1);
}

TEST_CASE("insert: every option is read back from the row") {
  TempTable table("ins");
  auto conn = connect();
  pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
  o.table = table.name().c_str();
  o.queue = "emails";
  o.has_priority = 1;
  o.priority = -32768;
  o.has_max_attempts = 1;
  o.max_attempts = 32767;
  o.has_scheduled_at = 1;
  o.scheduled_at_unix_us = 1893553445123456LL;  // 2030-01-02 03:04:05.123456 UTC
  const char* args = "{\"to\": \"a@example.com\",\t\"n\": [1, 2.5, null, true],\n \"s\": \"tab\\there \\\\ \\u00e9\"}";
  pgxq_error err{};
  int64_t id = pgxq_insert(conn.get(), "send_email", args, &o, &err);
  REQUIRE_MESSAGE(id > 0, err.message);
  CHECK(count_rows(conn, table.name(),
                   "id = " + std::to_string(id) +
                       " AND queue = 'emails' AND priority = -32768 AND max_attempts = 32767"
                       " AND scheduled_at = '2030-01-02 03:04:05.123456+00'"
                       " AND args = $j$" + std::string(args) + "$j$::jsonb"
                       " AND args->>'s' = E'tab\\there \\\\ \\u00e9'") == 1);

  // A delay is relative to the server's now(), i.e. the transaction's start.
  pgxq_insert_opts d = PGXQ_INSERT_OPTS_INIT;
  d.table = table.name().c_str();
  d.has_delay = 1;
  d.delay_seconds = 90.5;
  int64_t delayed = pgxq_insert(conn.get(), "later", nullptr, &d, &err);
  REQUIRE_MESSAGE(delayed > 0, err.message);
  CHECK(count_rows(conn, table.name(),
                   "id = " + std::to_string(delayed) + " AND scheduled_at = created_at + interval '90.5 seconds'") == 1);

  // Before 1970 and far ahead are both representable.
  o.scheduled_at_unix_us = -1;  // 1969-12-31 23:59:59.999999 UTC
  int64_t old = pgxq_insert(conn.get(), "old", nullptr, &o, &err);
  REQUIRE_MESSAGE(old > 0, err.message);
  CHECK(count_rows(conn, table.name(),
                   "id = " + std::to_string(old) + " AND scheduled_at = '1969-12-31 23:59:59.999999+00'") == 1);
}

TEST_CASE("insert: the C++ header sets every option") {
  TempTable table("ins");
  auto conn = connect();
  pgxq::client::Options o;
  o.table = table.name();
  o.queue = "q1";
  o.priority = 7;
  o.max_attempts = 2;
  o.scheduled_at = std::chrono::system_clock::time_point(std::chrono::microseconds(1700000000000001LL));
  int64_t id = pgxq::client::insert(conn.get(), "cpp", R"({"x": 1})", o);
  CHECK(count_rows(conn, table.name(),
                   "id = " + std::to_string(id) +
                       " AND kind = 'cpp' AND args = '{\"x\": 1}' AND queue = 'q1' AND priority = 7"
                       " AND max_attempts = 2 AND scheduled_at = to_timestamp(1700000000) + interval '1 microsecond'") ==
        1);
}

TEST_CASE("insert: a rolled-back transaction leaves no row, a committed one does") {
  TempTable table("ins");
  auto conn = connect();
  pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
  o.table = table.name().c_str();
  pgxq_error err{};
  {
    pgxq::pg::Transaction tx(conn);
    REQUIRE(pgxq_insert(conn.get(), "k", "{}", &o, &err) > 0);
    auto other = connect();
    CHECK(count_rows(other, table.name()) == 0);  // not visible before commit
    tx.rollback();
  }
  CHECK(count_rows(conn, table.name()) == 0);
  {
    pgxq::pg::Transaction tx(conn);
    REQUIRE(pgxq_insert(conn.get(), "k", "{}", &o, &err) > 0);
    tx.commit();
  }
  CHECK(count_rows(conn, table.name()) == 1);
}

TEST_CASE("insert: server errors carry the SQLSTATE and the server's message") {
  auto conn = connect();
  pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
  const std::string missing = unique_name("missing");
  o.table = missing.c_str();
  pgxq_error err{};
  CHECK(pgxq_insert(conn.get(), "k", nullptr, &o, &err) == -1);
  CHECK(std::string(err.sqlstate) == "42P01");
  CHECK(std::string(err.message).find("relation \"" + missing + "\" does not exist") != std::string::npos);
  CHECK(std::string(err.message).find("pgxq_migrate") != std::string::npos);

  // Inside a failed transaction the server refuses everything: 25P02.
  TempTable table("ins");
  o.table = table.name().c_str();
  pgxq::pg::Transaction tx(conn);
  pgxq::pg::Result bad(PQexec(conn.get(), "SELECT 1/0"));
  CHECK(pgxq_insert(conn.get(), "k", nullptr, &o, &err) == -1);
  CHECK(std::string(err.sqlstate) == "25P02");

  try {
    pgxq::client::Options co;
    co.table = missing;
    pgxq::client::insert(connect().get(), "k", "{}", co);
    FAIL("expected an exception");
  } catch (const pgxq::client::Error& e) {
    CHECK(e.sqlstate() == "42P01");
  }
}

TEST_CASE("insert: JSON that simdjson cannot represent is left to jsonb") {
  TempTable table("ins");
  auto conn = connect();
  pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
  o.table = table.name().c_str();
  pgxq_error err{};
  int64_t id = pgxq_insert(conn.get(), "big", "{\"n\": 123456789012345678901234567890, \"f\": 1e400}", &o, &err);
  REQUIRE_MESSAGE(id > 0, err.message);
  CHECK(scalar_text(conn, "SELECT args->>'n' FROM " + table.name()) == "123456789012345678901234567890");
  // A malformed number is still refused (by the server), and nothing is written.
  CHECK(pgxq_insert(conn.get(), "bad", "{\"n\": 01}", &o, &err) == -1);
  CHECK(std::string(err.sqlstate) == "22P02");
  CHECK(count_rows(conn, table.name()) == 1);
}
