// testkit: the kinds every end-to-end test and benchmark relies on. Their names and args are
// an interface of pgxqd (tools outside this tree enqueue them); keep them exactly:
//   noop                                                  complete
//   sleep   {"ms": N}                                     wait N ms in steps of at most 10 ms,
//                                                         checking should-stop; complete, or
//                                                         retry "cancelled" when told to stop;
//                                                         logs "sleeping N ms" at debug level
//                                                         when N > 0 (tests see it start)
//   fail    {"times": N, "message": "text"}               retry with message (default "fail")
//                                                         while attempt <= N, then complete;
//                                                         without times, always retry
//   discard {"message": "text"}                           discard with message (default "discard")
//   throw   {"message": "text"}                           throw std::runtime_error(message)
//                                                         (default "throw"): a failed attempt,
//                                                         retried with backoff, failed after
//                                                         max_attempts, recorded as
//                                                         "std::runtime_error: <message>"
//   record  {"table": "t", "value": "v", "then": "complete|fail|discard"}
//                                                         INSERT INTO t (job_id, value) in the
//                                                         job's transaction, then that outcome
//                                                         (default complete; fail = retry)
//   abort                                                 abort(): a crashing handler
//   unknown_outcome                                       returns outcome code 99
//   hang    {"ms": N}                                     ignores should-stop; completes after
//                                                         N ms, or never without "ms": a handler
//                                                         that shutdown cannot stop
//   hang_log {"every_ms": N}                              ignores should-stop and never returns;
//                                                         logs "still running" through the job
//                                                         every N ms (default 5) and through the
//                                                         plugin (debug) every 0.1 ms: a stuck
//                                                         handler that keeps calling the host
//   snooze  {"ms": N, "times": K}                         snooze N ms (default 0) while the
//                                                         job's snoozes < K (default 1), then
//                                                         complete (needs plugin ABI 1.1; on a
//                                                         table without the snoozes column it
//                                                         snoozes every time)
// The kinds below crash or exhaust their process for real. They exist for isolation = "process"
// (a worker dies, the daemon records the attempt with the cause); in thread mode they take the
// daemon down, as any such plugin would:
//   segv                                                  writes through a null pointer (SIGSEGV)
//   exit    {"status": N}                                 _exit(N) (default 3) without returning
//   oom                                                   allocates and touches 1 MiB chunks,
//                                                         never freed, until an allocation fails
//                                                         (then abort()): a memory limit's target
//   spin                                                  burns CPU forever, never checks
//                                                         should-stop: a cpu limit's target
// Args a kind cannot use (missing, mistyped, not a JSON object) are a discard carrying the
// SDK's message ("args: ..."): no retry can fix them.
#include <pgxq/plugin.hpp>

#include <algorithm>
#include <csignal>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace {

using namespace std::chrono_literals;

// Table names as go-pgxq validates them: lowercase letters, digits, _, at most one dot, no
// leading digit, no empty part. Returns the quoted name, or empty when invalid.
std::string quoted_table(std::string_view name) {
  std::string out = "\"";
  bool part_start = true;
  int dots = 0;
  for (char c : name) {
    if (c == '.') {
      if (part_start || ++dots > 1) return {};
      out += "\".\"";
      part_start = true;
      continue;
    }
    bool digit = c >= '0' && c <= '9';
    if (!((c >= 'a' && c <= 'z') || c == '_' || digit) || (part_start && digit)) return {};
    out += c;
    part_start = false;
  }
  if (part_start || name.size() > 127) return {};
  return out + "\"";
}

pgxq::Outcome sleep_job(pgxq::Job& job) {
  auto total = std::chrono::milliseconds(job.arg_or<int64_t>("ms", 0));
  if (total > 0ms) job.debug("sleeping " + std::to_string(total.count()) + " ms");
  auto deadline = std::chrono::steady_clock::now() + total;
  for (;;) {
    if (job.should_stop()) return pgxq::Retry{"cancelled"};
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= 0ms) return pgxq::Complete{};
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, 10ms));
  }
}

pgxq::Outcome fail_job(pgxq::Job& job) {
  auto message = job.arg_or<std::string>("message", "fail");
  auto times = job.arg_opt<int64_t>("times");
  if (!times || job.attempt() <= *times) return pgxq::Retry{std::move(message)};
  return pgxq::Complete{};
}

pgxq::Outcome record_job(pgxq::Job& job) {
  auto table = job.arg<std::string_view>("table");
  auto value = job.arg_opt<std::string_view>("value");
  auto then = job.arg_or<std::string_view>("then", "complete");
  if (then != "complete" && then != "fail" && then != "discard")
    return pgxq::Discard{"args: \"then\" must be complete, fail or discard (got \"" + std::string(then) + "\")"};
  std::string quoted = quoted_table(table);
  if (quoted.empty())
    return pgxq::Discard{"args: \"table\" is not a valid table name: \"" + std::string(table) + "\""};
  const std::string id = std::to_string(job.id());
  try {
    job.exec("INSERT INTO " + quoted + " (job_id, value) VALUES ($1, $2)", {id, value});
  } catch (const pgxq::HostError& e) {
    return pgxq::Retry{e.what()};
  }
  if (then == "fail") return pgxq::Retry{"record: then fail"};
  if (then == "discard") return pgxq::Discard{"record: then discard"};
  return pgxq::Complete{};
}

// Deliberately deaf to should_stop(): what a handler stuck in a blocking call looks like.
pgxq::Outcome hang_job(pgxq::Job& job) {
  auto ms = job.arg_opt<int64_t>("ms");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms.value_or(0));
  while (!ms || std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  return pgxq::Complete{};
}

// An ArgError left to escape would be a failed attempt, retried to no avail: discard instead.
template <class F>
auto discarding_bad_args(F handler) {
  return [handler](pgxq::Job& job) -> pgxq::Outcome {
    try {
      return handler(job);
    } catch (const pgxq::ArgError& e) {
      return pgxq::Discard{e.what()};
    }
  };
}

// The plugin handle is the loader's: logging through it reads the host's record of the plugin.
// That is done often (filtered out at debug level), so a record torn down under the handler is
// touched within a fraction of a millisecond.
pgxq::Outcome hang_log_job(pgxq::Job& job, const pgxq_plugin_host* host, pgxq_plugin* plugin) {
  const auto every = std::chrono::milliseconds(std::max<int64_t>(1, job.arg_or<int64_t>("every_ms", 5)));
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    host->plugin_log(plugin, PGXQ_LOG_DEBUG, "a handler is still running");
    if (std::chrono::steady_clock::now() >= next) {
      job.log(pgxq::Level::info, "still running");
      next += every;
    }
    std::this_thread::sleep_for(100us);
  }
}

pgxq::Outcome snooze_job(pgxq::Job& job) {
  const auto ms = job.arg_or<int64_t>("ms", 0);
  if (job.snoozes() < job.arg_or<int64_t>("times", 1)) return pgxq::Snooze{std::chrono::milliseconds(ms)};
  return pgxq::Complete{};
}

// The null pointer is read from a volatile so the compiler cannot see it and replace the store
// with a trap of its own: the process gets a real SIGSEGV.
int* volatile null_target = nullptr;

// UndefinedBehaviorSanitizer would stop the store itself (exit 1), and AddressSanitizer's
// SIGSEGV handler would turn the signal into exit 1: a sanitizer build must crash as a release
// build does.
[[noreturn]] __attribute__((no_sanitize("undefined"))) void segv_job() {
#if defined(__SANITIZE_ADDRESS__)
  std::signal(SIGSEGV, SIG_DFL);
#endif
  *null_target = 1;
  std::abort();  // not reached
}

[[noreturn]] void exit_job(pgxq::Job& job) {
  std::_Exit(static_cast<int>(job.arg_or<int64_t>("status", 3)));
}

// Each chunk's first word links to the previous one, and the head lives in a volatile global:
// the memory stays reachable and every page is written, so it counts as resident.
void* volatile oom_chunks = nullptr;

[[noreturn]] void oom_job() {
  constexpr size_t chunk = size_t{1} << 20;
  for (;;) {
    void* p = std::malloc(chunk);
    if (!p) std::abort();
    std::memset(p, 0xa5, chunk);
    *static_cast<void**>(p) = oom_chunks;
    oom_chunks = p;
  }
}

std::atomic<uint64_t> spin_sink{0};

[[noreturn]] void spin_job() {
  for (uint64_t i = 0;; ++i) spin_sink.store(i * 2654435761u, std::memory_order_relaxed);
}

// Returned through the raw C API: the C++ outcome types cannot express an unknown code.
int unknown_outcome(const pgxq_plugin_host*, pgxq_plugin_job*, void*) { return 99; }

}  // namespace

PGXQ_PLUGIN("testkit", "1.0.0", [](pgxq::Plugin& p) {
  p.handle("noop", [](pgxq::Job&) -> pgxq::Outcome { return pgxq::Complete{}; });
  p.handle("sleep", discarding_bad_args(sleep_job));
  p.handle("fail", discarding_bad_args(fail_job));
  p.handle("discard", discarding_bad_args([](pgxq::Job& job) -> pgxq::Outcome {
    return pgxq::Discard{job.arg_or<std::string>("message", "discard")};
  }));
  p.handle("throw", discarding_bad_args([](pgxq::Job& job) -> pgxq::Outcome {
    throw std::runtime_error(job.arg_or<std::string>("message", "throw"));
  }));
  p.handle("record", discarding_bad_args(record_job));
  p.handle("abort", [](pgxq::Job&) -> pgxq::Outcome { std::abort(); });
  p.handle("hang", discarding_bad_args(hang_job));
  p.handle("hang_log", [host = p.host(), plugin = p.raw()](pgxq::Job& job) { return hang_log_job(job, host, plugin); });
  p.handle("snooze", discarding_bad_args(snooze_job));
  if (p.host()->register_handler(p.raw(), "unknown_outcome", unknown_outcome, nullptr) != PGXQ_PLUGIN_OK)
    throw std::runtime_error(p.host()->last_error());
  // Appended kinds (never reorder the ones above).
  p.handle("segv", [](pgxq::Job&) -> pgxq::Outcome { segv_job(); });
  p.handle("exit", discarding_bad_args([](pgxq::Job& job) -> pgxq::Outcome { exit_job(job); }));
  p.handle("oom", [](pgxq::Job&) -> pgxq::Outcome { oom_job(); });
  p.handle("spin", [](pgxq::Job&) -> pgxq::Outcome { spin_job(); });
});
