// libpgxq internals shared by the C API's translation units: error reporting into the caller's
// pgxq_error, reading the caller's size-tagged structs, the parsed form of a validated table
// name, and validation of one job's fields.
// Nothing here is exported from the shared library (see pgxq.map).
#pragma once

#include <pgxq/client.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace simdjson::dom {
class parser;
}

namespace pgxq::client::detail {

// Fills `err` (may be null) with an error found before any SQL ran: empty SQLSTATE.
void set_error(pgxq_error* err, std::string_view message) noexcept;
void set_error(pgxq_error* err, std::string_view sqlstate, std::string_view message) noexcept;
// Fills `err` from a failed result (SQLSTATE and the server's primary message), or from the
// connection's error when there is no result. `context` prefixes the message ("insert into t").
void set_pg_error(pgxq_error* err, PGconn* conn, const PGresult* res, std::string_view context) noexcept;
void clear_error(pgxq_error* err) noexcept;

// Owns a PGresult; PQclear on scope exit.
struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Runs one statement on the caller's connection (parameters in text format; none: a simple
// query, which may hold several statements). Returns the result when its status is `want`,
// else nullptr with `err` filled (prefixed with `context`).
Result run(PGconn* conn, const std::string& sql, std::initializer_list<const char*> params, ExecStatusType want,
           std::string_view context, pgxq_error* err);

// `text` in memory the caller frees with pgxq_free; nullptr with `err` filled ("<what>: out of
// memory") when there is none.
char* copy_for_caller(const std::string& text, std::string_view what, pgxq_error* err);

// Size-tagged structs (see "Compatibility" in client.h). Each reader copies the caller's struct
// into a full-size one of this library, fields past the caller's struct_size left at their
// defaults, after checking struct_size; on a bad size it reports why (prefixed with `what`,
// e.g. "job 17: ") and returns false. `given` NULL reads as all defaults.
bool read_insert_opts(const pgxq_insert_opts* given, pgxq_insert_opts& out, std::string_view what, pgxq_error* err);
// The spec at `index` of an array whose elements are `stride` bytes apart (the caller's
// struct_size, as read from the first element).
bool read_job_spec(const pgxq_job_spec* array, size_t stride, size_t index, pgxq_job_spec& out, pgxq_error* err);
// The caller's pgxq_schema_info is written, not read: only its struct_size is checked, and
// write_schema_info copies no more than it covers.
bool check_schema_info(const pgxq_schema_info* out, pgxq_error* err);
void write_schema_info(const pgxq_schema_info& info, pgxq_schema_info* out) noexcept;
// The caller's pgxq_insert_result, written like pgxq_schema_info: struct_size checked (out NULL
// is refused), then no more than it covers copied.
bool check_insert_result(const pgxq_insert_result* out, pgxq_error* err);
void write_insert_result(const pgxq_insert_result& result, pgxq_insert_result* out) noexcept;
// `id` in double quotes: SQL quoting for the identifiers libpgxq builds from a validated table
// name (they contain no '"' to escape).
std::string quote_identifier(std::string_view id);

// A table name that passed go-pgxq's validation, split into its parts and rendered for SQL.
struct TableName {
  std::string schema;  // "" when unqualified (the table lives in the search_path's first schema)
  std::string base;
  // Fully quoted: "schema"."base" or "base". Quoting is a no-op for the names validation lets
  // through, except that reserved words ("order", "user") also work.
  std::string sql() const;
  // The name with '.' replaced by '_': what go-pgxq uses in index names.
  std::string flat() const;
  // A sibling object in the same schema as the table, quoted: "schema"."name" or "name".
  std::string sibling(std::string_view name) const;
  std::string given() const { return schema.empty() ? base : schema + "." + base; }
};

// Validates `table` exactly as go-pgxq does; NULL means "pgxq_job" when `null_is_default`.
std::optional<TableName> parse_table(const char* table, bool null_is_default, pgxq_error* err) noexcept;

// PostgreSQL truncates identifiers (and rejects channel names) longer than this many bytes.
inline constexpr size_t max_identifier = 63;

// 'pgxq_' + table with '.' replaced by '_'; "" when longer than max_identifier.
std::string notify_channel(const TableName& t);

// One job's fields after validation, ready to be sent.
struct ValidJob {
  std::string_view kind;
  std::string_view args;   // never empty: "{}" when the caller gave NULL or ""
  std::string_view queue;
  int priority = 0;
  int max_attempts = PGXQ_DEFAULT_MAX_ATTEMPTS;
  std::optional<int64_t> scheduled_at_us;  // absolute, microseconds since the Unix epoch
  std::optional<double> delay_seconds;
  std::optional<std::string_view> unique_key;  // unset: an ordinary job
};

// Validates one job (options as read_insert_opts gave them); `what` names it in messages ("" for
// a single insert, "job 17: " in a batch). The parser is reused across a batch so its buffers
// are allocated once.
std::optional<ValidJob> validate_job(const char* kind, const char* args_json, const pgxq_insert_opts& opts,
                                     simdjson::dom::parser& parser, std::string_view what, pgxq_error* err);

// Microseconds since the epoch rendered as a timestamptz literal in UTC
// ("2024-05-01 12:00:00.000001+00"); valid for the range validate_job accepts.
std::string format_timestamp_utc(int64_t unix_us);

// Bounds validate_job enforces on scheduling, so that every accepted value is representable in
// text and in a timestamptz: years 0001 to 9999, and delays of up to about 300 years.
inline constexpr int64_t min_scheduled_us = -62135596800LL * 1000000;  // 0001-01-01 00:00:00 UTC
inline constexpr int64_t max_scheduled_us = 253402300799LL * 1000000;  // 9999-12-31 23:59:59 UTC
inline constexpr double max_delay_seconds = 1e10;
// A unique key is an index entry with the kind; a btree entry must fit in a third of a page, so
// longer keys are refused up front (hash them: the key only has to be distinct).
inline constexpr size_t max_unique_key_bytes = 1000;

// The ON CONFLICT target that names the unique index of migration 8 (its columns and predicate).
inline constexpr const char* unique_conflict_target =
    "(kind, unique_key) WHERE unique_key IS NOT NULL AND state IN ('available', 'running')";

// A keyed insert into a table below migration 8 fails with 42703 (no unique_key column, below 7)
// or 42P10 (no index matching the conflict target: 7, or 8's build interrupted). Replaces such an
// error's message in `err` with what to do (the SQLSTATE stays) and returns true; any other
// error is left as it is. Reads the table's version when the connection is outside a
// transaction (inside one the failed statement has aborted it).
bool explain_missing_unique_index(PGconn* conn, const TableName& t, pgxq_error* err);

}  // namespace pgxq::client::detail
