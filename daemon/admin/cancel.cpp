// admin/cancel: discard available jobs, ask the daemons to stop running ones.
#include "admin/cancel.hpp"

namespace pgxq::admin {

namespace {

std::string id_array(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "}";
}

std::vector<int64_t> ids_of(const pg::Result& r, size_t limit = SIZE_MAX) {
  std::vector<int64_t> ids;
  for (int i = 0; i < r.rows() && ids.size() < limit; ++i) ids.push_back(r.int64(i, 0));
  return ids;
}

}  // namespace

void validate(const CancelRequest& r) {
  if (!r.ids.empty() && (r.state || !r.filter.empty()))
    throw InputError("give job ids, or --kind/--queue (with --state), not both");
  if (r.ids.empty() && r.filter.empty())
    throw InputError("nothing to cancel: give job ids (pgxqd cancel 42 43) or --kind and/or --queue (pgxqd cancel "
                     "--kind resize --queue images)");
  if (r.state && *r.state != "available" && *r.state != "running")
    throw InputError("--state " + *r.state + " cannot be cancelled: only available or running jobs can (finished jobs "
                     "are done; `pgxqd purge` deletes them)");
  for (auto id : r.ids)
    if (id <= 0) throw InputError("job id " + std::to_string(id) + " is not valid: ids are positive integers");
  check_batch_size(r.batch_size);
}

CancelResult cancel(pg::Connection& conn, const std::string& table, const CancelRequest& req,
                    const std::function<void(const WalkProgress&)>& progress) {
  validate(req);
  const JobTables t(conn, table);
  const std::string by = operator_name(conn);
  CancelResult result;
  result.dry_run = req.dry_run;
  const std::string discard_set =
      "state = 'discarded', completed_at = now(), error = '" + std::string(kCancelledByOperator) + "'";
  const std::string request_sql = "INSERT INTO " + t.cancel +
                                  " (job_id, requested_by) SELECT unnest($1::int8[]), $2 ON CONFLICT (job_id) DO NOTHING";

  if (!req.ids.empty()) {
    result.by_id = true;
    pg::Transaction tx(conn);
    for (const auto& row : lock_jobs(conn, t, req.ids)) {
      if (row.state == "available") result.discarded_ids.push_back(row.id);
      else if (row.state == "running") result.requested_ids.push_back(row.id);
      else result.not_cancellable.push_back({row.id, row.state, "already " + row.state});
    }
    result.discarded = static_cast<int64_t>(result.discarded_ids.size());
    result.requested = static_cast<int64_t>(result.requested_ids.size());
    if (req.dry_run) return result;
    if (!result.discarded_ids.empty())
      conn.exec("UPDATE " + t.quoted + " SET " + discard_set + " WHERE id = ANY($1::int8[]) AND state = 'available'",
                {id_array(result.discarded_ids)});
    if (!result.requested_ids.empty()) conn.exec(request_sql, {id_array(result.requested_ids), by});
    tx.commit();
    return result;
  }

  const bool available = !req.state || *req.state == "available";
  const bool running = !req.state || *req.state == "running";
  const std::string filters = " AND ($1::text IS NULL OR kind = $1::text) AND ($2::text IS NULL OR queue = $2::text)";
  const pg::Param kind = req.filter.kind ? pg::Param(*req.filter.kind) : pg::Param();
  const pg::Param queue = req.filter.queue ? pg::Param(*req.filter.queue) : pg::Param();
  if (req.dry_run) {
    if (available) {
      auto c = conn.exec("SELECT count(*) FROM (SELECT 1 FROM " + t.quoted + " WHERE state = 'available'" + filters +
                             " LIMIT " + std::to_string(kDryRunCountLimit + 1) + ") s",
                         {kind, queue});
      result.discarded = std::min<int64_t>(c.int64(0, 0), kDryRunCountLimit);
      result.count_capped = c.int64(0, 0) > kDryRunCountLimit;
      result.discarded_ids = ids_of(conn.exec("SELECT id FROM " + t.quoted + " WHERE state = 'available'" + filters +
                                                  " LIMIT " + std::to_string(kSampleIds),
                                              {kind, queue}));
    }
    if (running) {
      result.requested_ids = ids_of(conn.exec("SELECT id FROM " + t.quoted + " WHERE state = 'running'" + filters, {kind, queue}));
      result.requested = static_cast<int64_t>(result.requested_ids.size());
    }
    return result;
  }
  if (available) {
    // Jobs enqueued while this runs are left alone: only ids up to the largest at the start.
    const std::string max_id(conn.exec("SELECT coalesce(max(id), 0)::text FROM " + t.quoted).text(0, 0));
    const std::string batch_sql = "WITH picked AS (SELECT id FROM " + t.quoted + " WHERE state = 'available' AND id <= $3::int8" +
                                  filters + " LIMIT $4::int FOR UPDATE SKIP LOCKED) UPDATE " + t.quoted + " j SET " +
                                  discard_set + " WHERE j.id = ANY (ARRAY(SELECT id FROM picked)) AND j.state = 'available' RETURNING j.id";
    WalkProgress p;
    for (;;) {
      auto r = conn.exec(batch_sql, {kind, queue, max_id, std::to_string(req.batch_size)});
      if (r.rows() == 0) break;
      for (auto id : ids_of(r, kSampleIds - std::min(kSampleIds, result.discarded_ids.size())))
        result.discarded_ids.push_back(id);
      p.batch++;
      p.rows = r.rows();
      p.total += r.rows();
      if (progress) progress(p);
    }
    result.discarded = p.total;
  }
  if (running) {
    // Jobs claimed while the batches above ran are among these. Running jobs are few (at most
    // the workers of every daemon).
    auto r = conn.exec("INSERT INTO " + t.cancel + " (job_id, requested_by) SELECT id, $3 FROM " + t.quoted +
                           " WHERE state = 'running'" + filters + " ON CONFLICT (job_id) DO NOTHING RETURNING job_id",
                       {kind, queue, by});
    result.requested_ids = ids_of(r);
    result.requested = r.rows();
  }
  return result;
}

nlohmann::json to_json(const CancelResult& r) {
  return {{"dry_run", r.dry_run},
          {"discarded", r.discarded},
          {"stop_requested", r.requested},
          {"count_capped", r.count_capped},
          {"discarded_ids", r.discarded_ids},
          {"stop_requested_ids", r.requested_ids},
          {"not_cancellable", to_json(r.not_cancellable)}};
}

}  // namespace pgxq::admin
