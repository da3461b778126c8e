// queue/periodic_options: the periodic entries an engine enqueues (queue/periodic), as plain
// data in EngineOptions; the app fills them from [[periodic]].
#pragma once

#include <optional>
#include <string>

#include "queue/cron.hpp"

namespace pgxq::queue {

struct PeriodicEntry {
  std::string name;  // identity in <table>_periodic; unique among entries
  std::string kind;
  std::string args = "{}";  // JSON object
  std::string queue = "default";
  int priority = 0;
  int max_attempts = 5;
  std::optional<Schedule> schedule;
  // Scheduled times missed by more than the grace (every daemon down across them): true, one
  // run for the latest of them; false, skipped.
  bool catch_up = true;
};

}  // namespace pgxq::queue
