// queue/clock: where the engine reads the time. Every decision the engine takes by the clock —
// when a claim is due, when the claim scans every kind in full, when the rescuer runs, how long
// an outage lasted — reads it through this interface, so tests can drive those decisions with a
// clock they set by hand (the model is Envoy's TimeSource). Waiting is not part of it: a thread
// still sleeps on the real clock, for as long as the decision says is left (see Producer).
#pragma once

#include <chrono>
#include <memory>

namespace pgxq::queue {

class Clock {
public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = TimePoint::duration;

  virtual ~Clock() = default;
  virtual TimePoint now() const noexcept = 0;
};

// std::chrono::steady_clock behind the interface: the engine's clock unless told otherwise.
// Stateless, so one instance is shared.
std::shared_ptr<const Clock> real_clock();

}  // namespace pgxq::queue
