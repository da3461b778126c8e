// app/kind_settings: the [kinds.<kind>] tables checked against the kinds the loaded plugins
// registered. A table for a kind no plugin here handles is not an error (another daemon on the
// same table may handle it), but likely a typo: said at start by `run` and by `check-config`.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace pgxq::app {

// One warning per [kinds.<kind>] whose kind is not among `registered`, naming file and line.
std::vector<std::string> unregistered_kind_warnings(const config::Config& config,
                                                    const std::vector<std::string>& registered);

}  // namespace pgxq::app
