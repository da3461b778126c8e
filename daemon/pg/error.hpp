// pg/error: the typed errors every libpq failure turns into. Each carries the SQLSTATE (five
// characters, empty when the failure happened before the server answered) and the server's
// message, so callers decide on the class of failure, not on message text.
#pragma once

#include <stdexcept>
#include <string>

namespace pgxq::pg {

class Error : public std::runtime_error {
public:
  Error(std::string message, std::string sqlstate = {})
      : std::runtime_error(std::move(message)), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const noexcept { return sqlstate_; }

  // Connection-class failures (SQLSTATE class 08, admin shutdown 57P01..57P03, or a dead
  // socket): the connection must be dropped and re-established.
  bool connection_lost() const noexcept;

private:
  std::string sqlstate_;
};

}  // namespace pgxq::pg
