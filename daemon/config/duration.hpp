// config/duration: durations as operators write them ("50ms", "1s", "5m", "1h", "1h30m",
// "1.5s") parsed into milliseconds, and printed back the same way. Pure functions, no I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace pgxq::config {

struct DurationParse {
  std::chrono::milliseconds value{0};
  std::string error;  // empty on success; otherwise says what was wrong and what is accepted
  bool ok() const noexcept { return error.empty(); }
};

// Accepts one or more <number><unit> groups (units: ms, s, m, h, d; the number may have a
// fraction) or a bare "0". Rejects negative values, missing units, unknown units, values
// finer than a millisecond and values longer than 3650d (about ten years: anything longer would
// overflow the clock arithmetic that adds a duration to "now").
DurationParse parse_duration(std::string_view text);

// The shortest form parse_duration reads back to the same value: "1h30m", "250ms", "0s".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace pgxq::config
