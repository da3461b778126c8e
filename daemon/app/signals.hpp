// app/signals: turns SIGTERM, SIGINT and SIGHUP into events on a queue, received by one
// dedicated thread with sigwait(), so no daemon logic ever runs in an async signal handler.
// Construct it before any other thread starts: it blocks those signals in the calling thread,
// and threads created afterwards inherit the mask.
#pragma once

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace pgxq::app {

struct SignalEvent {
  enum Kind { terminate, reload, wakeup } kind;
  int signo = 0;  // the signal for terminate/reload
};

class SignalThread {
public:
  SignalThread();
  ~SignalThread();
  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

  // The next event, or nullopt when `timeout` passes first.
  std::optional<SignalEvent> wait_for(std::chrono::milliseconds timeout);
  // Queues an event from inside the process (e.g. "the engine has stopped").
  void post(SignalEvent event);

private:
  void loop();
  sigset_t set_{};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SignalEvent> events_;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace pgxq::app
