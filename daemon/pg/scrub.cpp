// pg/scrub: see scrub.hpp.
#include "pg/scrub.hpp"

#include <libpq-fe.h>

#include <regex>
#include <vector>

namespace pgxq::pg {

namespace {

// The secrets libpq would use from `conninfo`: password and sslpassword (none when unparsable).
std::vector<std::string> parsed_secrets(std::string_view conninfo) {
  std::vector<std::string> secrets;
  if (conninfo.empty()) return secrets;
  PQconninfoOption* opts = PQconninfoParse(std::string(conninfo).c_str(), nullptr);
  if (!opts) return secrets;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    std::string_view key(o->keyword);
    if ((key == "password" || key == "sslpassword") && o->val && *o->val) secrets.emplace_back(o->val);
  }
  PQconninfoFree(opts);
  return secrets;
}

// Masks every password written where a connection string puts one.
std::string mask_password_fields(std::string text) {
  // URI userinfo: scheme://user:password@host (RFC 3986 keeps '/', '?', '#', '@' and blanks out
  // of it, so "postgresql://host:5432/db" has no password).
  static const std::regex uri_pw(R"((postgres(?:ql)?://[^:/?#@\s]*:)([^/?#@\s]*)(@))");
  text = std::regex_replace(text, uri_pw, "$1***$3");
  // URI query parameter: ?password=... or &sslpassword=..., the value running to the next '&',
  // '#' or blank (a literal '&' in it would be percent-encoded).
  static const std::regex query_pw(R"re(([?&](?:ssl)?password=)(?:\*\*\*(?=$|[\s&#)"'])|[^&#\s]*))re");
  text = std::regex_replace(text, query_pw, "$1***");
  // Key/value form: password=... and sslpassword=..., the value quoted ('a b', "a b") or running
  // to the next unescaped blank, '&' and backslash-escaped blanks included, as libpq reads it. An
  // already masked "***" is matched as such, so scrubbing twice leaves what follows it alone.
  static const std::regex kv_pw(
      R"re((^|[^A-Za-z0-9_?&])((?:ssl)?password\s*=\s*)(\*\*\*(?=$|[\s&)"'])|'(?:[^'\\]|\\[\s\S])*'|"(?:[^"\\]|\\[\s\S])*"|(?:\\[\s\S]|[^\s\\])*))re");
  return std::regex_replace(text, kv_pw, "$1$2***");
}

}  // namespace

std::string mask_conninfo(std::string_view conninfo) { return mask_password_fields(std::string(conninfo)); }

std::string scrub_password(std::string text, std::string_view conninfo) {
  text = mask_password_fields(std::move(text));
  // The value itself wherever it was echoed (percent-decoded from a URI, or unquoted).
  for (const std::string& secret : parsed_secrets(conninfo))
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
      text.replace(at, secret.size(), "***");
  return text;
}

}  // namespace pgxq::pg
