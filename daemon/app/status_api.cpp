// app/status_api: see status_api.hpp. Errors never escape as exceptions: a database that cannot
// be reached, a missing table or a statement that timed out all become a document saying so,
// which the page shows in its banner while it keeps the last figures it drew.
#include "app/status_api.hpp"

#include <algorithm>
#include <ctime>
#include <exception>
#include <optional>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "admin/list.hpp"
#include "admin/stats.hpp"
#include "http/status_page.hpp"
#include "pg/connection.hpp"
#include "pg/error.hpp"
#include "pg/scrub.hpp"

namespace pgxq::app {

namespace {

using nlohmann::json;

std::string utc_now_iso() {
  auto now = std::chrono::system_clock::now();
  auto seconds = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return text;
}

json throughput_json(const Throughput* throughput) {
  ThroughputSeries series = throughput ? throughput->series() : ThroughputSeries{};
  return {{"interval_seconds", series.interval.count()}, {"completed", series.completed}, {"failed", series.failed}};
}

// The newest failed and discarded jobs of `table`, newest first by when they ended.
std::vector<json> recent_failures(pg::Connection& conn, const std::string& table, int limit) {
  std::vector<std::pair<double, json>> found;
  for (const char* state : {"failed", "discarded"}) {
    admin::ListFilter filter;
    filter.state = state;
    filter.limit = limit;
    for (const auto& job : admin::list_jobs(conn, table, filter).jobs) {
      json row = {{"table", table},
                  {"id", job.id},
                  {"kind", job.kind},
                  {"queue", job.queue},
                  {"state", job.state},
                  {"attempt", job.attempt},
                  {"max_attempts", job.max_attempts},
                  {"at", job.completed_at ? json(*job.completed_at) : json(nullptr)},
                  {"error", job.error ? json(*job.error) : json(nullptr)}};
      found.emplace_back(job.completed_in_seconds.value_or(-1e18), std::move(row));
    }
  }
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<json> out;
  for (auto& [when, row] : found) {
    if (static_cast<int>(out.size()) == limit) break;
    out.push_back(std::move(row));
  }
  return out;
}

http::Response json_response(int status, std::string body) {
  http::Response response;
  response.status = status;
  response.content_type = "application/json; charset=utf-8";
  response.body = std::move(body);
  response.headers = http::status_page_headers();
  return response;
}

}  // namespace

StatusApi::StatusApi(StatusApiOptions options, const Throughput* throughput)
    : options_(std::move(options)), throughput_(throughput) {
  if (!options_.clock) options_.clock = queue::real_clock();
  options_.recent_failures = std::clamp(options_.recent_failures, 1, admin::kMaxListLimit);
}

StatusApi::~StatusApi() = default;

uint64_t StatusApi::refreshes() const {
  std::lock_guard lock(cache_mutex_);
  return refreshes_;
}

std::string StatusApi::read_document() {
  json doc = {{"generated_at", utc_now_iso()}, {"tables", options_.tables}};
  try {
    if (!conn_ || !conn_->ok()) {
      conn_.reset();
      pg::ConnectOptions connect;
      connect.connect_timeout = options_.connect_timeout;
      auto conn = std::make_unique<pg::Connection>(options_.conninfo, connect);
      conn->exec("SELECT set_config('application_name', 'pgxqd status', false), "
                 "set_config('statement_timeout', $1, false)",
                 {pg::Param(std::to_string(options_.statement_timeout.count()) + "ms")});
      conn_ = std::move(conn);
    }
    json stats = json::array(), failures = json::array(), paused = json::array();
    for (const auto& table : options_.tables) {
      auto figures = admin::collect_stats(*conn_, table, std::nullopt);
      for (const auto& q : figures.queues)
        if (q.paused)
          paused.push_back({{"table", table},
                            {"queue", q.queue},
                            {"paused_at", q.paused_at ? json(*q.paused_at) : json(nullptr)},
                            {"paused_by", q.paused_by ? json(*q.paused_by) : json(nullptr)}});
      stats.push_back(admin::to_json(figures));
      for (auto& row : recent_failures(*conn_, table, options_.recent_failures)) failures.push_back(std::move(row));
    }
    doc["database_up"] = true;
    doc["stats"] = std::move(stats);
    doc["recent_failures"] = std::move(failures);
    doc["paused"] = std::move(paused);
  } catch (const std::exception& e) {
    // A broken connection is dropped, so the next refresh connects again.
    bool broken = !conn_ || !conn_->ok();
    if (auto* pg_error = dynamic_cast<const pg::Error*>(&e); pg_error && pg_error->unreachable()) broken = true;
    if (broken) conn_.reset();
    doc["database_up"] = !broken;
    doc["error"] = pg::scrub_password(e.what(), options_.conninfo);
  }
  doc["throughput"] = throughput_json(throughput_);
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string StatusApi::document() {
  auto fresh_enough = [&] {
    return have_cache_ && options_.clock->now() - cached_at_ < options_.max_age;
  };
  {
    std::lock_guard lock(cache_mutex_);
    if (fresh_enough()) return cached_;
  }
  std::unique_lock refresh(refresh_mutex_, std::try_to_lock);
  if (!refresh.owns_lock()) {
    {
      std::lock_guard lock(cache_mutex_);
      if (have_cache_) return cached_;  // a refresh is under way: the last answer will do
    }
    refresh.lock();
  }
  {
    std::lock_guard lock(cache_mutex_);
    if (fresh_enough()) return cached_;  // refreshed while this request waited
  }
  std::string body = read_document();
  std::lock_guard lock(cache_mutex_);
  cached_ = body;
  cached_at_ = options_.clock->now();
  have_cache_ = true;
  ++refreshes_;
  return body;
}

http::Response StatusApi::handle(const http::Request& request) {
  try {
    try {
      http::parse_query(request.query);
    } catch (const std::invalid_argument& e) {
      return json_response(400, json{{"error", std::string("malformed query string: ") + e.what()}}.dump(
                                    -1, ' ', false, json::error_handler_t::replace));
    }
    return json_response(200, document());
  } catch (const std::exception& e) {
    return json_response(500, json{{"error", pg::scrub_password(e.what(), options_.conninfo)}}.dump(
                                  -1, ' ', false, json::error_handler_t::replace));
  }
}

}  // namespace pgxq::app
