// queue/job_timeout: the lookup by kind and how a limit is written in errors and logs.
#include "queue/job_timeout.hpp"

namespace pgxq::queue {

std::string JobTimeout::written() const { return text.empty() ? describe_duration(limit) : text; }

std::string JobTimeout::error() const { return "timeout after " + written(); }

const JobTimeout& timeout_for(const std::string& kind, const JobTimeout& fallback,
                              const std::map<std::string, JobTimeout, std::less<>>& by_kind) {
  auto it = by_kind.find(kind);
  return it == by_kind.end() ? fallback : it->second;
}

std::string describe_duration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms <= 0) return "0s";
  struct Unit {
    int64_t ms;
    const char* name;
  };
  static constexpr Unit units[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  std::string out;
  for (const auto& u : units)
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.name;
      ms %= u.ms;
    }
  return out;
}

}  // namespace pgxq::queue
