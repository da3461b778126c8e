// Helpers shared by the libpgxq tests: running SQL scripts through libpq, go-pgxq's DDL, counting
// rows, cleaning up objects a test created outside TempTable, and waiting for notifications.
#pragma once

#include <doctest/doctest.h>
#include <pgxq/client.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "support.hpp"

namespace pgxq::test::client {

// Runs a multi-statement script with the simple query protocol; fails the test on error.
inline void exec_script(pg::Connection& conn, const std::string& sql) {
  pg::Result r(PQexec(conn.get(), sql.c_str()));
  INFO(sql);
  REQUIRE_MESSAGE(PQresultStatus(r.get()) == PGRES_COMMAND_OK, PQerrorMessage(conn.get()));
}

inline int64_t count_rows(pg::Connection& conn, const std::string& table, const std::string& where = "true") {
  return scalar(conn, "SELECT count(*) FROM " + table + " WHERE " + where);
}

inline std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
  return s;
}

// go-pgxq v0.2.0's Migrate DDL for `table` (fixtures/go_pgxq_v0.2.0.sql), to run with exec_script.
inline std::string go_pgxq_ddl(const std::string& table) {
  std::string sql = read_file(std::string(PGXQ_CLIENT_FIXTURES) + "/go_pgxq_v0.2.0.sql");
  REQUIRE(!sql.empty());
  std::string flat = table;
  std::replace(flat.begin(), flat.end(), '.', '_');
  return replace_all(replace_all(sql, "{t_}", flat), "{t}", table);
}

// Runs `sql` at scope exit on a fresh connection, ignoring errors (cleanup of schemas and
// tables that TempTable does not own).
class Cleanup {
public:
  explicit Cleanup(std::string sql) : sql_(std::move(sql)) {}
  ~Cleanup() {
    try {
      auto conn = connect();
      conn.exec(sql_);
    } catch (...) {
    }
  }
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;

private:
  std::string sql_;
};

struct Notification {
  std::string channel;
  std::string payload;
};

// Collects notifications arriving on `conn` until `want` have come or the deadline passes.
inline std::vector<Notification> wait_notifications(pg::Connection& conn, size_t want,
                                                    std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  std::vector<Notification> got;
  auto drain = [&] {
    while (PGnotify* n = PQnotifies(conn.get())) {
      got.push_back({n->relname, n->extra});
      PQfreemem(n);
    }
  };
  wait_until(
      [&] {
        if (PQconsumeInput(conn.get()) == 0) return true;  // connection broken: stop waiting
        drain();
        return got.size() >= want;
      },
      deadline);
  return got;
}

// After a round trip the server has delivered every notification of transactions committed
// before it, so this returns the complete set still queued.
inline std::vector<Notification> remaining_notifications(pg::Connection& conn) {
  conn.exec("SELECT 1");
  std::vector<Notification> got;
  PQconsumeInput(conn.get());
  while (PGnotify* n = PQnotifies(conn.get())) {
    got.push_back({n->relname, n->extra});
    PQfreemem(n);
  }
  return got;
}

}  // namespace pgxq::test::client
