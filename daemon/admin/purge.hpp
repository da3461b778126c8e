// admin/purge: `pgxqd purge` — deletes finished jobs (completed, discarded or failed) that
// finished longer ago than a duration, in batches (default 1000 rows, one statement and its own
// transaction each) read in completed_at order through idx_<table>_done, so no lock is held
// for long and no batch scans the table. Rows without completed_at are never purged. A dry run
// counts (up to kDryRunCountLimit) and lists the first ids, deleting nothing.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/job_selection.hpp"

namespace pgxq::admin {

struct PurgeRequest {
  std::string state;  // completed, discarded or failed
  std::chrono::milliseconds older_than{0};
  Filter filter;
  bool dry_run = false;
  int batch_size = kDefaultBatchSize;
};

struct PurgeResult {
  bool dry_run = false;
  std::string cutoff;  // completed_at before this
  int64_t deleted = 0;  // dry run: would be deleted
  bool count_capped = false;
  int batches = 0;
  std::vector<int64_t> sample;
};

void validate(const PurgeRequest& request);

PurgeResult purge(pg::Connection& conn, const std::string& table, const PurgeRequest& request,
                  const std::function<void(const WalkProgress&)>& progress = {});

// The statement of one batch (for EXPLAIN).
std::string purge_batch_sql(pg::Connection& conn, const std::string& table);

nlohmann::json to_json(const PurgeResult& result);

}  // namespace pgxq::admin
