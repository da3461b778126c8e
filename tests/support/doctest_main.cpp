// doctest's main, plus a guard: a run whose filters select no test case fails. ctest runs each
// TEST_CASE by name; a name that doctest_discover_tests mangled (e.g. split at ';') must not
// pass silently by running nothing.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

bool g_nothing_selected = false;  // written once by the listener, read by main

struct NothingSelectedGuard : doctest::IReporter {
  explicit NothingSelectedGuard(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    g_nothing_selected = stats.numTestCasesPassingFilters == 0;
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("nothing_selected_guard", 1, NothingSelectedGuard);

int main(int argc, char** argv) {
#if defined(__SANITIZE_ADDRESS__)
  // The processes a test starts (pgxqd, its worker processes) must die of a SIGSEGV as a release
  // build does, not exit 1 from AddressSanitizer's handler: the tests assert on the signal.
  {
    const char* given = std::getenv("ASAN_OPTIONS");
    std::string options = given ? given : "";
    setenv("ASAN_OPTIONS", (options + (options.empty() ? "" : ":") + "handle_segv=0").c_str(), 1);
  }
#endif
  doctest::Context context(argc, argv);
  int rc = context.run();
  if (context.shouldExit()) return rc;  // --help, --list-test-cases, ...
  if (rc == 0 && g_nothing_selected) {
    std::fprintf(stderr, "error: the test filters selected no test case\n");
    return 1;
  }
  return rc;
}
