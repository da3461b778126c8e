// isolation/worker_main: the worker process — what `pgxqd __plugin-worker` runs. It drops what
// it does not need (other descriptors, signals meant for the daemon), asks to die with its
// parent, loads the one plugin it was handed (kPluginFd) with the same ABI checks as the
// daemon, initialises it with the settings of Setup through a host table whose job and SQL
// functions travel over the channel, then runs one job at a time until Shutdown or EOF.
#pragma once

namespace pgxq::isolation {

// argv: pgxqd __plugin-worker <parent pid>. Returns the process's exit status.
int run_plugin_worker(int argc, char** argv);

}  // namespace pgxq::isolation
