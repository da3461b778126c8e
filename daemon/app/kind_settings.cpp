// app/kind_settings: see kind_settings.hpp.
#include "app/kind_settings.hpp"

#include <algorithm>

namespace pgxq::app {

std::vector<std::string> unregistered_kind_warnings(const config::Config& config,
                                                    const std::vector<std::string>& registered) {
  std::vector<std::string> warnings;
  for (const auto& [kind, settings] : config.kinds) {
    if (std::find(registered.begin(), registered.end(), kind) != registered.end()) continue;
    std::string where = config.path.empty() ? "<config>" : config.path;
    if (settings.pos.line > 0) where += ":" + std::to_string(settings.pos.line) + ":" + std::to_string(settings.pos.column);
    std::string msg = where + ": [kinds.\"" + kind + "\"]: no plugin loaded here registered the kind \"" + kind +
                      "\", so these settings do nothing in this daemon (fine if another daemon on the table handles it)";
    const std::string best = config::closest(kind, registered);
    if (!best.empty()) msg += "; did you mean \"" + best + "\"?";
    warnings.push_back(std::move(msg));
  }
  return warnings;
}

}  // namespace pgxq::app
