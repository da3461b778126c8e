// queue/thread_limit: how many threads this process may have at most, as far as it can tell —
// RLIMIT_NPROC (counted per user, over all their processes) and the cgroup's pids.max (the
// systemd unit's TasksMax=). The engine warns at start when its workers could exceed it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pgxq::queue {

struct ThreadLimit {
  int64_t threads = 0;
  std::string source;  // e.g. "RLIMIT_NPROC" or "cgroup pids.max (/sys/fs/cgroup/.../pids.max)"
};

// The tightest limit found; nullopt when none applies (unlimited, or unreadable).
std::optional<ThreadLimit> thread_limit();

// Threads the engine runs besides its workers: a claim loop per queue, the completer, the
// listener, the maintenance loop, and the daemon's signal and stop threads.
inline int64_t engine_thread_overhead(size_t queues) { return static_cast<int64_t>(queues) + 6; }

}  // namespace pgxq::queue
