// pg/scrub: see scrub.hpp.
#include "pg/scrub.hpp"

#include <libpq-fe.h>

#include <regex>

namespace pgxq::pg {

namespace {

// The password libpq would use from `conninfo` ("" when none or unparsable).
std::string parsed_password(std::string_view conninfo) {
  if (conninfo.empty()) return {};
  PQconninfoOption* opts = PQconninfoParse(std::string(conninfo).c_str(), nullptr);
  if (!opts) return {};
  std::string password;
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (std::string_view(o->keyword) == "password" && o->val) password = o->val;
  PQconninfoFree(opts);
  return password;
}

// Masks every password written where a connection string puts one.
std::string mask_password_fields(std::string text) {
  // URI userinfo: scheme://user:password@host (RFC 3986 keeps '/', '?', '#', '@' and blanks out
  // of it, so "postgresql://host:5432/db" has no password).
  static const std::regex uri_pw(R"((postgres(?:ql)?://[^:/?#@\s]*:)([^/?#@\s]*)(@))");
  text = std::regex_replace(text, uri_pw, "$1***$3");
  // Key/value form and URI query parameter: password=..., the value quoted or not (an already
  // masked "***" is matched as such, so scrubbing twice leaves what follows it alone).
  static const std::regex kv_pw(R"re((^|[^A-Za-z0-9_])(password\s*=\s*)(\*\*\*(?=$|[\s&)"'])|'(?:[^'\\]|\\.)*'|[^\s&]*))re");
  return std::regex_replace(text, kv_pw, "$1$2***");
}

}  // namespace

std::string mask_conninfo(std::string_view conninfo) { return mask_password_fields(std::string(conninfo)); }

std::string scrub_password(std::string text, std::string_view conninfo) {
  text = mask_password_fields(std::move(text));
  // The value itself wherever it was echoed (percent-decoded from a URI, or unquoted).
  const std::string password = parsed_password(conninfo);
  if (password.empty()) return text;
  for (size_t at = text.find(password); at != std::string::npos; at = text.find(password, at + 3))
    text.replace(at, password.size(), "***");
  return text;
}

}  // namespace pgxq::pg
