// app/cli: the command line (CLI11): `pgxqd run | migrate | schema | enqueue | check-config |
// version`, each with --help and an example, and the mapping of every failure to its exit code
// and a message on stderr that never contains a password.
#pragma once

namespace pgxq::app {

int main_entry(int argc, char** argv);

}  // namespace pgxq::app
