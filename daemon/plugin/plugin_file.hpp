// plugin/plugin_file: one plugin file, opened once without following a symbolic link, checked
// through that descriptor (fstat) and loaded from that very descriptor (/proc/self/fd/N): what
// was checked is what runs, whatever happens to the name in the directory meanwhile.
#pragma once

#include <pgxq/plugin.h>
#include <sys/types.h>

#include <string>

namespace pgxq::plugin {

class PluginFile {
public:
  // Opens `name` in the open directory `dir_fd` (named `dir` in messages). Refuses a symbolic
  // link, anything but a regular file and, when `check_ownership`, a file that someone other
  // than root or `owner` could change. Throws LoadError.
  static PluginFile open(int dir_fd, const std::string& dir, const std::string& name, bool check_ownership,
                         uid_t owner);

  // Takes over `fd`, a plugin file opened and checked elsewhere (a worker process is handed
  // the one the daemon checked); `path` names it in messages.
  static PluginFile adopt(int fd, std::string path);

  PluginFile(PluginFile&& other) noexcept;
  PluginFile& operator=(PluginFile&&) = delete;
  PluginFile(const PluginFile&) = delete;
  PluginFile& operator=(const PluginFile&) = delete;
  ~PluginFile();  // closes the descriptor unless load() succeeded

  const std::string& path() const { return path_; }
  // The checked descriptor (-1 once loaded or moved from): for a plugin that runs in worker
  // processes, which get a duplicate of it instead of the daemon loading it.
  int fd() const { return fd_; }

  // dlopen(RTLD_NOW | RTLD_LOCAL) of the open descriptor; throws LoadError with dlerror()'s text.
  // On success the descriptor stays open for the rest of the process: plugins are never
  // unloaded, and the dynamic linker knows the object by the name /proc/self/fd/N, so that
  // number must never name another plugin file later.
  void* load();

private:
  PluginFile(int fd, std::string path, std::string dir) : fd_(fd), path_(std::move(path)), dir_(std::move(dir)) {}
  int fd_;
  std::string path_;
  std::string dir_;
};

// The descriptor returned by the entry function of a loaded plugin (`handle` from load()), not
// yet checked (plugin/abi_check). Throws LoadError when the entry function is missing.
const pgxq_plugin_descriptor* entry_descriptor(void* handle, const std::string& path);

}  // namespace pgxq::plugin
