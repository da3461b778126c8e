// config/listen: see listen.hpp. Addresses are numeric (inet_pton): a host name would make the
// bound interface depend on name resolution at start.
#include "config/listen.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace pgxq::config {

std::variant<std::string, ListenProblem> parse_listen_address(std::string_view text) {
  const auto problem = [&](const std::string& why) {
    return ListenProblem{"invalid listen address \"" + std::string(text) + "\": " + why +
                         " (expected \"127.0.0.1:9187\", \"0.0.0.0:9187\", \"[::1]:9187\" or \":9187\")"};
  };
  std::string host;
  std::string_view port_text;
  bool ipv6 = false;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return problem("an IPv6 address is written [address]:port");
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    ipv6 = true;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return problem(text.find_first_not_of("0123456789") == std::string_view::npos && !text.empty()
                         ? "no colon before the port; write \":" + std::string(text) + "\" for loopback"
                         : "no port; write host:port");
    }
    host = std::string(text.substr(0, colon));
    if (host.find(':') != std::string::npos) return problem("an IPv6 address goes in brackets, [address]:port");
    port_text = text.substr(colon + 1);
    if (host.empty()) host = "127.0.0.1";
  }
  unsigned char buffer[16];
  if (inet_pton(ipv6 ? AF_INET6 : AF_INET, host.c_str(), buffer) != 1) {
    return problem(ipv6 ? "\"" + host + "\" is not an IPv6 address"
                        : "\"" + host + "\" is not an IPv4 address (host names are not accepted; e.g. 127.0.0.1)");
  }
  int port = -1;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() || port < 0 || port > 65535)
    return problem("the port must be a number from 0 to 65535");
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace pgxq::config
