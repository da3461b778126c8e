// admin/cancel: `pgxqd cancel` — an available job is discarded at once (error "cancelled by
// operator", completed_at now); for a running job a request goes into <table>_cancel, and the
// daemon running it (every daemon reads the requests at least once a second) tells its handler
// to stop, rolls back the handler's transaction and discards the job with the same error, whatever
// the handler returned. A finished job is not cancellable. By id (one transaction; unknown ids
// change nothing) or in bulk by kind and/or queue (available jobs in batches, one transaction
// each; then one request per running job).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/job_selection.hpp"

namespace pgxq::admin {

struct CancelRequest {
  std::vector<int64_t> ids;          // either ids...
  Filter filter;                     // ...or a kind and/or a queue
  std::optional<std::string> state;  // bulk only: available or running (default both)
  bool dry_run = false;
  int batch_size = kDefaultBatchSize;
};

struct CancelResult {
  bool dry_run = false;
  bool by_id = false;
  int64_t discarded = 0;   // available jobs discarded now
  int64_t requested = 0;   // running jobs asked to stop
  bool count_capped = false;  // dry run: at least the counts shown
  std::vector<int64_t> discarded_ids;  // (the first kSampleIds in bulk)
  std::vector<int64_t> requested_ids;
  std::vector<Skipped> not_cancellable;  // finished jobs among the ids
};

void validate(const CancelRequest& request);

CancelResult cancel(pg::Connection& conn, const std::string& table, const CancelRequest& request,
                    const std::function<void(const WalkProgress&)>& progress = {});

nlohmann::json to_json(const CancelResult& result);

}  // namespace pgxq::admin
