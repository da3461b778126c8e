// pg/error: the typed errors every libpq failure turns into. Each carries the SQLSTATE (five
// characters, empty when the failure happened before the server answered) and the server's
// message, so callers decide on the class of failure, not on message text.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace pgxq::pg {

// The SQLSTATEs of a lost connection: class 08 and the server shutting down or starting up
// (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now).
bool connection_lost_sqlstate(std::string_view sqlstate) noexcept;
// "The database cannot be reached": a lost connection, or one the server refuses outright — bad
// credentials (class 28) or no such database (3D000). The daemon's commands exit 69 for these.
// For a SQLSTATE from anywhere (pg::Error, libpgxq's pgxq_error); "" is not one of them.
bool unreachable_sqlstate(std::string_view sqlstate) noexcept;

class Error : public std::runtime_error {
public:
  Error(std::string message, std::string sqlstate = {})
      : std::runtime_error(std::move(message)), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const noexcept { return sqlstate_; }

  // Connection-class failures (SQLSTATE class 08, admin shutdown 57P01..57P03, or a dead
  // socket): the connection must be dropped and re-established.
  bool connection_lost() const noexcept;
  // connection_lost(), or the server refused the connection (unreachable_sqlstate).
  bool unreachable() const noexcept;

private:
  std::string sqlstate_;
};

}  // namespace pgxq::pg
