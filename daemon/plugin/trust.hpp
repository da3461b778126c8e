// plugin/trust: who may have written what feeds pgxqd code. A plugin file, the plugins
// directory, every directory above it, and the config file that names it must be changeable by
// no one but root and pgxqd's own user (sshd's StrictModes rule); a sticky directory such as
// /tmp counts as safe to pass through, because there only an entry's owner (checked in turn)
// can rename or remove it. Every refusal is a LoadError saying what, why and what to do.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

namespace pgxq::plugin {

// Refuses `st` (of `path`, described as `what`: "plugin file", "plugins directory", ...) when it
// is writable by group or others, or owned by someone other than root or `owner`.
void check_trusted(const std::string& what, const std::string& path, const struct stat& st, uid_t owner);

// Walks from the open directory `dir_fd` (named `path` in messages) up to /, through the real
// directories (symbolic links in the configured path are already resolved by then), and
// refuses any one that someone other than root or `owner` could change, except that a sticky
// directory owned by root or `owner` may be writable by others.
void check_ancestors(const std::string& what, const std::string& path, int dir_fd, uid_t owner);

// Refuses a config file (and the directories above it) that someone other than root or `owner`
// could change: the config chooses the plugins directory, so its writers choose pgxqd's code.
void check_config_file(const std::string& path, uid_t owner);

}  // namespace pgxq::plugin
