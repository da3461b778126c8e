// Shared by the config tests: a config text loaded as the daemon loads it (keys left out take
// the engine's defaults), as if read from the file `source`, and the error that loading gives.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "app/options.hpp"
#include "config/config.hpp"

namespace pgxq::test {

inline std::shared_ptr<const config::Config> load_config(std::string_view text, const std::string& source) {
  return config::load_string(text, source, app::config_defaults());
}

// The error text of loading `text` from `source` ("" when it loads).
inline std::string config_error(std::string_view text, const std::string& source) {
  try {
    load_config(text, source);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace pgxq::test
