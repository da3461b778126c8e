// plugin/plugin_file: see plugin_file.hpp.
#include "plugin/plugin_file.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "plugin/loader.hpp"
#include "plugin/trust.hpp"

namespace pgxq::plugin {

PluginFile PluginFile::open(int dir_fd, const std::string& dir, const std::string& name, bool check_ownership,
                            uid_t owner) {
  const std::string path = dir + "/" + name;
  // O_NONBLOCK: a FIFO must be refused below, not wait for a writer here.
  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == ELOOP)
      throw LoadError("plugin " + path + " is a symbolic link; pgxqd loads only regular files, so that no link can "
                      "point it at a file nobody checked: copy the plugin itself into " + dir +
                      " (cp --remove-destination TARGET " + path + ")");
    throw LoadError("cannot read plugin file " + path + ": " + std::generic_category().message(e));
  }
  PluginFile file(fd, path, dir);
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw LoadError("cannot read plugin file " + path + ": " + std::generic_category().message(errno));
  if (!S_ISREG(st.st_mode)) throw LoadError("plugin " + path + " is not a regular file; remove it from " + dir);
  if (check_ownership) check_trusted("plugin file", path, st, owner);
  return file;
}

PluginFile PluginFile::adopt(int fd, std::string path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return PluginFile(fd, std::move(path), std::move(dir));
}

PluginFile::PluginFile(PluginFile&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)), dir_(std::move(other.dir_)) {
  other.fd_ = -1;
}

PluginFile::~PluginFile() {
  if (fd_ >= 0) ::close(fd_);
}

void* PluginFile::load() {
  const std::string by_descriptor = "/proc/self/fd/" + std::to_string(fd_);
  void* handle = dlopen(by_descriptor.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    if (::access("/proc/self/fd", X_OK) != 0)
      throw LoadError("cannot load plugin " + path_ + ": pgxqd loads each plugin through the descriptor it checked "
                      "(/proc/self/fd), and /proc is not mounted here; mount /proc for pgxqd");
    const char* why = dlerror();
    std::string text = why ? why : "unknown dlopen error";
    // dlerror() names the object by the descriptor's path; the file's own name says more.
    if (auto at = text.find(by_descriptor); at != std::string::npos) text.replace(at, by_descriptor.size(), path_);
    throw LoadError("plugin " + path_ + " is not a loadable shared object: " + text + "; remove it from " + dir_ +
                    " or rebuild it as a shared library");
  }
  fd_ = -1;  // kept open for good: see the header
  return handle;
}

const pgxq_plugin_descriptor* entry_descriptor(void* handle, const std::string& path) {
  dlerror();
  void* sym = dlsym(handle, PGXQ_PLUGIN_ENTRY_NAME);
  if (!sym) {
    const char* why = dlerror();
    throw LoadError("plugin " + path + " has no entry function " PGXQ_PLUGIN_ENTRY_NAME "() (" +
                    (why ? why : "symbol is NULL") +
                    "); define it with default visibility (PGXQ_PLUGIN_EXPORT, or PGXQ_PLUGIN(...) in C++) "
                    "and rebuild the plugin against pgxq plugin SDK " +
                    std::to_string(PGXQ_PLUGIN_ABI_MAJOR) + "." + std::to_string(PGXQ_PLUGIN_ABI_MINOR));
  }
  auto entry = reinterpret_cast<pgxq_plugin_entry_fn>(sym);
  return entry();
}

}  // namespace pgxq::plugin
