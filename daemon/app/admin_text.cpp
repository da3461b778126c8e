// app/admin_text: see admin_text.hpp.
#include "app/admin_text.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

#include "admin/table.hpp"
#include "app/errors.hpp"
#include "pg/one_line.hpp"

namespace pgxq::app {

namespace {

// Characters, not bytes: UTF-8 continuation bytes do not count.
size_t width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace

std::string safe(std::string_view untrusted) { return pg::one_line(untrusted); }

std::string excerpt(std::string_view text, size_t max_chars) {
  const auto nl = text.find('\n');
  const bool more_lines = nl != std::string_view::npos;
  std::string line = safe(text.substr(0, nl));
  size_t chars = 0, i = 0;
  for (; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) break;
      ++chars;
    }
  }
  if (i < line.size()) return line.substr(0, i) + "…";
  return more_lines ? line + " …" : line;
}

std::string count_text(int64_t n, bool at_least) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return std::string(at_least ? "≥" : "") + (n < 0 ? "-" : "") + out;
}

std::string age_text(double seconds) {
  auto s = static_cast<int64_t>(std::floor(std::max(0.0, seconds)));
  auto two = [](int64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + two(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h" + two(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d" + two(s % 86400 / 3600) + "h";
}

std::string relative_text(double seconds_from_now) {
  if (seconds_from_now > 0) return "in " + age_text(seconds_from_now);
  return age_text(-seconds_from_now) + " ago";
}

std::string whole_seconds(std::string_view ts) {
  const auto dot = ts.find('.');
  if (dot == std::string_view::npos) return std::string(ts);
  auto end = dot + 1;
  while (end < ts.size() && ts[end] >= '0' && ts[end] <= '9') ++end;
  return std::string(ts.substr(0, dot)) + std::string(ts.substr(end));
}

std::string columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) {
      if (widths.size() <= c) widths.push_back(0);
      widths[c] = std::max(widths[c], width(row[c]));
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - width(row[c]) + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
  return out;
}

std::string json_text(const nlohmann::json& j, bool compact) {
  return j.dump(compact ? -1 : 2, ' ', false, nlohmann::json::error_handler_t::replace);
}

int64_t parse_count(const std::string& text, const std::string& what) {
  int64_t n = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 0)
    throw CommandError(kExitUsage, what + " must be a whole number of 0 or more, not \"" + safe(text) + "\"");
  return n;
}

void with_job_table(const Context& ctx, const std::string& table, const std::function<void(pg::Connection&)>& query) {
  auto conn = connect(ctx);
  try {
    query(conn);
  } catch (const admin::TableMissing& e) {
    throw CommandError(kExitFailure, std::string(e.what()) + " (in " + describe_connection(conn, ctx) + ")");
  } catch (const std::invalid_argument& e) {
    throw CommandError(kExitUsage, e.what());
  } catch (const pg::Error& e) {
    if (e.unreachable()) throw CommandError(kExitUnavailable, "cannot read job table " + table + ": " + e.what());
    std::string msg = "cannot read job table " + table + ": " + e.what();
    if (e.sqlstate() == "57014") msg += "; the query ran past its time limit: narrow it (--state, --queue, --before-id)";
    throw CommandError(kExitFailure, msg);
  }
}

}  // namespace pgxq::app
