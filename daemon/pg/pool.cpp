// pg/pool: lazy fixed-size connection pool with leases that return or discard connections.
#include "pg/pool.hpp"

#include <functional>

namespace pgxq::pg {

Lease& Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    release();
    pool_ = o.pool_;
    conn_ = std::move(o.conn_);
    broken_ = o.broken_;
    o.pool_ = nullptr;
  }
  return *this;
}

Lease::~Lease() { release(); }

void Lease::release() noexcept {
  if (pool_ && conn_) {
    bool broken = broken_ || !conn_->ok() || conn_->in_transaction();
    if (!broken && pool_->on_return_) {
      try {
        pool_->on_return_(*conn_);
      } catch (...) {
        broken = true;  // a session that cannot be reset is not handed to anyone else
      }
    }
    pool_->give_back(std::move(conn_), broken);
  }
  pool_ = nullptr;
}

Pool::Pool(std::string conninfo, int size, ConnectOptions connect, std::chrono::milliseconds acquire_timeout)
    : conninfo_(std::move(conninfo)),
      size_(size < 1 ? 1 : size),
      connect_(std::move(connect)),
      acquire_timeout_(acquire_timeout) {}

Lease Pool::acquire(std::optional<std::chrono::milliseconds> timeout) {
  const auto limit = timeout.value_or(acquire_timeout_);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::unique_lock lock(mu_);
  auto ready = [&] { return !idle_.empty() || open_ < size_; };
  // Waited in slices, so a stop request ends the wait although nobody notifies the pool of it.
  while (!ready()) {
    if (connect_.should_stop && connect_.should_stop())
      throw Error("no database connection taken from the pool: shutting down", "57014");
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      throw Error("no database connection free in the pool of " + std::to_string(size_) + " within " +
                      std::to_string(limit.count()) + "ms; raise [database] pool_size or acquire_timeout",
                  "53300");
    cv_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(100)));
  }
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(c));
  }
  ++open_;
  lock.unlock();
  try {
    auto c = std::make_unique<Connection>(conninfo_, connect_);
    if (on_connect_) on_connect_(*c);
    return Lease(this, std::move(c));
  } catch (...) {
    lock.lock();
    --open_;
    cv_.notify_one();
    throw;
  }
}

void Pool::give_back(std::unique_ptr<Connection> conn, bool broken) noexcept {
  std::unique_ptr<Connection> closing;
  {
    std::lock_guard lock(mu_);
    if (broken) {
      closing = std::move(conn);
      --open_;
    } else {
      idle_.push_back(std::move(conn));
    }
  }
  cv_.notify_one();
  // `closing` is finished outside the lock.
}

int Pool::in_use() {
  std::lock_guard lock(mu_);
  return open_ - static_cast<int>(idle_.size());
}

}  // namespace pgxq::pg
