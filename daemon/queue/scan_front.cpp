// queue/scan_front: per-kind start keys of the claim's index scans, and when to scan in full.
#include "queue/scan_front.hpp"

#include <limits>

#include "queue/sql.hpp"

namespace pgxq::queue {

ScanFront::ScanFront(std::vector<std::string> kinds, std::chrono::milliseconds full_scan_every, bool by_id)
    : full_scan_every_(full_scan_every), by_id_(by_id), fronts_(kinds.size()) {
  for (size_t i = 0; i < kinds.size(); ++i) index_.emplace(std::move(kinds[i]), i);
}

void ScanFront::reset() { last_full_.reset(); }

ScanFront::Params ScanFront::next(TimePoint now) {
  Params p;
  p.full = !last_full_ || now - *last_full_ >= full_scan_every_;
  if (p.full) last_full_ = now;
  std::vector<int64_t> priorities, ids;
  std::vector<std::optional<int64_t>> scheduled_us;
  for (const auto& stored : fronts_) {
    // From the beginning: the smallest priority there is, NULL for -infinity, the smallest id.
    const auto& front = p.full ? std::nullopt : stored;
    priorities.push_back(front ? front->priority : std::numeric_limits<int16_t>::min());
    // A job at -infinity (or at infinity, which no claim returns) has no microseconds to send:
    // NULL, from -infinity, which is exact for the one and merely early for the other.
    const bool finite = front && front->scheduled_us != kTimeMinusInfinity && front->scheduled_us != kTimePlusInfinity;
    scheduled_us.push_back(finite ? std::optional(front->scheduled_us) : std::nullopt);
    ids.push_back(front && by_id_ ? front->id : std::numeric_limits<int64_t>::min());
  }
  p.priorities = int_array(priorities);
  p.scheduled_us = int_array(scheduled_us);
  p.ids = int_array(ids);
  return p;
}

void ScanFront::claimed(std::span<const Job> jobs, int wanted) {
  // Short: the scans may have started past jobs that are due. Look again from the start.
  if (static_cast<int>(jobs.size()) < wanted) reset();
  // Each kind's front moves to the first job taken of it: everything before that was dead,
  // locked by another worker, or not there yet. After a full scan that may be behind the old
  // front. A kind the claim took nothing of keeps its front: a full scan that took nothing of
  // it found nothing of it better than what it took of the others, and a kind drained long ago
  // must not walk its dead entries from the start on every claim.
  std::vector<bool> moved(fronts_.size(), false);
  for (const Job& j : jobs) {
    auto it = index_.find(j.kind);
    if (it == index_.end()) continue;
    const size_t i = it->second;
    Key k{j.priority, j.scheduled_at_us, j.id};
    if (!moved[i] || k.tie() < fronts_[i]->tie()) fronts_[i] = k;
    moved[i] = true;
  }
}

}  // namespace pgxq::queue
