// The daemon's logger (app/logging): one mapping of levels — the config's names and filtering,
// JSON "level" names, journald priorities — and JSON lines that are valid UTF-8 by the same
// rules as text bound for PostgreSQL (pg/utf8), whatever bytes a message holds.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

#include <spdlog/logger.h>

#include "app/logging.hpp"
#include "pg/utf8.hpp"
#include "support.hpp"

using namespace pgxq;

namespace {

// What `body` writes to stderr (fd 2 is pointed at a temporary file meanwhile).
std::string captured_stderr(const std::function<void()>& body) {
  std::fflush(stderr);
  std::string path = test::temp_dir("logging") + "/stderr";
  FILE* file = std::fopen(path.c_str(), "w");
  REQUIRE(file);
  int saved = dup(STDERR_FILENO);
  dup2(fileno(file), STDERR_FILENO);
  body();
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::fclose(file);
  return test::read_file(path);
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("logging: JSON lines name every level as the config does") {
  auto out = captured_stderr([] {
    auto log = app::make_logger(app::LogStyle::json, config::LogLevel::trace);
    log->trace("t");
    log->debug("d");
    log->info("i");
    log->warn("w");
    log->error("e");
    log->critical("c");
  });
  for (auto level : {config::LogLevel::trace, config::LogLevel::debug, config::LogLevel::info, config::LogLevel::warn,
                     config::LogLevel::error, config::LogLevel::critical}) {
    CAPTURE(config::to_string(level));
    CHECK(contains(out, std::string("\"level\":\"") + config::to_string(level) + "\""));
  }
}

TEST_CASE("logging: journal lines carry the syslog priority, and the config level filters") {
  auto out = captured_stderr([] {
    auto log = app::make_logger(app::LogStyle::journal, config::LogLevel::debug);
    log->trace("hidden-trace");
    log->debug("d");
    log->info("i");
    log->warn("w");
    log->error("e");
    log->critical("c");
    app::set_level(*log, config::LogLevel::error);
    log->warn("hidden-warn");
    log->error("e2");
  });
  CHECK_FALSE(contains(out, "hidden"));
  CHECK(contains(out, "<7>d\n"));
  CHECK(contains(out, "<6>i\n"));
  CHECK(contains(out, "<4>w\n"));
  CHECK(contains(out, "<3>e\n"));
  CHECK(contains(out, "<2>c\n"));
  CHECK(contains(out, "<3>e2\n"));
}

TEST_CASE("logging: JSON lines replace what is not UTF-8 by PostgreSQL's rules") {
  // An overlong '/', a UTF-16 surrogate, a code point above U+10FFFF, a truncated sequence,
  // then well-formed text that must survive.
  const std::string message = "a\xC0\xAF b\xED\xA0\x80 c\xF4\x90\x80\x80 d\xE2\x82 \xC3\xA9\xE2\x82\xAC";
  auto out = captured_stderr([&] {
    auto log = app::make_logger(app::LogStyle::json, config::LogLevel::info);
    log->info("{}", message);
  });
  CHECK(pg::valid_utf8(out));
  CHECK(contains(out, "a\xEF\xBF\xBD\xEF\xBF\xBD b\xEF\xBF\xBD"));
  CHECK(contains(out, " \xC3\xA9\xE2\x82\xAC\"}"));
}
