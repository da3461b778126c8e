// isolation/spawn: see spawn.hpp.
#include "isolation/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <system_error>

#include "isolation/protocol.hpp"

extern char** environ;

namespace pgxq::isolation {

namespace {

// Closes what it holds at scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

// A close-on-exec duplicate numbered above the worker's fixed descriptors, so that no dup2 of
// the file actions has the same source and target (which would leave close-on-exec set) and
// no dup2 overwrites a source a later one still needs.
int high_duplicate(int fd, const char* what) {
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (dup < 0) throw std::system_error(errno, std::generic_category(), std::string("cannot duplicate the ") + what);
  return dup;
}

struct SpawnAttr {
  posix_spawnattr_t attr;
  SpawnAttr() {
    if (int rc = posix_spawnattr_init(&attr)) throw std::system_error(rc, std::generic_category(), "posix_spawnattr_init");
  }
  ~SpawnAttr() { posix_spawnattr_destroy(&attr); }
};

struct FileActions {
  posix_spawn_file_actions_t fa;
  FileActions() {
    if (int rc = posix_spawn_file_actions_init(&fa))
      throw std::system_error(rc, std::generic_category(), "posix_spawn_file_actions_init");
  }
  ~FileActions() { posix_spawn_file_actions_destroy(&fa); }
};

void check(int rc, const char* what) {
  if (rc != 0) throw std::system_error(rc, std::generic_category(), what);
}

}  // namespace

std::vector<std::string> worker_environment(char** env) {
  std::vector<std::string> out;
  for (char** e = env; e && *e; ++e) {
    std::string_view entry(*e);
    if (entry.substr(0, 2) == "PG") continue;
    out.emplace_back(entry);
  }
  return out;
}

Spawned spawn_worker(const std::string& executable, int shared_fd, int plugin_fd) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot create a socketpair for a plugin worker");
  Fd ours(pair[0]);
  Fd theirs(pair[1]);
  Fd child_channel(high_duplicate(theirs.fd, "worker's socket"));
  Fd child_shared(high_duplicate(shared_fd, "shared-state memfd"));
  Fd child_plugin(high_duplicate(plugin_fd, "plugin file descriptor"));

  FileActions actions;
  check(posix_spawn_file_actions_adddup2(&actions.fa, child_channel.fd, kChannelFd), "posix_spawn_file_actions_adddup2");
  check(posix_spawn_file_actions_adddup2(&actions.fa, child_shared.fd, kSharedFd), "posix_spawn_file_actions_adddup2");
  check(posix_spawn_file_actions_adddup2(&actions.fa, child_plugin.fd, kPluginFd), "posix_spawn_file_actions_adddup2");

  SpawnAttr attr;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  check(posix_spawnattr_setsigmask(&attr.attr, &none), "posix_spawnattr_setsigmask");
  check(posix_spawnattr_setsigdefault(&attr.attr, &all), "posix_spawnattr_setsigdefault");
  check(posix_spawnattr_setpgroup(&attr.attr, 0), "posix_spawnattr_setpgroup");
  check(posix_spawnattr_setflags(&attr.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP),
        "posix_spawnattr_setflags");

  const std::string parent = std::to_string(::getpid());
  std::vector<std::string> args = {executable, kWorkerCommand, parent};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = worker_environment(environ);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, executable.c_str(), &actions.fa, &attr.attr, argv.data(), envp.data());
  if (rc != 0)
    throw std::system_error(rc, std::generic_category(), "cannot start a plugin worker process (" + executable + ")");
  return Spawned{pid, ours.release()};
}

}  // namespace pgxq::isolation
