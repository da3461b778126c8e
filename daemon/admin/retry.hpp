// admin/retry: `pgxqd retry` — failed and discarded jobs back to `available`, due now. A retried
// job starts over: attempt 0, so it gets all of its max_attempts again; completed_at and
// attempted_at are cleared; the last error stays until the next attempt overwrites it (what
// went wrong stays readable meanwhile). A cancellation request left for the job is dropped.
// By id (one transaction; unknown ids change nothing) or in bulk by state, kind and queue (a
// batch per transaction, through the finished-jobs index; only jobs finished before the command
// started, so jobs failing again meanwhile are not picked up twice).
// Unique keys: a job whose (kind, unique_key) another unfinished job holds is not retried (the
// unique index allows one), and is reported with the key and the holder's id; of several jobs
// of one call (or one batch) sharing a key, the lowest id is retried. The other jobs are retried
// as usual: in bulk a guard in the UPDATE skips the taken keys, so a conflict never aborts a
// batch. A key taken by a concurrent insert between the guard and the update fails that one
// statement (unique violation); it is then run again, a few times.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/job_selection.hpp"

namespace pgxq::admin {

struct RetryRequest {
  std::vector<int64_t> ids;          // either ids...
  std::optional<std::string> state;  // ...or a state (failed, discarded), with the filter
  Filter filter;
  bool dry_run = false;
  int batch_size = kDefaultBatchSize;
};

struct RetryResult {
  bool dry_run = false;
  bool by_id = false;
  int64_t retried = 0;  // dry run: would be retried
  bool count_capped = false;  // dry run: at least `retried`
  int batches = 0;
  std::vector<int64_t> sample;  // the ids retried (the first kSampleIds in bulk)
  std::vector<Skipped> skipped;  // ids given that are not failed or discarded, or whose key is taken
  // Jobs left failed/discarded because their unique key was taken (in bulk, `skipped` lists the
  // first kSampleIds of them).
  int64_t key_taken = 0;
};

// Checks the request before anything is read (InputError).
void validate(const RetryRequest& request);

RetryResult retry(pg::Connection& conn, const std::string& table, const RetryRequest& request,
                  const std::function<void(const WalkProgress&)>& progress = {});

nlohmann::json to_json(const RetryResult& result);

}  // namespace pgxq::admin
