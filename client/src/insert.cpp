// pgxq_insert: one job, one parameterised INSERT ... RETURNING id on the caller's connection, so
// the job commits or rolls back with whatever the caller's transaction does.
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

}  // namespace

}  // namespace pgxq::client::detail

using namespace pgxq::client::detail;

extern "C" int64_t pgxq_insert(PGconn* conn, const char* kind, const char* args_json, const pgxq_insert_opts* opts,
                               pgxq_error* err) {
  clear_error(err);
  try {
    pgxq_insert_opts o;
    if (!read_insert_opts(opts, o, {}, err)) return -1;
    auto table = parse_table(o.table, true, err);
    if (!table) return -1;
    simdjson::dom::parser parser;
    auto job = validate_job(kind, args_json, o, parser, {}, err);
    if (!job) return -1;
    if (!conn) {
      set_error(err, "08006", "pgxq_insert: the connection is NULL");
      return -1;
    }

    const std::string sql = "INSERT INTO " + table->sql() +
                            " (kind, args, queue, priority, max_attempts, scheduled_at)"
                            " VALUES ($1, $2::jsonb, $3, $4::smallint, $5::smallint,"
                            " coalesce('epoch'::timestamptz + $6::bigint * interval '1 microsecond',"
                            " now() + $7::float8 * interval '1 second', now()))"
                            " RETURNING id";
    const std::string kind_s(job->kind), args_s(job->args), queue_s(job->queue);
    const std::string priority = std::to_string(job->priority);
    const std::string max_attempts = std::to_string(job->max_attempts);
    const std::string at = job->scheduled_at_us ? std::to_string(*job->scheduled_at_us) : std::string();
    const std::string delay = job->delay_seconds ? format_double(*job->delay_seconds) : std::string();
    const char* values[7] = {kind_s.c_str(),
                             args_s.c_str(),
                             queue_s.c_str(),
                             priority.c_str(),
                             max_attempts.c_str(),
                             job->scheduled_at_us ? at.c_str() : nullptr,
                             job->delay_seconds ? delay.c_str() : nullptr};
    Result r(PQexecParams(conn, sql.c_str(), 7, nullptr, values, nullptr, nullptr, 0));
    if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) {
      set_pg_error(err, conn, r.get(), "insert into " + table->given());
      return -1;
    }
    const char* id_text = PQgetvalue(r.get(), 0, 0);
    int64_t id = 0;
    auto [end, ec] = std::from_chars(id_text, id_text + PQgetlength(r.get(), 0, 0), id);
    if (ec != std::errc() || id <= 0) {
      set_error(err, "insert into " + table->given() + ": unexpected id '" + std::string(id_text) + "'");
      return -1;
    }
    return id;
  } catch (...) {
    set_error(err, "pgxq_insert: out of memory");
    return -1;
  }
}
