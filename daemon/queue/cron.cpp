// queue/cron: see cron.hpp. Next times are searched day by day in the schedule's civil time,
// each candidate wall-clock time mapped to an instant with cctz's lookup, which says whether
// that time was skipped or repeated by a daylight-saving change.
#include "queue/cron.hpp"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <array>
#include <cctype>
#include <stdexcept>
#include <vector>

namespace pgxq::queue {

namespace {

struct FieldSpec {
  const char* name;
  int min;
  int max;  // day of week: 7, read as Sunday
  const char* const* names;  // names[i] is value min + i; null: numbers only
  int name_count;
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

constexpr std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59, nullptr, 0},
    {"hour", 0, 23, nullptr, 0},
    {"day-of-month", 1, 31, nullptr, 0},
    {"month", 1, 12, kMonthNames, 12},
    {"day-of-week", 0, 7, kDayNames, 7},
}};

std::string range_text(const FieldSpec& f) {
  std::string out = std::to_string(f.min) + "-" + std::to_string(f.max);
  if (f.names) out += " or " + std::string(f.names[0]) + "-" + f.names[f.name_count - 1];
  if (f.max == 7) out += "; 0 and 7 are both Sunday";
  return out;
}

// One field's text, read left to right; `column` is where the field starts in the expression.
class FieldReader {
public:
  FieldReader(const FieldSpec& spec, std::string_view text, size_t column) : spec_(spec), text_(text), column_(column) {}

  std::string error;
  std::vector<int> values;  // allowed values (day of week still 0..7)

  bool read() {
    size_t start = 0;
    while (start <= text_.size()) {
      size_t end = text_.find(',', start);
      if (end == std::string_view::npos) end = text_.size();
      if (!item(start, end)) return false;
      start = end + 1;
    }
    return true;
  }

private:
  bool fail(size_t at, const std::string& what) {
    error = std::string(spec_.name) + " field \"" + std::string(text_) + "\" at column " + std::to_string(column_ + at) +
            ": " + what;
    return false;
  }

  // A number or a name at pos (advanced past it).
  bool value(size_t& pos, size_t end, int& out) {
    if (pos >= end) return fail(pos, "expected a value (" + range_text(spec_) + ")");
    if (std::isdigit(static_cast<unsigned char>(text_[pos]))) {
      size_t start = pos;
      long v = 0;
      while (pos < end && std::isdigit(static_cast<unsigned char>(text_[pos]))) {
        v = v * 10 + (text_[pos] - '0');
        if (v > 1000) v = 1000;
        ++pos;
      }
      if (v < spec_.min || v > spec_.max)
        return fail(start, std::to_string(v) + " is out of range (" + range_text(spec_) + ")");
      out = static_cast<int>(v);
      return true;
    }
    if (std::isalpha(static_cast<unsigned char>(text_[pos]))) {
      size_t start = pos;
      std::string word;
      while (pos < end && std::isalpha(static_cast<unsigned char>(text_[pos])))
        word += static_cast<char>(std::toupper(static_cast<unsigned char>(text_[pos++])));
      const std::string as_written(text_.substr(start, pos - start));
      if (!spec_.names)
        return fail(start, "\"" + as_written + "\" is not a number; names are allowed only for months and weekdays");
      for (int i = 0; i < spec_.name_count; ++i)
        if (word == spec_.names[i]) {
          out = spec_.min + i;
          return true;
        }
      return fail(start, "unknown name \"" + as_written + "\" (expected " + range_text(spec_) + ")");
    }
    return fail(pos, std::string("unexpected character '") + text_[pos] + "' (expected a number" +
                         (spec_.names ? " or a name" : "") + ")");
  }

  bool item(size_t pos, size_t end) {
    if (pos == end) return fail(pos, "empty list item (two commas in a row, or a comma at an end)");
    int low = spec_.min, high = spec_.max, step = 1;
    const int max_value = spec_.max == 7 ? 6 : spec_.max;  // "*" for weekdays is 0-6
    if (text_[pos] == '*') {
      ++pos;
      high = max_value;
    } else {
      if (!value(pos, end, low)) return false;
      high = low;
      if (pos < end && text_[pos] == '-') {
        ++pos;
        size_t at = pos;
        if (!value(pos, end, high)) return false;
        if (high < low)
          return fail(at, "range " + std::to_string(low) + "-" + std::to_string(high) +
                              " goes backwards (write it as a list of two ranges)");
      } else if (pos < end && text_[pos] == '/') {
        high = max_value;  // "a/n": from a to the end of the field
      }
    }
    if (pos < end && text_[pos] == '/') {
      size_t at = ++pos;
      if (pos >= end || !std::isdigit(static_cast<unsigned char>(text_[pos])))
        return fail(at, "expected a step (a whole number >= 1) after '/'");
      long v = 0;
      while (pos < end && std::isdigit(static_cast<unsigned char>(text_[pos]))) {
        v = v * 10 + (text_[pos] - '0');
        if (v > 1000) v = 1000;
        ++pos;
      }
      if (v < 1) return fail(at, "a step must be at least 1, got 0");
      if (v > spec_.max) return fail(at, "step " + std::to_string(v) + " is larger than the field's range (" + range_text(spec_) + ")");
      step = static_cast<int>(v);
    }
    if (pos != end) return fail(pos, std::string("unexpected '") + text_[pos] + "' (expected ',', '-' or '/')");
    for (int v = low; v <= high; v += step) values.push_back(v);
    return true;
  }

  const FieldSpec& spec_;
  std::string_view text_;
  size_t column_;
};

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

int weekday_number(const cctz::civil_day& d) {  // 0 Sunday .. 6 Saturday
  switch (cctz::get_weekday(d)) {
    case cctz::weekday::sunday: return 0;
    case cctz::weekday::monday: return 1;
    case cctz::weekday::tuesday: return 2;
    case cctz::weekday::wednesday: return 3;
    case cctz::weekday::thursday: return 4;
    case cctz::weekday::friday: return 5;
    case cctz::weekday::saturday: return 6;
  }
  return 0;
}

bool day_matches(const CronFields& f, const cctz::civil_day& d) {
  if (!f.month.test(static_cast<size_t>(d.month()))) return false;
  const bool dom = f.day_of_month.test(static_cast<size_t>(d.day()));
  const bool dow = f.day_of_week.test(static_cast<size_t>(weekday_number(d)));
  if (f.day_of_month_unrestricted || f.day_of_week_unrestricted) return dom && dow;
  return dom || dow;
}

// How far next_after and the validity check look ahead: a leap day on a given weekday comes
// back within 28 years.
constexpr int kSearchDays = 366 * 29;

std::string macro(std::string_view name) {
  if (name == "@yearly" || name == "@annually") return "0 0 1 1 *";
  if (name == "@monthly") return "0 0 1 * *";
  if (name == "@weekly") return "0 0 * * 0";
  if (name == "@daily" || name == "@midnight") return "0 0 * * *";
  if (name == "@hourly") return "0 * * * *";
  return "";
}

}  // namespace

CronParse parse_cron(std::string_view expression) {
  CronParse out;
  std::string expanded;
  size_t first = expression.find_first_not_of(" \t");
  if (first != std::string_view::npos && expression[first] == '@') {
    size_t last = expression.find_last_not_of(" \t");
    std::string word(expression.substr(first, last - first + 1));
    for (auto& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    expanded = macro(word);
    if (expanded.empty()) {
      out.error = "unknown shorthand \"" + std::string(expression.substr(first, last - first + 1)) +
                  "\" at column " + std::to_string(first + 1) +
                  " (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)";
      return out;
    }
    expression = expanded;
  }
  struct Piece {
    std::string_view text;
    size_t column;
  };
  std::vector<Piece> pieces;
  for (size_t i = 0; i < expression.size();) {
    if (expression[i] == ' ' || expression[i] == '\t') {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < expression.size() && expression[i] != ' ' && expression[i] != '\t') ++i;
    pieces.push_back({expression.substr(start, i - start), start + 1});
  }
  if (pieces.size() != 5) {
    out.error = "expected 5 fields separated by spaces (minute hour day-of-month month day-of-week), got " +
                std::to_string(pieces.size());
    if (pieces.size() == 6) out.error += " (seconds and years are not supported)";
    return out;
  }
  CronFields f;
  for (size_t i = 0; i < 5; ++i) {
    FieldReader reader(kFields[i], pieces[i].text, pieces[i].column);
    if (!reader.read()) {
      out.error = reader.error;
      return out;
    }
    for (int v : reader.values) {
      switch (i) {
        case 0: f.minute.set(static_cast<size_t>(v)); break;
        case 1: f.hour.set(static_cast<size_t>(v)); break;
        case 2: f.day_of_month.set(static_cast<size_t>(v)); break;
        case 3: f.month.set(static_cast<size_t>(v)); break;
        case 4: f.day_of_week.set(static_cast<size_t>(v % 7)); break;
      }
    }
  }
  f.day_of_month_unrestricted = pieces[2].text.front() == '*';
  f.day_of_week_unrestricted = pieces[4].text.front() == '*';
  // "0 0 30 2 *" parses but never runs: say so now rather than never enqueue anything.
  bool possible = false;
  for (int m = 1; m <= 12 && !possible; ++m) {
    if (!f.month.test(static_cast<size_t>(m))) continue;
    for (int d = 1; d <= days_in_month(2000, m) && !possible; ++d) possible = f.day_of_month.test(static_cast<size_t>(d));
  }
  if (!possible && f.day_of_week_unrestricted) {
    out.error = "day-of-month field \"" + std::string(pieces[2].text) + "\" at column " + std::to_string(pieces[2].column) +
                ": no such day in month field \"" + std::string(pieces[3].text) + "\", so this never runs";
    return out;
  }
  cctz::civil_day day(2000, 1, 1);
  bool some_day = false;
  for (int i = 0; i < kSearchDays && !some_day; ++i, ++day) some_day = day_matches(f, day);
  if (!some_day) {
    out.error = "day-of-month \"" + std::string(pieces[2].text) + "\", month \"" + std::string(pieces[3].text) +
                "\" and day-of-week \"" + std::string(pieces[4].text) + "\" never meet, so this never runs";
    return out;
  }
  out.fields = f;
  return out;
}

std::string time_zone_problem(const std::string& name) {
  cctz::time_zone tz;
  if (name.empty()) return "expected a time zone name such as \"UTC\" or \"Europe/Berlin\", got an empty string";
  if (cctz::load_time_zone(name, &tz)) return "";
  return "unknown time zone \"" + name + "\" (expected a name from tzdata such as \"UTC\" or \"Europe/Berlin\"; see "
         "/usr/share/zoneinfo)";
}

Schedule Schedule::cron(const std::string& expression, const std::string& time_zone) {
  auto parsed = parse_cron(expression);
  if (!parsed.ok()) throw std::invalid_argument("cron \"" + expression + "\": " + parsed.error);
  auto zone = std::make_shared<cctz::time_zone>();
  if (!cctz::load_time_zone(time_zone, zone.get())) throw std::invalid_argument(time_zone_problem(time_zone));
  Schedule s;
  s.fields_ = *parsed.fields;
  s.expression_ = expression;
  s.zone_name_ = time_zone;
  s.zone_ = std::move(zone);
  return s;
}

Schedule Schedule::every(std::chrono::seconds period) {
  if (period < std::chrono::seconds(1)) throw std::invalid_argument("a period must be at least 1s");
  Schedule s;
  s.period_ = period;
  s.zone_ = std::make_shared<cctz::time_zone>(cctz::utc_time_zone());
  return s;
}

std::optional<Instant> Schedule::next_after(Instant t) const {
  if (period_) {
    const auto p = period_->count();
    auto n = t.time_since_epoch().count();
    auto q = n / p - ((n % p) < 0 ? 1 : 0);  // floor
    return Instant(std::chrono::seconds((q + 1) * p));
  }
  const cctz::time_zone& tz = *zone_;
  const cctz::civil_minute start = cctz::civil_minute(cctz::convert(t, tz)) + 1;
  const cctz::civil_day first_day(start);
  cctz::civil_day day = first_day;
  for (int i = 0; i < kSearchDays; ++i, ++day) {
    if (!day_matches(fields_, day)) continue;
    for (int h = day == first_day ? start.hour() : 0; h < 24; ++h) {
      if (!fields_.hour.test(static_cast<size_t>(h))) continue;
      for (int m = day == first_day && h == start.hour() ? start.minute() : 0; m < 60; ++m) {
        if (!fields_.minute.test(static_cast<size_t>(m))) continue;
        const auto lookup = tz.lookup(cctz::civil_second(day.year(), day.month(), day.day(), h, m, 0));
        // Skipped (clocks went forward): the first instant after the gap. Repeated (clocks went
        // back): the first occurrence only; the second is never due.
        const auto at = lookup.kind == cctz::time_zone::civil_lookup::SKIPPED ? lookup.trans : lookup.pre;
        const Instant instant(std::chrono::seconds(at.time_since_epoch().count()));
        if (instant > t) return instant;
      }
    }
  }
  return std::nullopt;
}

std::optional<Instant> Schedule::latest_at_or_before(Instant t) const {
  if (period_) return *next_after(t) - *period_;
  // Look back over ever longer windows; the first that holds a scheduled time holds few, since
  // the shorter one before it held none.
  using std::chrono::hours;
  using std::chrono::minutes;
  for (std::chrono::seconds window : {std::chrono::seconds(minutes(2)), std::chrono::seconds(hours(2)),
                                      std::chrono::seconds(hours(50)), std::chrono::seconds(hours(24 * 40)),
                                      std::chrono::seconds(hours(24 * 400)), std::chrono::seconds(hours(24 * 366 * 29))}) {
    auto found = next_after(t - window);
    if (!found || *found > t) continue;
    while (auto later = next_after(*found)) {
      if (*later > t) break;
      found = later;
    }
    return found;
  }
  return std::nullopt;
}

int64_t Schedule::count_between(Instant after, Instant until, int64_t limit) const {
  if (until <= after) return 0;
  if (period_) {
    auto first = next_after(after);
    if (*first > until) return 0;
    return std::min<int64_t>(limit, (until - *first).count() / period_->count() + 1);
  }
  int64_t n = 0;
  for (auto at = next_after(after); at && *at <= until && n < limit; at = next_after(*at)) ++n;
  return n;
}

std::string Schedule::describe() const {
  if (period_) {
    auto s = period_->count();
    std::string out = "every ";
    if (s % 3600 == 0) return out + std::to_string(s / 3600) + "h";
    if (s % 60 == 0) return out + std::to_string(s / 60) + "m";
    return out + std::to_string(s) + "s";
  }
  return "cron \"" + expression_ + "\" (" + zone_name_ + ")";
}

std::string Schedule::format_local(Instant t) const {
  const cctz::time_point<cctz::seconds> tp(cctz::seconds(t.time_since_epoch().count()));
  return cctz::format("%Y-%m-%d %H:%M:%S %Z (%Ez)", tp, *zone_);
}

std::string format_utc(Instant t) {
  const cctz::time_point<cctz::seconds> tp(cctz::seconds(t.time_since_epoch().count()));
  return cctz::format("%Y-%m-%dT%H:%M:%SZ", tp, cctz::utc_time_zone());
}

}  // namespace pgxq::queue
