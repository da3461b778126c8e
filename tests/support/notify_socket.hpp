// Test support: the systemd side of sd_notify — a datagram socket a test hands to pgxqd as
// NOTIFY_SOCKET, and reads READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 from.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace pgxq::test {

class NotifySocket {
public:
  explicit NotifySocket(std::string path);  // bound at `path`, removed at destruction
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }
  // Every message received so far, after reading what is waiting.
  const std::vector<std::string>& messages();
  // How many messages received so far contain `text`.
  int count(const std::string& text);
  // Waits (with a deadline) until a message contains `text`.
  bool wait_for(const std::string& text, std::chrono::milliseconds deadline = std::chrono::seconds(60));
  // Waits (with a deadline) for `more` messages containing `text` beyond those received so far.
  bool wait_more(const std::string& text, int more, std::chrono::milliseconds deadline = std::chrono::seconds(60));

private:
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> messages_;
};

}  // namespace pgxq::test
