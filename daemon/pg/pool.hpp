// pg/pool: a fixed-size pool of connections to one database, opened lazily. A Lease is the
// only way to hold a pooled connection; it goes back to the pool when the lease ends, unless
// it broke (then it is closed and a fresh one is opened on the next acquire). A connection
// going back is first put through the pool's return hook (a session reset), in the thread
// that ends the lease; one the hook cannot reset is closed. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgxq::pg {

class Pool;

class Lease {
public:
  Lease() = default;
  Lease(Pool* pool, std::unique_ptr<Connection> conn) noexcept : pool_(pool), conn_(std::move(conn)) {}
  Lease(Lease&& o) noexcept = default;
  Lease& operator=(Lease&& o) noexcept;
  ~Lease();

  Connection& operator*() const noexcept { return *conn_; }
  Connection* operator->() const noexcept { return conn_.get(); }
  explicit operator bool() const noexcept { return conn_ != nullptr; }
  // Marks the connection as unusable: it is closed instead of being returned.
  void discard() noexcept { broken_ = true; }

private:
  void release() noexcept;
  Pool* pool_ = nullptr;
  std::unique_ptr<Connection> conn_;
  bool broken_ = false;
};

class Pool {
public:
  // Connections are opened with `connect` (its should_stop also ends waits in acquire()), and
  // acquire() waits at most `acquire_timeout` for one.
  Pool(std::string conninfo, int size, ConnectOptions connect = {},
       std::chrono::milliseconds acquire_timeout = std::chrono::seconds(60));
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Waits for a free connection (opening one if under size), at most `timeout` (default: the
  // pool's acquire_timeout). Throws pg::Error when none came in time (SQLSTATE 53300), when
  // should_stop said so while waiting (57014), or when a new connection cannot be opened.
  Lease acquire(std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  int size() const noexcept { return size_; }
  // Connections leased now.
  int in_use();
  const std::string& conninfo() const noexcept { return conninfo_; }

  // Runs on every freshly opened connection (e.g. SET application_name); may throw.
  void set_on_connect(std::function<void(Connection&)> hook) { on_connect_ = std::move(hook); }
  // Runs on every connection whose lease ends, before it is idle again (e.g. a session reset
  // so nothing one borrower set reaches the next); when it throws, the connection is closed.
  // Set before the first acquire.
  void set_on_return(std::function<void(Connection&)> hook) { on_return_ = std::move(hook); }

private:
  friend class Lease;
  void give_back(std::unique_ptr<Connection> conn, bool broken) noexcept;

  const std::string conninfo_;
  const int size_;
  const ConnectOptions connect_;
  const std::chrono::milliseconds acquire_timeout_;
  std::function<void(Connection&)> on_connect_;
  std::function<void(Connection&)> on_return_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // idle + leased
};

}  // namespace pgxq::pg
