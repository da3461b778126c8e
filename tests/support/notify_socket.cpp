// Test support: see notify_socket.hpp.
#include "notify_socket.hpp"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>

#include "support.hpp"

namespace pgxq::test {

NotifySocket::NotifySocket(std::string path) : path_(std::move(path)) {
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd_ >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
  REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
}

NotifySocket::~NotifySocket() {
  close(fd_);
  unlink(path_.c_str());
}

const std::vector<std::string>& NotifySocket::messages() {
  pollfd p{fd_, POLLIN, 0};
  while (poll(&p, 1, 0) > 0) {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    messages_.emplace_back(buf, static_cast<size_t>(n));
  }
  return messages_;
}

int NotifySocket::count(const std::string& text) {
  int c = 0;
  for (const auto& m : messages()) c += m.find(text) != std::string::npos;
  return c;
}

bool NotifySocket::wait_for(const std::string& text, std::chrono::milliseconds deadline) {
  return wait_until([&] { return count(text) > 0; }, deadline);
}

bool NotifySocket::wait_more(const std::string& text, int more, std::chrono::milliseconds deadline) {
  const int target = count(text) + more;
  return wait_until([&] { return count(text) >= target; }, deadline);
}

}  // namespace pgxq::test
