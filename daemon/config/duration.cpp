// config/duration: see duration.hpp.
#include "config/duration.hpp"

#include <cstdint>
#include <limits>

namespace pgxq::config {

namespace {

constexpr std::string_view kAccepted = "use a number with a unit: ms, s, m, h or d, e.g. \"500ms\", \"1s\", \"5m\", \"1h30m\"";

DurationParse fail(std::string_view text, std::string why) {
  DurationParse r;
  r.error = "invalid duration \"" + std::string(text) + "\": " + std::move(why) + " (" + std::string(kAccepted) + ")";
  return r;
}

// The longest duration accepted: far beyond any sensible timeout or interval, and far enough
// below what a clock's time_point (int64 nanoseconds, about 292 years) can add to "now".
constexpr int64_t kLongestMs = 3650LL * 86'400'000;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

}  // namespace

DurationParse parse_duration(std::string_view text) {
  if (text.empty()) return fail(text, "it is empty");
  if (text == "0") return {};
  if (text.find_first_of(" \t") != std::string_view::npos) return fail(text, "spaces are not allowed");
  if (text[0] == '-') return fail(text, "durations cannot be negative");
  if (text[0] == '+') text.remove_prefix(1);

  // Exact integer arithmetic: each group contributes whole * unit_ms + fraction * unit_ms /
  // 10^digits, which must come out as a whole number of milliseconds.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t total = 0;
  size_t i = 0;
  const std::string_view original = text;
  while (i < text.size()) {
    if (!is_digit(text[i]) && text[i] != '.') return fail(original, "expected a number at \"" + std::string(text.substr(i)) + "\"");
    int64_t whole = 0;
    bool any_digit = false;
    while (i < text.size() && is_digit(text[i])) {
      any_digit = true;
      if (whole > (kMax - 9) / 10) return fail(original, "the value is too large");
      whole = whole * 10 + (text[i] - '0');
      ++i;
    }
    int64_t frac = 0, frac_scale = 1;
    if (i < text.size() && text[i] == '.') {
      ++i;
      while (i < text.size() && is_digit(text[i])) {
        any_digit = true;
        if (frac_scale >= 1'000'000'000LL) return fail(original, "too many decimal places");
        frac = frac * 10 + (text[i] - '0');
        frac_scale *= 10;
        ++i;
      }
    }
    if (!any_digit) return fail(original, "expected a number before the unit");
    size_t unit_start = i;
    while (i < text.size() && is_alpha(text[i])) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t unit_ms = 0;
    if (unit == "ms") unit_ms = 1;
    else if (unit == "s") unit_ms = 1000;
    else if (unit == "m") unit_ms = 60'000;
    else if (unit == "h") unit_ms = 3'600'000;
    else if (unit == "d") unit_ms = 86'400'000;
    else if (unit.empty() && i < text.size() && !is_digit(text[i]))
      return fail(original, "unexpected character '" + std::string(1, text[i]) + "'");
    else if (unit.empty()) return fail(original, "a unit is missing");
    else if (unit == "us" || unit == "ns")
      return fail(original, "units below a millisecond are not supported");
    else return fail(original, "unknown unit \"" + std::string(unit) + "\"");

    if (whole > kMax / unit_ms) return fail(original, "the value is too large");
    int64_t part = whole * unit_ms;
    if (frac != 0) {
      // frac < frac_scale <= 10^9 and unit_ms <= 8.64e7, so the product fits in int64.
      int64_t num = frac * unit_ms;
      if (num % frac_scale != 0) return fail(original, "it is finer than a millisecond");
      if (part > kMax - num / frac_scale) return fail(original, "the value is too large");
      part += num / frac_scale;
    }
    if (part > kMax - total) return fail(original, "the value is too large");
    total += part;
  }
  if (total > kLongestMs)
    return fail(original, "the value is too large: the longest duration accepted is 3650d (about 10 years)");
  DurationParse r;
  r.value = std::chrono::milliseconds(total);
  return r;
}

std::string format_duration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  struct Unit {
    int64_t ms;
    const char* name;
  };
  static constexpr Unit units[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& u : units) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.name;
      ms %= u.ms;
    }
  }
  return out;
}

}  // namespace pgxq::config
