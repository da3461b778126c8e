// SQLSTATE classification (pg/error): "connection lost" (reconnect) and "database unreachable"
// (the commands' exit 69), for pg::Error and for a bare SQLSTATE such as libpgxq reports.
#include <doctest/doctest.h>

#include "pg/error.hpp"

using namespace pgxq;

TEST_CASE("pg errors: connection lost and unreachable") {
  for (const char* s : {"08000", "08001", "08006", "57P01", "57P02", "57P03"}) {
    CAPTURE(s);
    CHECK(pg::connection_lost_sqlstate(s));
    CHECK(pg::unreachable_sqlstate(s));
    CHECK(pg::Error("x", s).connection_lost());
    CHECK(pg::Error("x", s).unreachable());
  }
  // Refused outright: unreachable, but not a connection to re-establish mid-run.
  for (const char* s : {"28000", "28P01", "3D000"}) {
    CAPTURE(s);
    CHECK_FALSE(pg::connection_lost_sqlstate(s));
    CHECK(pg::unreachable_sqlstate(s));
    CHECK_FALSE(pg::Error("x", s).connection_lost());
    CHECK(pg::Error("x", s).unreachable());
  }
  for (const char* s : {"42P01", "23505", "40001", "57014", "3F000", "22021"}) {
    CAPTURE(s);
    CHECK_FALSE(pg::unreachable_sqlstate(s));
    CHECK_FALSE(pg::Error("x", s).unreachable());
  }
  // A pg::Error without SQLSTATE had no answer from the server; a bare "" (libpgxq: refused
  // before any SQL was sent) is not a database problem.
  CHECK(pg::Error("socket closed").connection_lost());
  CHECK(pg::Error("socket closed").unreachable());
  CHECK_FALSE(pg::unreachable_sqlstate(""));
}
