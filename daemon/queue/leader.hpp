// queue/leader: which daemon maintains a job table. The leader is the session holding a
// session-level advisory lock keyed by the table (queue/sql's maintenance_sql), taken with
// pg_try_advisory_lock on a connection of its own. Every maintenance statement the leader runs
// goes over that same connection, so a leader whose session has ended — killed, terminated,
// cut off by a network partition — cannot act any more: its statements fail, and PostgreSQL
// frees the lock only when that session is gone. Two leaders can therefore never act at once,
// whatever the clocks say. Followers ("<application_name> candidate <host>:<pid>" in
// pg_stat_activity) try for the lock every leader_check; the leader's session is renamed
// "<application_name> leader <host>:<pid>". The leader's session
// sets idle_session_timeout to 3 × leader_check, at least 10 s (it confirms its lock every
// leader_check), so
// the server ends it by itself when the leader's host vanishes without closing its socket.
// Used by one thread (the maintainer's); read_leader is for anyone.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "pg/connection.hpp"
#include "queue/core.hpp"

namespace pgxq::queue {

class Leadership {
public:
  // `table`: the table's entry in Core::tables; `identity` names this daemon in the leader
  // session's application_name ("<application_name> leader <identity>").
  Leadership(Core& core, const TableSql& table, std::string identity);
  ~Leadership();
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  // One round of the election: a follower tries to take the lock, the leader confirms it still
  // holds it. Logs "became leader" and "lost leadership" once per change. Never throws.
  bool check();
  bool leader() const noexcept { return leader_; }
  // The leader's session: only while leader(). Maintenance runs its statements here.
  pg::Connection& connection();
  // A statement on connection() failed with `e`: a lost connection (or any error that leaves the
  // session unusable) ends the leadership; other errors are the caller's. True when it ended.
  bool failed(const pg::Error& e);
  // Gives the lock up (at shutdown): the next daemon takes over within leader_check.
  void resign() noexcept;
  // Asks the server to cancel the statement the leader's session runs now, if any (a rebuild
  // without a statement timeout, at shutdown). The one call that may come from another thread.
  void cancel_statement() noexcept;

private:
  void lose(const std::string& why) noexcept;
  void connect();

  Core& core_;
  const TableSql& table_;
  std::string identity_;
  void drop_connection() noexcept;

  std::unique_ptr<pg::Connection> conn_;
  std::mutex cancel_mu_;
  PGcancel* cancel_ = nullptr;  // for conn_, guarded by cancel_mu_
  bool leader_ = false;
  // A leader that lost its session sits out two rounds, so the daemons that kept theirs take over.
  Clock::TimePoint sit_out_until_{};
  bool warned_unreachable_ = false;
};

// Who leads `table` now, as PostgreSQL sees it (for `pgxqd stats`, tests and operators).
struct LeaderInfo {
  int pid = 0;                   // the leader session's backend pid
  std::string application_name;  // "<application_name> leader <host>:<pid>"
  std::string client;            // client address, "local" for a unix socket
  int64_t session_seconds = 0;   // how long that session has existed
};
// `table` as configured ("pgxq_job", "app.jobs"); nullopt when no daemon leads it. Throws pg::Error.
std::optional<LeaderInfo> read_leader(pg::Connection& conn, const std::string& table);

// "<host>:<pid>" of this process, for Leadership's identity.
std::string process_identity();

}  // namespace pgxq::queue
