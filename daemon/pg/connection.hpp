// pg/connection: RAII owners of libpq handles — a result, a connection, and a transaction
// that rolls back unless committed. Destructors never throw. Every failure becomes a
// pg::Error carrying the SQLSTATE. Not thread-safe: one connection belongs to one thread at
// a time (the pool hands them out).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pg/error.hpp"

namespace pgxq::pg {

// One query parameter in text format; std::nullopt is SQL NULL.
using Param = std::optional<std::string_view>;

class Result {
public:
  Result() = default;
  explicit Result(PGresult* r) noexcept : res_(r) {}
  int rows() const noexcept { return res_ ? PQntuples(res_.get()) : 0; }
  int columns() const noexcept { return res_ ? PQnfields(res_.get()) : 0; }
  bool is_null(int row, int col) const noexcept { return PQgetisnull(res_.get(), row, col) != 0; }
  std::string_view text(int row, int col) const noexcept {
    return {PQgetvalue(res_.get(), row, col), static_cast<size_t>(PQgetlength(res_.get(), row, col))};
  }
  int64_t int64(int row, int col) const;
  std::string_view column_name(int col) const noexcept { return PQfname(res_.get(), col); }
  // Rows affected by INSERT/UPDATE/DELETE (PQcmdTuples).
  int64_t affected() const noexcept;
  PGresult* get() const noexcept { return res_.get(); }

private:
  struct Clear {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> res_;
};

// How a connection is opened. Each limit is a default: a key the connection string sets itself
// (connect_timeout=, keepalives_idle=, ..., or PGCONNECT_TIMEOUT in the environment) wins.
struct ConnectOptions {
  // The whole attempt (every host of the string) gives up after this; zero: no limit. libpq's
  // own connect_timeout is whole seconds; a connection string's value is read as such.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // TCP keepalives, so a connection whose peer vanished is noticed while it idles (libpq takes
  // whole seconds); zero idle: the kernel's defaults.
  std::chrono::seconds keepalives_idle{30};
  std::chrono::seconds keepalives_interval{10};
  int keepalives_count = 3;
  // Unacknowledged data is given up on after this (TCP_USER_TIMEOUT); zero: the kernel's.
  std::chrono::milliseconds tcp_user_timeout{std::chrono::seconds(30)};
  // Asked while connecting (about every 100 ms); true abandons the attempt with an error.
  std::function<bool()> should_stop;
};

// The deadline a connection string leaves for an attempt: its own connect_timeout= (seconds,
// as libpq reads it; zero or negative: none) or PGCONNECT_TIMEOUT, else `fallback`.
std::chrono::milliseconds effective_connect_timeout(const std::string& conninfo, std::chrono::milliseconds fallback);

class Connection {
public:
  // conninfo: a libpq URI or key=value string; empty means libpq's defaults (PGHOST, ...).
  // Throws pg::Error (with a message that never contains the password) when it cannot connect,
  // including when options.connect_timeout passes or options.should_stop says so first.
  explicit Connection(const std::string& conninfo, const ConnectOptions& options = {});
  // Adopts an already-open connection (takes ownership).
  explicit Connection(PGconn* adopted) noexcept : conn_(adopted) {}

  Result exec(std::string_view sql);
  Result exec(std::string_view sql, std::span<const Param> params);
  Result exec(std::string_view sql, std::initializer_list<Param> params) {
    return exec(sql, std::span<const Param>(params.begin(), params.size()));
  }
  // Prepares `sql` under `name` once per connection; later calls are no-ops.
  void prepare(const std::string& name, std::string_view sql);
  Result exec_prepared(const std::string& name, std::span<const Param> params);
  // After DEALLOCATE ALL (a session reset): prepare() prepares again on next use.
  void forget_prepared() noexcept { prepared_.clear(); }
  Result exec_prepared(const std::string& name, std::initializer_list<Param> params) {
    return exec_prepared(name, std::span<const Param>(params.begin(), params.size()));
  }

  bool ok() const noexcept { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }
  bool in_transaction() const noexcept;
  int backend_pid() const noexcept { return conn_ ? PQbackendPID(conn_.get()) : 0; }
  int socket() const noexcept { return conn_ ? PQsocket(conn_.get()) : -1; }
  PGconn* get() const noexcept { return conn_.get(); }

  // Called after every statement (and prepare) returns, whatever its outcome: progress for the
  // caller's watchdog. Must not throw.
  void set_on_statement(std::function<void()> hook) { on_statement_ = std::move(hook); }

  // Quotes an identifier (for the already-validated table names only).
  std::string quote_identifier(std::string_view id) const;

private:
  Result check(PGresult* r);
  struct Finish {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
  };
  std::unique_ptr<PGconn, Finish> conn_;
  std::vector<std::string> prepared_;
  std::function<void()> on_statement_;
};

// BEGIN on construction; ROLLBACK on destruction unless commit() succeeded.
class Transaction {
public:
  explicit Transaction(Connection& conn);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();
  void rollback() noexcept;
  bool open() const noexcept { return open_; }
  Connection& connection() noexcept { return conn_; }

private:
  Connection& conn_;
  bool open_ = true;
};

// Builds a pg::Error from a failed result or connection, with SQLSTATE and primary message.
Error make_error(PGconn* conn, const PGresult* res, std::string_view context = {});

}  // namespace pgxq::pg
