// bench/scraper: see scraper.hpp. HTTP/1.0 with Connection: close, so a response ends at EOF and
// only its status line needs reading.
#include "scraper.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace pgxq::bench {

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

int free_local_port() {
  Fd s{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  if (bind(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(s.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error(std::string("finding a free port: ") + std::strerror(errno));
  return ntohs(addr.sin_port);
}

Scraper::Scraper(int port) : port_(port), thread_([this] { loop(); }) {}

Scraper::~Scraper() { stop(); }

void Scraper::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scraper::pause() {
  std::lock_guard lock(scrape_mu_);
  paused_ = true;
}

void Scraper::resume() {
  std::lock_guard lock(scrape_mu_);
  paused_ = false;
}

void Scraper::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    {
      std::lock_guard scraping(scrape_mu_);
      if (!paused_) (scrape_once() ? ok_ : failed_)++;
    }
    lock.lock();
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
  }
}

bool Scraper::scrape_once() {
  Fd s{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) return false;
  timeval timeout{5, 0};
  setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr = loopback(port_);
  if (connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (send(s.fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return false;
  std::string head;
  char buf[65536];
  for (;;) {
    const ssize_t n = recv(s.fd, buf, sizeof buf, 0);
    if (n < 0) return false;
    if (n == 0) break;
    if (head.size() < 16) head.append(buf, static_cast<size_t>(n));
  }
  return head.rfind("HTTP/1.1 200", 0) == 0 || head.rfind("HTTP/1.0 200", 0) == 0;
}

}  // namespace pgxq::bench
