// isolation/death_cause: see death_cause.hpp.
#include "isolation/death_cause.hpp"

#include <sys/wait.h>

#include <cstring>

namespace pgxq::isolation {

std::string signal_text(int signo) {
  std::string text = "signal " + std::to_string(signo);
  if (const char* abbrev = ::sigabbrev_np(signo)) text += std::string(" (SIG") + abbrev + ")";
  return text;
}

std::string death_cause(int wait_status) {
  if (WIFSIGNALED(wait_status)) return "worker process died: " + signal_text(WTERMSIG(wait_status));
  if (WIFEXITED(wait_status)) return "worker process exited with status " + std::to_string(WEXITSTATUS(wait_status));
  return "worker process ended with wait status " + std::to_string(wait_status);
}

std::string size_text(uint64_t bytes) {
  constexpr uint64_t mib = uint64_t{1} << 20;
  if (bytes != 0 && bytes % mib == 0) return std::to_string(bytes / mib) + " MiB";
  return std::to_string(bytes) + " bytes";
}

std::string cpu_text(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string memory_limit_cause(uint64_t bytes) { return "killed: memory limit " + size_text(bytes); }

std::string cpu_limit_cause(std::chrono::milliseconds limit) { return "killed: cpu limit " + cpu_text(limit); }

std::string killed_alive_cause(const std::string& why) { return "worker process " + why + "; killed"; }

}  // namespace pgxq::isolation
