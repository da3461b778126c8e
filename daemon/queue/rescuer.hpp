// queue/rescuer: returns jobs orphaned by dead workers. A job `running` for longer than
// rescue_after goes back to `available`, or — an improvement over go-pgxq — is failed when its
// attempts are used up, so a job that kills its worker cannot kill every worker forever.
#pragma once

#include <memory>
#include <vector>

#include "queue/core.hpp"
#include "queue/producer.hpp"
#include "queue/session.hpp"

namespace pgxq::queue {

class Rescuer {
public:
  Rescuer(std::shared_ptr<Core> core, std::vector<std::shared_ptr<Producer>> producers);
  // One pass over every queue; wakes the producers whose jobs became available.
  void run_once();

private:
  std::shared_ptr<Core> core_;
  std::vector<std::shared_ptr<Producer>> producers_;
  Session session_;
};

}  // namespace pgxq::queue
