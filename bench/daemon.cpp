// bench/daemon: see daemon.hpp.
#include "daemon.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace pgxq::bench {

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The live (not zombie) children of `parent`, with their CPU and resident memory.
struct Child {
  double cpu_s = 0;
  double rss_mb = 0;
};
std::vector<Child> children(int parent) {
  std::vector<Child> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (auto* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(close_paren + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(rest), std::istream_iterator<std::string>()};
    // f[0] is the state (field 3), f[1] the parent (field 4), f[11] and f[12] utime and stime.
    if (f.size() < 13 || f[0] == "Z" || f[0] == "X" || std::stol(f[1]) != parent) continue;
    Child c;
    c.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
    std::istringstream status(read_text("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmRSS:", 0) == 0) c.rss_mb = std::stod(line.substr(line.find(':') + 1)) / 1024.0;
    out.push_back(c);
  }
  closedir(d);
  return out;
}

}  // namespace

Daemon::Daemon(const Env& env, const DaemonConfig& c) {
  static std::atomic<int> n{0};
  dir_ = env.workdir + "/pgxqd-" + std::to_string(++n);
  if (mkdir(dir_.c_str(), 0755) != 0) throw std::runtime_error("cannot create " + dir_ + ": " + std::strerror(errno));
  const std::string config = dir_ + "/pgxqd.toml";
  log_ = dir_ + "/pgxqd.log";
  write_text(config, "[database]\npool_size = " + std::to_string(c.pool_size) + "\n\n[worker]\ntable = \"" + c.table +
                         "\"\npoll_interval = \"" + c.poll_interval + "\"\nbatch_size = " + std::to_string(c.batch_size) +
                         "\nmax_workers = " + std::to_string(c.max_workers) + "\n\n[backoff]\ninitial = \"" +
                         c.backoff_initial + "\"\nmax = \"" + c.backoff_max + "\"\n\n[plugins]\ndir = \"" + env.plugins +
                         "\"\n\n[log]\nlevel = \"" + c.log_level + "\"\nformat = \"text\"\n\n" + c.extra_toml);
  if (c.http) {
    http_port_ = free_local_port();
    std::ofstream(config, std::ios::app) << "\n[http]\nlisten = \"127.0.0.1:" << http_port_ << "\"\n";
  }

  // Our own sd_notify socket: READY=1 says the engine has started.
  notify_path_ = dir_ + "/notify.sock";
  const std::string& sock = notify_path_;
  notify_fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (notify_fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (sock.size() >= sizeof(addr.sun_path)) throw std::runtime_error("notify socket path too long: " + sock);
  std::strcpy(addr.sun_path, sock.c_str());
  if (bind(notify_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    throw std::runtime_error("bind " + sock + ": " + std::strerror(errno));

  std::vector<std::string> argv{env.pgxqd, "run", "--config", config};
  if (!env.conninfo.empty()) {
    argv.push_back("--database");
    argv.push_back(env.conninfo);
  }
  if (geteuid() == 0) argv.push_back("--allow-root");
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0 && std::strncmp(*e, "WATCHDOG_", 9) != 0 &&
        std::strncmp(*e, "JOURNAL_STREAM=", 15) != 0)
      envs.emplace_back(*e);
  envs.push_back("NOTIFY_SOCKET=" + sock);
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int out = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) throw std::runtime_error("cannot open " + log_ + ": " + std::strerror(errno));
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    dup2(out, 1);
    dup2(out, 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  close(out);
  const auto started = Clock::now();
  wait_ready();
  ready_s_ = seconds_since(started);
  if (c.http) scraper_ = std::make_unique<Scraper>(http_port_);
}

Daemon::~Daemon() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
  if (notify_fd_ >= 0) close(notify_fd_);
}

void Daemon::wait_ready() {
  auto deadline = Clock::now() + std::chrono::seconds(60);
  char buf[4096];
  while (Clock::now() < deadline) {
    pollfd p{notify_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      ssize_t len = recv(notify_fd_, buf, sizeof(buf) - 1, 0);
      if (len > 0) {
        buf[len] = 0;
        if (std::strstr(buf, "READY=1")) {
          // Nobody reads STATUS= updates from here on: a full datagram queue would block the
          // daemon's main loop inside sd_notify (and with it SIGTERM handling), so go away;
          // its later notifications then fail at once and are ignored.
          close(notify_fd_);
          notify_fd_ = -1;
          unlink(notify_path_.c_str());
          return;
        }
      }
    }
    if (!alive())
      throw std::runtime_error("pgxqd exited before it was ready (status " + std::to_string(status_) + "); its log:\n" +
                               log_tail());
  }
  throw std::runtime_error("pgxqd did not report READY=1 within 60 s; its log:\n" + log_tail());
}

bool Daemon::alive() {
  if (exited_) return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
  return !exited_;
}

ProcSample Daemon::sample() const {
  ProcSample s;
  std::istringstream status(read_text("/proc/" + std::to_string(pid_) + "/status"));
  for (std::string line; std::getline(status, line);) {
    auto kb = [&] { return std::stod(line.substr(line.find(':') + 1)) / 1024.0; };
    if (line.rfind("VmRSS:", 0) == 0) s.rss_mb = kb();
    if (line.rfind("VmHWM:", 0) == 0) s.hwm_mb = kb();
  }
  // /proc/<pid>/stat: fields after the command name (which may hold spaces) start at field 3;
  // utime and stime are fields 14 and 15, in clock ticks.
  std::string stat = read_text("/proc/" + std::to_string(pid_) + "/stat");
  auto close_paren = stat.rfind(')');
  if (close_paren != std::string::npos) {
    std::istringstream rest(stat.substr(close_paren + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(rest), std::istream_iterator<std::string>()};
    if (f.size() > 12) s.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
    if (f.size() > 14) s.workers_cpu_s = (std::stod(f[13]) + std::stod(f[14])) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  for (const auto& child : children(pid_)) {
    ++s.workers;
    s.workers_cpu_s += child.cpu_s;
    s.workers_rss_mb += child.rss_mb;
  }
  return s;
}

void Daemon::pause() {
  if (scraper_) scraper_->pause();
  if (kill(pid_, SIGSTOP) != 0) throw std::runtime_error(std::string("SIGSTOP pgxqd: ") + std::strerror(errno));
}

void Daemon::resume() {
  if (kill(pid_, SIGCONT) != 0) throw std::runtime_error(std::string("SIGCONT pgxqd: ") + std::strerror(errno));
  if (scraper_) scraper_->resume();
}

void Daemon::stop() {
  if (scraper_) scraper_->stop();
  if (!alive()) throw std::runtime_error("pgxqd had already exited (status " + std::to_string(status_) + "); its log:\n" + log_tail());
  kill(pid_, SIGTERM);
  auto deadline = Clock::now() + std::chrono::seconds(90);
  while (Clock::now() < deadline) {
    if (!alive()) {
      if (WIFEXITED(status_) && WEXITSTATUS(status_) == 0) return;
      throw std::runtime_error("pgxqd did not stop cleanly (status " + std::to_string(status_) + "); its log:\n" + log_tail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("pgxqd did not stop within 90 s of SIGTERM; its log:\n" + log_tail());
}

std::string Daemon::log() const { return read_text(log_); }

std::string Daemon::log_tail() const {
  std::string text = read_text(log_);
  if (text.size() > 4000) text = "..." + text.substr(text.size() - 4000);
  return text;
}

}  // namespace pgxq::bench
