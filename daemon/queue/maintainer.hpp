// queue/maintainer: the engine's maintenance thread. For each job table it takes part in the
// leader election (queue/leader) and, while it leads that table, runs the table's upkeep over
// the leader's session: retention passes (queue/retention) every retention.interval, and the
// health check (queue/table_health) every health.interval, logging each warning, and, when
// configured, the rebuild of the churned indexes (queue/reindex) every reindex. Schedules
// are on the engine's clock. Started and stopped by the Engine.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "queue/core.hpp"
#include "queue/health.hpp"

namespace pgxq::queue {

class Leadership;

// Throws std::invalid_argument for options the maintainer cannot run with.
void validate_maintenance(const MaintenanceOptions& o);

class Maintainer {
public:
  explicit Maintainer(std::shared_ptr<Core> core);
  ~Maintainer();  // stops
  Maintainer(const Maintainer&) = delete;
  Maintainer& operator=(const Maintainer&) = delete;

  void start();
  // Ends the thread and gives up every leadership, so another daemon takes over at its next check.
  void stop();

private:
  struct Table;
  void loop();
  void upkeep(Table& t, Clock::TimePoint now);

  std::shared_ptr<Core> core_;
  std::vector<std::unique_ptr<Table>> tables_;
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace pgxq::queue
