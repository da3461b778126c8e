// queue/rescuer: returns jobs orphaned by dead workers. A job `running` for longer than
// rescue_after goes back to `available`, or — an improvement over go-pgxq — is failed when its
// attempts are used up, so a job that kills its worker cannot kill every worker forever. It
// covers every kind of its queues, like go-pgxq's, not only the kinds this daemon handles: the
// jobs of a plugin since removed must not stay running forever. Running rows whose
// attempted_at no claim could have written (NULL, infinite, far in the future) are rescued too.
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
  void rescue_queue(pg::Connection& conn, Producer& p);
  // After a rescue failed on a row: the stale jobs one at a time, so the row stops only itself.
  bool rescue_isolated(pg::Connection& conn, Producer& p, const std::string& after);
  // Logs and counts a rescue's rows; true when some went back to available.
  bool report(const pg::Result& r, Producer& p);

  std::shared_ptr<Core> core_;
  std::vector<std::shared_ptr<Producer>> producers_;
  Session session_;
};

}  // namespace pgxq::queue
