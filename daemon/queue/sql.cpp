// queue/sql: the statements of the engine. The claim is built to cost O(batch) whatever the
// backlog: one ordered index scan per handled kind on go-pgxq's fetch index
// (queue, kind, priority, scheduled_at) WHERE state = 'available', merged in order (a Merge
// Append that reads only as far as it must) and cut to a few candidates, which are then locked
// with SKIP LOCKED in (priority, scheduled_at) order. go-pgxq's literal
// `kind = ANY($kinds) ORDER BY priority, scheduled_at` cannot use that index for the ORDER BY
// and sorts the whole backlog on every claim.
#include "queue/sql.hpp"

#include <pgxq/client.h>

#include <stdexcept>
#include <utility>

#include "pg/utf8.hpp"

namespace pgxq::queue {

std::string quote_table(const std::string& table) {
  pgxq_error err{};
  char* quoted = pgxq_quote_table_name(table.c_str(), &err);
  if (!quoted) throw std::invalid_argument(err.message);
  std::string out(quoted);
  pgxq_free(quoted);
  return out;
}

namespace {

// The channel the migration's NOTIFY trigger sends on; libpgxq owns the rule.
std::string channel_for(const std::string& table) {
  char buf[PGXQ_NOTIFY_CHANNEL_MAX];
  pgxq_error err{};
  if (pgxq_notify_channel(table.c_str(), buf, sizeof buf, &err) != 0) throw std::invalid_argument(err.message);
  return buf;
}

void append_quoted(std::string& out, std::string_view value) {
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

template <typename T>
std::string quoted_array(std::span<const T> values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    append_quoted(out, std::string_view(values[i]));
  }
  out += '}';
  return out;
}

// A timestamp as microseconds since the epoch, for any value the column holds: -infinity (and
// anything before int8's range) becomes int8's smallest value, infinity (and anything after)
// its largest; a plain cast fails on them and takes the whole statement with it.
std::string epoch_us(const std::string& column) {
  return "LEAST(GREATEST(extract(epoch FROM " + column +
         ") * 1000000, -9223372036854775808), 9223372036854775807)::int8";
}

// The timestamp `us` microseconds after the epoch, exactly: whole seconds and the rest
// separately, so neither multiplier is beyond a float8's exact integers.
std::string from_epoch_us(const std::string& us) {
  return "('epoch'::timestamptz + (" + us + " / 1000000) * interval '1 second' + (" + us +
         " % 1000000) * interval '1 microsecond')";
}

// The args, and NULL; or, when they are too long to be read into memory, NULL and their length.
std::pair<std::string, std::string> args_columns(int64_t max_args_bytes) {
  if (max_args_bytes <= 0) return {"j.args::text", "NULL::int8"};
  const std::string limit = std::to_string(max_args_bytes);
  return {"CASE WHEN octet_length(j.args::text) <= " + limit + " THEN j.args::text END",
          "CASE WHEN octet_length(j.args::text) > " + limit + " THEN octet_length(j.args::text)::int8 END"};
}

// The claim's SET and RETURNING, shared by the batch claim and claim_ids. A job whose attempt
// counter is at the smallint's end cannot count another attempt: it is failed, with the
// reason, instead of failing the whole claim with "smallint out of range". attempted_at is
// clock_timestamp(), not now(): claims of one row are serialised by its lock, so each gets a
// later value than the one before, which makes it the claim's token (TableSql).
std::string claim_update(const std::string& T, const std::string& where, int64_t max_args_bytes,
                         bool snoozes_column) {
  const auto [args, withheld_length] = args_columns(max_args_bytes);
  const std::string can_run = "j.attempt < " + std::to_string(kMaxAttempt);
  return "UPDATE " + T + " j SET"
         " state = CASE WHEN " + can_run + " THEN 'running' ELSE 'failed' END,"
         " attempt = CASE WHEN " + can_run + " THEN j.attempt + 1 ELSE j.attempt END,"
         " attempted_at = clock_timestamp(),"
         " completed_at = CASE WHEN " + can_run + " THEN j.completed_at ELSE clock_timestamp() END,"
         " error = CASE WHEN " + can_run + " THEN j.error ELSE format('failed: attempt counter exhausted (attempt %s"
         " is the largest the attempt column holds; max_attempts %s)', j.attempt, j.max_attempts) END"
         " WHERE " + where +
         " RETURNING j.id, j.kind, " + args + ", j.attempt, j.max_attempts, j.priority, " + epoch_us("j.scheduled_at") +
         ", " + epoch_us("j.created_at") + ", " + epoch_us("j.attempted_at") +
         ", j.state, CASE WHEN j.state = 'failed' THEN j.error END, " + withheld_length + ", " +
         (snoozes_column ? "j.snoozes" : "0::int4");
}

// Jobs `running` for longer than rescue_after, and running jobs whose attempted_at no claim
// could have written (NULL, infinite, further in the future than rescue_after): left alone they
// would stay running forever. rescue_after is capped at 100 years so `now() ± it` stays a
// timestamp whatever it is configured to.
std::string stale_where(const std::string& after) {
  const std::string span = "LEAST(" + after + "::int8, 3155760000000) * interval '1 millisecond'";
  return "state = 'running' AND queue = $1 AND (attempted_at IS NULL OR attempted_at < now() - " + span +
         " OR attempted_at > now() + " + span + ")";
}

std::string rescue_update(const std::string& T, const std::string& extra_where) {
  return "WITH stale AS ("
         " SELECT id FROM " + T + " WHERE " + stale_where("$2") + extra_where +
         " ORDER BY attempted_at NULLS FIRST LIMIT $3 FOR UPDATE SKIP LOCKED)"
         " UPDATE " + T + " j SET"
         " state = CASE WHEN j.attempt >= j.max_attempts THEN 'failed' ELSE 'available' END,"
         " completed_at = CASE WHEN j.attempt >= j.max_attempts THEN now() ELSE NULL END,"
         " error = format('rescued after attempt %s of %s: worker lost', j.attempt, j.max_attempts)"
         " FROM stale WHERE j.id = stale.id"
         " RETURNING j.id, j.kind, j.state, j.attempt, j.max_attempts";
}

}  // namespace

TableSql::TableSql(const std::string& t) : TableSql(t, quote_table(t)) {}

TableSql::TableSql(const std::string& t, std::string qualified, bool snoozes)
    : table(t), quoted(std::move(qualified)), notify_channel(channel_for(t)), snoozes_column(snoozes) {
  const std::string T = quoted;
  // The guards below are written `(state || '') = 'running'` on purpose. A plain
  // `state = 'running'` matches the partial rescue index (attempted_at) WHERE state = 'running',
  // and when statistics count almost no running rows, the planner walks that whole index (an
  // entry for every job run since the last vacuum) instead of looking the ids up by primary
  // key: completions then slow down as the table works (seconds per batch at 1M jobs).
  const std::string running = "(j.state || '') = 'running'";
  // The claim's own token, as the claim returned it (see complete_one).
  const auto claimed_by = [&](const std::string& attempt, const std::string& attempted_us) {
    return running + " AND j.attempt = " + attempt + " AND j.attempted_at = " + from_epoch_us(attempted_us);
  };
  // Attempt numbers given back (snooze, release) never go below the smallint's range.
  const std::string give_back = "CASE WHEN j.attempt > -32768 THEN j.attempt - 1 ELSE j.attempt END";
  fail_unclaimable = "UPDATE " + T + " j SET state = 'failed', completed_at = now(), error = $2"
                     " WHERE j.id = $1 AND j.state = 'available' RETURNING j.kind";
  complete_one = "UPDATE " + T + " j SET state = 'completed', completed_at = now()"
                 " WHERE j.id = $1 AND " + claimed_by("$2", "$3::int8");
  complete_many = "UPDATE " + T + " j SET state = 'completed', completed_at = now()"
                  " FROM unnest($1::int8[], $2::int4[], $3::int8[]) AS u(id, attempt, attempted_us)"
                  " WHERE j.id = u.id AND " + claimed_by("u.attempt", "u.attempted_us") + " RETURNING j.id";
  // Delays are capped at 100 years, so `now() + delay` is a timestamp whatever a handler asked.
  resolve_many =
      "UPDATE " + T + " j SET state = u.state,"
      " attempt = CASE WHEN u.refund THEN " + give_back + " ELSE j.attempt END,"
      " completed_at = CASE WHEN u.state = 'available' THEN NULL ELSE now() END,"
      " scheduled_at = CASE WHEN u.state = 'available'"
      "                THEN now() + LEAST(GREATEST(u.delay_ms, 0), 3155760000000) * interval '1 millisecond'"
      "                ELSE j.scheduled_at END,"
      " error = COALESCE(u.error, j.error)" +
      // Only a snooze refunds its attempt. The count stops at the integer's end rather than
      // failing the write ([worker] max_snoozes = 0 bounds nothing).
      std::string(snoozes_column ? ", snoozes = CASE WHEN u.refund AND j.snoozes < 2147483647 THEN j.snoozes + 1"
                                   " ELSE j.snoozes END"
                                 : "") +
      " FROM unnest($1::int8[], $2::int4[], $3::text[], $4::text[], $5::int8[], $6::bool[], $7::int8[])"
      "   AS u(id, attempt, state, error, delay_ms, refund, attempted_us)"
      " WHERE j.id = u.id AND " + claimed_by("u.attempt", "u.attempted_us") + " RETURNING j.id";
  release_many = "UPDATE " + T + " j SET state = 'available', attempt = " + give_back + ", attempted_at = NULL"
                 " FROM unnest($1::int8[], $2::int4[], $3::int8[]) AS u(id, attempt, attempted_us)"
                 " WHERE j.id = u.id AND " + claimed_by("u.attempt", "u.attempted_us") + " RETURNING j.id";
  rescue = rescue_update(T, "");
  rescue_ids = rescue_update(T, " AND id = ANY($4::int8[])");
  stale_ids = "SELECT id, kind FROM " + T + " WHERE " + stale_where("$2") + " ORDER BY attempted_at NULLS FIRST LIMIT $3";
}

namespace {

// One branch per handled kind, each already in index order: UNION ALL under ORDER BY ...
// LIMIT becomes a Merge Append, which stops after `limit` rows in all. (A LATERAL join over the
// kinds array would read `limit` rows of every kind before merging.)
//
// With `from_front`, each kind's scan starts at its front, ($5[i], $6[i], $7[i]) from
// ScanFront: a bound of the index scan, so the dead entries before it are never read. NULL in
// $6 means -infinity. With
// `by_id` (migration 4's index (queue, kind, priority, scheduled_at, id) exists) the scans also
// run in id order within equal (priority, scheduled_at), so the bound skips within them too;
// without it, ScanFront sends the smallest id and the bound is on (priority, scheduled_at).
std::string candidates(const std::string& T, size_t kind_count, bool from_front, bool by_id, const std::string& limit) {
  if (kind_count == 0) throw std::logic_error("a claim needs at least one handled kind");
  const std::string order = by_id ? "priority, scheduled_at, id" : "priority, scheduled_at";
  const std::string branch_order = by_id ? "j.priority, j.scheduled_at, j.id" : "j.priority, j.scheduled_at";
  std::string branches;
  for (size_t i = 1; i <= kind_count; ++i) {
    if (i > 1) branches += " UNION ALL ";
    const std::string at = "[" + std::to_string(i) + "]";
    branches += "(SELECT j.id, j.priority, j.scheduled_at FROM " + T + " j"
                " WHERE j.queue = $1 AND j.state = 'available' AND j.kind = ($2::text[])" + at;
    if (from_front)
      branches += " AND (j.priority, j.scheduled_at, j.id) >= (($5::int2[])" + at + ", CASE WHEN ($6::int8[])" + at +
                  " IS NULL THEN '-infinity'::timestamptz ELSE " + from_epoch_us("($6::int8[])" + at) + " END, ($7::int8[])" +
                  at + ")";
    branches += " AND j.scheduled_at <= now() ORDER BY " + branch_order + " LIMIT " + limit + ")";
  }
  return "candidates AS MATERIALIZED (" + branches + " ORDER BY " + order + " LIMIT " + limit + ")";
}


}  // namespace

std::string TableSql::claim(size_t kind_count, bool by_id, int64_t max_args_bytes) const {
  const std::string& T = quoted;
  return "WITH " + candidates(T, kind_count, true, by_id, "$4") +
         // `id = ANY(ARRAY(...))` rather than a join: the engine runs the claim with a generic
         // plan (see producer.cpp), which cannot see that the candidates are few and would
         // hash-join them against a scan of the whole table; this is a primary-key lookup.
         ", picked AS ("
         " SELECT j.id FROM " + T + " j"
         " WHERE j.id = ANY(ARRAY(SELECT id FROM candidates)) AND j.state = 'available'"
         // id too: the first jobs in the order the scans ran, so the new fronts leave none behind.
         " ORDER BY j.priority, j.scheduled_at, j.id LIMIT $3"
         " FOR UPDATE OF j SKIP LOCKED"
         ")" +
         claim_update(T, "j.id = ANY(ARRAY(SELECT id FROM picked))", max_args_bytes, snoozes_column);
}

std::string TableSql::claim_ids(int64_t max_args_bytes) const {
  const std::string& T = quoted;
  return claim_update(T, "j.id = ANY(ARRAY("
                              " SELECT c.id FROM " + T + " c WHERE c.id = ANY($1::int8[]) AND c.state = 'available'"
                              " AND c.queue = $2 AND c.kind = ANY($3::text[]) AND c.scheduled_at <= now()"
                              " FOR UPDATE SKIP LOCKED))", max_args_bytes, snoozes_column);
}

std::string TableSql::claim_candidate_ids(size_t kind_count) const {
  return "WITH " + candidates(quoted, kind_count, false, false, "$3") + " SELECT id FROM candidates";
}

std::string TableSql::claim_probe(size_t kind_count) const {
  const std::string& T = quoted;
  return "WITH " + candidates(T, kind_count, false, false, "$3") + " SELECT 1 FROM " + T +
         " j WHERE j.id = ANY(ARRAY(SELECT id FROM candidates)) AND j.state = 'available' LIMIT 1"
         " FOR UPDATE OF j SKIP LOCKED";
}

std::vector<Job> claimed_jobs(const pg::Result& r, const std::string& queue, std::vector<FailedByClaim>* failed) {
  std::vector<Job> jobs;
  jobs.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    Job j;
    j.id = r.int64(i, 0);
    j.kind = r.text(i, 1);
    j.queue = queue;
    j.attempt = static_cast<int>(r.int64(i, 3));
    j.max_attempts = static_cast<int>(r.int64(i, 4));
    j.priority = static_cast<int>(r.int64(i, 5));
    j.scheduled_at_us = r.int64(i, 6);
    j.created_at_us = r.int64(i, 7);
    j.attempted_at_us = r.int64(i, 8);
    if (r.text(i, 9) != "running") {
      if (failed) failed->push_back({j.id, std::move(j.kind), std::string(r.text(i, 10))});
      continue;
    }
    j.args = r.text(i, 2);
    if (!r.is_null(i, 11)) j.withheld_args_bytes = r.int64(i, 11);  // args withheld: too long
    j.snoozes = static_cast<int>(r.int64(i, 12));
    jobs.push_back(std::move(j));
  }
  return jobs;
}

bool passes_by_itself(const pg::Error& e) noexcept {
  const std::string& s = e.sqlstate();
  return s == "55P03" || s == "57014" || s.starts_with("40") || s.starts_with("53");
}

bool row_specific(const pg::Error& e) noexcept {
  const std::string_view cls = std::string_view(e.sqlstate()).substr(0, 2);
  return !e.connection_lost() && (cls == "22" || cls == "23" || cls == "0A" || cls == "P0" || cls == "38" || cls == "39");
}

std::string int_array(std::span<const std::optional<int64_t>> values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += values[i] ? std::to_string(*values[i]) : "NULL";
  }
  out += '}';
  return out;
}

std::string int_array(std::span<const int64_t> values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}

std::string text_array(std::span<const std::string> values) { return quoted_array(values); }
std::string text_array(std::span<const std::string_view> values) { return quoted_array(values); }

std::string text_array(std::span<const std::optional<std::string>> values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    if (values[i]) append_quoted(out, *values[i]);
    else out += "NULL";
  }
  out += '}';
  return out;
}

std::string bool_array(const std::vector<bool>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += values[i] ? 't' : 'f';
  }
  out += '}';
  return out;
}

std::string sanitize_text(std::string_view in, size_t limit) {
  std::string out = pg::repair_utf8(in);
  if (out.size() <= limit) return out;
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // not mid-character
  out.resize(cut);
  return out + " ... (truncated)";
}

}  // namespace pgxq::queue

// ---- Maintenance statements ----
namespace pgxq::queue::maintenance_sql {

namespace {
std::string final_state(std::string_view state) {
  if (state != "completed" && state != "failed" && state != "discarded")
    throw std::invalid_argument("not a final state: " + std::string(state));
  return "'" + std::string(state) + "'";
}
}  // namespace

std::string retention_delete(const std::string& quoted, std::string_view state) {
  // The subquery walks idx_<table>_done from the oldest completed_at of the state up: it reads
  // only expired rows, at most $2 of them.
  return "DELETE FROM " + quoted + " WHERE id IN (SELECT id FROM " + quoted +
         " WHERE state = " + final_state(state) +
         " AND completed_at < now() - $1::int8 * interval '1 millisecond'"
         " ORDER BY completed_at LIMIT $2 FOR UPDATE SKIP LOCKED)";
}

std::string retention_delete_undated(const std::string& quoted, std::string_view state) {
  return "DELETE FROM " + quoted + " WHERE id IN (SELECT id FROM " + quoted +
         " WHERE state = " + final_state(state) +
         " AND completed_at IS NULL"
         " AND coalesce(attempted_at, created_at) < now() - $1::int8 * interval '1 millisecond'"
         " LIMIT $2 FOR UPDATE SKIP LOCKED)";
}

std::string backlog_waiting(const std::string& quoted) {
  return "SELECT EXISTS (SELECT 1 FROM " + quoted + " WHERE state = 'available' AND scheduled_at <= now())"
         " OR EXISTS (SELECT 1 FROM " + quoted + " WHERE state = 'running')";
}

}  // namespace pgxq::queue::maintenance_sql

namespace pgxq::queue {

std::string sibling_table(const std::string& quoted, const std::string& suffix) {
  if (!quoted.empty() && quoted.back() == '"') return quoted.substr(0, quoted.size() - 1) + suffix + "\"";
  return quoted + suffix;
}

PeriodicSql::PeriodicSql(const TableSql& t) : periodic_table(sibling_table(t.quoted, "_periodic")) {
  read_state = "SELECT floor(extract(epoch FROM now()))::int8, n.name, floor(extract(epoch FROM p.last_run_at))::int8"
               " FROM unnest($1::text[]) AS n(name) LEFT JOIN " + periodic_table + " p ON p.name = n.name";
  first_seen = "INSERT INTO " + periodic_table + " (name, last_run_at) VALUES ($1, to_timestamp($2::int8))"
               " ON CONFLICT (name) DO NOTHING";
  advance = "INSERT INTO " + periodic_table + " AS p (name, last_run_at) VALUES ($1, to_timestamp($2::int8))"
            " ON CONFLICT (name) DO UPDATE SET last_run_at = EXCLUDED.last_run_at, updated_at = now()"
            " WHERE p.last_run_at < EXCLUDED.last_run_at RETURNING p.name";
  insert_job = "INSERT INTO " + t.quoted +
               " (kind, args, queue, priority, max_attempts, scheduled_at, unique_key)"
               " VALUES ($1, $2::jsonb, $3, $4::int2, $5::int2, to_timestamp($6::int8), $7)"
               " ON CONFLICT (kind, unique_key) WHERE unique_key IS NOT NULL AND state IN ('available', 'running')"
               " DO NOTHING RETURNING id";
  set_last_job = "UPDATE " + periodic_table + " SET last_job_id = $2::int8, updated_at = now() WHERE name = $1";
}

}  // namespace pgxq::queue
