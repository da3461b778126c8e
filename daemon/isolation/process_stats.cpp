// isolation/process_stats: see process_stats.hpp.
#include "isolation/process_stats.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>

namespace pgxq::isolation {

namespace {

// The whole of a small /proc file, or nullopt.
std::optional<std::string> read_proc(pid_t pid, const char* name) {
  const std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (1u << 20)) break;
  }
  ::close(fd);
  return text;
}

std::string_view skip_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// The unsigned number at the start of `s` (after spaces); advances `s` past it.
std::optional<uint64_t> take_number(std::string_view& s) {
  s = skip_spaces(s);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  s.remove_prefix(static_cast<size_t>(end - s.data()));
  return v;
}

}  // namespace

std::optional<uint64_t> parse_statm_resident(std::string_view statm, uint64_t page_size) {
  if (!take_number(statm)) return std::nullopt;
  auto resident = take_number(statm);
  if (!resident) return std::nullopt;
  return *resident * page_size;
}

std::optional<uint64_t> parse_statm_size(std::string_view statm, uint64_t page_size) {
  auto size = take_number(statm);
  if (!size) return std::nullopt;
  return *size * page_size;
}

std::optional<uint64_t> parse_stat_cpu_ticks(std::string_view stat) {
  // "pid (comm) state ppid ..." — comm may contain ") ", so the last ')' ends it.
  auto close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  // After comm: field 3 (state) onwards; utime is field 14, stime field 15.
  for (int field = 3; field < 14; ++field) {
    rest = skip_spaces(rest);
    auto space = rest.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(space);
  }
  auto utime = take_number(rest);
  auto stime = take_number(rest);
  if (!utime || !stime) return std::nullopt;
  return *utime + *stime;
}

std::optional<uint64_t> parse_status_vmhwm(std::string_view status) {
  constexpr std::string_view key = "VmHWM:";
  size_t at = 0;
  while (at < status.size()) {
    auto eol = status.find('\n', at);
    std::string_view line = status.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
    if (line.substr(0, key.size()) == key) {
      line.remove_prefix(key.size());
      auto kb = take_number(line);
      if (!kb) return std::nullopt;
      line = skip_spaces(line);
      if (line.substr(0, 2) != "kB") return std::nullopt;
      return *kb * 1024;
    }
    if (eol == std::string_view::npos) break;
    at = eol + 1;
  }
  return std::nullopt;
}

std::optional<uint64_t> resident_bytes(pid_t pid) {
  auto text = read_proc(pid, "statm");
  if (!text) return std::nullopt;
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return parse_statm_resident(*text, page);
}

std::optional<uint64_t> virtual_bytes(pid_t pid) {
  auto text = read_proc(pid, "statm");
  if (!text) return std::nullopt;
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return parse_statm_size(*text, page);
}

std::optional<std::chrono::microseconds> cpu_time(pid_t pid) {
  auto text = read_proc(pid, "stat");
  if (!text) return std::nullopt;
  auto ticks = parse_stat_cpu_ticks(*text);
  if (!ticks) return std::nullopt;
  static const uint64_t hz = static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  return std::chrono::microseconds(static_cast<int64_t>(*ticks * 1'000'000 / hz));
}

std::optional<uint64_t> peak_resident_bytes(pid_t pid) {
  auto text = read_proc(pid, "status");
  if (!text) return std::nullopt;
  return parse_status_vmhwm(*text);
}

}  // namespace pgxq::isolation
