// pg/one_line: see one_line.hpp.
#include "pg/one_line.hpp"

namespace pgxq::pg {

namespace {

bool is_control(unsigned char c) noexcept { return (c < 0x20 && c != '\t') || c == 0x7f; }

}  // namespace

bool needs_one_line(std::string_view s) noexcept {
  for (char c : s)
    if (is_control(static_cast<unsigned char>(c))) return true;
  return false;
}

std::string one_line(std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (!is_control(c)) {
      out.push_back(ch);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace pgxq::pg
