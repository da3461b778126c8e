// plugin/loader: finds the plugins in a directory, checks each one's ABI before calling it,
// initialises it with its own settings, and collects the handlers it registers. Plugins are
// never unloaded. Any refusal throws LoadError and nothing loaded so far keeps running.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "plugin/plugin_file.hpp"
#include "queue/job.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::plugin {

// A refusal: the message names the file, what is wrong and what to do about it.
class LoadError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct PluginInfo;

// A plugin whose handlers run outside the daemon (isolation = "process"): the daemon never
// loads its file, it hands the checked descriptor to whatever runs it. What the loader keeps.
class OutOfProcessPlugin {
public:
  virtual ~OutOfProcessPlugin() = default;
  // Its name (the file's name without .so), version, file, ABI and kinds, as it reported them.
  virtual const PluginInfo& info() const = 0;
  // The handler of one of info().kinds; valid while this object lives.
  virtual queue::Handler handler(const std::string& kind) = 0;
  // Runs the plugin's shutdown wherever it runs and stops it. Idempotent.
  virtual void shutdown() noexcept = 0;
};

// Starts the plugin `name` (the file <name>.so, opened and trust-checked) with its settings;
// throws LoadError (or another std::exception, taken as one) with the whole refusal.
using StartIsolated =
    std::function<std::unique_ptr<OutOfProcessPlugin>(PluginFile file, const std::string& name, const toml::table& settings)>;

struct LoaderOptions {
  std::string dir;                                 // every *.so in it, in name order
  std::map<std::string, toml::table> settings;     // [plugins.<name>] tables, by plugin name
  std::shared_ptr<spdlog::logger> log;
  // The config file that chose `dir`, refused like a plugin when others could change it; empty
  // when there is none (built-in defaults, tests).
  std::string config_file;
  // Refuse group/other-writable files and foreign owners (plugin/trust), for the files, the
  // directory, every directory above it, and the config file.
  bool check_ownership = true;
  // Besides root, the one owner accepted for the directory and the files; unset means the
  // daemon's effective uid (tests set another uid to see a foreign owner refused).
  std::optional<uid_t> allowed_owner;
  // Plugins that run outside the daemon, by name: the file <name>.so in `dir` is checked like any
  // plugin's, then given to start_isolated instead of being loaded.
  std::set<std::string> isolated;
  StartIsolated start_isolated;
};

struct PluginInfo {
  std::string name;
  std::string version;
  std::string path;
  // The descriptor's ABI fields: its major, and the lowest host minor it needs.
  unsigned abi_major = 0, abi_minor = 0;
  std::vector<std::string> kinds;
};

// Owns what was loaded: the handlers (which call into the plugins) and the plugins' shutdown
// hooks, run once at destruction (or by shutdown()), in reverse load order.
class LoadedPlugins {
public:
  LoadedPlugins();
  ~LoadedPlugins();
  LoadedPlugins(LoadedPlugins&&) noexcept;
  LoadedPlugins& operator=(LoadedPlugins&&) noexcept;

  const std::vector<PluginInfo>& plugins() const;
  // kind -> handler, for queue::Engine. The handlers stay valid while this object lives.
  const queue::HandlerMap& handlers() const;
  void shutdown() noexcept;

  struct State;
  std::unique_ptr<State> state_;
};

// Throws LoadError. Settings for a plugin name that was not loaded are an error too.
LoadedPlugins load_plugins(const LoaderOptions& options);

}  // namespace pgxq::plugin
