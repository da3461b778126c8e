// What the C++ SDK's boundary makes of an exception leaving a handler: a failed attempt (RETRY,
// the daemon's backoff) named "<demangled dynamic type>: <what()>", for std exceptions, the
// plugin's own types, SQL and args errors and std::bad_alloc; a clear "unknown exception" for
// types not derived from std::exception; a discard as "panic" only for pgxq::Panic; and
// pgxq::Discard still a discard. Through the loader, with a job context over a real transaction.
#include <doctest/doctest.h>

#include "plugin_test_support.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;
using queue::OutcomeCode;

namespace {

struct Throwing : LoadedPluginDir {
  Throwing() {
    dir.add_fixture("throwing");
    load();
  }
};

void check_failed_attempt(const queue::Outcome& o, const std::string& message) {
  CHECK(o.code == OutcomeCode::retry);
  CHECK(o.message == message);
  CHECK_FALSE(o.delay.has_value());  // the daemon's backoff, not a delay of the handler's
}

}  // namespace

TEST_CASE("exception boundary: a std exception is a failed attempt named by its type") {
  Throwing t;
  check_failed_attempt(t.run("throw_runtime_error", R"({"message": "boom"})"), "std::runtime_error: boom");
  check_failed_attempt(t.run("throw_derived"), "fixture::GreetingError: no greeting today");
  check_failed_attempt(t.run("throw_bad_alloc"), "std::bad_alloc: std::bad_alloc");
  check_failed_attempt(t.run("throw_arg"), "pgxq::ArgError: args: \"count\" is required but missing or null");
}

TEST_CASE("exception boundary: a failed exec left uncaught is a failed attempt with the SQLSTATE") {
  Throwing t;
  std::string table = unique_name("no_such_greetings");
  check_failed_attempt(t.run("throw_sql", R"({"table": ")" + table + R"("})"),
                       "pgxq::SqlError: relation \"" + table + "\" does not exist (SQLSTATE 42P01)");
}

TEST_CASE("exception boundary: a type not derived from std::exception is named as unknown") {
  Throwing t;
  check_failed_attempt(t.run("throw_int"),
                       "unknown exception of type int (not derived from std::exception, so no message)");
  check_failed_attempt(t.run("throw_struct"),
                       "unknown exception of type fixture::NotAnException (not derived from std::exception, so no "
                       "message)");
}

TEST_CASE("exception boundary: pgxq::Panic discards as a panic, pgxq::Discard as a discard") {
  Throwing t;
  auto o = t.run("throw_panic");
  CHECK(o.code == OutcomeCode::panic);  // recorded by the engine as "panic: the sky fell"
  CHECK(o.message == "the sky fell");
  o = t.run("return_discard", R"({"message": "bye"})");
  CHECK(o.code == OutcomeCode::discard);
  CHECK(o.message == "bye");
}
