// pgxq_insert_many: a batch of jobs through one COPY ... FROM STDIN statement. Every spec is
// validated before the COPY starts; the rows are rendered into a buffer that is handed to libpq
// in large chunks. One statement is atomic on its own, so the batch is all-or-nothing whether
// or not the caller has a transaction open. A batch with unique keys cannot use COPY (it has no
// ON CONFLICT): it is one INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING instead.
#include <poll.h>
#include <simdjson.h>

#include <charconv>
#include <cstdlib>
#include <vector>

#include "internal.hpp"

namespace pgxq::client::detail {

namespace {

// Large enough that libpq sends full socket buffers, small enough to stay in cache.
constexpr size_t chunk_size = 256 * 1024;

// COPY text format: backslash, tab, newline and carriage return are the characters that would
// otherwise end a field or a row (or start an escape).
void append_escaped(std::string& out, std::string_view v) {
  size_t start = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const char* rep = nullptr;
    switch (v[i]) {
      case '\\': rep = "\\\\"; break;
      case '\t': rep = "\\t"; break;
      case '\n': rep = "\\n"; break;
      case '\r': rep = "\\r"; break;
      default: continue;
    }
    out.append(v.data() + start, i - start);
    out.append(rep);
    start = i + 1;
  }
  out.append(v.data() + start, v.size() - start);
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Waits until the socket can take more data (non-blocking connections only).
bool wait_writable(PGconn* conn) {
  pollfd p{PQsocket(conn), POLLOUT, 0};
  return poll(&p, 1, -1) >= 0;
}

// Queues `data` for the COPY, coping with a connection the caller put in non-blocking mode.
bool put(PGconn* conn, const std::string& data) {
  for (;;) {
    int rc = PQputCopyData(conn, data.data(), static_cast<int>(data.size()));
    if (rc == 1) return true;
    if (rc < 0 || !wait_writable(conn)) return false;
  }
}

// An element of a PostgreSQL array literal: double-quoted, with double quotes and backslashes escaped.
void append_array_element(std::string& out, std::string_view v) {
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

// The batch as one INSERT of parallel arrays (one array parameter per column), skipping rows
// whose key is taken. ORDER BY the position, so when two specs share a key the first one wins.
int64_t insert_keyed(PGconn* conn, const TableName& t, const std::vector<ValidJob>& jobs, pgxq_error* err) {
  std::string kinds = "{", args = "{", queues = "{", priorities = "{", attempts = "{", ats = "{", delays = "{",
              keys = "{";
  for (size_t i = 0; i < jobs.size(); ++i) {
    const ValidJob& j = jobs[i];
    if (i) {
      for (std::string* a : {&kinds, &args, &queues, &priorities, &attempts, &ats, &delays, &keys}) *a += ',';
    }
    append_array_element(kinds, j.kind);
    append_array_element(args, j.args);
    append_array_element(queues, j.queue);
    append_int(priorities, j.priority);
    append_int(attempts, j.max_attempts);
    if (j.scheduled_at_us) append_int(ats, *j.scheduled_at_us);
    else ats += "NULL";
    if (j.delay_seconds) {
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *j.delay_seconds);
      delays.append(buf, ec == std::errc() ? end : buf);
    } else {
      delays += "NULL";
    }
    if (j.unique_key) append_array_element(keys, *j.unique_key);
    else keys += "NULL";
  }
  for (std::string* a : {&kinds, &args, &queues, &priorities, &attempts, &ats, &delays, &keys}) *a += '}';
  const std::string sql =
      "INSERT INTO " + t.sql() +
      " (kind, args, queue, priority, max_attempts, scheduled_at, unique_key)"
      " SELECT k, a, q, p, m, coalesce('epoch'::timestamptz + at * interval '1 microsecond',"
      " now() + d * interval '1 second', now()), u"
      " FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::smallint[], $5::smallint[], $6::int8[], $7::float8[],"
      " $8::text[]) WITH ORDINALITY AS s(k, a, q, p, m, at, d, u, n) ORDER BY n"
      " ON CONFLICT " + std::string(unique_conflict_target) + " DO NOTHING";
  const char* values[8] = {kinds.c_str(), args.c_str(),  queues.c_str(), priorities.c_str(),
                           attempts.c_str(), ats.c_str(), delays.c_str(), keys.c_str()};
  Result r(PQexecParams(conn, sql.c_str(), 8, nullptr, values, nullptr, nullptr, 0));
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    set_pg_error(err, conn, r.get(), "insert into " + t.given());
    explain_missing_unique_index(conn, t, err);
    return -1;
  }
  const char* n = PQcmdTuples(r.get());
  int64_t inserted = -1;
  std::from_chars(n, n + std::char_traits<char>::length(n), inserted);
  if (inserted < 0) set_error(err, "insert into " + t.given() + ": no row count in '" + std::string(n) + "'");
  return inserted;
}

// Ends the COPY (successfully when `abort_reason` is null) and collects the server's verdict.
// Always drains every result so the connection is ready for the caller's next command.
int64_t finish(PGconn* conn, const char* abort_reason, const std::string& ctx, pgxq_error* err) {
  for (;;) {
    int rc = PQputCopyEnd(conn, abort_reason);
    if (rc == 1) break;
    if (rc < 0 || !wait_writable(conn)) break;
  }
  if (PQisnonblocking(conn)) {
    while (PQflush(conn) == 1)
      if (!wait_writable(conn)) break;
  }
  int64_t count = -1;
  bool reported = false;
  int retries = 0;
  while (Result r{PQgetResult(conn)}) {
    ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_COMMAND_OK && !abort_reason) {
      const char* n = PQcmdTuples(r.get());
      std::from_chars(n, n + std::char_traits<char>::length(n), count);
    } else if (st == PGRES_COPY_IN) {
      // The end did not get through; ask again a few times, then leave it to libpq to fail
      // the connection rather than spin.
      if (++retries > 3) break;
      PQputCopyEnd(conn, "pgxq: giving up on the COPY");
    } else if (!reported && st != PGRES_COMMAND_OK) {
      if (!abort_reason) set_pg_error(err, conn, r.get(), ctx);
      reported = true;
    }
  }
  if (count < 0 && !reported && !abort_reason) set_pg_error(err, conn, nullptr, ctx);
  return abort_reason ? -1 : count;
}

// Aborts a COPY that is still open when the batch is left early (an exception while building
// rows), so the caller's connection never stays stuck in COPY mode.
struct CopyGuard {
  PGconn* conn;
  bool active = true;
  ~CopyGuard() {
    if (active) finish(conn, "pgxq: batch aborted", {}, nullptr);
  }
};

}  // namespace

}  // namespace pgxq::client::detail

using namespace pgxq::client::detail;

extern "C" int64_t pgxq_insert_many(PGconn* conn, const char* table, const pgxq_job_spec* jobs, size_t count,
                                    pgxq_error* err) {
  clear_error(err);
  try {
    auto t = parse_table(table, true, err);
    if (!t) return -1;
    if (count == 0) return 0;
    if (!jobs) {
      set_error(err, "pgxq_insert_many: jobs is NULL but count is " + std::to_string(count));
      return -1;
    }

    // Validate all first: nothing is sent unless every job is acceptable.
    simdjson::dom::parser parser;
    std::vector<ValidJob> valid;
    valid.reserve(count);
    bool any_delay = false;
    bool any_key = false;
    // The caller's specs are struct_size bytes apart, whatever this library's sizeof is.
    const size_t stride = jobs[0].struct_size;
    for (size_t i = 0; i < count; ++i) {
      pgxq_job_spec spec;
      if (!read_job_spec(jobs, stride, i, spec, err)) return -1;
      const std::string what = "job " + std::to_string(i) + ": ";
      pgxq_insert_opts opts;
      if (!read_insert_opts(spec.opts, opts, what, err)) return -1;
      auto job = validate_job(spec.kind, spec.args_json, opts, parser, what, err);
      if (!job) return -1;
      any_delay = any_delay || job->delay_seconds.has_value();
      any_key = any_key || job->unique_key.has_value();
      valid.push_back(*job);
    }
    if (!conn) {
      set_error(err, "08006", "pgxq_insert_many: the connection is NULL");
      return -1;
    }
    if (any_key) return insert_keyed(conn, *t, valid, err);
    const std::string ctx = "insert into " + t->given();

    // COPY cannot evaluate now() + delay per row, so delays become absolute times against the
    // server's clock (the caller's transaction time when one is open, as now() would give).
    int64_t server_now_us = 0;
    if (any_delay) {
      Result r(PQexec(conn, "SELECT (extract(epoch FROM now()) * 1000000)::bigint"));
      if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
        set_pg_error(err, conn, r.get(), ctx + ": reading the server clock");
        return -1;
      }
      server_now_us = std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10);
    }

    const std::string copy =
        "COPY " + t->sql() + " (kind, args, queue, priority, max_attempts, scheduled_at) FROM STDIN";
    Result started(PQexec(conn, copy.c_str()));
    if (!started || PQresultStatus(started.get()) != PGRES_COPY_IN) {
      set_pg_error(err, conn, started.get(), ctx);
      return -1;
    }
    started.reset();
    CopyGuard guard{conn};

    std::string buf;
    buf.reserve(chunk_size + 4096);
    for (const ValidJob& j : valid) {
      append_escaped(buf, j.kind);
      buf += '\t';
      append_escaped(buf, j.args);
      buf += '\t';
      append_escaped(buf, j.queue);
      buf += '\t';
      append_int(buf, j.priority);
      buf += '\t';
      append_int(buf, j.max_attempts);
      buf += '\t';
      if (j.scheduled_at_us) {
        buf += format_timestamp_utc(*j.scheduled_at_us);
      } else if (j.delay_seconds) {
        buf += format_timestamp_utc(server_now_us + static_cast<int64_t>(*j.delay_seconds * 1e6));
      } else {
        // The timestamptz input 'now' is the transaction's start time: exactly DEFAULT now().
        buf += "now";
      }
      buf += '\n';
      if (buf.size() >= chunk_size) {
        if (!put(conn, buf)) {
          set_pg_error(err, conn, nullptr, ctx);
          guard.active = false;
          finish(conn, "pgxq: sending the batch failed", ctx, err);
          return -1;
        }
        buf.clear();
      }
    }
    if (!buf.empty() && !put(conn, buf)) {
      set_pg_error(err, conn, nullptr, ctx);
      guard.active = false;
      finish(conn, "pgxq: sending the batch failed", ctx, err);
      return -1;
    }
    guard.active = false;
    int64_t inserted = finish(conn, nullptr, ctx, err);
    if (inserted >= 0 && static_cast<size_t>(inserted) != count) {
      set_error(err, ctx + ": COPY reported " + std::to_string(inserted) + " rows for " + std::to_string(count) +
                         " jobs");
      return -1;
    }
    return inserted;
  } catch (...) {
    set_error(err, "pgxq_insert_many: out of memory");
    return -1;
  }
}
