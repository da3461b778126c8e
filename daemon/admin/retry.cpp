// admin/retry: failed and discarded jobs back to available, by id or in batches.
#include "admin/retry.hpp"

#include <map>
#include <utility>

#include "queue/table_check.hpp"

namespace pgxq::admin {

namespace {

// Everything a retry sets; the error column is left as it is. A retried job gets all its
// attempts and, on a table with the snoozes column (migration 7), all its snoozes again.
constexpr const char* kRetrySet =
    "state = 'available', attempt = 0, scheduled_at = now(), completed_at = NULL, attempted_at = NULL";
constexpr const char* kRetrySnoozes = ", snoozes = 0";

bool retryable(const std::string& state) { return state == "failed" || state == "discarded"; }

std::string id_array(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "}";
}

// How often a statement that met a key taken by a concurrent insert is run again.
constexpr int kKeyRaceAttempts = 3;

bool unique_violation(const pg::Error& e) { return e.sqlstate() == "23505"; }

// Tables below migration 7 have no unique_key (nor snoozes) column: nothing to guard there.
bool has_unique_key(pg::Connection& conn, const JobTables& t) { return queue::has_column(conn, t.quoted, "unique_key"); }

Skipped key_taken(int64_t id, const std::string& state, const std::string& kind, const std::string& key,
                  int64_t holder, const std::string& holder_state) {
  return {id,
          state,
          state + ", and its unique key '" + key + "' (kind " + kind + ") is held by job " + std::to_string(holder) +
              " (" + holder_state + "): retrying it would make two unfinished jobs with one key; retry it once job " +
              std::to_string(holder) + " has finished",
          key,
          holder};
}

// Of `ids` (locked, failed or discarded), those whose key is free; the others go to `skipped`.
std::vector<int64_t> free_keys(pg::Connection& conn, const JobTables& t, const std::vector<int64_t>& ids,
                               RetryResult& result) {
  auto r = conn.exec("SELECT j.id, j.state, j.kind, j.unique_key, h.id, h.state FROM " + t.quoted +
                         " j LEFT JOIN LATERAL (SELECT id, state FROM " + t.quoted +
                         " WHERE kind = j.kind AND unique_key = j.unique_key AND state IN ('available', 'running')"
                         " ORDER BY id LIMIT 1) h ON true"
                         " WHERE j.id = ANY($1::int8[]) AND j.unique_key IS NOT NULL ORDER BY j.id",
                     {id_array(ids)});
  std::map<int64_t, bool> blocked;
  std::map<std::pair<std::string, std::string>, int64_t> claimed;  // (kind, key) -> the id retried with it
  for (int i = 0; i < r.rows(); ++i) {
    const int64_t id = r.int64(i, 0);
    const std::string state(r.text(i, 1)), kind(r.text(i, 2)), key(r.text(i, 3));
    if (!r.is_null(i, 4)) {
      result.skipped.push_back(key_taken(id, state, kind, key, r.int64(i, 4), std::string(r.text(i, 5))));
      blocked[id] = true;
    } else if (auto [at, fresh] = claimed.emplace(std::pair{kind, key}, id); !fresh) {
      result.skipped.push_back(key_taken(id, state, kind, key, at->second, "retried by this same command"));
      blocked[id] = true;
    }
  }
  std::vector<int64_t> out;
  for (auto id : ids)
    if (!blocked.count(id)) out.push_back(id);
  result.key_taken = static_cast<int64_t>(blocked.size());
  return out;
}

RetryResult retry_ids(pg::Connection& conn, const JobTables& t, const RetryRequest& req) {
  RetryResult result;
  result.dry_run = req.dry_run;
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
  const bool v7 = !ids.empty() && has_unique_key(conn, t);
  if (v7) ids = free_keys(conn, t, ids, result);
  result.retried = static_cast<int64_t>(ids.size());
  result.sample = ids;
  if (req.dry_run || ids.empty()) return result;  // the transaction rolls back
  conn.exec("UPDATE " + t.quoted + " SET " + kRetrySet + (v7 ? kRetrySnoozes : "") + " WHERE id = ANY($1::int8[]) AND state IN ('failed', 'discarded')",
            {id_array(ids)});
  conn.exec("DELETE FROM " + t.cancel + " WHERE job_id = ANY($1::int8[])", {id_array(ids)});
  tx.commit();
  return result;
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
  if (!req.ids.empty()) {
    for (int attempt = 1;; ++attempt) {
      try {
        return retry_ids(conn, t, req);
      } catch (const pg::Error& e) {
        if (!unique_violation(e) || attempt == kKeyRaceAttempts) throw;
      }
    }
  }
  RetryResult result;
  result.dry_run = req.dry_run;

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
  const bool v7 = has_unique_key(conn, t);
  std::string action = "UPDATE " + t.quoted + " j SET " + kRetrySet + (v7 ? kRetrySnoozes : "") +
                       " WHERE j.id = ANY (ARRAY(SELECT id FROM picked)) AND j.state = $1::text";
  if (v7) {
    // The statement's snapshot does not see the rows it updates itself, so besides "no other
    // unfinished job holds the key" the batch retries only the lowest id of each key it holds.
    // Both subqueries are uncorrelated or index lookups: a batch costs O(batch), not O(batch²).
    const std::string same_key = "kind = j.kind AND unique_key = j.unique_key";
    const std::string picked_keyed = " WHERE p.id = ANY (ARRAY(SELECT id FROM picked)) AND p.unique_key IS NOT NULL";
    action += " AND (j.unique_key IS NULL OR (NOT EXISTS (SELECT 1 FROM " + t.quoted + " h WHERE h." + same_key +
              " AND h.state IN ('available', 'running')) AND j.id IN (SELECT min(p.id) FROM " + t.quoted + " p" +
              picked_keyed + " AND p.state = $1::text GROUP BY p.kind, p.unique_key)))";
    // What the guard left alone, with the holder: the job of the key retried in this batch, or
    // the unfinished one already there.
    walk.report = "SELECT json_agg(s ORDER BY s.id) FROM (SELECT j.id, j.state, j.kind, j.unique_key,"
                  " coalesce(w.id, h.id) AS holder, coalesce(h.state, 'retried by this same command') AS holder_state"
                  " FROM " + t.quoted + " j"
                  " LEFT JOIN (SELECT p.id, p.kind, p.unique_key FROM " + t.quoted + " p" + picked_keyed +
                  " AND p.id IN (SELECT id FROM changed)) w ON w.kind = j.kind AND w.unique_key = j.unique_key"
                  " LEFT JOIN LATERAL (SELECT id, state FROM " + t.quoted + " WHERE " + same_key +
                  " AND state IN ('available', 'running') ORDER BY id LIMIT 1) h ON true"
                  " WHERE j.id = ANY (ARRAY(SELECT id FROM picked)) AND j.state = $1::text AND j.unique_key IS NOT NULL"
                  " AND j.id NOT IN (SELECT id FROM changed)) s WHERE s.holder IS NOT NULL";
  }
  action += " RETURNING j.id";
  // A cancellation request left for a retried job would discard it again: dropped with it.
  walk.follow_up = "DELETE FROM " + t.cancel + " c USING changed x WHERE c.job_id = x.id";
  for (int attempt = 1;; ++attempt) {
    try {
      // Run again after a key race: the jobs retried so far are no longer in the state walked.
      auto w = walk_finished(conn, t, walk, action, progress);
      result.retried += w.total;
      result.batches += w.batches;
      result.sample.insert(result.sample.end(), w.sample.begin(), w.sample.end());
      if (result.sample.size() > kSampleIds) result.sample.resize(kSampleIds);
      for (const auto& report : w.reports) {
        for (const auto& s : nlohmann::json::parse(report)) {
          ++result.key_taken;
          if (result.skipped.size() < kSampleIds)
            result.skipped.push_back(key_taken(s["id"].get<int64_t>(), s["state"].get<std::string>(),
                                               s["kind"].get<std::string>(), s["unique_key"].get<std::string>(),
                                               s["holder"].get<int64_t>(), s["holder_state"].get<std::string>()));
        }
      }
      return result;
    } catch (const pg::Error& e) {
      if (!unique_violation(e) || attempt == kKeyRaceAttempts) throw;
    }
  }
}

nlohmann::json to_json(const RetryResult& r) {
  return {{"dry_run", r.dry_run}, {"retried", r.retried},           {"count_capped", r.count_capped},
          {"batches", r.batches}, {"ids", r.sample},                 {"skipped", to_json(r.skipped)},
          {"key_taken", r.key_taken}};
}

}  // namespace pgxq::admin
