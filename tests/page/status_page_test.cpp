// The status page's routes (http/status_page): the files served are the ones in the source
// tree, byte for byte, with the headers that keep job data from running in the browser; and the
// page itself has nothing a strict Content-Security-Policy would block.
#include <doctest/doctest.h>

#include <regex>

#include "http/status_page.hpp"
#include "support.hpp"

namespace {

using pgxq::http::Request;

std::string asset(const std::string& name) { return pgxq::test::read_file(pgxq::test::source_dir() + "/daemon/http/assets/" + name); }

std::string header(const pgxq::http::Response& r, const std::string& name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return {};
}

}  // namespace

TEST_CASE("status page: /, /status.js and /status.css serve the embedded files with their types") {
  auto routes = pgxq::http::status_page_routes();
  REQUIRE(routes.size() == 3);
  struct Expect {
    const char* path;
    const char* file;
    const char* type;
  };
  for (const auto& e : {Expect{"/", "index.html", "text/html; charset=utf-8"},
                        Expect{"/status.js", "status.js", "text/javascript; charset=utf-8"},
                        Expect{"/status.css", "status.css", "text/css; charset=utf-8"}}) {
    INFO(e.path);
    REQUIRE(routes.count(e.path) == 1);
    auto r = routes.at(e.path)(Request{"GET", e.path, ""});
    CHECK(r.status == 200);
    CHECK(r.content_type == e.type);
    CHECK(r.body == asset(e.file));
    CHECK(header(r, "Content-Security-Policy") ==
          "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    CHECK(header(r, "Cache-Control") == "no-store");
    CHECK(header(r, "Referrer-Policy") == "no-referrer");
  }
}

TEST_CASE("status page: no inline script, inline style, event handler attribute or external asset") {
  auto html = asset("index.html");
  // Every <script> loads the daemon's own file; nothing runs from the page's text.
  const std::regex script("<script([^>]*)>([^<]*)</script>");
  int scripts = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), script); it != std::sregex_iterator(); ++it) {
    ++scripts;
    CHECK((*it)[1].str().find("src=\"/status.js\"") != std::string::npos);
    CHECK((*it)[2].str().empty());
  }
  CHECK(scripts == 1);
  CHECK_FALSE(std::regex_search(html, std::regex("<style", std::regex::icase)));
  CHECK_FALSE(std::regex_search(html, std::regex("\\sstyle\\s*=", std::regex::icase)));
  CHECK_FALSE(std::regex_search(html, std::regex("\\son[a-z]+\\s*=", std::regex::icase)));
  CHECK_FALSE(std::regex_search(html, std::regex("(src|href)=\"(https?:)?//", std::regex::icase)));
  // The script never hands data to the HTML parser.
  auto js = asset("status.js");
  for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"})
    CHECK_MESSAGE(js.find(sink) == std::string::npos, sink);
}
