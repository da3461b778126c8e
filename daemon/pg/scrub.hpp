// pg/scrub: keeping database passwords out of anything printed — logs, error messages, the
// start-up summary. The one place that knows every form a password takes in a connection
// string and in text that echoes one.
#pragma once

#include <string>
#include <string_view>

namespace pgxq::pg {

// `text` with every password replaced by "***": the password and sslpassword libpq reads from
// `conninfo` (wherever their values appear in `text`, e.g. echoed by libpq), and any written in
// `text` itself as a URI's user:password@, as a URI query parameter ?password=... or
// &sslpassword=..., or as password=... / sslpassword=... in key/value form (quoted, or up to the
// next unescaped blank), whatever the connection string. `conninfo` may be empty or unparsable.
std::string scrub_password(std::string text, std::string_view conninfo);

// The connection string itself with its password masked, for display. Only the password's
// place is masked (user:***@, password=***), never other text that happens to equal it, so a
// password such as "postgres" leaves the host and database readable.
std::string mask_conninfo(std::string_view conninfo);

}  // namespace pgxq::pg
