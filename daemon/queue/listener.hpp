// queue/listener: the dedicated LISTEN connection. It listens on each job table's channel
// (filled by the NOTIFY trigger that `pgxqd migrate` installs, payload = queue name) and wakes
// the producer of that table and queue, so pickup does not wait for the poll interval. On a
// lost connection it reconnects with backoff and wakes every producer, since notifications
// sent meanwhile are lost.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "queue/core.hpp"
#include "queue/producer.hpp"

namespace pgxq::queue {

class Listener {
public:
  Listener(std::shared_ptr<Core> core, std::vector<std::shared_ptr<Producer>> producers);
  ~Listener();
  void start();
  void stop();

private:
  void run();
  void listen(pg::Connection& conn);
  void dispatch(std::string_view channel, std::string_view queue);
  void wake_all();

  std::shared_ptr<Core> core_;
  std::vector<std::shared_ptr<Producer>> producers_;
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace pgxq::queue
