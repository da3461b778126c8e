// [http] listen in the config: the accepted forms and their normal form, the refused ones with
// file, line and key, and SIGHUP's plan (a changed address needs a restart).
#include <doctest/doctest.h>

#include "app/options.hpp"
#include "app/reload.hpp"
#include "config/config.hpp"
#include "config/listen.hpp"

namespace config = pgxq::config;

namespace {

std::shared_ptr<const config::Config> load(std::string_view text) {
  return config::load_string(text, "/etc/pgxqd/pgxqd.toml", pgxq::app::config_defaults());
}

}  // namespace

TEST_CASE("config [http] listen: off unless set, and the forms it accepts with what they mean") {
  CHECK(load("")->http.listen.empty());
  CHECK(load("[http]\n")->http.listen.empty());
  CHECK(load("[http]\nlisten = \":9187\"\n")->http.listen == "127.0.0.1:9187");  // loopback
  CHECK(load("[http]\nlisten = \"0.0.0.0:9187\"\n")->http.listen == "0.0.0.0:9187");
  CHECK(load("[http]\nlisten = \"127.0.0.1:0\"\n")->http.listen == "127.0.0.1:0");
  CHECK(load("[http]\nlisten = \"[::1]:9187\"\n")->http.listen == "[::1]:9187");
  CHECK(load("[http]\nlisten = \"10.1.2.3:80\"\n")->http.listen == "10.1.2.3:80");
}

TEST_CASE("config [http] listen: refused values name file, line, key and the forms that work") {
  for (const char* bad : {"9187", "localhost:9187", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                          "127.0.0.1:80x", "::1:9187", "[::1]", "[::1]9187", "[nothost]:80", "300.0.0.1:80", ""}) {
    CAPTURE(bad);
    try {
      load(std::string("\n[http]\nlisten = \"") + bad + "\"\n");
      FAIL("accepted");
    } catch (const config::ConfigError& e) {
      const std::string what = e.what();
      CHECK(what.find("/etc/pgxqd/pgxqd.toml:3:") == 0);
      CHECK(what.find("http.listen: invalid listen address") != std::string::npos);
      CHECK(what.find("\":9187\"") != std::string::npos);
    }
  }
  CHECK_THROWS_WITH_AS(load("[http]\nlisten = 9187\n"), doctest::Contains("http.listen: expected a string"),
                       config::ConfigError);
  CHECK_THROWS_WITH_AS(load("[http]\nport = 9187\n"), doctest::Contains("unknown key \"port\" in [http]"),
                       config::ConfigError);
  // A bare port gets a hint towards the loopback form.
  CHECK_THROWS_WITH_AS(load("[http]\nlisten = \"9187\"\n"), doctest::Contains("write \":9187\" for loopback"),
                       config::ConfigError);
}

TEST_CASE("config [http] listen: a change on SIGHUP needs a restart") {
  auto before = load("[http]\nlisten = \":9187\"\n");
  auto same = load("[http]\nlisten = \"127.0.0.1:9187\"\n");
  auto moved = load("[http]\nlisten = \":9188\"\n");
  auto off = load("");
  CHECK(pgxq::app::plan_reload(*before, *same).needs_restart.empty());
  auto plan = pgxq::app::plan_reload(*before, *moved);
  REQUIRE(plan.needs_restart.size() == 1);
  CHECK(plan.needs_restart[0] == "http.listen");
  CHECK(pgxq::app::plan_reload(*before, *off).needs_restart == std::vector<std::string>{"http.listen"});
}
