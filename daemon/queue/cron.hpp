// queue/cron: when a periodic job is due. A pure parser of five-field cron expressions and a
// Schedule that answers "the first scheduled time after t" and "the last one at or before t",
// either for a cron expression read as wall-clock times in a time zone (cctz, from tzdata) or
// for a fixed period aligned on the Unix epoch. No clock and no database: callers pass the time.
//
// Daylight saving (cron only): a wall-clock time that does not exist (the hour skipped when
// clocks go forward) is due at the first instant after the gap, as cronie does; a wall-clock
// time that exists twice (the hour repeated when clocks go back) is due once, at its first
// occurrence.
#pragma once

#include <bitset>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cctz {
class time_zone;
}

namespace pgxq::queue {

using Instant = std::chrono::sys_seconds;

// A parsed cron expression: the values each field allows. Day of week 0 is Sunday (7 is read
// as Sunday too). `*_unrestricted`: the field starts with "*" (Vixie cron's and cronie's rule):
// when both day fields are restricted a day matches either of them, else both.
struct CronFields {
  std::bitset<60> minute;
  std::bitset<24> hour;
  std::bitset<32> day_of_month;  // 1..31
  std::bitset<13> month;         // 1..12
  std::bitset<7> day_of_week;    // 0..6, Sunday first
  bool day_of_month_unrestricted = false;
  bool day_of_week_unrestricted = false;
};

struct CronParse {
  std::optional<CronFields> fields;
  std::string error;  // what is wrong and where (field and column), when !fields
  bool ok() const noexcept { return fields.has_value(); }
};

// "minute hour day-of-month month day-of-week": *, numbers, ranges a-b, steps */n a-b/n a/n,
// lists a,b, month names JAN-DEC and weekday names SUN-SAT (any case); or one of @yearly
// (@annually), @monthly, @weekly, @daily (@midnight), @hourly. Never throws.
CronParse parse_cron(std::string_view expression);

// Empty when `name` is a time zone tzdata knows ("UTC", "Europe/Berlin"), else why not.
std::string time_zone_problem(const std::string& name);

class Schedule {
public:
  // Throws std::invalid_argument for an expression parse_cron refuses or an unknown time zone.
  static Schedule cron(const std::string& expression, const std::string& time_zone);
  // Throws std::invalid_argument unless period >= 1s.
  static Schedule every(std::chrono::seconds period);

  // The first scheduled time strictly after `t`; nullopt when none within the next decades.
  std::optional<Instant> next_after(Instant t) const;
  // The last scheduled time at or before `t`; nullopt when none within the past decades.
  std::optional<Instant> latest_at_or_before(Instant t) const;
  // How many scheduled times lie in (after, until], counting up to `limit` at most.
  int64_t count_between(Instant after, Instant until, int64_t limit) const;

  bool is_cron() const noexcept { return !period_; }
  const std::string& time_zone_name() const noexcept { return zone_name_; }
  // `cron "0 3 * * *" (Europe/Berlin)` or `every 10m`.
  std::string describe() const;
  // The time on the schedule's wall clock: "2026-03-29 03:00:00 CEST (+02:00)".
  std::string format_local(Instant t) const;

private:
  Schedule() = default;
  std::optional<std::chrono::seconds> period_;
  CronFields fields_;
  std::string expression_;
  std::string zone_name_ = "UTC";
  std::shared_ptr<const cctz::time_zone> zone_;
};

// "2026-03-29T01:00:00Z".
std::string format_utc(Instant t);

}  // namespace pgxq::queue
