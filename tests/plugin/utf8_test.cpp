// UTF-8 repair of text crossing the ABI: what PostgreSQL accepts in a text column.
#include <doctest/doctest.h>

#include "plugin/registry.hpp"
#include "pg/utf8.hpp"

using namespace pgxq::pg;
using namespace pgxq::plugin;

TEST_CASE("utf8: valid text is unchanged") {
  std::string s = "héllo wörld \xE2\x82\xAC \xF0\x9F\x98\x80";
  CHECK(valid_utf8(s));
  CHECK(repair_utf8(s) == s);
}

TEST_CASE("utf8: bad bytes become U+FFFD") {
  CHECK(repair_utf8("a\xFF" "b") == "a\xEF\xBF\xBD" "b");
  CHECK(repair_utf8("\xC3") == "\xEF\xBF\xBD");                                   // truncated
  CHECK(repair_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");                   // overlong
  CHECK(repair_utf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  CHECK(repair_utf8("\xF4\x90\x80\x80").find('\xF4') == std::string::npos);      // > U+10FFFF
  CHECK_FALSE(valid_utf8("\xFF"));
  CHECK(valid_utf8(repair_utf8("x\xFE\xFFy\xE2\x82")));
}

TEST_CASE("kinds: spelling rules") {
  CHECK(check_kind("send_email").empty());
  CHECK(check_kind("émail.v2").empty());
  CHECK_FALSE(check_kind("").empty());
  CHECK_FALSE(check_kind(std::string(201, 'k')).empty());
  CHECK_FALSE(check_kind("tab\there").empty());
  CHECK_FALSE(check_kind("bad\xFF").empty());
}
