// A stand-in for `pgxqd __plugin-worker` that behaves as a hostile or broken plugin's worker
// could: started by a real WorkerPool (PoolOptions::executable) in remote_handler_test, it says
// Hello like a worker, then answers each job by its kind — correctly, with malformed or
// unexpected frames, an oversized frame, an out-of-range delay, by dying, or by using up memory
// or CPU — so that the daemon side's handling of each is tested against the real pool.
#include <pgxq/plugin.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "isolation/protocol.hpp"

using namespace pgxq::isolation;

namespace {

void write_all(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(kChannelFd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) std::_Exit(0);
    done += static_cast<size_t>(n);
  }
}

std::string u32(uint32_t v) {
  std::string out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

// The reply to an Exec (Rows or ExecError).
Frame reply(Channel& ch) {
  for (;;)
    if (auto f = ch.receive(std::chrono::milliseconds(-1), kMaxDaemonFrame)) return *f;
}

OutcomeMessage outcome(int code, std::optional<std::string> message = {}, std::optional<int64_t> delay = {}) {
  return OutcomeMessage{code, std::move(message), delay};
}

const SharedState* shared = nullptr;

OutcomeMessage run(Channel& ch, const JobMessage& job) {
  const std::string& k = job.kind;
  if (k == "complete") return outcome(PGXQ_OUTCOME_COMPLETE);
  if (k == "exec_rows") {
    ch.send(encode(Exec{"SELECT $1::int + 1 AS n, NULL::text AS z", {std::string("41")}}));
    Frame f = reply(ch);
    if (f.type != static_cast<uint16_t>(MessageType::rows)) return outcome(PGXQ_OUTCOME_RETRY, "not rows");
    Rows r = decode_rows(f);
    bool ok = r.columns == std::vector<std::string>{"n", "z"} && r.row_count == 1 && r.cells.size() == 2 &&
              r.cells[0] == std::optional<std::string>("42") && !r.cells[1];
    return ok ? outcome(PGXQ_OUTCOME_COMPLETE) : outcome(PGXQ_OUTCOME_RETRY, "wrong rows");
  }
  if (k == "sql_error") {
    ch.send(encode(Exec{"SELECT * FROM pgxq_no_such_table_at_all", {}}));
    Frame f = reply(ch);
    if (f.type != static_cast<uint16_t>(MessageType::exec_error)) return outcome(PGXQ_OUTCOME_RETRY, "no error");
    ExecError e = decode_exec_error(f);
    if (e.code != PGXQ_PLUGIN_E_SQL || e.sqlstate != "42P01") return outcome(PGXQ_OUTCOME_RETRY, "wrong error");
    return outcome(PGXQ_OUTCOME_COMPLETE);  // as if it ignored the error
  }
  if (k == "nul_sql") {
    ch.send(encode(Exec{std::string("SELECT 1\0; DROP TABLE x", 23), {}}));
    Frame f = reply(ch);
    if (f.type != static_cast<uint16_t>(MessageType::exec_error)) return outcome(PGXQ_OUTCOME_RETRY, "no error");
    ExecError e = decode_exec_error(f);
    return outcome(PGXQ_OUTCOME_RETRY, "code " + std::to_string(e.code) + ": " + e.message);
  }
  if (k == "retry_delay") return outcome(PGXQ_OUTCOME_RETRY, "later", 1500);
  if (k == "snooze") return outcome(PGXQ_OUTCOME_SNOOZE, std::nullopt, 10);
  if (k == "unknown_code") return outcome(77);
  if (k == "bad_utf8") return outcome(PGXQ_OUTCOME_DISCARD, std::string("bad \xff byte"));
  if (k == "logs") {
    ch.send(encode(JobLog{PGXQ_LOG_WARN, std::string("job \xff line")}));
    ch.send(encode(PluginLog{99, "plugin line"}));
    return outcome(PGXQ_OUTCOME_COMPLETE);
  }
  if (k == "wait_stop") {
    ch.send(encode(JobLog{PGXQ_LOG_INFO, "waiting for stop"}));
    while (shared->stop.load() == 0) ::usleep(1000);
    return outcome(PGXQ_OUTCOME_RETRY, "stopped");
  }
  if (k == "garbage_type") {
    write_all(u32(2) + std::string("\xe7\x03", 2));  // type 999, no fields
    ::pause();
  }
  if (k == "truncated_outcome") {
    write_all(u32(3) + std::string("\x0a\x00\x01", 3));  // an outcome with one byte of fields
    ::pause();
  }
  if (k == "oversize") {
    write_all(u32(0xffffffffu));
    ::pause();
  }
  if (k == "bad_delay") return outcome(PGXQ_OUTCOME_RETRY, "x", -5);
  if (k == "hello_again") {
    ch.send(encode(Hello{}));
    ::pause();
  }
  if (k == "rows_from_worker") {
    ch.send(encode(Rows{}));
    ::pause();
  }
  if (k == "exit3") std::_Exit(3);
  if (k == "segv") {
    ::signal(SIGSEGV, SIG_DFL);
    ::raise(SIGSEGV);
  }
  if (k == "spin") {
    volatile uint64_t x = 0;
    for (;;) x = x + 1;
  }
  if (k == "oom") {
    std::vector<char*> keep;
    for (;;) {
      char* p = static_cast<char*>(std::malloc(1 << 20));
      if (!p) std::_Exit(1);
      std::memset(p, 1, 1 << 20);
      keep.push_back(p);
    }
  }
  return outcome(PGXQ_OUTCOME_RETRY, "fake worker: unknown kind " + k);
}

}  // namespace

int main() {
  ::signal(SIGPIPE, SIG_IGN);
  void* m = ::mmap(nullptr, sizeof(SharedState), PROT_READ, MAP_SHARED, kSharedFd, 0);
  if (m == MAP_FAILED) return 2;
  shared = static_cast<const SharedState*>(m);
  Channel ch(kChannelFd);
  try {
    std::optional<Frame> f;
    while (!f) f = ch.receive(std::chrono::milliseconds(-1), kMaxDaemonFrame);
    Setup setup = decode_setup(*f);
    Hello h;
    h.pid = static_cast<int32_t>(::getpid());
    h.name = setup.plugin_name;
    h.version = "0.0.0";
    h.abi_major = PGXQ_PLUGIN_ABI_MAJOR;
    h.kinds = {"complete", "exec_rows", "sql_error", "nul_sql", "retry_delay", "snooze", "unknown_code",
               "bad_utf8", "logs", "wait_stop", "garbage_type", "truncated_outcome", "oversize", "bad_delay",
               "hello_again", "rows_from_worker", "exit3", "segv", "spin", "oom"};
    ch.send(encode(h));
    for (;;) {
      std::optional<Frame> frame = ch.receive(std::chrono::milliseconds(-1), kMaxDaemonFrame);
      if (!frame) continue;
      if (frame->type == static_cast<uint16_t>(MessageType::shutdown)) return 0;
      ch.send(encode(run(ch, decode_job(*frame))));
    }
  } catch (const ChannelClosed&) {
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fake worker: %s\n", e.what());
    return 70;
  }
}
