// isolation/protocol: the messages between pgxqd and a plugin worker process (isolation =
// "process"), and the channel that carries them. A frame is a little-endian u32 body length, then
// the body: a u16 message type and the message's fields (integers little-endian, strings and
// lists as a u32 count then their items). The daemon reads a worker's frames with a size bound
// and decodes them with bounds checks: anything malformed or oversized throws ProtocolError,
// which the daemon treats as that worker crashing, never as its own error.
//
// Conversation (D = daemon, W = worker):
//   D→W Setup                 once, right after the worker starts
//   W→D Hello | InitFailed    the plugin was loaded and initialised, or why not
//   then per job:
//   D→W Job
//   W→D (Exec → D→W Rows | ExecError)*, JobLog*, PluginLog*  in any order
//   W→D Outcome               the handler returned
//   D→W Shutdown              the daemon stops: the worker runs the plugin's shutdown and exits 0
// A PluginLog may also arrive between jobs (a plugin's own thread logging).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgxq::isolation {

// Grows when a message changes; Setup carries the daemon's, Hello the worker's, and they must
// be equal (daemon and worker are the same executable, so a mismatch means a broken install).
inline constexpr uint32_t kProtocolVersion = 1;

// The largest frame body the daemon accepts from a worker: a larger one is a crash of it.
inline constexpr size_t kMaxWorkerFrame = size_t{64} << 20;
// The largest frame body a worker accepts from the daemon (rows of a big SELECT).
inline constexpr size_t kMaxDaemonFrame = size_t{1} << 30;

// The file descriptors a worker process starts with (set up by the spawner).
inline constexpr int kChannelFd = 3;  // the socket to the daemon
inline constexpr int kSharedFd = 4;   // a memfd holding SharedState
inline constexpr int kPluginFd = 5;   // the plugin file the daemon checked (opened O_RDONLY)

// The argv[1] that makes pgxqd a worker process instead of parsing its command line.
inline constexpr const char* kWorkerCommand = "__plugin-worker";

// Mapped by both sides from the memfd at kSharedFd: written by the daemon, read by the worker's
// should_stop() without a round trip. Lock-free atomics are address-free, so both mappings see
// the same value.
struct SharedState {
  std::atomic<uint32_t> stop{0};  // 1: the current job's handler should stop
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);

enum class MessageType : uint16_t {
  setup = 1,
  hello = 2,
  init_failed = 3,
  job = 4,
  exec = 5,
  rows = 6,
  exec_error = 7,
  job_log = 8,
  plugin_log = 9,
  outcome = 10,
  shutdown = 11,
};

// The name of a message type for error texts ("type 77" for an unknown one).
std::string type_name(uint16_t type);

// ---- daemon → worker ----

struct Setup {
  uint32_t protocol = kProtocolVersion;
  std::string plugin_name;    // the name the config gave ([plugins.<name>]); the descriptor must match
  std::string plugin_path;    // the file's path, for messages (the worker loads kPluginFd)
  std::string settings_toml;  // the plugin's [plugins.<name>] table without the host's keys
  std::string config_file;    // the file the settings came from, for messages ("" if none)
  // "key.path" -> line in config_file, so a mistyped setting is reported where it was written.
  std::vector<std::pair<std::string, uint32_t>> setting_lines;
  int32_t log_level = 2;      // PGXQ_LOG_*: levels below it need not be sent
};

struct JobMessage {
  int64_t id = 0;
  std::string kind;
  std::string queue;
  std::string args;
  int32_t attempt = 0;
  int32_t max_attempts = 0;
  int32_t priority = 0;
  int64_t scheduled_at_us = 0;
  int64_t created_at_us = 0;
  int32_t snoozes = 0;
};

struct Rows {
  std::vector<std::string> columns;
  int32_t row_count = 0;
  // row-major, row_count × columns.size(); nullopt is SQL NULL
  std::vector<std::optional<std::string>> cells;
  int64_t affected = 0;
};

struct ExecError {
  int32_t code = 0;  // PGXQ_PLUGIN_E_*
  std::string message;
  std::string sqlstate;  // "" when the error did not come from the server
};

struct Shutdown {};

// ---- worker → daemon ----

struct Hello {
  uint32_t protocol = kProtocolVersion;
  int32_t pid = 0;
  std::string name;     // the descriptor's
  std::string version;  // the descriptor's
  uint32_t abi_major = 0, abi_minor = 0;
  std::vector<std::string> kinds;  // registered by init, in order
};

struct InitFailed {
  std::string message;  // a whole refusal: what, why, what to do
};

struct Exec {
  std::string sql;
  std::vector<std::optional<std::string>> params;  // nullopt is SQL NULL
};

struct JobLog {
  int32_t level = 0;  // PGXQ_LOG_*
  std::string message;
};

struct PluginLog {
  int32_t level = 0;
  std::string message;
};

struct OutcomeMessage {
  int32_t code = 0;  // what the handler returned (PGXQ_OUTCOME_* or anything else)
  std::optional<std::string> message;  // set_message
  std::optional<int64_t> delay_ms;     // set_delay_ms
};

// ---- frames ----

struct Frame {
  uint16_t type = 0;
  std::string body;  // the fields after the type
};

// A frame that cannot be decoded, or is larger than allowed: the sender is broken.
class ProtocolError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// The other side closed the channel (EOF, or EOF in the middle of a frame, or a reset).
class ChannelClosed : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

Frame encode(const Setup&);
Frame encode(const JobMessage&);
Frame encode(const Rows&);
Frame encode(const ExecError&);
Frame encode(const Shutdown&);
Frame encode(const Hello&);
Frame encode(const InitFailed&);
Frame encode(const Exec&);
Frame encode(const JobLog&);
Frame encode(const PluginLog&);
Frame encode(const OutcomeMessage&);

// Each throws ProtocolError when the frame is of another type, truncated, or has bytes left
// over, or a count that cannot fit in the frame.
Setup decode_setup(const Frame&);
JobMessage decode_job(const Frame&);
Rows decode_rows(const Frame&);
ExecError decode_exec_error(const Frame&);
Hello decode_hello(const Frame&);
InitFailed decode_init_failed(const Frame&);
Exec decode_exec(const Frame&);
JobLog decode_job_log(const Frame&);
PluginLog decode_plugin_log(const Frame&);
OutcomeMessage decode_outcome(const Frame&);

// One end of the socket between the daemon and a worker; owns the descriptor. Not thread-safe:
// the worker serialises its writers with its own mutex.
class Channel {
public:
  explicit Channel(int fd) noexcept : fd_(fd) {}
  ~Channel();
  Channel(Channel&& other) noexcept;
  Channel& operator=(Channel&& other) noexcept;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  int fd() const noexcept { return fd_; }

  // Writes one whole frame. Waits for the socket in slices of `slice`; after each slice in which
  // nothing could be written it asks keep_waiting (when given) and gives up with ChannelClosed
  // when it says no. Throws ChannelClosed when the peer is gone (EPIPE, ECONNRESET; no SIGPIPE).
  void send(const Frame& frame, std::chrono::milliseconds slice = std::chrono::milliseconds(20),
            const std::function<bool()>& keep_waiting = {});

  // Waits about `timeout` (at most twice it; negative: forever; zero: only what has arrived)
  // for one whole frame and returns it, or nullopt when the time passed first; a partial frame
  // is kept for the next call. The descriptor must be in blocking mode. Throws ChannelClosed at
  // EOF, ProtocolError when the announced body is larger than max_body or shorter than a type.
  std::optional<Frame> receive(std::chrono::milliseconds timeout, size_t max_body);

private:
  std::optional<Frame> take_frame(size_t max_body);
  void set_receive_timeout(int64_t ms);  // SO_RCVTIMEO, 0 = none; only when it changes

  int fd_ = -1;
  std::string buffer_;  // bytes read beyond the last returned frame
  int64_t receive_timeout_ms_ = 0;  // what SO_RCVTIMEO is set to (a new socket has none)
};

}  // namespace pgxq::isolation
