// app/admin_text: what the admin commands share when they print — untrusted text made safe for
// a terminal (job kinds, queues, errors and args come from whoever enqueued the job), counts
// and ages for people, aligned columns, JSON for scripts, and the one mapping of the admin
// queries' failures onto exit codes and messages.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/context.hpp"

namespace pgxq::app {

// Control bytes escaped (pg::one_line): safe on one line of a terminal.
std::string safe(std::string_view untrusted);
// The first line of `text`, escaped, cut to `max_chars` characters with "…" when longer.
std::string excerpt(std::string_view text, size_t max_chars);
// 1234567 → "1,234,567"; `at_least` prefixes "≥".
std::string count_text(int64_t n, bool at_least = false);
// 75.4 → "1m15s", 3 → "3s", 0.2 → "0s", 90000 → "1d01h".
std::string age_text(double seconds);
// Relative to now: -75 → "1m15s ago", 30 → "in 30s".
std::string relative_text(double seconds_from_now);
// PostgreSQL's timestamptz text without its fraction of a second.
std::string whole_seconds(std::string_view timestamp);

// Rows of cells printed as left-aligned columns two spaces apart (widths in characters).
std::string columns(const std::vector<std::vector<std::string>>& rows);

// `j` as the admin commands print it: indented, invalid UTF-8 replaced; `compact` on one line.
std::string json_text(const nlohmann::json& j, bool compact = false);

// A non-negative whole number given as `what` (a job id, --before-id, --limit): CommandError 64
// naming `what` otherwise.
int64_t parse_count(const std::string& text, const std::string& what);

// Runs `query` with a connection to the database `ctx` names, mapping failures onto exit codes
// as every other command does: a missing job table → 1 with the `pgxqd migrate` to run, an
// unreachable database → 69, another database error → 1 with its SQLSTATE (a statement timeout
// says so), a bad filter → 64.
void with_job_table(const Context& ctx, const std::string& table, const std::function<void(pg::Connection&)>& query);

}  // namespace pgxq::app
