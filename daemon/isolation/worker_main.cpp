// isolation/worker_main: see worker_main.hpp. The order matters: first tie the process to its
// parent (so that a daemon killed with SIGKILL takes it along), then shed what it inherited,
// then load the plugin — so that nothing of the plugin ever runs with more than the worker needs.
#include "isolation/worker_main.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "isolation/protocol.hpp"
#include "isolation/worker_host.hpp"
#include "pg/one_line.hpp"
#include "plugin/abi_check.hpp"
#include "plugin/host_api.hpp"
#include "plugin/loader.hpp"
#include "plugin/plugin_file.hpp"
#include "plugin/registry.hpp"

namespace pgxq::isolation {

namespace {

void say(const std::string& text) {
  std::fprintf(stderr, "pgxqd plugin worker %d: %s\n", static_cast<int>(::getpid()), text.c_str());
}

// Closes every descriptor from `from` up: the daemon's sockets, log files and database
// connections are none of the plugin's business.
void close_from(int from) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, static_cast<unsigned>(from), ~0U, 0U) == 0) return;
#endif
  long max = ::sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = from; fd < max; ++fd) ::close(fd);
}

std::optional<pid_t> parse_pid(const char* text) {
  if (!text) return std::nullopt;
  std::string_view s(text);
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
  if (ec != std::errc() || end != s.data() + s.size() || pid <= 1) return std::nullopt;
  return pid;
}

// What Setup asks for, loaded and initialised; or the whole refusal for InitFailed.
struct Loaded {
  std::unique_ptr<pgxq_plugin> plugin;
  plugin::Registry registry;
};

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// Loads the plugin file at kPluginFd and runs its init with the worker's table. Returns the
// refusal text when it cannot be used; `loaded` is filled as far as it got (a plugin whose init
// succeeded gets its shutdown hook even if something later fails).
std::optional<std::string> load(const Setup& setup, WorkerHost& host, Loaded& loaded) {
  const std::string& path = setup.plugin_path;
  const pgxq_plugin_descriptor* d = nullptr;
  try {
    auto file = plugin::PluginFile::adopt(kPluginFd, path);
    void* handle = file.load();
    d = plugin::entry_descriptor(handle, path);
  } catch (const plugin::LoadError& e) {
    return std::string(e.what());
  }
  if (auto refusal = plugin::check_abi(path, d, {})) return refusal;
  if (setup.plugin_name != d->name)
    return "plugin " + path + " names itself \"" + std::string(d->name) + "\" in its descriptor, not \"" +
           setup.plugin_name + "\": a plugin with isolation = \"process\" is found by its file name, so the file " +
           "must be named after the plugin; rename it to " + std::string(d->name) + ".so and its settings to " +
           "[plugins." + std::string(d->name) + "]";

  auto p = std::make_unique<pgxq_plugin>();
  p->name = d->name;
  p->version = d->version;
  p->path = path;
  p->descriptor = d;
  try {
    p->settings = toml::parse(setup.settings_toml);
  } catch (const toml::parse_error& e) {
    return "plugin " + p->name + " (" + path + "): its settings could not be read back in the worker process: " +
           std::string(e.description());
  }
  p->settings_reread = true;
  p->settings_file = setup.config_file;
  for (const auto& [key, line] : setup.setting_lines) p->setting_lines.emplace(key, line);
  p->registry = &loaded.registry;

  p->initialising = true;
  int rc = 1;
  try {
    rc = d->init(host.table(), p.get());
  } catch (...) {
    p->init_error = "init threw an exception across the C ABI (use the SDK's PGXQ_PLUGIN wrapper)";
  }
  p->initialising = false;
  p->registry = nullptr;
  if (rc != 0) {
    loaded.plugin.reset();  // init failed: no shutdown
    return "plugin " + p->name + " (" + path + "): init failed: " +
           pg::one_line(p->init_error.value_or(std::string(plugin::kNoMessage))) + "; check its [plugins." +
           p->name + "] settings, or remove it from " + dir_of(path);
  }
  loaded.plugin = std::move(p);
  return std::nullopt;
}

void shut_down(WorkerHost& host, Loaded& loaded) noexcept {
  if (!loaded.plugin || !loaded.plugin->descriptor->shutdown) return;
  try {
    loaded.plugin->descriptor->shutdown(host.table(), loaded.plugin.get());
  } catch (...) {
  }
}

int serve(const Setup& setup, Channel& channel, const SharedState* shared) {
  WorkerHost host(channel, shared, setup.log_level);
  Loaded loaded;
  if (setup.protocol != kProtocolVersion) {
    host.send(encode(InitFailed{"pgxqd plugin worker speaks protocol " + std::to_string(kProtocolVersion) +
                                " but the daemon sent protocol " + std::to_string(setup.protocol) +
                                "; the daemon and its worker are different pgxqd builds: restart pgxqd"}));
    return kExitInitFailed;
  }
  if (auto refusal = load(setup, host, loaded)) {
    host.send(encode(InitFailed{*refusal}));
    return kExitInitFailed;
  }

  Hello hello;
  hello.pid = static_cast<int32_t>(::getpid());
  hello.name = loaded.plugin->name;
  hello.version = loaded.plugin->version;
  hello.abi_major = loaded.plugin->descriptor->abi_major;
  hello.abi_minor = loaded.plugin->descriptor->abi_minor;
  hello.kinds = loaded.plugin->kinds;
  host.send(encode(hello));

  for (;;) {
    std::optional<Frame> frame = channel.receive(std::chrono::milliseconds(-1), kMaxDaemonFrame);
    if (!frame) continue;
    switch (static_cast<MessageType>(frame->type)) {
      case MessageType::job: {
        JobMessage job = decode_job(*frame);
        OutcomeMessage outcome;
        if (const plugin::Registration* r = loaded.registry.find(job.kind)) {
          outcome = host.run_job(job, loaded.plugin.get(), r->fn, r->user_data);
        } else {
          outcome.code = PGXQ_OUTCOME_RETRY;
          outcome.message = "plugin " + loaded.plugin->name + " registered no handler for kind \"" + job.kind +
                            "\" in this worker process";
        }
        host.send(encode(outcome));
        break;
      }
      case MessageType::shutdown:
        shut_down(host, loaded);
        return 0;
      default:
        throw ProtocolError("unexpected " + type_name(frame->type) + " between jobs");
    }
  }
}

}  // namespace

int run_plugin_worker(int argc, char** argv) {
  // Die with the daemon, and only with the daemon that started this process: if it died before
  // the line above took effect, the parent is someone else already.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::optional<pid_t> parent = argc == 3 ? parse_pid(argv[2]) : std::nullopt;
  if (!parent) {
    say("usage: pgxqd " + std::string(kWorkerCommand) +
        " PARENT_PID (started by pgxqd itself for plugins with isolation = \"process\", not by hand)");
    return 64;
  }
  if (::getppid() != *parent) return kExitOrphaned;

  // Signals are the daemon's business (a terminal's Ctrl-C reaches the whole process group
  // otherwise); the daemon stops a worker with Shutdown, EOF or SIGKILL.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) ::signal(sig, SIG_IGN);
  close_from(kPluginFd + 1);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    say(std::string("cannot set no_new_privs: ") + std::strerror(errno));
    return kExitBroken;
  }

  void* mapped = ::mmap(nullptr, sizeof(SharedState), PROT_READ, MAP_SHARED, kSharedFd, 0);
  if (mapped == MAP_FAILED) {
    say(std::string("cannot map the shared state (descriptor 4): ") + std::strerror(errno));
    return kExitBroken;
  }
  ::close(kSharedFd);
  const auto* shared = static_cast<const SharedState*>(mapped);

  Channel channel(kChannelFd);
  try {
    std::optional<Frame> frame;
    while (!frame) frame = channel.receive(std::chrono::milliseconds(-1), kMaxDaemonFrame);
    Setup setup = decode_setup(*frame);
    return serve(setup, channel, shared);
  } catch (const ChannelClosed&) {
    return 0;  // the daemon let go of this worker
  } catch (const ProtocolError& e) {
    say(std::string("the daemon sent a malformed message: ") + e.what());
    return kExitBroken;
  } catch (const std::exception& e) {
    say(e.what());
    return kExitBroken;
  }
}

}  // namespace pgxq::isolation
