// libpgxq for C++: a thin header-only layer over client.h. Same semantics, but failures throw
// pgxq::client::Error (with the SQLSTATE) and options are plain C++ types (the C structs'
// struct_size fields are filled in here, never by the caller).
//
//   pgxq::client::Options o;
//   o.queue = "emails";
//   o.delay = std::chrono::minutes(5);
//   int64_t id = pgxq::client::insert(conn, "send_email", R"({"to": "a@example.com"})", o);
//
//   o.unique_key = "welcome:user:42";   // at most one unfinished job per (kind, key)
//   auto r = pgxq::client::insert_ex(conn, "send_email", R"({"to": "a@example.com"})", o);
//   if (!r.inserted) { /* r.id is the job already waiting or running with that key */ }
#pragma once

#include <pgxq/client.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pgxq::client {

class Error : public std::runtime_error {
public:
  Error(const std::string& message, std::string sqlstate)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  // Five characters, or "" when the problem was found before any SQL was sent.
  const std::string& sqlstate() const noexcept { return sqlstate_; }

private:
  std::string sqlstate_;
};

// Unset fields take the defaults: table pgxq_job, queue "default", priority 0, max_attempts 5,
// scheduled now, no unique key. Set at most one of scheduled_at and delay. unique_key: see
// pgxq_insert_opts.unique_key in client.h (at most one unfinished job per kind and key).
struct Options {
  std::optional<std::string> table;
  std::optional<std::string> queue;
  std::optional<int> priority;
  std::optional<int> max_attempts;
  std::optional<std::chrono::system_clock::time_point> scheduled_at;
  std::optional<std::chrono::duration<double>> delay;
  std::optional<std::string> unique_key;
};

// What insert_ex did: `inserted`, or the unique key was taken and `id` is the holder's.
struct InsertResult {
  int64_t id = 0;
  bool inserted = false;
};

struct JobSpec {
  std::string kind;
  std::string args;  // JSON object text; "" means {}
  Options options;   // options.table is ignored: the batch's table is used
};

namespace detail {

[[noreturn]] inline void raise(const pgxq_error& e) { throw Error(e.message, e.sqlstate); }

// The C options for `o`; its strings stay owned by `o`.
inline pgxq_insert_opts to_c(const Options& o) {
  pgxq_insert_opts c = PGXQ_INSERT_OPTS_INIT;
  if (o.table) c.table = o.table->c_str();
  if (o.queue) c.queue = o.queue->c_str();
  if (o.priority) {
    c.has_priority = 1;
    c.priority = *o.priority;
  }
  if (o.max_attempts) {
    c.has_max_attempts = 1;
    c.max_attempts = *o.max_attempts;
  }
  if (o.scheduled_at) {
    c.has_scheduled_at = 1;
    c.scheduled_at_unix_us =
        std::chrono::duration_cast<std::chrono::microseconds>(o.scheduled_at->time_since_epoch()).count();
  }
  if (o.delay) {
    c.has_delay = 1;
    c.delay_seconds = o.delay->count();
  }
  if (o.unique_key) c.unique_key = o.unique_key->c_str();
  return c;
}

}  // namespace detail

// Inserts one job on the caller's connection (joining its transaction, if any); returns its id.
inline int64_t insert(PGconn* conn, const std::string& kind, const std::string& args = {}, const Options& options = {}) {
  pgxq_error e{};
  pgxq_insert_opts c = detail::to_c(options);
  int64_t id = pgxq_insert(conn, kind.c_str(), args.c_str(), &c, &e);
  if (id < 0) detail::raise(e);
  return id;
}

// insert, telling whether the job was inserted or its unique key was taken (see pgxq_insert_ex).
inline InsertResult insert_ex(PGconn* conn, const std::string& kind, const std::string& args = {},
                              const Options& options = {}) {
  pgxq_error e{};
  pgxq_insert_opts c = detail::to_c(options);
  pgxq_insert_result r = PGXQ_INSERT_RESULT_INIT;
  if (pgxq_insert_ex(conn, kind.c_str(), args.c_str(), &c, &r, &e) != 0) detail::raise(e);
  return {r.id, r.inserted != 0};
}

// Inserts a batch through COPY, all-or-nothing; returns the number of jobs inserted. Jobs whose
// unique key is taken are skipped (not counted; see pgxq_insert_many).
inline int64_t insert_many(PGconn* conn, std::span<const JobSpec> jobs, const std::string& table = PGXQ_DEFAULT_TABLE) {
  std::vector<pgxq_insert_opts> opts;
  opts.reserve(jobs.size());
  for (const JobSpec& j : jobs) opts.push_back(detail::to_c(j.options));
  std::vector<pgxq_job_spec> specs(jobs.size(), pgxq_job_spec PGXQ_JOB_SPEC_INIT);
  for (size_t i = 0; i < jobs.size(); ++i) {
    specs[i].kind = jobs[i].kind.c_str();
    specs[i].args_json = jobs[i].args.c_str();
    specs[i].opts = &opts[i];
  }
  pgxq_error e{};
  int64_t n = pgxq_insert_many(conn, table.c_str(), specs.data(), specs.size(), &e);
  if (n < 0) detail::raise(e);
  return n;
}

// The SQL of every migration for `table`.
inline std::string schema(const std::string& table = PGXQ_DEFAULT_TABLE) {
  pgxq_error e{};
  char* text = pgxq_schema(table.c_str(), &e);
  if (!text) detail::raise(e);
  std::string out(text);
  pgxq_free(text);
  return out;
}

// Creates or upgrades `table` (call it outside a transaction; see pgxq_migrate).
inline void migrate(PGconn* conn, const std::string& table = PGXQ_DEFAULT_TABLE) {
  pgxq_error e{};
  if (pgxq_migrate(conn, table.c_str(), &e) != 0) detail::raise(e);
}

// Where `table` stands in its migrations (see pgxq_schema_info in client.h).
struct SchemaStatus {
  bool table_exists = false;
  int applied_version = 0;  // 0: no migration recorded (missing table, or created by go-pgxq)
  int latest_version = 0;   // the last migration this libpgxq knows
};

// Reads the migration ledger without changing anything; works inside or outside a transaction.
inline SchemaStatus schema_status(PGconn* conn, const std::string& table = PGXQ_DEFAULT_TABLE) {
  pgxq_error e{};
  pgxq_schema_info info = PGXQ_SCHEMA_INFO_INIT;
  if (pgxq_schema_status(conn, table.c_str(), &info, &e) != 0) detail::raise(e);
  return {info.table_exists != 0, info.applied_version, info.latest_version};
}

// Throws Error naming the broken rule when `table` is not a valid go-pgxq table name.
inline void validate_table_name(const std::string& table) {
  pgxq_error e{};
  if (pgxq_validate_table_name(table.c_str(), &e) != 0) detail::raise(e);
}

// The LISTEN channel of `table`'s NOTIFY trigger.
inline std::string notify_channel(const std::string& table = PGXQ_DEFAULT_TABLE) {
  pgxq_error e{};
  char buf[PGXQ_NOTIFY_CHANNEL_MAX];
  if (pgxq_notify_channel(table.c_str(), buf, sizeof buf, &e) != 0) detail::raise(e);
  return buf;
}

}  // namespace pgxq::client
