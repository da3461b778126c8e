// Validation of one job's fields, shared by pgxq_insert and pgxq_insert_many so both refuse
// exactly the same inputs before anything is sent: kind, args (valid JSON object, checked with
// simdjson), queue, priority and max_attempts within SMALLINT, a representable schedule, and a
// unique key that fits in the unique index.
#include <simdjson.h>

#include <cmath>

#include "internal.hpp"

namespace pgxq::client::detail {

namespace {

constexpr int smallint_min = -32768;
constexpr int smallint_max = 32767;

// jsonb refuses the NUL character in strings and keys, which JSON itself allows.
bool contains_nul(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string_view s;
      return !e.get_string().get(s) && s.find('\0') != std::string_view::npos;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array array;
      if (e.get_array().get(array)) return false;
      for (simdjson::dom::element child : array)
        if (contains_nul(child)) return true;
      return false;
    }
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object object;
      if (e.get_object().get(object)) return false;
      for (simdjson::dom::key_value_pair field : object)
        if (field.key.find('\0') != std::string_view::npos || contains_nul(field.value)) return true;
      return false;
    }
    default:
      return false;
  }
}

// Returns "" when `args` is acceptable, else what is wrong with it.
std::string check_args(std::string_view args, simdjson::dom::parser& parser) {
  simdjson::padded_string padded(args);
  simdjson::dom::element doc;
  auto code = parser.parse(padded).get(doc);
  if (code == simdjson::NUMBER_ERROR || code == simdjson::DEPTH_ERROR) {
    // Valid JSON that simdjson cannot represent (integers beyond 64 bits, 1e400, very deep
    // nesting) is jsonb's to judge: jsonb keeps arbitrary-precision numbers. A malformed number
    // is refused by the server just the same, and nothing is written either way.
    size_t first = args.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos || args[first] != '{')
      return "args must be a JSON object (like {\"id\": 1})";
    return {};
  }
  if (code != simdjson::SUCCESS) return std::string("args is not valid JSON: ") + simdjson::error_message(code);
  if (doc.type() != simdjson::dom::element_type::OBJECT)
    return "args must be a JSON object (like {\"id\": 1}), got a JSON " +
           std::string(doc.type() == simdjson::dom::element_type::ARRAY    ? "array"
                       : doc.type() == simdjson::dom::element_type::STRING ? "string"
                       : doc.type() == simdjson::dom::element_type::NULL_VALUE ? "null"
                       : doc.type() == simdjson::dom::element_type::BOOL       ? "boolean"
                                                                               : "number");
  // Only walk the document when the text could hold an escaped NUL at all.
  if (args.find("u0000") != std::string_view::npos && contains_nul(doc))
    return "args contains a \\u0000 character, which PostgreSQL's jsonb cannot store";
  return {};
}

}  // namespace

std::optional<ValidJob> validate_job(const char* kind, const char* args_json, const pgxq_insert_opts& o,
                                     simdjson::dom::parser& parser, std::string_view what, pgxq_error* err) {
  auto fail = [&](const std::string& message) {
    set_error(err, std::string(what) + message);
    return std::nullopt;
  };
  ValidJob job;
  if (!kind || !*kind) return fail("kind must not be empty");
  job.kind = kind;

  job.args = (args_json && *args_json) ? std::string_view(args_json) : std::string_view("{}");
  if (std::string problem = check_args(job.args, parser); !problem.empty()) return fail(problem);

  if (o.queue && !*o.queue) return fail("queue must not be empty (leave it unset for \"" PGXQ_DEFAULT_QUEUE "\")");
  job.queue = o.queue ? o.queue : PGXQ_DEFAULT_QUEUE;

  if (o.has_priority) {
    if (o.priority < smallint_min || o.priority > smallint_max)
      return fail("priority " + std::to_string(o.priority) + " is out of range (-32768 to 32767)");
    job.priority = o.priority;
  }
  if (o.has_max_attempts) {
    if (o.max_attempts < 1) return fail("max_attempts must be at least 1, got " + std::to_string(o.max_attempts));
    if (o.max_attempts > smallint_max)
      return fail("max_attempts " + std::to_string(o.max_attempts) + " is out of range (1 to 32767)");
    job.max_attempts = o.max_attempts;
  }
  if (o.has_scheduled_at && o.has_delay) return fail("set at most one of scheduled_at and delay");
  if (o.has_scheduled_at) {
    if (o.scheduled_at_unix_us < min_scheduled_us || o.scheduled_at_unix_us > max_scheduled_us)
      return fail("scheduled_at " + std::to_string(o.scheduled_at_unix_us) +
                  " (microseconds since 1970) is out of range (years 0001 to 9999)");
    job.scheduled_at_us = o.scheduled_at_unix_us;
  }
  if (o.has_delay) {
    if (!std::isfinite(o.delay_seconds) || std::fabs(o.delay_seconds) > max_delay_seconds)
      return fail("delay_seconds must be a finite number of seconds within +/-1e10");
    job.delay_seconds = o.delay_seconds;
  }
  if (o.unique_key) {
    const std::string_view key(o.unique_key);
    if (key.empty()) return fail("unique_key must not be empty (leave it NULL for a job without one)");
    if (key.size() > max_unique_key_bytes)
      return fail("unique_key is " + std::to_string(key.size()) + " bytes, more than " +
                  std::to_string(max_unique_key_bytes) + " (use a hash of what makes the job distinct)");
    job.unique_key = key;
  }
  return job;
}

std::string format_timestamp_utc(int64_t unix_us) {
  // Floor division, so instants before 1970 split into a day and a non-negative time of day.
  constexpr int64_t us_per_day = 86400LL * 1000000;
  int64_t days = unix_us / us_per_day;
  int64_t rem = unix_us % us_per_day;
  if (rem < 0) {
    rem += us_per_day;
    --days;
  }
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm, proleptic Gregorian).
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);

  const int64_t secs = rem / 1000000;
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld.%06lld+00", static_cast<long long>(y),
                        static_cast<long long>(m), static_cast<long long>(d), static_cast<long long>(secs / 3600),
                        static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60),
                        static_cast<long long>(rem % 1000000));
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace pgxq::client::detail

extern "C" const char* pgxq_version(void) { return PGXQ_CLIENT_VERSION; }
