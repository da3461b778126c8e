// isolation/process_stats: what the daemon reads of a worker process in /proc to enforce its
// limits: resident memory now (statm), its peak (status VmHWM), CPU time used (stat utime +
// stime). The parsers are pure and unit-tested; the readers return nullopt when the process is
// gone or the file unreadable.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pgxq::isolation {

// /proc/<pid>/statm: "size resident shared text lib data dt" in pages → resident bytes, and the
// size of the address space (VSZ) in bytes.
std::optional<uint64_t> parse_statm_resident(std::string_view statm, uint64_t page_size);
std::optional<uint64_t> parse_statm_size(std::string_view statm, uint64_t page_size);
// /proc/<pid>/stat: utime and stime (fields 14 and 15, after the parenthesised command, which
// may hold spaces and parentheses) in clock ticks → their sum.
std::optional<uint64_t> parse_stat_cpu_ticks(std::string_view stat);
// /proc/<pid>/status: the "VmHWM:  1234 kB" line → bytes.
std::optional<uint64_t> parse_status_vmhwm(std::string_view status);

std::optional<uint64_t> resident_bytes(pid_t pid);
std::optional<uint64_t> virtual_bytes(pid_t pid);
std::optional<std::chrono::microseconds> cpu_time(pid_t pid);
std::optional<uint64_t> peak_resident_bytes(pid_t pid);

}  // namespace pgxq::isolation
