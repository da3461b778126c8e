// queue/claim: one run of the claim statement (TableSql::claim) — its parameters, bound in the
// statement's order in this one place for the engine's producer, the benchmark's ceiling and
// the plan tests, so they all run the claim the same way.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "pg/connection.hpp"
#include "queue/scan_front.hpp"

namespace pgxq::queue {

class Claim {
public:
  // Up to `limit` jobs of `queue` of the kinds in `kinds` (a text[] literal, in the order the
  // ScanFront was given them), each kind's scan starting where `front` says. `queue` and
  // `kinds` are viewed, not copied: they must outlive the claim.
  Claim(std::string_view queue, std::string_view kinds, int limit, ScanFront::Params front);

  int limit() const { return limit_; }
  // Every kind is scanned from the start of the index.
  bool full_scan() const { return front_.full; }
  // $1..$7 of TableSql::claim: queue, kinds, limit, candidates (claim_candidates(limit)), and
  // the fronts' priorities, scheduled_at microseconds and ids. They view this claim.
  std::array<pg::Param, 7> params() const;

private:
  std::string_view queue_;
  std::string_view kinds_;
  int limit_;
  std::string limit_text_;
  std::string candidates_text_;
  ScanFront::Params front_;
};

}  // namespace pgxq::queue
