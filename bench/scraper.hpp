// bench/scraper: what a Prometheus server does to pgxqd's [http] listener during a run — GET
// /metrics once a second on a thread of its own — so the process figures can be compared with
// and without it. Counts the scrapes that got a 200 and those that did not.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace pgxq::bench {

// A port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, closed).
int free_local_port();

class Scraper {
public:
  explicit Scraper(int port);
  ~Scraper();  // stops
  void stop();
  // While pgxqd is stopped (SIGSTOP), scrapes would only time out: none are made. pause()
  // waits for a scrape in progress.
  void pause();
  void resume();
  int ok() const { return ok_; }
  int failed() const { return failed_; }

private:
  void loop();
  bool scrape_once();

  int port_;
  std::atomic<int> ok_{0};
  std::atomic<int> failed_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::mutex scrape_mu_;  // held while scraping
  bool paused_ = false;   // guarded by scrape_mu_
  std::thread thread_;
};

}  // namespace pgxq::bench
