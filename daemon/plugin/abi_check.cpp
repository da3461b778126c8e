// plugin/abi_check: see abi_check.hpp.
#include "plugin/abi_check.hpp"

#include <cstring>

namespace pgxq::plugin {

namespace {

std::string version(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

}  // namespace

bool valid_plugin_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> check_abi(std::string_view path, const pgxq_plugin_descriptor* d,
                                     const LoadedNames& loaded, const HostAbi& host) {
  const std::string file = "plugin " + std::string(path) + ": ";
  const std::string provides = "this pgxqd " + std::string(host.pgxqd_version) + " provides plugin ABI " +
                               version(host.major, host.minor);
  const std::string rebuild = "rebuild the plugin against pgxq plugin SDK " + version(host.major, host.minor);
  if (d == nullptr)
    return file + PGXQ_PLUGIN_ENTRY_NAME "() returned NULL instead of its descriptor; " + rebuild +
           " (the entry function must return a pointer to a static pgxq_plugin_descriptor)";

  // abi_minor is the lowest host minor the plugin needs, so major.abi_minor reads "needs ABI
  // major.minor or newer of the same major".
  const std::string needs = version(d->abi_major, d->abi_minor);
  if (d->abi_major != host.major)
    return file + "built for plugin ABI major " + std::to_string(d->abi_major) + " (it needs ABI " + needs +
           ") but " + provides + " (major " + std::to_string(d->abi_major) + " != " + std::to_string(host.major) +
           "); " + rebuild + ", or run it on a pgxqd that provides plugin ABI " + std::to_string(d->abi_major) + ".x";
  if (d->struct_size < kDescriptorV1Size)
    return file + "descriptor struct_size is " + std::to_string(d->struct_size) + " bytes, smaller than the " +
           std::to_string(kDescriptorV1Size) + " bytes of an ABI " + std::to_string(host.major) + ".0 descriptor (" +
           provides + "); the descriptor was not built from pgxq/plugin.h: " + rebuild;
  if (d->struct_size > kDescriptorMaxSize)
    return file + "descriptor struct_size is " + std::to_string(d->struct_size) + " bytes, more than the " +
           std::to_string(kDescriptorMaxSize) + " bytes any descriptor can have (" + provides +
           ", whose descriptor has " + std::to_string(sizeof(pgxq_plugin_descriptor)) +
           " bytes); the descriptor was not built from pgxq/plugin.h: " + rebuild;
  if (d->abi_minor > host.minor)
    return file + "the plugin needs plugin ABI " + needs + " or newer (its descriptor requires host ABI minor " +
           std::to_string(d->abi_minor) + ") but " + provides + " (minor " + std::to_string(d->abi_minor) + " > " +
           std::to_string(host.minor) + "): upgrade pgxqd to a release that provides plugin ABI " + needs +
           ", or rebuild the plugin without PGXQ_PLUGIN_REQUIRES_MINOR " + std::to_string(d->abi_minor) +
           " (checking newer host functions with PGXQ_HOST_HAS) so that it runs on ABI " +
           version(host.major, host.minor);

  if (d->name == nullptr || d->name[0] == '\0')
    return file + "descriptor has no name (pgxqd needs a name of 1..64 characters [A-Za-z0-9_-] to find the "
                  "plugin's [plugins.<name>] settings); set one and rebuild the plugin";
  const std::string_view name(d->name, strnlen(d->name, 65));
  if (!valid_plugin_name(name))
    return file + "descriptor name \"" + std::string(name.substr(0, 64)) +
           "\" is not 1..64 characters of [A-Za-z0-9_-]; rename the plugin and rebuild it";
  if (d->version == nullptr)
    return file + "descriptor of plugin \"" + std::string(name) +
           "\" has a NULL version; set a version string (e.g. \"1.0.0\") and rebuild the plugin";
  if (d->init == nullptr)
    return file + "descriptor of plugin \"" + std::string(name) +
           "\" has no init function; set init (it registers the plugin's handlers) and rebuild the plugin";
  if (auto it = loaded.find(name); it != loaded.end())
    return file + "plugin name \"" + std::string(name) + "\" is already used by " + it->second +
           "; plugin names must be unique: remove one of the two files, or rename one plugin and rebuild it";
  return std::nullopt;
}

}  // namespace pgxq::plugin
