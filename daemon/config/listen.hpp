// config/listen: the [http] listen address — its accepted forms and the one it is normalised to.
// "127.0.0.1:9187", "0.0.0.0:9187", "[::1]:9187", or ":9187" (a port alone binds loopback: the
// endpoints reach the network only when an operator writes a non-loopback address).
#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace pgxq::config {

struct ListenProblem {
  std::string message;  // what is wrong and the forms that work
};

// The normalised address ("127.0.0.1:9187" for ":9187"), or what is wrong with `text`.
// Port 0 is accepted: the system picks a free port, which pgxqd logs.
std::variant<std::string, ListenProblem> parse_listen_address(std::string_view text);

}  // namespace pgxq::config
