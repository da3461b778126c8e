// queue/timeouts: connection options and the stall bound derived from the configured timeouts.
#include "queue/timeouts.hpp"

#include <algorithm>

namespace pgxq::queue {

namespace {
// Room for a loaded machine (and for the longest reconnect backoff, 5s) on top of the limits.
constexpr std::chrono::seconds kStallGrace{10};
}  // namespace

pg::ConnectOptions connect_options(const Timeouts& t, std::function<bool()> should_stop) {
  pg::ConnectOptions o;
  o.connect_timeout = t.connect;
  o.keepalives_idle = t.keepalives_idle;
  o.keepalives_interval = t.keepalives_interval;
  o.keepalives_count = t.keepalives_count;
  o.tcp_user_timeout = t.tcp_user;
  o.should_stop = std::move(should_stop);
  return o;
}

std::chrono::milliseconds stall_bound(const Timeouts& t, const std::string& conninfo) {
  using std::chrono::milliseconds;
  const milliseconds connect = pg::effective_connect_timeout(conninfo, t.connect);
  milliseconds dead_peer{0};
  if (t.tcp_user.count() > 0) dead_peer = t.tcp_user;
  else if (t.keepalives_idle.count() > 0) dead_peer = t.keepalives_idle + t.keepalives_interval * t.keepalives_count;
  if (connect.count() == 0 || t.statement.count() == 0 || dead_peer.count() == 0) return milliseconds::zero();
  return std::max(connect, t.statement + dead_peer) + kStallGrace;
}

}  // namespace pgxq::queue
