// bench/daemon: the real pgxqd binary as a child process — a generated config, output captured
// to a log file, readiness taken from its sd_notify READY=1 (NOTIFY_SOCKET pointed at our own
// socket), its memory and CPU read from /proc, and a graceful stop that must exit 0.
#pragma once

#include <memory>
#include <string>

#include "bench.hpp"
#include "scraper.hpp"

namespace pgxq::bench {

struct DaemonConfig {
  std::string table;
  int max_workers = 100;
  int batch_size = 10;
  int pool_size = 10;
  std::string poll_interval = "1s";    // the default: pickup must not depend on it
  std::string backoff_initial = "1s";  // the defaults
  std::string backoff_max = "1h";
  bool http = false;  // [http] listen on a free loopback port, /metrics scraped every second
  std::string log_level = "warn";
  std::string extra_toml;  // more sections, appended to the file as they are
};

struct ProcSample {
  double rss_mb = 0;   // VmRSS
  double hwm_mb = 0;   // VmHWM: peak RSS since start
  double cpu_s = 0;    // utime + stime, all threads
  // Its child processes (plugin workers with isolation = "process"): how many are alive, their
  // resident memory, and their CPU: the live ones' utime + stime plus what the daemon has reaped
  // (cutime + cstime), so a worker that died still counts.
  int workers = 0;
  double workers_rss_mb = 0;
  double workers_cpu_s = 0;
};

class Daemon {
public:
  Daemon(const Env& env, const DaemonConfig& config);
  ~Daemon();  // SIGKILL if still running
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  int pid() const { return pid_; }
  // Seconds from the start of the process to its READY=1.
  double ready_seconds() const { return ready_s_; }
  bool alive();
  ProcSample sample() const;
  // SIGSTOP / SIGCONT: the daemon does nothing (and spends no CPU) in between.
  void pause();
  void resume();
  // SIGTERM, wait for a graceful exit; throws when it does not exit 0 within the deadline.
  void stop();
  std::string log_tail() const;
  // With DaemonConfig::http: scrapes of /metrics that got a 200, and those that did not.
  int scrapes_ok() const { return scraper_ ? scraper_->ok() : 0; }
  int scrapes_failed() const { return scraper_ ? scraper_->failed() : 0; }
  std::string log() const;  // the whole log

private:
  void wait_ready();

  int pid_ = -1;
  int notify_fd_ = -1;
  std::string notify_path_;
  std::string dir_;
  std::string log_;
  bool exited_ = false;
  double ready_s_ = 0;
  int status_ = 0;
  int http_port_ = 0;
  std::unique_ptr<Scraper> scraper_;
};

}  // namespace pgxq::bench
