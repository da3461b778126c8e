// queue/scan_front: per-kind start keys of the claim's index scans, and when to scan in full.
#include "queue/scan_front.hpp"

#include <algorithm>
#include <limits>

namespace pgxq::queue {

ScanFront::ScanFront(std::vector<std::string> kinds, std::chrono::milliseconds full_scan_every)
    : full_scan_every_(full_scan_every), fronts_(kinds.size()) {
  for (size_t i = 0; i < kinds.size(); ++i) index_.emplace(std::move(kinds[i]), i);
}

void ScanFront::reset() {
  std::fill(fronts_.begin(), fronts_.end(), std::nullopt);
  last_full_.reset();
}

ScanFront::Params ScanFront::next(TimePoint now) {
  Params p;
  if (!last_full_ || now - *last_full_ >= full_scan_every_) {
    std::fill(fronts_.begin(), fronts_.end(), std::nullopt);
    last_full_ = now;
    p.full = true;
  }
  p.priorities = "{";
  p.scheduled_us = "{";
  for (size_t i = 0; i < fronts_.size(); ++i) {
    if (i) {
      p.priorities += ',';
      p.scheduled_us += ',';
    }
    // From the beginning: the smallest priority there is, and NULL for -infinity.
    p.priorities += std::to_string(fronts_[i] ? fronts_[i]->priority : std::numeric_limits<int16_t>::min());
    p.scheduled_us += fronts_[i] ? std::to_string(fronts_[i]->scheduled_us) : "NULL";
  }
  p.priorities += '}';
  p.scheduled_us += '}';
  return p;
}

void ScanFront::claimed(std::span<const Job> jobs, int wanted) {
  if (static_cast<int>(jobs.size()) < wanted) {
    // Short: the scans may have started past jobs that are due. Look again from the start.
    reset();
    return;
  }
  std::vector<bool> moved(fronts_.size(), false);
  for (const Job& j : jobs) {
    auto it = index_.find(j.kind);
    if (it == index_.end()) continue;
    const size_t i = it->second;
    Key k{j.priority, j.scheduled_at_us};
    // The first job taken of the kind: everything before it was dead, locked by another
    // worker, or not there yet.
    if (!moved[i] || std::tie(k.priority, k.scheduled_us) < std::tie(fronts_[i]->priority, fronts_[i]->scheduled_us))
      fronts_[i] = k;
    moved[i] = true;
  }
}

}  // namespace pgxq::queue
