// admin/retry: failed and discarded jobs back to available, by id or in batches.
#include "admin/retry.hpp"

namespace pgxq::admin {

namespace {

// Everything a retry sets; the error column is left as it is.
constexpr const char* kRetrySet =
    "state = 'available', attempt = 0, scheduled_at = now(), completed_at = NULL, attempted_at = NULL";

bool retryable(const std::string& state) { return state == "failed" || state == "discarded"; }

std::string id_array(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "}";
}

}  // namespace

void validate(const RetryRequest& r) {
  if (!r.ids.empty() && (r.state || !r.filter.empty()))
    throw InputError("give job ids, or --state with --kind/--queue, not both");
  if (r.ids.empty() && !r.state)
    throw InputError("nothing to retry: give job ids (pgxqd retry 42 43) or a state (pgxqd retry --state failed "
                     "[--kind K] [--queue Q])");
  if (r.state && !retryable(*r.state))
    throw InputError("--state " + *r.state + " cannot be retried: only failed or discarded jobs are (available and "
                     "running jobs are already on their way; completed jobs are done)");
  for (auto id : r.ids)
    if (id <= 0) throw InputError("job id " + std::to_string(id) + " is not valid: ids are positive integers");
  check_batch_size(r.batch_size);
}

RetryResult retry(pg::Connection& conn, const std::string& table, const RetryRequest& req,
                  const std::function<void(const WalkProgress&)>& progress) {
  validate(req);
  const JobTables t(conn, table);
  RetryResult result;
  result.dry_run = req.dry_run;
  if (!req.ids.empty()) {
    result.by_id = true;
    pg::Transaction tx(conn);
    std::vector<int64_t> ids;
    for (const auto& row : lock_jobs(conn, t, req.ids)) {
      if (retryable(row.state)) ids.push_back(row.id);
      else
        result.skipped.push_back({row.id, row.state,
                                  row.state == "completed" ? "completed: nothing to retry"
                                  : row.state == "running" ? "running now: not retried (cancel it first if it must stop)"
                                                           : "already available: it runs when due"});
    }
    result.retried = static_cast<int64_t>(ids.size());
    result.sample = ids;
    if (req.dry_run || ids.empty()) return result;  // the transaction rolls back
    conn.exec("UPDATE " + t.quoted + " SET " + kRetrySet + " WHERE id = ANY($1::int8[]) AND state IN ('failed', 'discarded')",
              {id_array(ids)});
    conn.exec("DELETE FROM " + t.cancel + " WHERE job_id = ANY($1::int8[])", {id_array(ids)});
    tx.commit();
    return result;
  }

  FinishedWalk walk;
  walk.state = *req.state;
  walk.cutoff = std::string(conn.exec("SELECT now()::text").text(0, 0));
  walk.inclusive = true;
  walk.null_completed_at = true;  // tables written by other clients may leave completed_at empty
  walk.filter = req.filter;
  walk.batch_size = req.batch_size;
  if (req.dry_run) {
    auto p = preview_finished(conn, t, walk);
    result.retried = p.count;
    result.count_capped = p.capped;
    result.sample = p.sample;
    return result;
  }
  const std::string action = "UPDATE " + t.quoted + " j SET " + kRetrySet +
                             " WHERE j.id = ANY (ARRAY(SELECT id FROM picked)) AND j.state = $1::text RETURNING j.id";
  // A cancellation request left for a retried job would discard it again: dropped with it.
  walk.follow_up = "DELETE FROM " + t.cancel + " c USING changed x WHERE c.job_id = x.id";
  auto w = walk_finished(conn, t, walk, action, progress);
  result.retried = w.total;
  result.batches = w.batches;
  result.sample = w.sample;
  return result;
}

nlohmann::json to_json(const RetryResult& r) {
  return {{"dry_run", r.dry_run}, {"retried", r.retried}, {"count_capped", r.count_capped}, {"batches", r.batches},
          {"ids", r.sample},      {"skipped", to_json(r.skipped)}};
}

}  // namespace pgxq::admin
