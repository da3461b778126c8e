// app/exit_codes: the process exit codes operators and systemd units rely on (sysexits where
// one fits). Documented in the README; RestartPreventExitStatus in the units uses them.
#pragma once

namespace pgxq::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;        // anything else (including refusing to run as root)
inline constexpr int kExitUsage = 64;         // EX_USAGE: bad command line or bad input data
inline constexpr int kExitUnavailable = 69;   // EX_UNAVAILABLE: the database cannot be reached
inline constexpr int kExitConfig = 78;        // EX_CONFIG: config file or plugin error

}  // namespace pgxq::app
