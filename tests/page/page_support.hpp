// Helpers for the status page's tests: a free local port, the real pgxqd serving [http] on it,
// fetching with curl (the real HTTP client), and loading the page in headless chromium.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "../daemon/e2e.hpp"
#include "support.hpp"

namespace pgxq::test {

// A failure message that would run script if the page ever parsed job data as HTML.
inline constexpr const char* kHostileError = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>";

// Jobs the daemon under test never claims (queues it does not serve), with known counts:
//   mail/email.send: 7 due, 2 scheduled later, 1 running, 4 completed, 1 failed (kHostileError),
//                    1 discarded ("gave up: smtp 550"), all finished within the hour;
//   reports/report.pdf: 5 due, and the queue paused.
inline void seed_status_table(const std::string& table) {
  auto conn = connect();
  auto insert = [&](int n, const std::string& columns, const std::string& values, std::initializer_list<pg::Param> params = {}) {
    conn.exec("INSERT INTO " + table + " (kind, queue, " + columns + ") SELECT $1, $2, " + values +
                  " FROM generate_series(1, " + std::to_string(n) + ")",
              params);
  };
  insert(7, "state, scheduled_at", "'available', now() - interval '90 seconds'", {"email.send", "mail"});
  insert(2, "state, scheduled_at", "'available', now() + interval '1 hour'", {"email.send", "mail"});
  insert(1, "state, attempt, attempted_at", "'running', 1, now() - interval '30 seconds'", {"email.send", "mail"});
  insert(4, "state, attempt, attempted_at, completed_at", "'completed', 1, now(), now()", {"email.send", "mail"});
  insert(1, "state, attempt, max_attempts, attempted_at, completed_at, error", "'failed', 3, 3, now(), now(), $3",
         {"email.send", "mail", kHostileError});
  insert(1, "state, attempt, max_attempts, attempted_at, completed_at, error",
         "'discarded', 1, 3, now() - interval '1 minute', now() - interval '1 minute', $3",
         {"email.send", "mail", "gave up: smtp 550"});
  insert(5, "state, scheduled_at", "'available', now() - interval '20 minutes'", {"report.pdf", "reports"});
  conn.exec("INSERT INTO " + table + "_pause (queue, paused_by) VALUES ('reports', 'page test')");
}

// A port nothing listens on right now (the kernel's pick for a bound, then closed, socket).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct Reply {
  int status = 0;  // 0: no HTTP reply
  std::string headers;
  std::string body;
  // The value of header `name` (case-insensitive), empty when absent.
  std::string header(const std::string& name) const {
    std::regex re("(^|\\n)" + name + ":[ \\t]*([^\\r\\n]*)", std::regex::icase);
    std::smatch m;
    return std::regex_search(headers, m, re) ? m[2].str() : std::string();
  }
};

// One request with curl; `extra` are further arguments (e.g. {"-X", "POST"}, {"-I"}).
inline Reply fetch(const std::string& url, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{"curl", "-sS", "-i", "--max-time", "30", "--path-as-is"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  auto r = run(argv);
  Reply reply;
  auto split = r.out.find("\r\n\r\n");
  if (r.code != 0 || split == std::string::npos) return reply;
  reply.headers = r.out.substr(0, split);
  reply.body = r.out.substr(split + 4);
  std::smatch m;
  if (std::regex_search(reply.headers, m, std::regex("^HTTP/[0-9.]+ ([0-9]{3})"))) reply.status = std::stoi(m[1].str());
  return reply;
}

// The real pgxqd on `table` with [http] listening on a free loopback port, up once it answers
// /api/status.
class PageDaemon {
public:
  explicit PageDaemon(const std::string& table, const std::string& extra_config = "")
      : port_(free_port()),
        config_(table, "\n[http]\nlisten = \"127.0.0.1:" + std::to_string(port_) + "\"\n" + extra_config) {
    process_ = std::make_unique<Process>(run_argv(config_.path));
    bool up = wait_until([&] { return fetch(url("/api/status")).status == 200 || !process_->running(); }, 120s);
    INFO("pgxqd stderr: " << process_->err());
    REQUIRE(up);
    REQUIRE(process_->running());
  }
  ~PageDaemon() {
    process_->signal(SIGTERM);
    process_->wait(60s);
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  Process& process() { return *process_; }

private:
  int port_;
  TestConfig config_;
  std::unique_ptr<Process> process_;
};

inline std::optional<std::string> chromium_path() {
  for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (::access(candidate, X_OK) == 0) return std::string(candidate);
  return std::nullopt;
}

struct PageLoad {
  int code = -1;
  std::string dom;  // the DOM after the page's scripts ran (--dump-dom)
  std::string err;
};

// Loads `url` in headless chromium, lets its scripts run for a few (virtual) seconds, writes a
// screenshot to `screenshot` and returns the serialised DOM.
inline PageLoad load_in_chromium(const std::string& browser, const std::string& url, const std::string& screenshot) {
  auto profile = temp_dir("page-chromium");
  std::vector<std::string> argv{browser, "--headless=new", "--disable-gpu", "--no-first-run", "--disable-extensions",
                                "--user-data-dir=" + profile, "--virtual-time-budget=4000",
                                "--window-size=1280,900", "--screenshot=" + screenshot, "--dump-dom", url};
  if (geteuid() == 0) argv.insert(argv.begin() + 1, "--no-sandbox");
  auto r = run(argv);
  std::filesystem::remove_all(profile);
  return {r.code, r.out, r.err};
}

}  // namespace pgxq::test
