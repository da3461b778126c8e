// admin/job_selection: table names, errors, ids and the batched walk over finished jobs.
#include "admin/job_selection.hpp"

#include <pgxq/client.h>
#include <unistd.h>

#include <algorithm>
#include <set>

namespace pgxq::admin {

namespace {

std::string quote_table(const std::string& table) {
  pgxq_error err{};
  char* quoted = pgxq_quote_table_name(table.c_str(), &err);
  if (!quoted) throw InputError(std::string("invalid table name: ") + err.message);
  std::string out(quoted);
  pgxq_free(quoted);
  return out;
}

// A view of `v` (NULL when unset): `v` must outlive the statement it is passed to.
pg::Param param(const std::optional<std::string>& v) { return v ? pg::Param(*v) : pg::Param(); }

}  // namespace

JobTables::JobTables(pg::Connection& conn, const std::string& t)
    : table(t), quoted(quote_table(t)), pause(quote_table(t + "_pause")), cancel(quote_table(t + "_cancel")) {
  auto r = conn.exec("SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL, to_regclass($3) IS NOT NULL",
                     {quoted, pause, cancel});
  if (r.text(0, 0) != "t")
    throw TableError("table " + table + " does not exist in this database: check --table/--database, or create it with "
                                        "`pgxqd migrate`");
  if (r.text(0, 1) != "t" || r.text(0, 2) != "t")
    throw TableError("table " + table + " has no " + table + "_pause/" + table +
                     "_cancel tables (its schema version is below 5): run `pgxqd migrate` to add them; nothing was "
                     "changed");
}

std::string operator_name(pg::Connection& conn) {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  auto r = conn.exec("SELECT current_user::text");
  return std::string(r.text(0, 0)) + "@" + (host[0] ? host : "unknown-host");
}

void check_batch_size(int batch_size) {
  if (batch_size < 1 || batch_size > 100000) throw InputError("--batch-size must be between 1 and 100000");
}

std::string join_ids(const std::vector<int64_t>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out;
}

static std::string id_array(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "}";
}

std::vector<JobRow> lock_jobs(pg::Connection& conn, const JobTables& t, const std::vector<int64_t>& ids) {
  auto r = conn.exec("SELECT id, kind, queue, state FROM " + t.quoted + " WHERE id = ANY($1::int8[]) ORDER BY id FOR UPDATE",
                     {id_array(ids)});
  std::vector<JobRow> rows;
  std::set<int64_t> found;
  for (int i = 0; i < r.rows(); ++i) {
    rows.push_back({r.int64(i, 0), std::string(r.text(i, 1)), std::string(r.text(i, 2)), std::string(r.text(i, 3))});
    found.insert(rows.back().id);
  }
  std::vector<int64_t> missing;
  for (auto id : ids)
    if (!found.count(id) && std::find(missing.begin(), missing.end(), id) == missing.end()) missing.push_back(id);
  if (!missing.empty())
    throw InputError("no job with id " + join_ids(missing) + " in table " + t.table +
                     "; nothing was changed: check the ids (`pgxqd list`) and the table (--table)");
  return rows;
}

nlohmann::json to_json(const std::vector<Skipped>& skipped) {
  auto out = nlohmann::json::array();
  for (const auto& s : skipped) {
    nlohmann::json j{{"id", s.id}, {"state", s.state}, {"reason", s.reason}};
    if (s.unique_key) j["unique_key"] = *s.unique_key;
    if (s.holder) j["holder"] = *s.holder;
    out.push_back(std::move(j));
  }
  return out;
}

std::string finished_batch_sql(const JobTables& t, const FinishedWalk& walk, const std::string& action, bool null_pass) {
  // The range condition on completed_at is what idx_<table>_done reads; the row comparison
  // after it resumes after the last row of the previous batch, so rows skipped by the filters
  // are read once, not once per batch. The pass over rows without completed_at resumes by id.
  const std::string where =
      null_pass ? "state = $1::text AND completed_at IS NULL AND id > $2::int8"
                : std::string("state = $1::text AND completed_at ") + (walk.inclusive ? "<=" : "<") +
                      " $6::timestamptz AND completed_at >= $7::timestamptz AND (completed_at, id) > ($7::timestamptz, "
                      "$2::int8)";
  const std::string order = null_pass ? "id" : "completed_at, id";
  return "WITH picked AS (SELECT id, completed_at FROM " + t.quoted + " WHERE " + where +
         " AND ($3::text IS NULL OR kind = $3::text) AND ($4::text IS NULL OR queue = $4::text) ORDER BY " + order +
         " LIMIT $5::int), changed AS (" + action + ")" +
         (walk.follow_up.empty() ? std::string() : ", follow_up AS (" + walk.follow_up + ")") +
         ", last AS (SELECT completed_at, id FROM picked ORDER BY " + (null_pass ? "id DESC" : "completed_at DESC, id DESC") +
         " LIMIT 1) SELECT (SELECT count(*) FROM changed), (SELECT string_agg(id::text, ',' ORDER BY id) FROM (SELECT id FROM "
         "changed ORDER BY id LIMIT " + std::to_string(kSampleIds) + ") s), last.completed_at::text, last.id" +
         (walk.report.empty() ? std::string() : ", (" + walk.report + ")::text") + " FROM last";
}

WalkResult walk_finished(pg::Connection& conn, const JobTables& t, const FinishedWalk& walk, const std::string& action,
                         const std::function<void(const WalkProgress&)>& progress) {
  WalkResult result;
  for (bool null_pass : {false, true}) {
    if (null_pass && !walk.null_completed_at) break;
    const std::string sql = finished_batch_sql(t, walk, action, null_pass);
    std::string last_at = "-infinity", last_id = "0";
    const std::string batch = std::to_string(walk.batch_size);
    for (;;) {
      std::vector<pg::Param> params{walk.state, last_id, param(walk.filter.kind), param(walk.filter.queue), batch};
      if (!null_pass) {
        params.push_back(walk.cutoff);
        params.push_back(last_at);
      }
      auto r = conn.exec(sql, params);
      if (r.rows() == 0) break;  // nothing left to pick
      const int64_t rows = r.int64(0, 0);
      if (!r.is_null(0, 1)) {
        std::string ids(r.text(0, 1));
        size_t pos = 0;
        while (pos < ids.size() && result.sample.size() < kSampleIds) {
          size_t comma = ids.find(',', pos);
          if (comma == std::string::npos) comma = ids.size();
          result.sample.push_back(std::stoll(ids.substr(pos, comma - pos)));
          pos = comma + 1;
        }
      }
      if (!r.is_null(0, 2)) last_at = std::string(r.text(0, 2));
      last_id = std::string(r.text(0, 3));
      if (!walk.report.empty() && !r.is_null(0, 4)) result.reports.emplace_back(r.text(0, 4));
      result.total += rows;
      result.batches++;
      if (progress) progress({result.batches, rows, result.total});
    }
  }
  return result;
}

WalkPreview preview_finished(pg::Connection& conn, const JobTables& t, const FinishedWalk& walk) {
  WalkPreview p;
  const std::string filters = " AND ($3::text IS NULL OR kind = $3::text) AND ($4::text IS NULL OR queue = $4::text)";
  const std::string range = std::string("(completed_at ") + (walk.inclusive ? "<=" : "<") + " $2::timestamptz" +
                            (walk.null_completed_at ? " OR completed_at IS NULL)" : ")");
  const std::string where = " WHERE state = $1::text AND " + range + filters;
  auto c = conn.exec("SELECT count(*) FROM (SELECT 1 FROM " + t.quoted + where + " LIMIT " +
                         std::to_string(kDryRunCountLimit + 1) + ") s",
                     {walk.state, walk.cutoff, param(walk.filter.kind), param(walk.filter.queue)});
  p.count = c.int64(0, 0);
  p.capped = p.count > kDryRunCountLimit;
  if (p.capped) p.count = kDryRunCountLimit;
  auto s = conn.exec("SELECT id FROM " + t.quoted + where + " ORDER BY completed_at NULLS LAST, id LIMIT " +
                         std::to_string(kSampleIds),
                     {walk.state, walk.cutoff, param(walk.filter.kind), param(walk.filter.queue)});
  for (int i = 0; i < s.rows(); ++i) p.sample.push_back(s.int64(i, 0));
  return p;
}

}  // namespace pgxq::admin
