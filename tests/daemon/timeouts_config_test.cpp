// The timeout keys of [database] and [worker]: their defaults (the engine's), each read and
// mapped to the engine's options, and each kind of bad value reported with file, line and key.
#include <doctest/doctest.h>

#include <string>

#include "app/options.hpp"
#include "config/config.hpp"
#include "config_load.hpp"

using namespace pgxq;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<const config::Config> load(const std::string& text) { return test::load_config(text, "/etc/pgxqd/t.toml"); }
std::string error_of(const std::string& text) { return test::config_error(text, "/etc/pgxqd/t.toml"); }

}  // namespace

TEST_CASE("timeouts config: left out, the engine's defaults apply") {
  const auto o = app::engine_options(*load(""), "");
  const queue::Timeouts defaults;
  CHECK(o.timeouts.connect == defaults.connect);
  CHECK(o.timeouts.connect == 10s);
  CHECK(o.timeouts.keepalives_idle == 30s);
  CHECK(o.timeouts.keepalives_interval == 10s);
  CHECK(o.timeouts.keepalives_count == 3);
  CHECK(o.timeouts.tcp_user == 30s);
  CHECK(o.timeouts.statement == 30s);
  CHECK(o.timeouts.lock == 5s);
  CHECK(o.timeouts.pool_acquire == 60s);
  CHECK(o.timeouts.handler_statement == 0ms);
}

TEST_CASE("timeouts config: every key is read and mapped") {
  const auto o = app::engine_options(*load("[database]\n"
                                           "connect_timeout = \"3s\"\n"
                                           "keepalives_idle = \"1m\"\n"
                                           "keepalives_interval = \"5s\"\n"
                                           "keepalives_count = 7\n"
                                           "tcp_user_timeout = \"45s\"\n"
                                           "statement_timeout = \"2m\"\n"
                                           "lock_timeout = \"250ms\"\n"
                                           "acquire_timeout = \"15s\"\n"
                                           "[worker]\n"
                                           "handler_statement_timeout = \"10m\"\n"),
                                     "");
  CHECK(o.timeouts.connect == 3s);
  CHECK(o.timeouts.keepalives_idle == 60s);
  CHECK(o.timeouts.keepalives_interval == 5s);
  CHECK(o.timeouts.keepalives_count == 7);
  CHECK(o.timeouts.tcp_user == 45s);
  CHECK(o.timeouts.statement == 120s);
  CHECK(o.timeouts.lock == 250ms);
  CHECK(o.timeouts.pool_acquire == 15s);
  CHECK(o.timeouts.handler_statement == 600s);
  // "0s" turns a limit off.
  CHECK(app::engine_options(*load("[database]\nstatement_timeout = \"0s\"\n"), "").timeouts.statement == 0ms);
}

TEST_CASE("timeouts config: bad values name the file, line and key") {
  CHECK(error_of("[database]\nconnect_timeout = 10\n").find("/etc/pgxqd/t.toml:2:19: database.connect_timeout: ") !=
        std::string::npos);
  CHECK(error_of("[database]\nkeepalives_idle = \"1500ms\"\n")
            .find("database.keepalives_idle: expected a whole number of seconds") != std::string::npos);
  CHECK(error_of("[database]\nkeepalives_count = 0\n").find("database.keepalives_count: expected an integer from 1") !=
        std::string::npos);
  CHECK(error_of("[database]\nstatement_timeout = \"30d\"\n").find("database.statement_timeout: at most") !=
        std::string::npos);
  CHECK(error_of("[database]\nacquire_timeout = \"0s\"\n").find("database.acquire_timeout: ") != std::string::npos);
  CHECK(error_of("[worker]\nhandler_statement_timeout = \"soon\"\n").find("worker.handler_statement_timeout: ") !=
        std::string::npos);
  CHECK(error_of("[database]\nlock_timout = \"1s\"\n").find("did you mean \"lock_timeout\"") != std::string::npos);
}
