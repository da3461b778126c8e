// queue/clock: the real clock.
#include "queue/clock.hpp"

namespace pgxq::queue {

namespace {

class SteadyClock final : public Clock {
public:
  TimePoint now() const noexcept override { return std::chrono::steady_clock::now(); }
};

}  // namespace

std::shared_ptr<const Clock> real_clock() {
  static const std::shared_ptr<const Clock> clock = std::make_shared<const SteadyClock>();
  return clock;
}

}  // namespace pgxq::queue
