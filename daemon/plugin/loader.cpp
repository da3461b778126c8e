// plugin/loader: finds *.so files in the plugins directory (name order), refuses files anyone
// but root or pgxqd's own user could have written, dlopens each (RTLD_NOW | RTLD_LOCAL, never
// dlclosed), checks the descriptor's ABI before calling anything else, runs init with the
// plugin's settings and collects the kinds it registers. Any refusal throws LoadError after
// shutting down the plugins initialised so far, so nothing half-loaded keeps running.
#include "plugin/loader.hpp"

#include <dlfcn.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "plugin/abi_check.hpp"
#include "plugin/host_api.hpp"
#include "plugin/registry.hpp"

namespace pgxq::plugin {

struct LoadedPlugins::State {
  std::vector<std::unique_ptr<pgxq_plugin>> loaded;  // initialised, in load order
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
  for (auto it = state_->loaded.rbegin(); it != state_->loaded.rend(); ++it) {
    pgxq_plugin& p = **it;
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

// Refuses a directory or file that someone other than root or `owner` could modify: whoever
// can write a plugin runs code as pgxqd.
void check_trust(const std::string& path, const struct stat& st, uid_t owner, bool is_dir) {
  const char* what = is_dir ? "plugins directory" : "plugin file";
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    throw LoadError(std::string(what) + " " + path + " is writable by " +
                    ((st.st_mode & S_IWOTH) ? "others" : "its group") + " (mode " + mode_text(st.st_mode) +
                    "); anyone who can write it can run code as pgxqd: run `chmod go-w " + path + "`");
  if (st.st_uid != 0 && st.st_uid != owner)
    throw LoadError(std::string(what) + " " + path + " is owned by " + user_name(st.st_uid) + " (uid " +
                    std::to_string(st.st_uid) + "), not by root or pgxqd's user " + user_name(owner) + " (uid " +
                    std::to_string(owner) + "); anyone who owns it can run code as pgxqd: run `chown root " +
                    path + "`");
}

struct stat stat_or_throw(const std::string& path, const char* what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw LoadError(std::string("cannot read ") + what + " " + path + ": " + std::generic_category().message(errno));
  return st;
}

std::vector<std::string> plugin_files(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();
    if (p.extension() == ".so") files.push_back(p.string());
  }
  if (ec) throw LoadError("cannot list plugins directory " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

}  // namespace

LoadedPlugins load_plugins(const LoaderOptions& options) {
  LoadedPlugins out;  // on any throw, its destructor shuts down what was initialised
  LoadedPlugins::State& st = *out.state_;
  st.log = options.log ? options.log : spdlog::default_logger();
  const uid_t owner = options.allowed_owner.value_or(geteuid());
  LoadedNames names;

  if (!options.dir.empty()) {
    struct stat dst = stat_or_throw(options.dir, "plugins directory");
    if (!S_ISDIR(dst.st_mode)) throw LoadError("plugins directory " + options.dir + " is not a directory");
    if (options.check_ownership) check_trust(options.dir, dst, owner, true);

    for (const std::string& path : plugin_files(options.dir)) {
      struct stat fst = stat_or_throw(path, "plugin file");
      if (!S_ISREG(fst.st_mode))
        throw LoadError("plugin " + path + " is not a regular file; remove it from " + options.dir);
      if (options.check_ownership) check_trust(path, fst, owner, false);

      // Plugins are never dlclosed: handlers, strings and the descriptor live in the object.
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        const char* why = dlerror();
        throw LoadError("plugin " + path + " is not a loadable shared object: " + (why ? why : "unknown dlopen error") +
                        "; remove it from " + options.dir + " or rebuild it as a shared library");
      }
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
      const pgxq_plugin_descriptor* d = entry();
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
                        plugin->init_error.value_or("(no message)") + "; check its [plugins." + plugin->name +
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
      st.loaded.push_back(std::move(plugin));  // initialised: its shutdown runs from here on
      st.infos.push_back(std::move(info));
      if (!conflicts.empty()) throw LoadError(conflicts.front());
      if (st.infos.back().kinds.empty())
        st.log->warn("plugin {} ({}) registered no kinds", st.infos.back().name, path);
      st.log->info("plugin {} {} loaded from {} (needs plugin ABI {}.{}): kinds {}", st.infos.back().name,
                   st.infos.back().version, path, d->abi_major, d->abi_minor, join(st.infos.back().kinds));
    }
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

  for (const auto& [kind, reg] : st.registry.all()) {
    auto owner_it = std::find_if(st.loaded.begin(), st.loaded.end(),
                                 [&](const auto& p) { return p->name == reg.plugin; });
    st.handlers.emplace(kind, make_handler(owner_it->get(), reg.fn, reg.user_data));
  }
  return out;
}

}  // namespace pgxq::plugin
