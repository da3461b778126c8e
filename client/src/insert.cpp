// pgxq_insert and pgxq_insert_ex: one job, one parameterised INSERT ... RETURNING id on the
// caller's connection, so the job commits or rolls back with whatever the caller's transaction
// does. A job with a unique key is inserted with ON CONFLICT DO NOTHING, and when its key is
// taken the holder's id is read by a second statement.
#include <simdjson.h>

#include <charconv>
#include <cstdio>

#include "internal.hpp"

namespace pgxq::client::detail {

namespace {

// Shortest text that reads back as the same double, independent of the C locale (a
// decimal comma would make the server refuse the number).
std::string format_double(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("0");
}

// How often a keyed insert goes round "conflict, but the holder is gone by the time it is read"
// before giving up: each round needs a job to finish and another to take the key in between.
constexpr int max_key_rounds = 5;

bool read_id(const PGresult* r, const TableName& t, int64_t& id, pgxq_error* err) {
  const char* text = PQgetvalue(r, 0, 0);
  auto [end, ec] = std::from_chars(text, text + PQgetlength(r, 0, 0), id);
  if (ec != std::errc() || id <= 0) {
    set_error(err, "insert into " + t.given() + ": unexpected id '" + std::string(text) + "'");
    return false;
  }
  return true;
}

// Inserts `job`; `out` says whether it did or which unfinished job holds its key.
bool insert_job(PGconn* conn, const TableName& table, const ValidJob& job, pgxq_insert_result& out, pgxq_error* err) {
  const bool keyed = job.unique_key.has_value();
  const std::string sql =
      "INSERT INTO " + table.sql() + " (kind, args, queue, priority, max_attempts, scheduled_at" +
      (keyed ? ", unique_key" : "") +
      ") VALUES ($1, $2::jsonb, $3, $4::smallint, $5::smallint,"
      " coalesce('epoch'::timestamptz + $6::bigint * interval '1 microsecond',"
      " now() + $7::float8 * interval '1 second', now())" +
      (keyed ? std::string(", $8) ON CONFLICT ") + unique_conflict_target + " DO NOTHING" : std::string(")")) +
      " RETURNING id";
  const std::string kind_s(job.kind), args_s(job.args), queue_s(job.queue);
  const std::string key_s = keyed ? std::string(*job.unique_key) : std::string();
  const std::string priority = std::to_string(job.priority);
  const std::string max_attempts = std::to_string(job.max_attempts);
  const std::string at = job.scheduled_at_us ? std::to_string(*job.scheduled_at_us) : std::string();
  const std::string delay = job.delay_seconds ? format_double(*job.delay_seconds) : std::string();
  const char* values[8] = {kind_s.c_str(),
                           args_s.c_str(),
                           queue_s.c_str(),
                           priority.c_str(),
                           max_attempts.c_str(),
                           job.scheduled_at_us ? at.c_str() : nullptr,
                           job.delay_seconds ? delay.c_str() : nullptr,
                           key_s.c_str()};
  const std::string ctx = "insert into " + table.given();
  for (int round = 0; round < max_key_rounds; ++round) {
    Result r(PQexecParams(conn, sql.c_str(), keyed ? 8 : 7, nullptr, values, nullptr, nullptr, 0));
    if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) > 1) {
      set_pg_error(err, conn, r.get(), ctx);
      if (keyed) explain_missing_unique_index(conn, table, err);
      return false;
    }
    if (PQntuples(r.get()) == 1) {
      out.inserted = 1;
      return read_id(r.get(), table, out.id, err);
    }
    if (!keyed) {
      set_error(err, ctx + ": the INSERT returned no id");
      return false;
    }
    // The key is taken. A statement of its own, so that in READ COMMITTED it sees a holder that
    // committed after the INSERT's snapshot was taken (the INSERT waited for it to commit).
    const std::string holder_sql = "SELECT id FROM " + table.sql() +
                                   " WHERE kind = $1 AND unique_key = $2 AND state IN ('available', 'running')";
    const char* holder_values[2] = {kind_s.c_str(), key_s.c_str()};
    Result h(PQexecParams(conn, holder_sql.c_str(), 2, nullptr, holder_values, nullptr, nullptr, 0));
    if (!h || PQresultStatus(h.get()) != PGRES_TUPLES_OK) {
      set_pg_error(err, conn, h.get(), ctx + ": reading the job that holds unique key '" + key_s + "'");
      return false;
    }
    if (PQntuples(h.get()) == 1) {
      out.inserted = 0;
      return read_id(h.get(), table, out.id, err);
    }
    // The holder finished between the two statements: the key is free again, insert anew.
  }
  set_error(err, "40001",
            ctx + ": unique key '" + key_s + "' of kind " + kind_s + " was taken and freed again " +
                std::to_string(max_key_rounds) + " times while inserting; try again");
  return false;
}

}  // namespace

}  // namespace pgxq::client::detail

using namespace pgxq::client::detail;

namespace {

// Both entry points: validate, insert, and fill `result`; `caller` names the function in errors.
bool insert_one(PGconn* conn, const char* kind, const char* args_json, const pgxq_insert_opts* opts,
                pgxq_insert_result& result, const char* caller, pgxq_error* err) {
  pgxq_insert_opts o;
  if (!read_insert_opts(opts, o, {}, err)) return false;
  auto table = parse_table(o.table, true, err);
  if (!table) return false;
  simdjson::dom::parser parser;
  auto job = validate_job(kind, args_json, o, parser, {}, err);
  if (!job) return false;
  if (!conn) {
    set_error(err, "08006", std::string(caller) + ": the connection is NULL");
    return false;
  }
  pgxq_insert_result_init(&result);
  return insert_job(conn, *table, *job, result, err);
}

}  // namespace

extern "C" int pgxq_insert_ex(PGconn* conn, const char* kind, const char* args_json, const pgxq_insert_opts* opts,
                              pgxq_insert_result* out, pgxq_error* err) {
  clear_error(err);
  try {
    if (!check_insert_result(out, err)) return -1;
    pgxq_insert_result result;
    if (!insert_one(conn, kind, args_json, opts, result, "pgxq_insert_ex", err)) return -1;
    write_insert_result(result, out);
    return 0;
  } catch (...) {
    set_error(err, "pgxq_insert_ex: out of memory");
    return -1;
  }
}

extern "C" int64_t pgxq_insert(PGconn* conn, const char* kind, const char* args_json, const pgxq_insert_opts* opts,
                               pgxq_error* err) {
  clear_error(err);
  try {
    pgxq_insert_result result;
    if (!insert_one(conn, kind, args_json, opts, result, "pgxq_insert", err)) return -1;
    return result.id;
  } catch (...) {
    set_error(err, "pgxq_insert: out of memory");
    return -1;
  }
}
