// app/errors: the one exception type commands throw to end with a message and an exit code;
// the CLI prints it (password scrubbed) and exits with the code.
#pragma once

#include <stdexcept>
#include <string>

#include "app/exit_codes.hpp"

namespace pgxq::app {

class CommandError : public std::runtime_error {
public:
  CommandError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }

private:
  int code_;
};

}  // namespace pgxq::app
