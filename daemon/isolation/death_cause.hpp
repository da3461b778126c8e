// isolation/death_cause: the texts recorded on a job whose worker process died or was killed,
// and logged for the operator. Pure functions, unit-tested word for word: tests and operators
// match on them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace pgxq::isolation {

// "signal 11 (SIGSEGV)"; "signal 77" for a number without a name.
std::string signal_text(int signo);

// From a wait status: "worker process died: signal 11 (SIGSEGV)", "worker process exited with
// status 3".
std::string death_cause(int wait_status);

// "256 MiB" when a whole number of MiB, else "1000 bytes".
std::string size_text(uint64_t bytes);

// "2s", "1500ms", "5m", "1h": the largest unit that divides the duration.
std::string cpu_text(std::chrono::milliseconds d);

// "killed: memory limit 256 MiB"
std::string memory_limit_cause(uint64_t bytes);
// "killed: cpu limit 1s"
std::string cpu_limit_cause(std::chrono::milliseconds limit);
// "worker process sent a malformed message (<why>); killed" for why = "sent a malformed
// message (<why>)": "worker process " + why + "; killed".
std::string killed_alive_cause(const std::string& why);

}  // namespace pgxq::isolation
