// app/notify: the systemd service protocol (sd_notify): READY=1, STATUS=, WATCHDOG=1 and
// STOPPING=1. Every call is a no-op when the daemon was not started by systemd (no
// NOTIFY_SOCKET), so the same binary runs in a terminal unchanged.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace pgxq::app {

class Notifier {
public:
  void ready(const std::string& status);
  void status(const std::string& status);  // sent only when it changed
  void stopping(const std::string& status);
  void watchdog();
  // The watchdog interval systemd asked for (WatchdogSec=), if any.
  static std::optional<std::chrono::microseconds> watchdog_interval();

private:
  std::string last_status_;
};

}  // namespace pgxq::app
