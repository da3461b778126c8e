// Table names: go-pgxq's validation rules (the only gate between a caller's string and the SQL
// text, since a table name cannot be a query parameter), the quoted SQL rendering (for libpgxq
// and, through pgxq_quote_table_name, for pgxqd's engine), and the NOTIFY channel name derived
// from the table.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "internal.hpp"

namespace pgxq::client::detail {

namespace {

bool ident_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

std::string invalid(std::string_view table, std::string_view rule) {
  return "invalid table name \"" + std::string(table) + "\": " + std::string(rule);
}

}  // namespace

std::string quote_identifier(std::string_view id) { return "\"" + std::string(id) + "\""; }

std::string TableName::sql() const { return sibling(base); }

std::string TableName::flat() const { return schema.empty() ? base : schema + "_" + base; }

std::string TableName::sibling(std::string_view name) const {
  return schema.empty() ? quote_identifier(name) : quote_identifier(schema) + "." + quote_identifier(name);
}

std::optional<TableName> parse_table(const char* table, bool null_is_default, pgxq_error* err) noexcept {
  try {
    if (!table && null_is_default) table = PGXQ_DEFAULT_TABLE;
    if (!table || !*table) {
      set_error(err, "table name must not be empty");
      return std::nullopt;
    }
    std::string_view t(table);
    size_t dot = std::string_view::npos;
    for (size_t i = 0; i < t.size(); ++i) {
      char c = t[i];
      if (c == '.') {
        if (dot != std::string_view::npos) {
          set_error(err, invalid(t, "more than one '.' (expected [schema.]table)"));
          return std::nullopt;
        }
        dot = i;
        continue;
      }
      if (!ident_char(c)) {
        char shown[16];
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
          std::snprintf(shown, sizeof shown, "\\x%02x", static_cast<unsigned char>(c));
        else
          std::snprintf(shown, sizeof shown, "%c", c);
        set_error(err, invalid(t, std::string("invalid character '") + shown +
                                      "' (only a-z, 0-9, _ and one '.' between schema and table are allowed)"));
        return std::nullopt;
      }
    }
    TableName out;
    if (dot == std::string_view::npos) {
      out.base = t;
    } else {
      out.schema = t.substr(0, dot);
      out.base = t.substr(dot + 1);
    }
    for (const std::string* part : {&out.schema, &out.base}) {
      if (!part->empty() && (*part)[0] >= '0' && (*part)[0] <= '9') {
        set_error(err, invalid(t, "a part starts with a digit ('" + *part + "')"));
        return std::nullopt;
      }
    }
    if (dot != std::string_view::npos && (out.schema.empty() || out.base.empty())) {
      set_error(err, invalid(t, out.schema.empty() ? "empty schema part before '.'" : "empty table part after '.'"));
      return std::nullopt;
    }
    return out;
  } catch (...) {
    set_error(err, "out of memory");
    return std::nullopt;
  }
}

std::string notify_channel(const TableName& t) {
  std::string ch = "pgxq_" + t.flat();
  return ch.size() > max_identifier ? std::string() : ch;
}

}  // namespace pgxq::client::detail

using namespace pgxq::client::detail;

extern "C" int pgxq_validate_table_name(const char* table, pgxq_error* err) {
  clear_error(err);
  return parse_table(table, false, err) ? 0 : -1;
}

extern "C" char* pgxq_quote_table_name(const char* table, pgxq_error* err) {
  clear_error(err);
  try {
    auto t = parse_table(table, true, err);
    if (!t) return nullptr;
    return copy_for_caller(t->sql(), "pgxq_quote_table_name", err);
  } catch (...) {
    set_error(err, "pgxq_quote_table_name: out of memory");
    return nullptr;
  }
}

extern "C" int pgxq_notify_channel(const char* table, char* out, size_t out_size, pgxq_error* err) {
  clear_error(err);
  try {
    auto t = parse_table(table, true, err);
    if (!t) return -1;
    std::string ch = notify_channel(*t);
    if (ch.empty()) {
      set_error(err, "table name \"" + t->given() + "\" is too long: its notification channel \"pgxq_" + t->flat() +
                         "\" would exceed PostgreSQL's 63-byte limit");
      return -1;
    }
    if (!out || out_size < ch.size() + 1) {
      set_error(err, "output buffer too small for the channel name (need " + std::to_string(ch.size() + 1) +
                         " bytes; PGXQ_NOTIFY_CHANNEL_MAX always suffices)");
      return -1;
    }
    std::memcpy(out, ch.c_str(), ch.size() + 1);
    return 0;
  } catch (...) {
    set_error(err, "out of memory");
    return -1;
  }
}
