// queue/job_timeout: how long a job's handler may run ([worker] job_timeout, [kinds.<kind>]
// timeout). Plain data and the lookup by kind; the deadline itself is kept per run (job_run).
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace pgxq::queue {

struct JobTimeout {
  std::chrono::milliseconds limit{0};  // zero: no limit
  std::string text;                    // as the operator wrote it ("30s"); empty: written from limit
  bool enabled() const noexcept { return limit.count() > 0; }
  // The limit as the operator wrote it: "30s".
  std::string written() const;
  // The error recorded on a job whose handler returned after the limit: "timeout after 30s".
  std::string error() const;
};

// The limit for `kind`: its own when `by_kind` has one (a zero limit there turns the default
// off for that kind), else `fallback`.
const JobTimeout& timeout_for(const std::string& kind, const JobTimeout& fallback,
                              const std::map<std::string, JobTimeout, std::less<>>& by_kind);

// A duration as "1h30m", "1500ms" → "1s500ms": for log lines and errors without a text of the
// operator's (the queue part does not see the config's formatting).
std::string describe_duration(std::chrono::milliseconds d);

}  // namespace pgxq::queue
