// queue/scan_front: where the claim's index scan starts, per handled kind. Every claimed job
// leaves a dead entry at the front of the fetch index until vacuum removes it, and a claim
// that starts its scan at the beginning of the index walks all of them: on a large backlog
// claims slow down with every job worked since the last vacuum. So each kind's scan starts at
// the (priority, scheduled_at, id) of the first job the last claim took of that kind. (id only
// `by_id`, when the table has migration 4's index; otherwise the smallest id is sent, and the
// bound is on (priority, scheduled_at) alone.)
//
// A job can land behind that front: a better priority or an older scheduled_at inserted
// meanwhile, a job rescued or released (they keep their scheduled_at), a claim by another
// worker that rolled back. A full scan from the beginning catches those; it runs when the last
// one is `full_scan_every` old, and after any claim that came back short. A pure class: the
// clock is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "queue/clock.hpp"
#include "queue/job.hpp"

namespace pgxq::queue {

// How often the engine's claim scans every kind from the start of the index: the longest a job
// that lands behind a scan front waits while the queue works a backlog.
inline constexpr std::chrono::milliseconds kFullScanEvery{100};

class ScanFront {
public:
  using TimePoint = Clock::TimePoint;

  // `kinds`: the handled kinds in the order of the claim's kinds array.
  ScanFront(std::vector<std::string> kinds, std::chrono::milliseconds full_scan_every, bool by_id);

  struct Params {
    std::string priorities;    // int2[]: where each kind's scan starts...
    std::string scheduled_us;  // int8[]: ...and microseconds since the epoch, NULL = from the start
    std::string ids;           // int8[]
    bool full = false;         // every kind scanned from the beginning
  };
  // The parameters of the next claim.
  Params next(TimePoint now);
  // After a claim that wanted `wanted` jobs and got `jobs`.
  void claimed(std::span<const Job> jobs, int wanted);
  // Makes the next claim a full scan (the fronts are kept for the claims after it).
  void reset();

private:
  struct Key {
    int priority;
    int64_t scheduled_us;
    int64_t id;
    auto tie() const { return std::tie(priority, scheduled_us, id); }
  };
  std::map<std::string, size_t, std::less<>> index_;  // kind -> position in the kinds array
  std::chrono::milliseconds full_scan_every_;
  bool by_id_;
  std::vector<std::optional<Key>> fronts_;  // nullopt: from the beginning (nothing taken yet)
  std::optional<TimePoint> last_full_;
};

}  // namespace pgxq::queue
