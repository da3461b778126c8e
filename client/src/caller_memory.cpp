// Memory libpgxq hands to the caller (pgxq_schema's text, pgxq_quote_table_name's name), which
// the caller gives back with pgxq_free: one allocator for both sides.
#include <cstdlib>
#include <cstring>

#include "internal.hpp"

namespace pgxq::client::detail {

char* copy_for_caller(const std::string& text, std::string_view what, pgxq_error* err) {
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (!out) {
    set_error(err, std::string(what) + ": out of memory");
    return nullptr;
  }
  std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

}  // namespace pgxq::client::detail

extern "C" void pgxq_free(void* p) { std::free(p); }
