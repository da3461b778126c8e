// isolation/spawn: starts one worker process, `<executable> __plugin-worker <daemon pid>`, with
// posix_spawn (the daemon is multithreaded, so no fork): descriptors 3 (its end of a new
// socketpair), 4 (the shared-state memfd) and 5 (the plugin file) and nothing else inherited, an
// empty signal mask and default dispositions, its own process group (a Ctrl-C on the daemon's
// terminal must not reach workers), and the daemon's environment without PG* and PGXQ_*
// variables (the daemon's database settings are not the plugin's business).
//
// A worker asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG), and Linux sends that when
// the *thread* that spawned it ends: call this only on a thread that outlives the worker.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace pgxq::isolation {

struct Spawned {
  pid_t pid = -1;
  int channel_fd = -1;  // the daemon's end of the socketpair (close-on-exec); the caller owns it
};

// Throws std::system_error when the socketpair or posix_spawn fails.
Spawned spawn_worker(const std::string& executable, int shared_fd, int plugin_fd);

// The environment a worker gets: `env` (as environ) without entries whose name starts with "PG"
// (which covers PGXQ_* and PGXQD_*).
std::vector<std::string> worker_environment(char** env);

}  // namespace pgxq::isolation
