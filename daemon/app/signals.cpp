// app/signals: see signals.hpp.
#include "app/signals.hpp"

#include <signal.h>

namespace pgxq::app {

SignalThread::SignalThread() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGHUP);
  // SIGUSR1 is only used to wake the waiting thread at destruction.
  sigaddset(&set_, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  // An ignored signal is discarded before sigwait() can see it, and ignoring is inherited
  // (nohup, some supervisors): take the default action back. While blocked it never runs.
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) ::signal(sig, SIG_DFL);
  thread_ = std::thread([this] { loop(); });
}

SignalThread::~SignalThread() {
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
}

void SignalThread::loop() {
  for (;;) {
    int sig = 0;
    if (sigwait(&set_, &sig) != 0) continue;
    std::lock_guard lock(mu_);
    if (quit_) return;
    if (sig == SIGTERM || sig == SIGINT) events_.push_back({SignalEvent::terminate, sig});
    else if (sig == SIGHUP) events_.push_back({SignalEvent::reload, sig});
    else continue;
    cv_.notify_all();
  }
}

std::optional<SignalEvent> SignalThread::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
  auto ev = events_.front();
  events_.pop_front();
  return ev;
}

void SignalThread::post(SignalEvent event) {
  std::lock_guard lock(mu_);
  events_.push_back(event);
  cv_.notify_all();
}

}  // namespace pgxq::app
