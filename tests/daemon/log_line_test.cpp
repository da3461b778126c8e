// One event, one log line (pg/one_line, app/logging): CR, LF and other control bytes in a
// message are escaped visibly in every log style, so no text from a job, a handler or the server
// can start a line that looks like pgxqd's or carries a journald "<N>" priority of its own.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>

#include <spdlog/logger.h>

#include "app/logging.hpp"
#include "pg/one_line.hpp"
#include "support.hpp"

using namespace pgxq;

namespace {

std::string captured_stderr(app::LogStyle style, const std::string& message) {
  std::fflush(stderr);
  std::string dir = test::temp_dir("log-line");
  std::string path = dir + "/stderr";
  FILE* file = std::fopen(path.c_str(), "w");
  REQUIRE(file);
  int saved = dup(STDERR_FILENO);
  dup2(fileno(file), STDERR_FILENO);
  {
    auto log = app::make_logger(style, config::LogLevel::info);
    log->warn("job 7 (kind k, queue q) failed: {}", message);
    log->info("next event");
  }
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::fclose(file);
  std::string out = test::read_file(path);
  std::remove(path.c_str());
  ::rmdir(dir.c_str());
  return out;
}

}  // namespace

TEST_CASE("one_line: line breaks and control bytes escaped visibly, everything else unchanged") {
  CHECK(pg::one_line("a\nb\r\nc") == "a\\nb\\r\\nc");
  CHECK(pg::one_line(std::string("nul\0x", 5)) == "nul\\x00x");
  CHECK(pg::one_line("\x1b[31mred") == "\\x1b[31mred");
  CHECK(pg::one_line("tab\tand \xc3\xa9t\xc3\xa9 <0>") == "tab\tand \xc3\xa9t\xc3\xa9 <0>");
  CHECK(pg::one_line("\x7f") == "\\x7f");
  CHECK_FALSE(pg::needs_one_line("plain text, <3> and all"));
  CHECK(pg::needs_one_line("a\nb"));
}

TEST_CASE("logging: a message with CR/LF and <N> stays on its line in every style") {
  const std::string hostile = "bad\n<0>forged\r\n<1>also forged";
  for (auto style : {app::LogStyle::plain, app::LogStyle::journal, app::LogStyle::terminal, app::LogStyle::json}) {
    CAPTURE(static_cast<int>(style));
    std::string out = captured_stderr(style, hostile);
    INFO(out);
    std::istringstream in(out);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    REQUIRE(lines.size() == 2);  // the event and "next event"
    CHECK(lines[0].find("forged") != std::string::npos);
    CHECK(lines[0].find('\r') == std::string::npos);
    CHECK(lines[1].find("next event") != std::string::npos);
    if (style == app::LogStyle::journal) {
      CHECK(lines[0].rfind("<4>", 0) == 0);  // warn's priority, and only one
      CHECK(lines[1].rfind("<6>", 0) == 0);
    }
  }
}
