// Fuzz target: the C++ plugin wrapper's args accessors (pgxq::Job::arg / arg_opt / arg_or over
// simdjson On-Demand) on arbitrary args text. Every accessor either returns a value or throws
// pgxq::ArgError with a message; nothing else escapes, and nothing reads out of bounds.
// The first input byte picks the key; the rest is the args text the host hands over.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include <pgxq/plugin.hpp>

namespace {

struct FakeJob {
  std::string args;
};

const char* fake_args(const pgxq_plugin_job* job, size_t* len) {
  auto* j = reinterpret_cast<const FakeJob*>(job);
  if (len) *len = j->args.size();
  return j->args.c_str();
}

const pgxq_plugin_host* host() {
  static const pgxq_plugin_host h = [] {
    pgxq_plugin_host x;
    std::memset(&x, 0, sizeof x);
    x.abi_major = PGXQ_PLUGIN_ABI_MAJOR;
    x.abi_minor = PGXQ_PLUGIN_ABI_MINOR;
    x.struct_size = sizeof x;
    x.job_args = fake_args;
    return x;
  }();
  return &h;
}

template <class F>
void expect_arg_error_only(F&& f) {
  try {
    f();
  } catch (const pgxq::ArgError& e) {
    if (std::strlen(e.what()) == 0) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* keys[] = {"ms", "table", "value", "then", "times", "message", "", "a\"b", "\xc3\xa9"};
  const char* key = keys[data[0] % (sizeof keys / sizeof keys[0])];
  FakeJob fj{std::string(reinterpret_cast<const char*>(data + 1), size - 1)};
  pgxq::Job job(host(), reinterpret_cast<pgxq_plugin_job*>(&fj));
  expect_arg_error_only([&] { (void)job.arg_opt<int64_t>(key); });
  expect_arg_error_only([&] { (void)job.arg_opt<int>(key); });
  expect_arg_error_only([&] { (void)job.arg_opt<uint8_t>(key); });
  expect_arg_error_only([&] { (void)job.arg_opt<double>(key); });
  expect_arg_error_only([&] { (void)job.arg_opt<bool>(key); });
  expect_arg_error_only([&] { (void)job.arg_or<std::string>(key, "x"); });
  expect_arg_error_only([&] {
    // string_views must stay valid across later lookups on the same Job.
    auto a = job.arg_opt<std::string_view>(key);
    auto b = job.arg_opt<std::string_view>("message");
    if (a && b && a->size() > 0) {
      volatile char c = (*a)[a->size() - 1];
      (void)c;
    }
  });
  expect_arg_error_only([&] { (void)job.arg<std::string>(key); });
  return 0;
}
