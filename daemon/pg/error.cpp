// pg/error: classification of SQLSTATEs into "the connection is gone" and everything else.
#include "pg/error.hpp"

namespace pgxq::pg {

bool Error::connection_lost() const noexcept {
  if (sqlstate_.empty()) return true;  // no server answer at all: the socket broke
  if (sqlstate_.starts_with("08")) return true;
  return sqlstate_ == "57P01" || sqlstate_ == "57P02" || sqlstate_ == "57P03";
}

}  // namespace pgxq::pg
