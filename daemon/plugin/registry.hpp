// plugin/registry: the registry of job kinds filled by the plugins' init calls: which plugin
// owns each kind and which C handler serves it. Kinds are unique across all plugins; a second
// registration of a kind is refused and, when it comes from another plugin, reported with both
// plugin names. Written only on the loading thread, read-only afterwards.
#pragma once

#include <pgxq/plugin.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pgxq::plugin {

struct Registration {
  std::string kind;
  std::string plugin;  // owning plugin's name
  std::string path;    // owning plugin's file
  pgxq_plugin_handler_fn fn = nullptr;
  void* user_data = nullptr;
};

class Registry {
public:
  enum class AddResult { added, duplicate_same_plugin, duplicate_other_plugin };

  // Adds `r` unless its kind is taken; on a duplicate, `*owner` (if given) receives the
  // existing registration.
  AddResult add(Registration r, const Registration** owner = nullptr);
  const Registration* find(std::string_view kind) const;
  const std::map<std::string, Registration, std::less<>>& all() const { return kinds_; }

private:
  std::map<std::string, Registration, std::less<>> kinds_;
};

// The refusal when `plugin` (from `path`) registers a kind `owner` already holds.
std::string two_plugins_message(const Registration& owner, const std::string& plugin, const std::string& path);

// Checks a kind's spelling: 1..200 bytes of valid UTF-8 without control characters.
// Returns an empty string when acceptable, else why not.
std::string check_kind(std::string_view kind);

}  // namespace pgxq::plugin
