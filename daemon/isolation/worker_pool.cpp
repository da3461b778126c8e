// isolation/worker_pool: see worker_pool.hpp.
//
// Every worker lives in a slot; a slot goes empty → starting → idle ⇄ busy → empty (it died or
// was retired) and is filled again by the supervisor thread. All spawning happens on that
// thread (the parent-death signal is tied to the spawning thread), and so does watching the
// idle workers: a plugin's own threads may log between jobs, and a worker that dies while idle
// is replaced at once instead of failing the next job lent to it. A busy worker belongs to its
// lease (the engine's handler thread) until finish() or retire() hands it back.
#include "isolation/worker_pool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <new>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "isolation/death_cause.hpp"
#include "isolation/process_stats.hpp"
#include "isolation/spawn.hpp"
#include "pg/utf8.hpp"
#include "plugin/host_api.hpp"

namespace pgxq::isolation {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kSlice{20};
// How long a worker whose channel reached EOF may take to finish dying (a core dump included)
// before it counts as alive and is killed.
constexpr milliseconds kExitWait{5000};
// Restart backoff: from the third death in a row, 250 ms × 2^(k-3), at most 30 s.
constexpr int kDeathsBeforeBackoff = 3;
constexpr milliseconds kBackoffBase{250};
constexpr milliseconds kBackoffMax{30000};

enum class Phase {
  empty,      // no worker: the supervisor starts one (after the backoff, if any)
  starting,   // the supervisor is starting one
  idle,       // ready to be lent
  servicing,  // idle, but the supervisor is reading what it sent between jobs
  busy,       // lent to a job
  stopping,   // sent Shutdown; waiting for it to exit
};

// Through syscall(): glibc 2.36's <sys/pidfd.h> declares pidfd_open without C linkage for C++.
int open_pidfd(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

// True when the socket has reached EOF (or was reset): its writer is gone or going.
bool at_eof(int fd) {
  char c;
  for (;;) {
    ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;
    if (n > 0) return false;
    if (errno == EINTR) continue;
    return errno == ECONNRESET || errno == EPIPE;
  }
}

milliseconds backoff_for(int deaths_in_a_row) {
  if (deaths_in_a_row < kDeathsBeforeBackoff) return milliseconds(0);
  int shift = std::min(deaths_in_a_row - kDeathsBeforeBackoff, 16);
  return std::min(kBackoffBase * (int64_t{1} << shift), kBackoffMax);
}

}  // namespace

struct WorkerLease::Slot {
  int index = 0;
  // For the slot's whole life: the shared state every worker of this slot maps.
  int shared_fd = -1;
  SharedState* shared = nullptr;
  // The current worker.
  Phase phase = Phase::empty;
  uint64_t generation = 0;  // counts workers, so the supervisor notices a replaced one
  pid_t pid = -1;
  int pidfd = -1;
  std::optional<Channel> channel;
  // During a job (used by the lease holder only).
  std::chrono::microseconds cpu_baseline{0};
  std::optional<std::string> killed_cause;  // set by check_limits/finish when they killed it
  // Restart backoff, per slot: the workers of one slot that died since a job last finished (in
  // any slot), and when this slot may start the next one. Counting per slot keeps a burst of
  // jobs crashing several workers at once from being taken for one worker dying again and again.
  int deaths_in_a_row = 0;
  milliseconds logged_backoff{0};
  Clock::time_point next_start{};
};

struct WorkerPool::State {
  using Slot = WorkerLease::Slot;

  PoolOptions o;
  std::shared_ptr<spdlog::logger> log;
  int plugin_fd = -1;  // our duplicate of the checked plugin file
  int wake_fd = -1;    // eventfd: something changed that the supervisor should look at

  mutable std::mutex mu;
  std::condition_variable cv;  // a slot changed phase; the first start ended
  std::vector<std::unique_ptr<Slot>> slots;
  Hello hello;
  enum class First { pending, ok, failed } first = First::pending;
  std::string first_error;
  bool stopping = false;  // no leases, no starts
  bool final = false;     // stop() is done: a worker handed back now is killed
  bool quit = false;      // the supervisor ends
  bool stop_called = false;
  uint64_t started = 0, died = 0;
  std::thread supervisor;

  ~State() {
    for (auto& s : slots) {
      if (s->shared) ::munmap(s->shared, sizeof(SharedState));
      if (s->shared_fd >= 0) ::close(s->shared_fd);
      if (s->pidfd >= 0) ::close(s->pidfd);
    }
    if (plugin_fd >= 0) ::close(plugin_fd);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  void wake() const noexcept {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }

  std::string who() const { return "plugin " + o.plugin_name; }

  // ---- reaping ----

  struct Reaped {
    int status = 0;
    uint64_t max_rss_bytes = 0;
    bool by_itself = false;  // it had exited (or died) before we killed it
  };

  // Waits up to `wait` for the worker to end by itself, then kills it if it has not, reaps it
  // and clears the slot's process fields (the phase is the caller's).
  static Reaped reap(Slot& s, milliseconds wait) {
    Reaped r;
    if (s.pid <= 0) return r;
    if (wait.count() > 0 && s.pidfd >= 0) {
      pollfd p{s.pidfd, POLLIN, 0};
      auto deadline = Clock::now() + wait;
      for (;;) {
        auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
        int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0)));
        if (rc < 0 && errno == EINTR) continue;
        break;
      }
    }
    rusage ru{};
    int status = 0;
    pid_t got;
    do got = ::wait4(s.pid, &status, WNOHANG, &ru);
    while (got < 0 && errno == EINTR);
    if (got == s.pid) {
      r.by_itself = true;
    } else if (got == 0) {
      ::kill(s.pid, SIGKILL);
      do got = ::wait4(s.pid, &status, 0, &ru);
      while (got < 0 && errno == EINTR);
    }
    r.status = status;
    r.max_rss_bytes = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
    if (s.pidfd >= 0) ::close(s.pidfd);
    s.pidfd = -1;
    s.pid = -1;
    s.channel.reset();
    return r;
  }

  // A worker died or was retired: count it, schedule the restart (with backoff when they keep
  // dying) and let the supervisor fill the slot. Called with mu held.
  void record_death_locked(Slot& s) {
    s.phase = Phase::empty;
    s.killed_cause.reset();
    cv.notify_all();  // waiters run only once mu is released, after the rest below
    if (stopping) return;  // not a death: the pool killed it on its way out
    ++died;
    ++s.deaths_in_a_row;
    milliseconds delay = backoff_for(s.deaths_in_a_row);
    if (delay.count() > 0) {
      s.next_start = Clock::now() + delay;
      if (delay != s.logged_backoff) {
        s.logged_backoff = delay;
        log->warn("{}: {} worker processes died in a row in slot {} of {} with no job finished in between; starting "
                  "the next one there in {}",
                  who(), s.deaths_in_a_row, s.index + 1, slots.size(), cpu_text(delay));
      }
    }
    wake();
  }

  // ---- starting (supervisor thread only) ----

  // With a memory limit, a worker that has loaded its plugin (it said Hello) gets RLIMIT_AS at
  // its address space now + the limit + 64 MiB: a backstop for growth faster than the daemon
  // samples it. Its allocations fail beyond that; a death after passing the limit is then
  // reported as the memory limit (retire). Set from here (prlimit: same user) because Setup
  // does not carry the limit.
  void address_space_backstop(pid_t pid) {
    if (o.limits.memory_bytes == 0) return;
    auto vsz = virtual_bytes(pid);
    if (!vsz) return;
    rlimit rl{};
    rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(*vsz + o.limits.memory_bytes + (uint64_t{64} << 20));
    if (::prlimit(pid, RLIMIT_AS, &rl, nullptr) != 0)
      log->warn("{}: cannot set the address-space backstop of worker process {}: {}", who(), pid,
                std::generic_category().message(errno));
  }

  // Starts a worker in `s` and waits for its Hello. Returns the refusal on failure (the worker,
  // if any, is reaped by then).
  std::optional<std::string> start(Slot& s, Hello& out) {
    Spawned sp;
    try {
      sp = spawn_worker(o.executable, s.shared_fd, plugin_fd);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    s.pid = sp.pid;
    s.pidfd = open_pidfd(sp.pid);
    s.channel.emplace(sp.channel_fd);
    s.shared->stop.store(0);
    Channel& ch = *s.channel;
    const auto deadline = Clock::now() + o.start_timeout;
    auto keep_waiting = [&] {
      std::lock_guard lk(mu);
      return !stopping && Clock::now() < deadline;
    };
    // It will not do: reaped (after a moment to die when it is already going), and why.
    auto failed = [&](const std::string& why) -> std::optional<std::string> {
      bool eof = s.channel && at_eof(ch.fd());
      pid_t pid = s.pid;
      Reaped r = reap(s, eof ? kExitWait : milliseconds(0));
      return "worker process " + std::to_string(pid) + " of plugin " + o.plugin_name + " (" + o.plugin_path +
             ") did not start: " + (r.by_itself ? death_cause(r.status) : killed_alive_cause(why));
    };
    try {
      ch.send(encode(o.setup), kSlice, keep_waiting);
      for (;;) {
        auto frame = ch.receive(kSlice, kMaxWorkerFrame);
        if (!frame) {
          if (!keep_waiting()) {
            bool stop_now;
            {
              std::lock_guard lk(mu);
              stop_now = stopping;
            }
            return failed(stop_now ? "was stopped before it was ready"
                                   : "did not answer within " + cpu_text(o.start_timeout));
          }
          continue;
        }
        switch (static_cast<MessageType>(frame->type)) {
          case MessageType::hello: {
            Hello h = decode_hello(*frame);
            if (h.protocol != kProtocolVersion)
              return failed("speaks worker protocol " + std::to_string(h.protocol) + ", this pgxqd " +
                                std::to_string(kProtocolVersion) + " (a broken install: reinstall pgxqd)");
            out = std::move(h);
            address_space_backstop(s.pid);
            return std::nullopt;
          }
          case MessageType::init_failed: {
            InitFailed f = decode_init_failed(*frame);
            reap(s, milliseconds(0));
            return f.message;
          }
          case MessageType::plugin_log: {
            PluginLog l = decode_plugin_log(*frame);
            log_plugin_line(*log, o.plugin_name, l);
            continue;
          }
          default:
            throw ProtocolError("a " + type_name(frame->type) + " message before Hello");
        }
      }
    } catch (const ChannelClosed&) {
      Reaped r = reap(s, kExitWait);
      return "worker process of plugin " + o.plugin_name + " (" + o.plugin_path + ") ended before it was ready: " +
             (r.by_itself ? death_cause(r.status) : std::string("closed its channel")) +
             " (its own messages, if any, are in pgxqd's standard error)";
    } catch (const ProtocolError& e) {
      return failed(std::string("sent a malformed message (") + e.what() + ")");
    }
  }

  void start_slot(Slot& s, bool first_one) {
    {
      std::lock_guard lk(mu);
      if (stopping) return;
      s.phase = Phase::starting;
    }
    Hello h;
    std::optional<std::string> refusal = start(s, h);
    std::lock_guard lk(mu);
    if (refusal) {
      if (first_one) {
        first = First::failed;
        first_error = *refusal;
        s.phase = Phase::empty;
        cv.notify_all();
        return;
      }
      if (!stopping) log->warn("{}: {}", who(), *refusal);
      record_death_locked(s);
      return;
    }
    ++s.generation;
    s.phase = Phase::idle;
    ++started;
    if (first_one) {
      hello = std::move(h);
      first = First::ok;
    }
    log->info("{}: worker process {} started", who(), s.pid);
    cv.notify_all();
  }

  // ---- between jobs (supervisor thread only) ----

  // Reads what an idle worker sent: plugin log lines are logged; anything else, or EOF, ends it.
  void service_idle(Slot& s, uint64_t generation) {
    {
      std::lock_guard lk(mu);
      if (s.generation != generation || s.phase != Phase::idle) return;
      s.phase = Phase::servicing;
    }
    std::optional<std::string> why;
    bool closed = false;
    try {
      while (auto frame = s.channel->receive(milliseconds(0), kMaxWorkerFrame)) {
        if (frame->type != static_cast<uint16_t>(MessageType::plugin_log))
          throw ProtocolError("a " + type_name(frame->type) + " message between jobs");
        PluginLog l = decode_plugin_log(*frame);
        log_plugin_line(*log, o.plugin_name, l);
      }
    } catch (const ChannelClosed&) {
      closed = true;
    } catch (const ProtocolError& e) {
      why = std::string("sent a malformed message (") + e.what() + ")";
    }
    if (!closed && !why) {
      std::lock_guard lk(mu);
      s.phase = Phase::idle;
      cv.notify_all();
      return;
    }
    pid_t pid = s.pid;
    Reaped r = reap(s, closed ? kExitWait : milliseconds(0));
    std::string cause = r.by_itself ? death_cause(r.status) : killed_alive_cause(why.value_or("closed its channel"));
    std::lock_guard lk(mu);
    if (!stopping) log->warn("{}: worker process {} ended while idle: {}", who(), pid, cause);
    record_death_locked(s);
  }

  void supervise() {
    start_slot(*slots.front(), true);
    for (;;) {
      std::vector<Slot*> to_start;
      std::vector<std::pair<Slot*, uint64_t>> idle;
      std::vector<pollfd> fds{{wake_fd, POLLIN, 0}};
      int timeout_ms = 1000;
      {
        std::unique_lock lk(mu);
        if (first != First::ok) {
          cv.wait(lk, [&] { return quit; });
          return;
        }
        if (quit) return;
        const auto now = Clock::now();
        for (auto& s : slots) {
          if (s->phase == Phase::empty && !stopping) {
            if (now >= s->next_start)
              to_start.push_back(s.get());
            else
              timeout_ms = std::min<int>(
                  timeout_ms, static_cast<int>(std::chrono::duration_cast<milliseconds>(s->next_start - now).count()) + 1);
          }
          if (s->phase == Phase::idle && s->channel) {
            idle.emplace_back(s.get(), s->generation);
            fds.push_back({s->channel->fd(), POLLIN, 0});
          }
        }
      }
      if (!to_start.empty()) {
        for (Slot* s : to_start) {
          {
            std::lock_guard lk(mu);
            if (stopping) break;
          }
          start_slot(*s, false);
        }
        continue;
      }
      int rc = ::poll(fds.data(), fds.size(), timeout_ms);
      if (rc <= 0) continue;
      if (fds[0].revents) {
        uint64_t n;
        [[maybe_unused]] auto got = ::read(wake_fd, &n, sizeof n);
      }
      for (size_t i = 1; i < fds.size(); ++i)
        if (fds[i].revents) service_idle(*idle[i - 1].first, idle[i - 1].second);
    }
  }

  // ---- stopping ----

  // What a worker told while shutting down (its plugin's shutdown hook may log); nothing else
  // it sends matters any more.
  void drain_logs(Slot& s) noexcept {
    try {
      while (s.channel)
        if (auto frame = s.channel->receive(milliseconds(0), kMaxWorkerFrame)) {
          if (frame->type != static_cast<uint16_t>(MessageType::plugin_log)) continue;
          PluginLog l = decode_plugin_log(*frame);
          log_plugin_line(*log, o.plugin_name, l);
        } else {
          break;
        }
    } catch (const ChannelClosed&) {
      s.channel.reset();  // at EOF: no longer worth polling
    } catch (...) {
    }
  }

  void stop(milliseconds grace) noexcept {
    {
      std::lock_guard lk(mu);
      if (stop_called) return;
      stop_called = true;
      stopping = true;
      cv.notify_all();
    }
    wake();
    const auto deadline = Clock::now() + grace;
    for (;;) {
      std::vector<Slot*> to_tell;
      std::vector<pollfd> exiting;
      bool pending = false;
      {
        std::lock_guard lk(mu);
        for (auto& s : slots) {
          if (s->phase == Phase::idle) {
            s->phase = Phase::stopping;
            to_tell.push_back(s.get());
          }
          if (s->phase != Phase::empty) pending = true;
        }
      }
      for (Slot* s : to_tell) {
        try {
          s->channel->send(encode(Shutdown{}), kSlice, [&] { return Clock::now() < deadline; });
        } catch (...) {
          // Gone already, or not reading: reaped below either way.
        }
      }
      // Reap the stopping ones that have exited.
      {
        std::lock_guard lk(mu);
        for (auto& s : slots) {
          if (s->phase != Phase::stopping) continue;
          int status;
          pid_t got = ::waitpid(s->pid, &status, WNOHANG);
          if (got == s->pid || (got < 0 && errno == ECHILD)) {
            if (s->pidfd >= 0) ::close(s->pidfd);
            s->pidfd = -1;
            s->pid = -1;
            s->channel.reset();
            s->phase = Phase::empty;
          } else {
            drain_logs(*s);
            exiting.push_back({s->pidfd, POLLIN, 0});
            if (s->channel) exiting.push_back({s->channel->fd(), POLLIN, 0});
          }
        }
        pending = std::any_of(slots.begin(), slots.end(), [](auto& s) { return s->phase != Phase::empty; });
      }
      if (!pending || Clock::now() >= deadline) break;
      // Wait a slice for an exit, or for a busy worker to come back (it is then told above).
      exiting.erase(std::remove_if(exiting.begin(), exiting.end(), [](const pollfd& p) { return p.fd < 0; }),
                    exiting.end());
      if (exiting.empty()) {
        std::unique_lock lk(mu);
        cv.wait_for(lk, kSlice);
      } else {
        ::poll(exiting.data(), exiting.size(), static_cast<int>(kSlice.count()));
      }
    }
    // Whatever is left: kill. Stopping (and idle) ones are reaped here; a busy one's lease
    // reaps it when its handler sees the channel close.
    {
      std::lock_guard lk(mu);
      final = true;
      for (auto& s : slots) {
        if (s->phase == Phase::stopping || s->phase == Phase::idle) {
          reap(*s, milliseconds(0));
          s->phase = Phase::empty;
        } else if (s->phase == Phase::busy && s->pid > 0) {
          ::kill(s->pid, SIGKILL);
        }
      }
      quit = true;
      cv.notify_all();
    }
    wake();
    // The supervisor ends last: its end would kill (parent-death signal) what it started.
    if (supervisor.joinable() && supervisor.get_id() != std::this_thread::get_id()) supervisor.join();
  }
};

void log_plugin_line(spdlog::logger& log, const std::string& plugin_name, const PluginLog& line) {
  log.log(plugin::log_level(line.level), "plugin {}: {}", plugin_name, pg::repair_utf8(line.message));
}

// ---- WorkerLease ----

WorkerLease::WorkerLease(WorkerLease&& other) noexcept : pool_(other.pool_), slot_(other.slot_) {
  other.pool_ = nullptr;
  other.slot_ = nullptr;
}

WorkerLease& WorkerLease::operator=(WorkerLease&& other) noexcept {
  if (this != &other) {
    if (slot_) {
      try {
        retire("was abandoned by its job");
      } catch (...) {
      }
    }
    pool_ = other.pool_;
    slot_ = other.slot_;
    other.pool_ = nullptr;
    other.slot_ = nullptr;
  }
  return *this;
}

WorkerLease::~WorkerLease() {
  if (!slot_) return;
  try {
    retire("was abandoned by its job");
  } catch (...) {
  }
}

pid_t WorkerLease::pid() const { return slot_ ? slot_->pid : -1; }

Channel& WorkerLease::channel() {
  if (!slot_ || !slot_->channel) throw std::logic_error("WorkerLease::channel() on an empty lease");
  return *slot_->channel;
}

void WorkerLease::set_stop(bool stop) noexcept {
  if (slot_ && slot_->shared) slot_->shared->stop.store(stop ? 1 : 0);
}

void WorkerLease::start_job() {
  if (!slot_) return;
  set_stop(false);
  slot_->killed_cause.reset();
  if (pool_->state_->o.limits.cpu.count() > 0)
    slot_->cpu_baseline = cpu_time(slot_->pid).value_or(std::chrono::microseconds(0));
}

std::optional<std::string> WorkerLease::check_limits() {
  if (!slot_ || slot_->pid <= 0) return std::nullopt;
  if (slot_->killed_cause) return slot_->killed_cause;
  const Limits& limits = pool_->state_->o.limits;
  if (limits.memory_bytes > 0) {
    auto rss = resident_bytes(slot_->pid);
    if (rss && *rss > limits.memory_bytes) {
      ::kill(slot_->pid, SIGKILL);
      slot_->killed_cause = memory_limit_cause(limits.memory_bytes);
      return slot_->killed_cause;
    }
  }
  if (limits.cpu.count() > 0) {
    auto used = cpu_time(slot_->pid);
    if (used && *used - slot_->cpu_baseline > limits.cpu) {
      ::kill(slot_->pid, SIGKILL);
      slot_->killed_cause = cpu_limit_cause(limits.cpu);
      return slot_->killed_cause;
    }
  }
  return std::nullopt;
}

std::optional<std::string> WorkerLease::finish() {
  if (!slot_) return std::nullopt;
  WorkerPool::State& st = *pool_->state_;
  if (st.o.limits.memory_bytes > 0) {
    auto peak = peak_resident_bytes(slot_->pid);
    if (peak && *peak > st.o.limits.memory_bytes) {
      ::kill(slot_->pid, SIGKILL);
      slot_->killed_cause = memory_limit_cause(st.o.limits.memory_bytes);
      return retire("");
    }
  }
  Slot* s = slot_;
  slot_ = nullptr;
  std::lock_guard lk(st.mu);
  // An outcome: the plugin works, whatever killed workers before.
  for (auto& slot : st.slots) {
    slot->deaths_in_a_row = 0;
    slot->logged_backoff = milliseconds(0);
  }
  if (st.final) {
    // The pool has stopped meanwhile: nobody would reap it later.
    WorkerPool::State::reap(*s, milliseconds(0));
    s->phase = Phase::empty;
    return std::nullopt;
  }
  s->phase = Phase::idle;
  // One worker came free: one waiting job can take it. The supervisor sees the worker among the
  // idle ones on its next round (within a second); waking it for every job would cost a thread
  // switch per job.
  st.cv.notify_one();
  return std::nullopt;
}

std::string WorkerLease::retire(std::string_view why_if_alive) {
  if (!slot_) return "worker process already returned";
  WorkerPool::State& st = *pool_->state_;
  Slot* s = slot_;
  slot_ = nullptr;
  const Limits& limits = st.o.limits;
  std::string cause;
  WorkerPool::State::Reaped r;
  pid_t pid = s->pid;
  if (s->killed_cause) {
    cause = *s->killed_cause;
    r = WorkerPool::State::reap(*s, milliseconds(0));
  } else {
    bool eof = s->channel && at_eof(s->channel->fd());
    r = WorkerPool::State::reap(*s, eof ? kExitWait : milliseconds(0));
    if (!r.by_itself)
      cause = killed_alive_cause(std::string(why_if_alive));
    else if (limits.memory_bytes > 0 && r.max_rss_bytes > limits.memory_bytes)
      cause = memory_limit_cause(limits.memory_bytes);  // e.g. its allocation failed at the RLIMIT_AS backstop
    else
      cause = death_cause(r.status);
  }
  std::lock_guard lk(st.mu);
  st.log->debug("{}: worker process {} retired: {}", st.who(), pid, cause);
  st.record_death_locked(*s);
  return cause;
}

// ---- WorkerPool ----

WorkerPool::WorkerPool(PoolOptions options) : state_(std::make_unique<State>()) {
  State& st = *state_;
  st.o = std::move(options);
  st.log = st.o.log ? st.o.log : spdlog::default_logger();
  if (st.o.processes < 1) st.o.processes = 1;
  auto fail = [&](const std::string& what) {
    throw std::runtime_error("plugin " + st.o.plugin_name + " (" + st.o.plugin_path + "): " + what + ": " +
                             std::generic_category().message(errno));
  };
  st.plugin_fd = ::fcntl(st.o.plugin_fd, F_DUPFD_CLOEXEC, 10);
  if (st.plugin_fd < 0) fail("cannot duplicate the plugin file's descriptor");
  st.wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (st.wake_fd < 0) fail("cannot create an eventfd");
  for (int i = 0; i < st.o.processes; ++i) {
    auto s = std::make_unique<WorkerLease::Slot>();
    s->index = i;
    s->shared_fd = ::memfd_create("pgxq-worker-state", MFD_CLOEXEC);
    if (s->shared_fd < 0) fail("cannot create a memfd for a worker");
    if (::ftruncate(s->shared_fd, sizeof(SharedState)) != 0) fail("cannot size a worker's memfd");
    void* p = ::mmap(nullptr, sizeof(SharedState), PROT_READ | PROT_WRITE, MAP_SHARED, s->shared_fd, 0);
    if (p == MAP_FAILED) fail("cannot map a worker's memfd");
    s->shared = new (p) SharedState();
    st.slots.push_back(std::move(s));
  }
  st.supervisor = std::thread([&st] { st.supervise(); });
  std::string error;
  {
    std::unique_lock lk(st.mu);
    st.cv.wait(lk, [&] { return st.first != State::First::pending; });
    if (st.first == State::First::failed) error = st.first_error;
  }
  if (!error.empty()) {
    st.stop(milliseconds(0));
    throw std::runtime_error(error);
  }
}

WorkerPool::~WorkerPool() { stop(); }

const Hello& WorkerPool::hello() const { return state_->hello; }

std::optional<WorkerLease> WorkerPool::acquire(const std::function<bool()>& give_up) {
  State& st = *state_;
  std::unique_lock lk(st.mu);
  for (;;) {
    if (st.stopping) return std::nullopt;
    for (auto& s : st.slots) {
      if (s->phase == Phase::idle) {
        s->phase = Phase::busy;
        return WorkerLease(this, s.get());
      }
    }
    if (give_up) {
      lk.unlock();
      bool stop = give_up();
      lk.lock();
      if (stop) return std::nullopt;
    }
    st.cv.wait_for(lk, kSlice);
  }
}

void WorkerPool::stop(std::chrono::milliseconds grace) noexcept {
  if (state_) state_->stop(grace);
}

WorkerPool::Stats WorkerPool::stats() const {
  const State& st = *state_;
  std::lock_guard lk(st.mu);
  Stats out;
  for (const auto& s : st.slots) {
    switch (s->phase) {
      case Phase::idle:
      case Phase::servicing: ++out.idle; break;
      case Phase::busy: ++out.busy; break;
      case Phase::starting: ++out.starting; break;
      default: break;
    }
  }
  out.processes = out.idle + out.busy;
  out.started = st.started;
  out.died = st.died;
  return out;
}

}  // namespace pgxq::isolation
