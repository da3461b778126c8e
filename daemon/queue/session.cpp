// queue/session: the engine's own connections — open, set up, report, reconnect.
#include "queue/session.hpp"

#include <spdlog/spdlog.h>

#include <optional>

namespace pgxq::queue {

Session::Session(Core& core, std::string role, std::string component, Setup setup)
    : core_(core),
      role_(std::move(role)),
      component_(std::move(component)),
      setup_(std::move(setup)),
      loop_(core.liveness, component_) {}

pg::Connection& Session::connection() {
  loop_.busy();
  if (!conn_) {
    std::function<bool()> should_stop;
    if (role_ != "completer") should_stop = [&stopping = core_.stopping] { return stopping.load(); };
    try {
      conn_ = std::make_unique<pg::Connection>(core_.options.conninfo,
                                               connect_options(core_.options.timeouts, std::move(should_stop)));
    } catch (const pg::Error& e) {
      // Health logs an outage once; each attempt that failed (e.g. timed out) is a debug line.
      core_.log->debug("{}: {}", component_, e.what());
      throw;
    }
    conn_->set_on_statement([this] { loop_.step(); });
    loop_.step();
    opened_ = core_.options.clock->now();
    try {
      core_.prepare_session(*conn_, role_);
      if (setup_) setup_(*conn_);
    } catch (const pg::Error& e) {
      // A lost connection stays until failed() reports it with when it was opened; any other
      // failure drops it, so the next use opens a new one and runs the whole setup again.
      if (!e.connection_lost()) conn_.reset();
      throw;
    } catch (...) {
      conn_.reset();
      throw;
    }
  }
  return *conn_;
}

void Session::ok() {
  loop_.idle();
  core_.health.ok(component_);
  backoff_.reset();
}

bool Session::failed(const pg::Error& e) {
  loop_.idle();
  if (!e.connection_lost()) return false;
  lost(e.what());
  return true;
}

void Session::lost(std::string_view why) {
  loop_.idle();
  std::optional<Clock::TimePoint> opened;
  if (conn_) opened = opened_;
  // Reported before the connection goes: `why` may be its libpq error text.
  core_.health.failed(component_, why, opened);
  conn_.reset();
}

}  // namespace pgxq::queue
