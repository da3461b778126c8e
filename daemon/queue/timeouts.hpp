// queue/timeouts: how long the engine lets its own connections and statements take — the
// claims, completions, rescues, the LISTEN session and releases — and, only when configured, a
// statement timeout for handlers' SQL. Also the bound that tells a loop waiting on the database
// (explained by these timeouts) from a loop that is stuck (explained by none of them), which the
// systemd watchdog reports on. Plain data; zero means "no limit" everywhere.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "pg/connection.hpp"

namespace pgxq::queue {

struct Timeouts {
  std::chrono::milliseconds connect{std::chrono::seconds(10)};
  std::chrono::seconds keepalives_idle{30};
  std::chrono::seconds keepalives_interval{10};
  int keepalives_count = 3;
  std::chrono::milliseconds tcp_user{std::chrono::seconds(30)};
  // The engine's own statements (SET statement_timeout / lock_timeout on its sessions).
  std::chrono::milliseconds statement{std::chrono::seconds(30)};
  std::chrono::milliseconds lock{std::chrono::seconds(5)};
  // Handlers' sessions: zero leaves the server's (or the connection string's) setting alone.
  std::chrono::milliseconds handler_statement{0};
  // How long a handler's first SQL waits for a free pooled connection.
  std::chrono::milliseconds pool_acquire{std::chrono::seconds(60)};
};

// Connection options for these timeouts; `should_stop` abandons a connect in progress.
pg::ConnectOptions connect_options(const Timeouts& t, std::function<bool()> should_stop = {});

// The longest one step of an engine loop may take while nothing is wrong with pgxqd itself: a
// connect (connect_timeout, or the connection string's own), or one statement (statement_timeout,
// plus the time a dead peer takes to be noticed: tcp_user_timeout, else the keepalives), plus a
// grace for a loaded machine. Zero when a limit it needs is off (then no bound can be told).
std::chrono::milliseconds stall_bound(const Timeouts& t, const std::string& conninfo);

}  // namespace pgxq::queue
