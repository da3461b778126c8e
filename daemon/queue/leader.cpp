// queue/leader: the advisory-lock election of one maintainer per job table.
#include "queue/leader.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>

namespace pgxq::queue {

namespace {

std::string quoted_name(const std::string& table) {
  TableSql t(table);
  return t.quoted;
}

}  // namespace

std::string process_identity() {
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "unknown-host") + ":" + std::to_string(getpid());
}

Leadership::Leadership(Core& core, const TableSql& table, std::string identity)
    : core_(core), table_(table), identity_(std::move(identity)) {}

Leadership::~Leadership() { resign(); }

void Leadership::connect() {
  conn_ = std::make_unique<pg::Connection>(core_.options.conninfo,
                                           connect_options(core_.options.timeouts, [this] { return core_.stopping.load(); }));
  {
    std::lock_guard lock(cancel_mu_);
    cancel_ = PQgetCancel(conn_->get());
  }
  core_.prepare_session(*conn_, "candidate " + identity_);
  // The server ends this session when the leader stops confirming its lock (its host gone
  // without closing the socket), which frees the lock for a follower. idle_session_timeout is
  // PostgreSQL 14's; an older server keeps relying on its TCP keepalives.
  // At least 10 s: a busy host may not schedule the leader's thread for a while, and a session
  // ended under a live leader would hand the leadership around for nothing.
  const auto idle = std::max<int64_t>(3 * core_.options.maintenance.leader_check.count(), 10000);
  try {
    conn_->exec("SELECT set_config('idle_session_timeout', $1, false)", {pg::Param(std::to_string(idle))});
  } catch (const pg::Error& e) {
    if (e.connection_lost()) throw;
    core_.log->debug("leader session of {}: idle_session_timeout not set: {}", table_.table, e.what());
  }
}

bool Leadership::check() {
  if (!leader_ && core_.options.clock->now() < sit_out_until_) return false;
  try {
    if (!conn_) connect();
    if (!leader_) {
      auto r = conn_->exec(maintenance_sql::kTryLeaderLock, {pg::Param(table_.quoted)});
      if (r.text(0, 0) == "t") {
        // The session's name says it leads: what pg_stat_activity and `pgxqd stats` show.
        conn_->exec("SELECT set_config('application_name', $1, false)",
                    {pg::Param(core_.options.application_name + " leader " + identity_)});
        leader_ = true;
        core_.log->info("became leader of table {}: this daemon ({}) now does its maintenance (session pid {})",
                        table_.table, identity_, conn_->backend_pid());
      }
    } else {
      auto r = conn_->exec(maintenance_sql::kHoldsLeaderLock, {pg::Param(table_.quoted)});
      if (r.text(0, 0) != "t") lose("its session no longer holds the leader lock");
    }
    warned_unreachable_ = false;
  } catch (const pg::Error& e) {
    if (leader_) {
      lose(e.what());
    } else {
      if (!warned_unreachable_)
        core_.log->debug("leader election for table {}: {} (SQLSTATE {}); trying again in {}ms", table_.table, e.what(),
                         e.sqlstate(), core_.options.maintenance.leader_check.count());
      warned_unreachable_ = true;
      drop_connection();
    }
  } catch (const std::exception& e) {
    lose(e.what());
  }
  return leader_;
}

pg::Connection& Leadership::connection() {
  if (!leader_ || !conn_) throw std::logic_error("Leadership::connection() while not the leader");
  return *conn_;
}

bool Leadership::failed(const pg::Error& e) {
  if (!leader_) return true;
  if (!e.connection_lost() && conn_ && conn_->ok()) return false;
  lose(e.what());
  return true;
}

void Leadership::lose(const std::string& why) noexcept {
  try {
    if (leader_)
      core_.log->warn("lost leadership of table {}: {}; this daemon stops its maintenance (another daemon takes over "
                      "within {}ms)",
                      table_.table, why, core_.options.maintenance.leader_check.count());
  } catch (...) {
  }
  if (leader_) sit_out_until_ = core_.options.clock->now() + 2 * core_.options.maintenance.leader_check;
  leader_ = false;
  // The session may still be alive (the lock gone some other way): ending it frees anything it
  // holds, and the next round starts from a fresh one.
  drop_connection();
}

void Leadership::resign() noexcept {
  if (leader_) {
    try {
      core_.log->info("resigning leadership of table {} (stopping)", table_.table);
    } catch (...) {
    }
  }
  leader_ = false;
  drop_connection();  // closing the session releases the lock
}

void Leadership::drop_connection() noexcept {
  {
    std::lock_guard lock(cancel_mu_);
    if (cancel_) PQfreeCancel(cancel_);
    cancel_ = nullptr;
  }
  conn_.reset();
}

void Leadership::cancel_statement() noexcept {
  std::lock_guard lock(cancel_mu_);
  if (!cancel_) return;
  char error[256];
  PQcancel(cancel_, error, sizeof error);
}

std::optional<LeaderInfo> read_leader(pg::Connection& conn, const std::string& table) {
  auto r = conn.exec(maintenance_sql::kLeaderOfTable, {pg::Param(quoted_name(table))});
  if (r.rows() == 0) return std::nullopt;
  LeaderInfo info;
  info.pid = static_cast<int>(r.int64(0, 0));
  info.application_name = std::string(r.text(0, 1));
  info.client = std::string(r.text(0, 2));
  info.session_seconds = r.is_null(0, 3) ? 0 : r.int64(0, 3);
  return info;
}

}  // namespace pgxq::queue
