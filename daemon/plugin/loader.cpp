// plugin/loader: opens the plugins directory once and finds the *.so files in it (name order),
// refuses a config file, directory, parent directory or file anyone but root or pgxqd's own
// user could have written (plugin/trust), loads each file from the descriptor it checked
// (plugin/plugin_file; RTLD_NOW | RTLD_LOCAL, never dlclosed), checks the descriptor's ABI
// before calling anything else, runs init with the plugin's settings and collects the kinds it
// registers. Any refusal throws LoadError after shutting down the plugins initialised so far,
// so nothing half-loaded keeps running.
#include "plugin/loader.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "pg/one_line.hpp"
#include "plugin/abi_check.hpp"
#include "plugin/host_api.hpp"
#include "plugin/plugin_file.hpp"
#include "plugin/registry.hpp"
#include "plugin/trust.hpp"

namespace pgxq::plugin {

struct LoadedPlugins::State {
  std::vector<std::unique_ptr<pgxq_plugin>> loaded;  // initialised, in load order
  std::vector<std::unique_ptr<OutOfProcessPlugin>> isolated;  // started, in load order
  // Both kinds in load order, for shutting down in reverse: exactly one of the two is set.
  std::vector<std::pair<pgxq_plugin*, OutOfProcessPlugin*>> order;
  std::vector<PluginInfo> infos;
  queue::HandlerMap handlers;
  Registry registry;
  std::shared_ptr<spdlog::logger> log;
  bool shut_down = false;
};

LoadedPlugins::LoadedPlugins() : state_(std::make_unique<State>()) {}
LoadedPlugins::~LoadedPlugins() { shutdown(); }
LoadedPlugins::LoadedPlugins(LoadedPlugins&&) noexcept = default;
LoadedPlugins& LoadedPlugins::operator=(LoadedPlugins&& other) noexcept {
  if (this != &other) {
    shutdown();
    state_ = std::move(other.state_);
  }
  return *this;
}

const std::vector<PluginInfo>& LoadedPlugins::plugins() const {
  static const std::vector<PluginInfo> none;
  return state_ ? state_->infos : none;
}

const queue::HandlerMap& LoadedPlugins::handlers() const {
  static const queue::HandlerMap none;
  return state_ ? state_->handlers : none;
}

void LoadedPlugins::shutdown() noexcept {
  if (!state_ || state_->shut_down) return;
  state_->shut_down = true;
  state_->handlers.clear();
  for (auto it = state_->order.rbegin(); it != state_->order.rend(); ++it) {
    if (it->second) {
      it->second->shutdown();
      try {
        if (state_->log) state_->log->debug("plugin {}: shut down", it->second->info().name);
      } catch (...) {
      }
      continue;
    }
    pgxq_plugin& p = *it->first;
    if (!p.descriptor->shutdown) continue;
    try {
      p.descriptor->shutdown(host_table(), &p);
    } catch (...) {
      // A C function cannot throw; a C++ plugin that lets an exception out of shutdown without
      // the SDK wrapper is still not allowed to take the daemon's shutdown down with it.
    }
    try {
      if (state_->log) state_->log->debug("plugin {}: shut down", p.name);
    } catch (...) {
    }
  }
}

namespace {

// Closes the plugins directory when loading ends; the files were opened relative to it.
class DirFd {
public:
  explicit DirFd(int fd) : fd_(fd) {}
  ~DirFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  DirFd(const DirFd&) = delete;
  DirFd& operator=(const DirFd&) = delete;
  int get() const { return fd_; }

private:
  int fd_;
};

// The *.so names in the open directory, in name order.
std::vector<std::string> plugin_names(int dir_fd, const std::string& dir) {
  int listing_fd = ::dup(dir_fd);
  DIR* listing = listing_fd >= 0 ? ::fdopendir(listing_fd) : nullptr;
  if (!listing) {
    int e = errno;
    if (listing_fd >= 0) ::close(listing_fd);
    throw LoadError("cannot list plugins directory " + dir + ": " + std::generic_category().message(e));
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(listing)) {
    std::string name = entry->d_name;
    if (std::filesystem::path(name).extension() == ".so") names.push_back(std::move(name));
    errno = 0;
  }
  int e = errno;
  ::closedir(listing);
  if (e != 0) throw LoadError("cannot list plugins directory " + dir + ": " + std::generic_category().message(e));
  std::sort(names.begin(), names.end());
  return names;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

// A plugin of options.isolated: its checked file goes to the starter, and what it reports is
// checked like a descriptor and a registration would be (it comes from a process that runs the
// plugin's code), its kinds reserved in the registry so that no other plugin can claim them.
void start_isolated(const LoaderOptions& options, PluginFile file, const std::string& name, LoadedPlugins::State& st,
                    LoadedNames& names) {
  const std::string path = file.path();
  if (!options.start_isolated)
    throw LoadError("plugin " + name + " (" + path + "): isolation = \"process\" is not available here");
  if (auto it = names.find(name); it != names.end())
    throw LoadError("plugin " + path + " is named \"" + name + "\" like the plugin loaded from " + it->second +
                    "; remove one of them from " + options.dir);
  toml::table settings;
  if (auto it = options.settings.find(name); it != options.settings.end()) settings = it->second;
  std::unique_ptr<OutOfProcessPlugin> plugin;
  try {
    plugin = options.start_isolated(std::move(file), name, settings);
  } catch (const LoadError&) {
    throw;
  } catch (const std::exception& e) {
    throw LoadError(e.what());
  }
  if (!plugin) throw LoadError("plugin " + name + " (" + path + "): its worker processes did not start");
  OutOfProcessPlugin* p = plugin.get();
  st.isolated.push_back(std::move(plugin));
  st.order.emplace_back(nullptr, p);  // started: its shutdown runs from here on
  const PluginInfo& info = p->info();
  if (info.name != name)
    throw LoadError("plugin " + path + " calls itself \"" + info.name + "\", but a plugin in worker processes must be "
                    "installed as <its name>.so: rename the file to " + info.name + ".so and its table to [plugins." +
                    info.name + "]");
  names.emplace(name, path);
  for (const auto& kind : info.kinds) {
    if (auto why = check_kind(kind); !why.empty())
      throw LoadError("plugin " + name + " (" + path + ") registered an unusable kind: " + why);
    const Registration* owner = nullptr;
    auto added = st.registry.add(Registration{kind, name, path, nullptr, nullptr}, &owner);
    if (added == Registry::AddResult::duplicate_other_plugin)
      throw LoadError(two_plugins_message(*owner, name, path));
    if (added == Registry::AddResult::duplicate_same_plugin)
      throw LoadError("plugin " + name + " (" + path + ") registered job kind \"" + kind + "\" twice");
  }
  st.infos.push_back(info);
  if (info.kinds.empty()) st.log->warn("plugin {} ({}) registered no kinds", name, path);
  st.log->info("plugin {} {} runs in worker processes, from {} (needs plugin ABI {}.{}): kinds {}", name, info.version,
               path, info.abi_major, info.abi_minor, join(info.kinds));
}

}  // namespace

LoadedPlugins load_plugins(const LoaderOptions& options) {
  LoadedPlugins out;  // on any throw, its destructor shuts down what was initialised
  LoadedPlugins::State& st = *out.state_;
  st.log = options.log ? options.log : spdlog::default_logger();
  const uid_t owner = options.allowed_owner.value_or(geteuid());
  LoadedNames names;

  if (!options.config_file.empty() && options.check_ownership) check_config_file(options.config_file, owner);

  if (!options.dir.empty()) {
    DirFd dir(::open(options.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0) {
      int e = errno;
      if (e == ENOTDIR) throw LoadError("plugins directory " + options.dir + " is not a directory");
      throw LoadError("cannot read plugins directory " + options.dir + ": " + std::generic_category().message(e));
    }
    struct stat dst {};
    if (::fstat(dir.get(), &dst) != 0)
      throw LoadError("cannot read plugins directory " + options.dir + ": " + std::generic_category().message(errno));
    if (options.check_ownership) {
      check_trusted("plugins directory", options.dir, dst, owner);
      check_ancestors("plugins directory", options.dir, dir.get(), owner);
    }

    for (const std::string& name : plugin_names(dir.get(), options.dir)) {
      PluginFile file = PluginFile::open(dir.get(), options.dir, name, options.check_ownership, owner);
      const std::string stem = name.substr(0, name.size() - 3);
      if (options.isolated.count(stem)) {
        start_isolated(options, std::move(file), stem, st, names);
        continue;
      }
      const std::string& path = file.path();
      // Plugins are never dlclosed: handlers, strings and the descriptor live in the object.
      void* handle = file.load();
      const pgxq_plugin_descriptor* d = entry_descriptor(handle, path);
      if (auto refusal = check_abi(path, d, names)) throw LoadError(*refusal);

      auto plugin = std::make_unique<pgxq_plugin>();
      plugin->name = d->name;
      plugin->version = d->version;
      plugin->path = path;
      plugin->descriptor = d;
      plugin->log = st.log;
      plugin->registry = &st.registry;
      if (auto it = options.settings.find(plugin->name); it != options.settings.end()) plugin->settings = it->second;

      plugin->initialising = true;
      int rc = 1;
      try {
        rc = d->init(host_table(), plugin.get());
      } catch (...) {
        plugin->init_error = "init threw an exception across the C ABI (use the SDK's PGXQ_PLUGIN wrapper)";
      }
      plugin->initialising = false;
      plugin->registry = nullptr;
      // A kind claimed by two plugins is the real reason even when init then failed over it.
      if (!plugin->conflicts.empty() && rc != 0) throw LoadError(plugin->conflicts.front());
      if (rc != 0)
        throw LoadError("plugin " + plugin->name + " (" + path + "): init failed: " +
                        pg::one_line(plugin->init_error.value_or("(no message)")) + "; check its [plugins." + plugin->name +
                        "] settings, or remove it from " + options.dir);

      PluginInfo info;
      info.name = plugin->name;
      info.version = plugin->version;
      info.path = path;
      info.abi_major = d->abi_major;
      info.abi_minor = d->abi_minor;
      info.kinds = plugin->kinds;
      names.emplace(plugin->name, path);
      auto conflicts = plugin->conflicts;
      st.order.emplace_back(plugin.get(), nullptr);
      st.loaded.push_back(std::move(plugin));  // initialised: its shutdown runs from here on
      st.infos.push_back(std::move(info));
      if (!conflicts.empty()) throw LoadError(conflicts.front());
      if (st.infos.back().kinds.empty())
        st.log->warn("plugin {} ({}) registered no kinds", st.infos.back().name, path);
      st.log->info("plugin {} {} loaded from {} (needs plugin ABI {}.{}): kinds {}", st.infos.back().name,
                   st.infos.back().version, path, d->abi_major, d->abi_minor, join(st.infos.back().kinds));
    }
  }

  for (const auto& name : options.isolated) {
    if (names.find(name) == names.end())
      throw LoadError("[plugins." + name + "] isolation = \"process\": there is no file " + name + ".so in " +
                      (options.dir.empty() ? std::string("the plugins directory (none is set)") : options.dir) +
                      "; a plugin that runs in worker processes must be installed as <its name>.so");
  }

  for (const auto& [name, table] : options.settings) {
    if (names.find(name) == names.end())
      throw LoadError("[plugins." + name + "] configures plugin \"" + name + "\", which is not loaded (loaded from " +
                      (options.dir.empty() ? std::string("no directory") : options.dir) + ": " +
                      join([&] {
                        std::vector<std::string> v;
                        for (const auto& n : names) v.push_back(n.first);
                        return v;
                      }()) +
                      "); remove the table, fix the name, or install " + name + ".so");
  }

  for (const auto& plugin : st.isolated)
    for (const auto& kind : plugin->info().kinds) st.handlers.emplace(kind, plugin->handler(kind));
  for (const auto& [kind, reg] : st.registry.all()) {
    if (!reg.fn) continue;  // a kind of an isolated plugin: its handler is above
    auto owner_it = std::find_if(st.loaded.begin(), st.loaded.end(),
                                 [&](const auto& p) { return p->name == reg.plugin; });
    st.handlers.emplace(kind, make_handler(owner_it->get(), reg.fn, reg.user_data));
  }
  return out;
}

}  // namespace pgxq::plugin
