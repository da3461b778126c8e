// plugin/abi_check: decides, before anything of a plugin is called beyond its entry function,
// whether its descriptor can be trusted: ABI major equal to the host's, minor not newer,
// struct size sane, name well-formed and unique, init present. A pure function, so every
// refusal message is unit-tested; each names the file, the values on both sides and what to do.
#pragma once

#include <pgxq/plugin.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace pgxq::plugin {

// What the host implements; tests construct other values to simulate other hosts.
struct HostAbi {
  uint32_t major = PGXQ_PLUGIN_ABI_MAJOR;
  uint32_t minor = PGXQ_PLUGIN_ABI_MINOR;
  uint32_t descriptor_size = sizeof(pgxq_plugin_descriptor);
};

// Size of the ABI 1.0 descriptor: the least any plugin of major 1 can hand us.
inline constexpr uint32_t kDescriptorV1Size =
    offsetof(pgxq_plugin_descriptor, shutdown) + sizeof(pgxq_plugin_descriptor::shutdown);

// Names of plugins already accepted (name -> file), for the uniqueness check.
using LoadedNames = std::map<std::string, std::string, std::less<>>;

// nullopt when `d` (returned by the entry function of the file at `path`) is acceptable;
// otherwise the refusal message. Reads the name and functions only after the first three
// fields have shown the struct is large enough to hold them.
std::optional<std::string> check_abi(std::string_view path, const pgxq_plugin_descriptor* d,
                                     const LoadedNames& loaded, const HostAbi& host = {});

// True for 1..64 characters of [A-Za-z0-9_-]: usable as a [plugins.<name>] key unquoted.
bool valid_plugin_name(std::string_view name);

}  // namespace pgxq::plugin
