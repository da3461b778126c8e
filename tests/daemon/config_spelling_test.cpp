// The config's words said once and one way: the log level has a single name per level (the one
// log lines print, "warning"; "warn" is read as it), and a refused table name is named once.
#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "app/options.hpp"
#include "config/config.hpp"
#include "config_load.hpp"

using namespace pgxq;

namespace {

std::string error_of(const std::string& text) { return test::config_error(text, "/etc/pgxqd/test.toml"); }

size_t occurrences(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("config: the warning level is spelled as log lines print it, and the short form is read too") {
  CHECK(std::string(config::to_string(config::LogLevel::warn)) == "warning");
  for (const char* spelling : {"warning", "warn"}) {
    auto c = config::load_string(std::string("[log]\nlevel = \"") + spelling + "\"\n", "t.toml", app::config_defaults());
    INFO(spelling);
    CHECK(c->log.level == config::LogLevel::warn);
  }
  // Every name the config prints back (reload notes, JSON lines) reads back as the same level.
  for (auto level : {config::LogLevel::trace, config::LogLevel::debug, config::LogLevel::info, config::LogLevel::warn,
                     config::LogLevel::error, config::LogLevel::critical}) {
    auto c = config::load_string(std::string("[log]\nlevel = \"") + config::to_string(level) + "\"\n", "t.toml",
                                 app::config_defaults());
    CHECK(c->log.level == level);
  }
}

TEST_CASE("config: a refused table name is named once, with the rule it breaks") {
  const std::pair<const char*, const char*> cases[] = {{"Jobs", "invalid character 'J'"},
                                                        {"x;drop", "invalid character ';'"},
                                                        {"1job", "a part starts with a digit"},
                                                        {"a.b.c", "more than one '.'"},
                                                        {".job", "empty schema part"}};
  for (auto [bad, rule] : cases) {
    const std::string e = error_of(std::string("[queues.mail]\ntable = \"") + bad + "\"\n");
    INFO(bad, " -> ", e);
    CHECK(occurrences(e, "queues.mail.table: invalid table name \"" + std::string(bad) + "\": " + rule) == 1);
    CHECK(occurrences(e, "invalid table name") == 1);
    CHECK(occurrences(e, std::string("\"") + bad + "\"") == 1);
  }
  const std::string empty = error_of("[worker]\ntable = \"\"\n");
  CHECK(occurrences(empty, "invalid table name \"\": table name must not be empty") == 1);
}
