// admin/pause: `pgxqd pause` / `pgxqd resume` — a row per paused queue in <table>_pause. Every
// daemon on the table stops claiming from a paused queue within one poll interval (jobs already
// running finish), and reads the table before its first claim, so a pause survives restarts.
// A queue no job uses yet may be paused (before a deploy); the result says so.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/job_selection.hpp"

namespace pgxq::admin {

struct PauseChange {
  std::string queue;
  bool changed = false;      // false: it already was paused (pause) / was not paused (resume)
  std::string paused_at;     // pause: since when (also when it already was)
  std::string paused_by;
  bool has_jobs = false;     // pause: some available or running job has this queue
};

// Queue names as the job table's text column holds them; refused (InputError) when empty, longer
// than 255 bytes, or with control characters or leading/trailing spaces (a typo, not a queue).
void validate_queue_name(const std::string& queue);

// All queues in one transaction; every name is checked first.
std::vector<PauseChange> pause(pg::Connection& conn, const std::string& table, const std::vector<std::string>& queues);
std::vector<PauseChange> resume(pg::Connection& conn, const std::string& table, const std::vector<std::string>& queues);

nlohmann::json to_json(const std::vector<PauseChange>& changes, bool pausing);

}  // namespace pgxq::admin
