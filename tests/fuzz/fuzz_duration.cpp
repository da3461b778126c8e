// Fuzz target: the duration parser. Never crashes; a rejection always says why; an accepted
// value is never negative and round-trips through format_duration.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/duration.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = pgxq::config::parse_duration(text);
  if (!r.ok()) return 0;
  if (r.value.count() < 0) std::abort();
  auto printed = pgxq::config::format_duration(r.value);
  auto back = pgxq::config::parse_duration(printed);
  if (!back.ok() || back.value != r.value) std::abort();
  return 0;
}
