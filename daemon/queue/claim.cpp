// queue/claim: the claim statement's parameters.
#include "queue/claim.hpp"

#include "queue/sql.hpp"

namespace pgxq::queue {

Claim::Claim(std::string_view queue, std::string_view kinds, int limit, ScanFront::Params front)
    : queue_(queue),
      kinds_(kinds),
      limit_(limit),
      limit_text_(std::to_string(limit)),
      candidates_text_(std::to_string(claim_candidates(limit))),
      front_(std::move(front)) {}

std::array<pg::Param, 7> Claim::params() const {
  return {queue_, kinds_, limit_text_, candidates_text_, front_.priorities, front_.scheduled_us, front_.ids};
}

}  // namespace pgxq::queue
