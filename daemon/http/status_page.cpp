// http/status_page: see status_page.hpp. The files' bytes come from a source generated at
// build time by http/assets/embed.cmake.
#include "http/status_page.hpp"

namespace pgxq::http {

namespace assets {
extern const std::string_view index_html;
extern const std::string_view status_js;
extern const std::string_view status_css;
}  // namespace assets

std::vector<std::pair<std::string, std::string>> status_page_headers() {
  return {
      {"Content-Security-Policy", std::string(kStatusPagePolicy)},
      {"Cache-Control", "no-store"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
  };
}

namespace {

Route serve(std::string_view body, std::string content_type) {
  return [body, content_type = std::move(content_type)](const Request&) {
    Response response;
    response.headers = status_page_headers();
    response.content_type = content_type;
    response.body = std::string(body);
    return response;
  };
}

}  // namespace

std::map<std::string, Route> status_page_routes() {
  return {
      {"/", serve(assets::index_html, "text/html; charset=utf-8")},
      {"/status.js", serve(assets::status_js, "text/javascript; charset=utf-8")},
      {"/status.css", serve(assets::status_css, "text/css; charset=utf-8")},
  };
}

}  // namespace pgxq::http
