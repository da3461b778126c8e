// app/status_api: `GET /api/status`, the JSON the status page draws — per table the figures of
// admin::collect_stats, the most recent failed and discarded jobs, paused queues, and this
// daemon's throughput. It reads on a connection of its own (never the engine's pool), at most
// one set of queries per max_age however many pages are open, each statement bounded by a
// timeout; while one refresh runs, other requests get the last answer instead of waiting.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app/throughput.hpp"
#include "http/server.hpp"
#include "queue/clock.hpp"

namespace pgxq::pg {
class Connection;
}

namespace pgxq::app {

struct StatusApiOptions {
  std::string conninfo;
  std::vector<std::string> tables{"pgxq_job"};
  std::chrono::milliseconds max_age{1000};  // answers are reused this long
  std::chrono::milliseconds statement_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  int recent_failures = 10;
  std::shared_ptr<const queue::Clock> clock;  // null: the real one
};

class StatusApi {
public:
  // `throughput` may be null (no chart); it must outlive the StatusApi.
  StatusApi(StatusApiOptions options, const Throughput* throughput);
  ~StatusApi();
  StatusApi(const StatusApi&) = delete;
  StatusApi& operator=(const StatusApi&) = delete;

  // The route (the server answers only GET and HEAD). A malformed query string is a 400 with a
  // JSON error; well-formed parameters are ignored (the document takes none). Never throws.
  http::Response handle(const http::Request& request);

  // The document, as JSON text: {"generated_at", "tables", "database_up", "error" (only on
  // failure, passwords scrubbed), "stats":[collect_stats JSON per table], "recent_failures":
  // [{"table", "id", "kind", "queue", "state", "attempt", "max_attempts", "at", "error"}],
  // "paused":[{"table", "queue", "paused_at", "paused_by"}], "throughput":{"interval_seconds",
  // "completed":[...], "failed":[...]}}.
  std::string document();

  // How many times the database was read (for tests of the caching).
  uint64_t refreshes() const;

private:
  std::string read_document();

  StatusApiOptions options_;
  const Throughput* throughput_;
  std::mutex refresh_mutex_;  // one refresh at a time; owns conn_
  std::unique_ptr<pg::Connection> conn_;
  mutable std::mutex cache_mutex_;
  std::string cached_;
  queue::Clock::TimePoint cached_at_{};
  bool have_cache_ = false;
  uint64_t refreshes_ = 0;
};

}  // namespace pgxq::app
