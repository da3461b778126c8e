// pg/error: the classification of SQLSTATEs into "the connection is gone", "the database cannot
// be reached" and everything else — the one place that decides.
#include "pg/error.hpp"

namespace pgxq::pg {

bool connection_lost_sqlstate(std::string_view s) noexcept {
  return s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03";
}

bool unreachable_sqlstate(std::string_view s) noexcept {
  return connection_lost_sqlstate(s) || s.starts_with("28") || s == "3D000";
}

// An empty SQLSTATE on a pg::Error means no server answer at all: the socket broke.
bool Error::connection_lost() const noexcept { return sqlstate_.empty() || connection_lost_sqlstate(sqlstate_); }

bool Error::unreachable() const noexcept { return sqlstate_.empty() || unreachable_sqlstate(sqlstate_); }

}  // namespace pgxq::pg
