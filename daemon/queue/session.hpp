// queue/session: a database connection of the engine's own, as the producer, the completer, the
// listener and the rescuer each keep one — opened on first use and again after it is lost,
// named for pg_stat_activity and set up for its work, with the backoff between reconnects, and
// reporting to Health: a lost connection is a failure of the component, a successful use ends
// the component's part of an outage. Connections are opened with the engine's timeouts, and a
// connect in progress is abandoned when the engine stops. Each session is a loop in Liveness:
// busy from connection() to ok()/failed()/lost(), a step at each statement. How a component
// waits out the backoff, and what it logs about errors that did not cost the connection, stays
// its own. Used by one thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "pg/connection.hpp"
#include "queue/core.hpp"

namespace pgxq::queue {

// The wait between attempts to reach the database again: 100ms doubling to 5s. (The backoff
// between a job's attempts is BackoffPolicy's.)
class ReconnectBackoff {
public:
  std::chrono::milliseconds next() {
    auto d = current_;
    current_ = std::min(current_ * 2, std::chrono::milliseconds(5000));
    return d;
  }
  void reset() { current_ = std::chrono::milliseconds(100); }

private:
  std::chrono::milliseconds current_{100};
};

class Session {
public:
  using Setup = std::function<void(pg::Connection&)>;

  // `role` names the session in pg_stat_activity (Core::prepare_session), `component` is the
  // name Health and Liveness report, `setup` runs on every new connection after that. A connect
  // in progress is abandoned as soon as the engine stops (Core::stopping), except the
  // completer's: the outcomes of the last handlers still need writing, so its connects end only
  // at connect_timeout.
  Session(Core& core, std::string role, std::string component, Setup setup = {});

  // Begins a use of the database: the connection, opened and set up if there is none. Throws
  // pg::Error. A connection lost
  // during its setup is kept until failed() reports it (with when it was opened); one whose
  // setup failed otherwise is dropped, so the next call sets up a new one.
  pg::Connection& connection();
  // The database answered: Health hears it, and the next reconnect waits the shortest backoff.
  void ok();
  // A use of the connection threw `e`. A lost connection is dropped and reported to Health
  // (true); any other error is the caller's to log (false).
  bool failed(const pg::Error& e);
  // The connection is unusable (`why`): it is dropped and reported to Health, with when it was
  // opened if there was one.
  void lost(std::string_view why);
  // Drops the connection without a report; the next use opens a new one.
  void close() { conn_.reset(); }
  // How long to wait before trying again.
  std::chrono::milliseconds next_backoff() { return backoff_.next(); }
  void reset_backoff() { backoff_.reset(); }

private:
  Core& core_;
  std::string role_;
  std::string component_;
  Setup setup_;
  std::unique_ptr<pg::Connection> conn_;
  Clock::TimePoint opened_;
  ReconnectBackoff backoff_;
  Liveness::Loop loop_;
};

}  // namespace pgxq::queue
