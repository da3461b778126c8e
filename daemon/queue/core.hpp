// queue/core: the state the engine's parts share — options, handlers, the handler pool, the
// statements per table, health, counters and the cancellation flag. Owned by the Engine
// through a shared_ptr so a handler thread that outlives a shutdown still finds it alive.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pg/pool.hpp"
#include "queue/engine.hpp"
#include "queue/health.hpp"
#include "queue/sql.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::queue {

struct QueueCounters {
  std::atomic<uint64_t> claimed{0}, completed{0}, retried{0}, discarded{0}, failed{0}, rescued{0};
};

struct Core {
  Core(EngineOptions o, HandlerMap h, std::shared_ptr<spdlog::logger> l);

  EngineOptions options;
  HandlerMap handlers;
  std::shared_ptr<spdlog::logger> log;
  std::vector<std::string> kinds;  // handled kinds, sorted
  std::string kinds_array;         // as a text[] literal
  Health health;
  Liveness liveness;               // whether the engine's loops still take steps (watchdog)
  pg::Pool handler_pool;           // connections for handlers' transactions
  std::map<std::string, TableSql> tables;  // by table name
  std::atomic<bool> cancel{false};         // handlers' should-stop
  std::atomic<bool> stopping{false};       // the engine is shutting down: connects give up
  std::function<double()> random_unit;     // jitter samples in [0, 1)

  // Runs on every connection the engine opens: names it for pg_stat_activity and sets its
  // timeouts (the engine's own sessions: statement and lock timeouts; handlers' sessions: the
  // handler statement timeout, when one is configured).
  void prepare_session(pg::Connection& conn, const std::string& role) const;
  // What prepare_session runs, as one SQL string without parameters.
  std::string session_setup_sql(const std::string& role) const;
  // Runs on a handler connection going back to the pool: undoes whatever the handler's SQL left
  // in the session (settings, role, advisory locks, temp tables, prepared statements, cursors,
  // LISTENs), then prepares it again as on connect.
  void reset_session(pg::Connection& conn, const std::string& role) const;
};

}  // namespace pgxq::queue
