// app/notify: see notify.hpp.
#include "app/notify.hpp"

#include <systemd/sd-daemon.h>

namespace pgxq::app {

namespace {

// STATUS= is one line; a newline would start a new assignment.
std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

void Notifier::ready(const std::string& status) {
  last_status_ = one_line(status);
  sd_notify(0, ("READY=1\nSTATUS=" + last_status_).c_str());
}

void Notifier::status(const std::string& status) {
  auto s = one_line(status);
  if (s == last_status_) return;
  last_status_ = s;
  sd_notify(0, ("STATUS=" + s).c_str());
}

void Notifier::stopping(const std::string& status) {
  last_status_ = one_line(status);
  sd_notify(0, ("STOPPING=1\nSTATUS=" + last_status_).c_str());
}

void Notifier::watchdog() { sd_notify(0, "WATCHDOG=1"); }

std::optional<std::chrono::microseconds> Notifier::watchdog_interval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) return std::chrono::microseconds(usec);
  return std::nullopt;
}

}  // namespace pgxq::app
