// plugin/abi_check: decides, before anything of a plugin is called beyond its entry function,
// whether its descriptor can be trusted: ABI major equal to the host's, the host minor the
// plugin requires (the descriptor's abi_minor) not above the host's, struct size sane, name
// well-formed and unique, init present. A pure function, so every refusal message is
// unit-tested; each names the file, what mismatched on both sides and what to do.
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
  std::string_view pgxqd_version = PGXQ_VERSION;
};

// Size of the ABI 1.0 descriptor: the least any plugin of major 1 can hand us.
inline constexpr uint32_t kDescriptorV1Size =
    offsetof(pgxq_plugin_descriptor, shutdown) + sizeof(pgxq_plugin_descriptor::shutdown);

// A descriptor may be larger than the host's (built against a newer SDK: the host ignores the
// fields it does not know), but a descriptor is a handful of pointers: a struct_size beyond
// this is not a size at all, and the rest of the struct cannot be trusted either.
inline constexpr uint32_t kDescriptorMaxSize = 4096;

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
