// Fuzz target: the config reader. Any text is either a Config or a ConfigError whose every
// problem names the source and carries a message; nothing else may escape, crash or leak.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "app/options.hpp"
#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto cfg = pgxq::config::load_string(text, "fuzz.toml", pgxq::app::config_defaults());
    if (cfg->queues.empty()) std::abort();  // a loaded config always has a queue
    auto opts = pgxq::app::engine_options(*cfg, "");
    if (opts.queues.size() != cfg->queues.size()) std::abort();
  } catch (const pgxq::config::ConfigError& e) {
    if (e.problems().empty()) std::abort();
    for (const auto& p : e.problems())
      if (p.message.empty() || p.file != "fuzz.toml") std::abort();
  }
  return 0;
}
