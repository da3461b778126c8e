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
    std::string msg = where + ": [kinds] has settings for kind \"" + kind +
                      "\", which no plugin loaded here registered: they apply only if this daemon handles that kind";
    const std::string best = config::closest(kind, registered);
    if (!best.empty()) msg += "; did you mean \"" + best + "\"?";
    else msg += " (another daemon on the table may handle it)";
    warnings.push_back(std::move(msg));
  }
  return warnings;
}

}  // namespace pgxq::app
