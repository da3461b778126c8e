// http/status_page: the status page a person opens at `GET /` — its three files (compiled into
// the binary from http/assets/) and the headers that keep job data from ever running in the
// browser: a Content-Security-Policy allowing only the daemon's own script and style, no
// caching, no referrer. The page itself reads /api/status, which the app serves.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/server.hpp"

namespace pgxq::http {

// The policy every page response carries: nothing but the daemon's own script, style and API;
// no inline script or style, no framing, no forms, no base-URI changes.
inline constexpr std::string_view kStatusPagePolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// The headers for any response of the page or its API: the policy above, no caching, no
// referrer, no framing. (The server adds X-Content-Type-Options: nosniff to every response.)
std::vector<std::pair<std::string, std::string>> status_page_headers();

// The routes "/", "/status.js" and "/status.css". (The server answers only GET and HEAD.)
std::map<std::string, Route> status_page_routes();

}  // namespace pgxq::http
