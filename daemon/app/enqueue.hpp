// app/enqueue: `pgxqd enqueue` — one job from the command line, or many from stdin (one JSON
// object per line, validated completely before the transaction commits, so a bad line means
// nothing is inserted). A job with a unique key is inserted only when no unfinished job of its
// kind holds the key; the output says which happened.
#pragma once

#include <istream>
#include <optional>
#include <string>

#include "app/context.hpp"

namespace pgxq::app {

struct EnqueueOptions {
  std::optional<std::string> config, database, table;
  std::string kind;
  std::string args = "{}";
  std::optional<std::string> queue;
  std::optional<int> priority, max_attempts;
  std::optional<std::string> in, at;
  std::optional<std::string> unique_key;
  bool from_stdin = false;
  bool json = false;
};

// Prints the id (or, with --stdin, the number inserted) on stdout, and with a unique key whether
// the job was inserted or already there (with --json, one JSON object). Returns the exit code.
int enqueue(const EnqueueOptions& options, std::istream& in);

}  // namespace pgxq::app
