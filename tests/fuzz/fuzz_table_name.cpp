// Fuzz target: pgxq_validate_table_name, the only gate between a caller's string and SQL text.
// Its verdict must equal go-pgxq's rule, written out independently here:
// [a-z_][a-z0-9_]* optionally followed by one '.' and another such part. A rejection always
// carries a message.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <pgxq/client.h>

namespace {

bool part_ok(std::string_view p) {
  if (p.empty() || (p[0] >= '0' && p[0] <= '9')) return false;
  for (char c : p)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

bool reference(std::string_view t) {
  auto dot = t.find('.');
  if (dot == std::string_view::npos) return part_ok(t);
  return part_ok(t.substr(0, dot)) && part_ok(t.substr(dot + 1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  // The C API takes a C string: what it sees ends at the first NUL.
  std::string_view seen(s.c_str());
  pgxq_error err{};
  int rc = pgxq_validate_table_name(s.c_str(), &err);
  if ((rc == 0) != reference(seen)) std::abort();
  if (rc != 0 && err.message[0] == '\0') std::abort();
  char channel[PGXQ_NOTIFY_CHANNEL_MAX];
  pgxq_error cerr{};
  if (pgxq_notify_channel(s.c_str(), channel, sizeof channel, &cerr) == 0) {
    if (rc != 0) std::abort();  // a channel only for a valid name
    std::string_view ch(channel);
    if (ch.size() > 63 || ch.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string_view::npos)
      std::abort();
  }
  return 0;
}
