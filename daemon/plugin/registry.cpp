// plugin/registry: see registry.hpp.
#include "plugin/registry.hpp"

#include "pg/utf8.hpp"

namespace pgxq::plugin {

using pg::repair_utf8;
using pg::valid_utf8;

Registry::AddResult Registry::add(Registration r, const Registration** owner) {
  auto it = kinds_.find(r.kind);
  if (it != kinds_.end()) {
    if (owner) *owner = &it->second;
    return it->second.plugin == r.plugin ? AddResult::duplicate_same_plugin : AddResult::duplicate_other_plugin;
  }
  std::string key = r.kind;
  kinds_.emplace(std::move(key), std::move(r));
  return AddResult::added;
}

const Registration* Registry::find(std::string_view kind) const {
  auto it = kinds_.find(kind);
  return it == kinds_.end() ? nullptr : &it->second;
}

std::string two_plugins_message(const Registration& owner, const std::string& plugin, const std::string& path) {
  return "kind \"" + owner.kind + "\" is registered by two plugins: " + owner.plugin + " (" + owner.path + ") and " +
         plugin + " (" + path + "); a kind must have exactly one handler: remove one of the plugins from the plugins "
         "directory";
}

std::string check_kind(std::string_view kind) {
  if (kind.empty()) return "a kind must not be empty";
  if (kind.size() > 200) return "a kind must be at most 200 bytes (got " + std::to_string(kind.size()) + ")";
  if (!valid_utf8(kind)) return "a kind must be valid UTF-8";
  for (unsigned char c : kind)
    if (c < 0x20 || c == 0x7f) return "a kind must not contain control characters";
  return {};
}

}  // namespace pgxq::plugin
