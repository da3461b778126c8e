// queue/thread_limit: RLIMIT_NPROC and the cgroup's pids.max (v2 and v1 layouts).
#include "queue/thread_limit.hpp"

#include <sys/resource.h>

#include <fstream>
#include <sstream>

namespace pgxq::queue {

namespace {

// The pids controller's directory of this process: "0::/path" (cgroup v2) or "N:pids:/path".
std::optional<std::string> pids_max_path() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  std::optional<std::string> v2;
  while (std::getline(in, line)) {
    const auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1), path = line.substr(second + 1);
    if (controllers == "pids") return "/sys/fs/cgroup/pids" + path + "/pids.max";
    if (controllers.empty() && line.starts_with("0::")) v2 = "/sys/fs/cgroup" + path + "/pids.max";
  }
  return v2;
}

}  // namespace

std::optional<ThreadLimit> thread_limit() {
  std::optional<ThreadLimit> best;
  auto consider = [&](int64_t n, std::string source) {
    if (n > 0 && (!best || n < best->threads)) best = ThreadLimit{n, std::move(source)};
  };
  rlimit rl{};
  if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    consider(static_cast<int64_t>(rl.rlim_cur), "RLIMIT_NPROC (LimitNPROC=, ulimit -u; counts every process of the user)");
  if (auto path = pids_max_path()) {
    std::ifstream in(*path);
    std::string value;
    if (in >> value && value != "max") {
      int64_t n = 0;
      std::istringstream(value) >> n;
      consider(n, "cgroup pids.max " + *path + " (TasksMax=)");
    }
  }
  return best;
}

}  // namespace pgxq::queue
