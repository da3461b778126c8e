// admin/purge: finished jobs deleted in batches.
#include "admin/purge.hpp"

namespace pgxq::admin {

namespace {

std::string delete_action(const JobTables& t) {
  // The state is checked again: a row retried after it was picked is not deleted. The ids go in
  // as an array, so the rows are found by primary key whatever the planner thinks of the CTE.
  return "DELETE FROM " + t.quoted + " j WHERE j.id = ANY (ARRAY(SELECT id FROM picked)) AND j.state = $1::text RETURNING j.id";
}

}  // namespace

void validate(const PurgeRequest& r) {
  if (r.state != "completed" && r.state != "discarded" && r.state != "failed")
    throw InputError("--state " + (r.state.empty() ? std::string("(none)") : r.state) +
                     " cannot be purged: give completed, discarded or failed (available and running jobs are not "
                     "finished; `pgxqd cancel` stops them)");
  if (r.older_than.count() < 0) throw InputError("--older-than must not be negative");
  check_batch_size(r.batch_size);
}

PurgeResult purge(pg::Connection& conn, const std::string& table, const PurgeRequest& req,
                  const std::function<void(const WalkProgress&)>& progress) {
  validate(req);
  const JobTables t(conn, table);
  FinishedWalk walk;
  walk.state = req.state;
  walk.cutoff = std::string(
      conn.exec("SELECT (now() - $1::int8 * interval '1 millisecond')::text", {std::to_string(req.older_than.count())})
          .text(0, 0));
  walk.filter = req.filter;
  walk.batch_size = req.batch_size;
  PurgeResult result;
  result.dry_run = req.dry_run;
  result.cutoff = walk.cutoff;
  if (req.dry_run) {
    auto p = preview_finished(conn, t, walk);
    result.deleted = p.count;
    result.count_capped = p.capped;
    result.sample = p.sample;
    return result;
  }
  auto w = walk_finished(conn, t, walk, delete_action(t), progress);
  result.deleted = w.total;
  result.batches = w.batches;
  result.sample = w.sample;
  return result;
}

std::string purge_batch_sql(pg::Connection& conn, const std::string& table) {
  const JobTables t(conn, table);
  return finished_batch_sql(t, FinishedWalk{}, delete_action(t), false);
}

nlohmann::json to_json(const PurgeResult& r) {
  return {{"dry_run", r.dry_run}, {"cutoff", r.cutoff}, {"deleted", r.deleted}, {"count_capped", r.count_capped},
          {"batches", r.batches}, {"ids", r.sample}};
}

}  // namespace pgxq::admin
