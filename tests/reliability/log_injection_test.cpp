// Log injection end to end: text a job controls (a handler's retry and discard messages, which
// pgxqd logs) holding CR/LF and a "<N>" priority must not start a log line of its own, neither
// in plain text lines nor in journald lines (where a line starting "<0>" would be an emergency).
#include <doctest/doctest.h>

#include <sstream>

#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
namespace pg = pgxq::pg;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("log injection: a handler's message with CR/LF and <N> stays inside its own log line") {
  TempTable t("rel_log_injection");
  const std::string& table = t.name();
  const std::string db = conninfo();
  // The journal style comes from JOURNAL_STREAM (stderr is a file here, not a terminal).
  for (const bool journal : {false, true}) {
    CAPTURE(journal);
    auto c = connect();
    c.exec("DELETE FROM " + table);
    c.exec("INSERT INTO " + table + " (kind, args, max_attempts) VALUES "
           "('discard', '{\"message\": \"bad input\\n<0>forged discard\"}', 5), "
           "('fail', '{\"times\": 1, \"message\": \"flaky\\r\\n<1>forged retry\"}', 5)");
    DaemonConfig cfg(table, {{"poll_interval", "\"100ms\""}}, "[log]\nformat = \"auto\"\nlevel = \"debug\"\n");
    std::map<std::string, std::string> env;
    if (journal) env["JOURNAL_STREAM"] = "8:12345";
    Daemon d(cfg.path, env);
    d.start();
    const bool worked = wait_count(db,
                                   "SELECT count(*) FROM " + table + " WHERE state IN ('discarded', 'completed')", 2);
    const auto code = d.stop();
    const std::string log = d.log();
    INFO(log);
    REQUIRE(worked);
    REQUIRE(code == 0);
    // The messages were logged (so the test would see a forged line) ...
    CHECK(log.find("forged discard") != std::string::npos);
    CHECK(log.find("forged retry") != std::string::npos);
    // ... visibly escaped, on the line of the event they belong to.
    CHECK(log.find("bad input\\n<0>forged discard") != std::string::npos);
    CHECK(log.find("flaky\\r\\n<1>forged retry") != std::string::npos);
    for (const auto& line : lines_of(log)) {
      CHECK(line.find('\r') == std::string::npos);
      CHECK(line.rfind("<0>", 0) != 0);
      CHECK(line.rfind("<1>", 0) != 0);
      CHECK(line.rfind("forged", 0) != 0);
    }
  }
}
