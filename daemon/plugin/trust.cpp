// plugin/trust: see trust.hpp.
#include "plugin/trust.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <vector>

#include "plugin/loader.hpp"

namespace pgxq::plugin {

namespace {

std::string user_name(uid_t uid) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) return found->pw_name;
  return "?";
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string errno_text(int e) { return std::generic_category().message(e); }

// The path the kernel knows an open directory by (for messages only).
std::string fd_path(int fd, const std::string& fallback) {
  char buf[4096];
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return fallback;
  return std::string(buf, static_cast<size_t>(n));
}

class Fd {
public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_;
};

}  // namespace

void check_trusted(const std::string& what, const std::string& path, const struct stat& st, uid_t owner) {
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    throw LoadError(what + " " + path + " is writable by " + ((st.st_mode & S_IWOTH) ? "others" : "its group") +
                    " (mode " + mode_text(st.st_mode) + "); anyone who can write it can run code as pgxqd: run `chmod go-w " +
                    path + "`");
  if (st.st_uid != 0 && st.st_uid != owner)
    throw LoadError(what + " " + path + " is owned by " + user_name(st.st_uid) + " (uid " + std::to_string(st.st_uid) +
                    "), not by root or pgxqd's user " + user_name(owner) + " (uid " + std::to_string(owner) +
                    "); anyone who owns it can run code as pgxqd: run `chown root " + path + "`");
}

void check_ancestors(const std::string& what, const std::string& path, int dir_fd, uid_t owner) {
  struct stat child {};
  if (::fstat(dir_fd, &child) != 0)
    throw LoadError("cannot read " + what + " " + path + ": " + errno_text(errno));
  Fd current(::dup(dir_fd));
  if (current.get() < 0) throw LoadError("cannot read " + what + " " + path + ": " + errno_text(errno));
  for (;;) {
    // O_PATH: walking up needs only search permission, as resolving the path did.
    Fd parent(::openat(current.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (parent.get() < 0)
      throw LoadError("cannot read the directory above " + fd_path(current.get(), path) + " (on the way from " + what +
                      " " + path + " to /): " + errno_text(errno));
    struct stat st {};
    if (::fstat(parent.get(), &st) != 0)
      throw LoadError("cannot read the directory above " + fd_path(current.get(), path) + ": " + errno_text(errno));
    if (st.st_dev == child.st_dev && st.st_ino == child.st_ino) return;  // "/" is its own parent
    const std::string name = fd_path(parent.get(), "(a directory above " + path + ")");
    const bool writable = st.st_mode & (S_IWGRP | S_IWOTH);
    const bool foreign = st.st_uid != 0 && st.st_uid != owner;
    if (foreign)
      throw LoadError(what + " " + path + " is inside " + name + ", which is owned by " + user_name(st.st_uid) +
                      " (uid " + std::to_string(st.st_uid) + "), not by root or pgxqd's user " + user_name(owner) +
                      " (uid " + std::to_string(owner) + "); its owner can swap in other files and run code as pgxqd: "
                      "move " + path + " to a directory owned by root (e.g. /usr/local/lib/pgxqd/plugins)");
    if (writable && !(st.st_mode & S_ISVTX))
      throw LoadError(what + " " + path + " is inside " + name + ", which is writable by " +
                      ((st.st_mode & S_IWOTH) ? "others" : "its group") + " (mode " + mode_text(st.st_mode) +
                      "); anyone who can write it can swap in other files and run code as pgxqd: run `chmod go-w " +
                      name + "`, or move " + path + " to a directory only root can write");
    child = st;
    current.reset(::dup(parent.get()));
    if (current.get() < 0) throw LoadError("cannot read " + name + ": " + errno_text(errno));
  }
}

void check_config_file(const std::string& path, uid_t owner) {
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (file.get() < 0) throw LoadError("cannot read config file " + path + ": " + errno_text(errno));
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) throw LoadError("cannot read config file " + path + ": " + errno_text(errno));
  check_trusted("config file", path, st, owner);
  // The directory that holds it: who can write there can replace the file.
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  Fd dir(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) throw LoadError("cannot read the directory of config file " + path + ": " + errno_text(errno));
  struct stat dst {};
  if (::fstat(dir.get(), &dst) != 0)
    throw LoadError("cannot read the directory of config file " + path + ": " + errno_text(errno));
  const std::string dir_name = fd_path(dir.get(), parent.string());
  if (!(dst.st_mode & S_ISVTX) || (dst.st_uid != 0 && dst.st_uid != owner))
    check_trusted("the directory of config file " + path + ",", dir_name, dst, owner);
  check_ancestors("config file", path, dir.get(), owner);
}

}  // namespace pgxq::plugin
