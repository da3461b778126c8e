// isolation/protocol: see protocol.hpp. Encoding is explicit little-endian byte by byte, so the
// format does not depend on either side's struct layout; decoding checks every length against
// what is left of the frame before it allocates anything.
#include "isolation/protocol.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace pgxq::isolation {

namespace {

class Writer {
public:
  explicit Writer(MessageType type) { frame_.type = static_cast<uint16_t>(type); }

  Writer& u8(uint8_t v) {
    frame_.body.push_back(static_cast<char>(v));
    return *this;
  }
  Writer& u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) frame_.body.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  Writer& u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) frame_.body.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  Writer& i32(int32_t v) { return u32(static_cast<uint32_t>(v)); }
  Writer& i64(int64_t v) { return u64(static_cast<uint64_t>(v)); }
  Writer& str(const std::string& s) {
    if (s.size() > UINT32_MAX) throw ProtocolError("a string of " + std::to_string(s.size()) + " bytes is too long to send");
    u32(static_cast<uint32_t>(s.size()));
    frame_.body.append(s);
    return *this;
  }
  Writer& opt_str(const std::optional<std::string>& s) {
    u8(s ? 1 : 0);
    if (s) str(*s);
    return *this;
  }
  Writer& count(size_t n) {
    if (n > UINT32_MAX) throw ProtocolError("a list of " + std::to_string(n) + " items is too long to send");
    return u32(static_cast<uint32_t>(n));
  }
  Frame done() { return std::move(frame_); }

private:
  Frame frame_;
};

class Reader {
public:
  Reader(const Frame& frame, MessageType expected) : body_(frame.body), name_(type_name(static_cast<uint16_t>(expected))) {
    if (frame.type != static_cast<uint16_t>(expected))
      throw ProtocolError("expected a " + name_ + " message, got " + type_name(frame.type));
  }

  uint8_t u8() {
    need(1, "a byte");
    return static_cast<uint8_t>(body_[pos_++]);
  }
  uint32_t u32() {
    need(4, "a 32-bit integer");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(body_[pos_++])) << (8 * i);
    return v;
  }
  uint64_t u64() {
    need(8, "a 64-bit integer");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(body_[pos_++])) << (8 * i);
    return v;
  }
  int32_t i32() { return static_cast<int32_t>(u32()); }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  std::string str() {
    uint32_t n = u32();
    need(n, "a string of " + std::to_string(n) + " bytes");
    std::string s = body_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::optional<std::string> opt_str() {
    switch (u8()) {
      case 0: return std::nullopt;
      case 1: return str();
      default: fail("an optional string's flag is neither 0 nor 1");
    }
  }
  bool flag() {
    uint8_t b = u8();
    if (b > 1) fail("a flag is neither 0 nor 1");
    return b == 1;
  }
  // A list count, checked against the bytes left: every item takes at least min_item_bytes, so
  // a count that could not fit is refused before anything is reserved for it.
  size_t count(size_t min_item_bytes) {
    uint32_t n = u32();
    if (min_item_bytes > 0 && n > (body_.size() - pos_) / min_item_bytes)
      fail("a list of " + std::to_string(n) + " items cannot fit in the " + std::to_string(body_.size() - pos_) +
           " bytes left");
    return n;
  }
  void end() {
    if (pos_ != body_.size())
      fail(std::to_string(body_.size() - pos_) + " bytes left over after the last field");
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw ProtocolError("malformed " + name_ + " message: " + why + " (at byte " + std::to_string(pos_) + " of " +
                        std::to_string(body_.size()) + ")");
  }

private:
  void need(size_t n, const std::string& what) const {
    if (body_.size() - pos_ < n) fail("truncated: " + what + " does not fit");
  }

  const std::string& body_;
  size_t pos_ = 0;
  std::string name_;
};

void put_params(Writer& w, const std::vector<std::optional<std::string>>& values) {
  w.count(values.size());
  for (const auto& v : values) w.opt_str(v);
}

std::vector<std::optional<std::string>> get_params(Reader& r) {
  std::vector<std::optional<std::string>> values(r.count(1));
  for (auto& v : values) v = r.opt_str();
  return values;
}

std::vector<std::string> get_strings(Reader& r) {
  std::vector<std::string> values(r.count(4));
  for (auto& v : values) v = r.str();
  return values;
}

void put_strings(Writer& w, const std::vector<std::string>& values) {
  w.count(values.size());
  for (const auto& v : values) w.str(v);
}

}  // namespace

std::string type_name(uint16_t type) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::setup: return "setup";
    case MessageType::hello: return "hello";
    case MessageType::init_failed: return "init-failed";
    case MessageType::job: return "job";
    case MessageType::exec: return "exec";
    case MessageType::rows: return "rows";
    case MessageType::exec_error: return "exec-error";
    case MessageType::job_log: return "job-log";
    case MessageType::plugin_log: return "plugin-log";
    case MessageType::outcome: return "outcome";
    case MessageType::shutdown: return "shutdown";
  }
  return "type " + std::to_string(type);
}

// ---- encode ----

Frame encode(const Setup& m) {
  Writer w(MessageType::setup);
  w.u32(m.protocol).str(m.plugin_name).str(m.plugin_path).str(m.settings_toml).str(m.config_file);
  w.count(m.setting_lines.size());
  for (const auto& [key, line] : m.setting_lines) w.str(key).u32(line);
  w.i32(m.log_level);
  return w.done();
}

Frame encode(const JobMessage& m) {
  Writer w(MessageType::job);
  w.i64(m.id).str(m.kind).str(m.queue).str(m.args).i32(m.attempt).i32(m.max_attempts).i32(m.priority);
  w.i64(m.scheduled_at_us).i64(m.created_at_us).i32(m.snoozes);
  return w.done();
}

Frame encode(const Rows& m) {
  Writer w(MessageType::rows);
  put_strings(w, m.columns);
  w.i32(m.row_count);
  put_params(w, m.cells);
  w.i64(m.affected);
  return w.done();
}

Frame encode(const ExecError& m) {
  Writer w(MessageType::exec_error);
  w.i32(m.code).str(m.message).str(m.sqlstate);
  return w.done();
}

Frame encode(const Shutdown&) { return Writer(MessageType::shutdown).done(); }

Frame encode(const Hello& m) {
  Writer w(MessageType::hello);
  w.u32(m.protocol).i32(m.pid).str(m.name).str(m.version).u32(m.abi_major).u32(m.abi_minor);
  put_strings(w, m.kinds);
  return w.done();
}

Frame encode(const InitFailed& m) {
  Writer w(MessageType::init_failed);
  w.str(m.message);
  return w.done();
}

Frame encode(const Exec& m) {
  Writer w(MessageType::exec);
  w.str(m.sql);
  put_params(w, m.params);
  return w.done();
}

Frame encode(const JobLog& m) {
  Writer w(MessageType::job_log);
  w.i32(m.level).str(m.message);
  return w.done();
}

Frame encode(const PluginLog& m) {
  Writer w(MessageType::plugin_log);
  w.i32(m.level).str(m.message);
  return w.done();
}

Frame encode(const OutcomeMessage& m) {
  Writer w(MessageType::outcome);
  w.i32(m.code).opt_str(m.message);
  w.u8(m.delay_ms ? 1 : 0);
  if (m.delay_ms) w.i64(*m.delay_ms);
  return w.done();
}

// ---- decode ----

Setup decode_setup(const Frame& f) {
  Reader r(f, MessageType::setup);
  Setup m;
  m.protocol = r.u32();
  m.plugin_name = r.str();
  m.plugin_path = r.str();
  m.settings_toml = r.str();
  m.config_file = r.str();
  m.setting_lines.resize(r.count(8));
  for (auto& [key, line] : m.setting_lines) {
    key = r.str();
    line = r.u32();
  }
  m.log_level = r.i32();
  r.end();
  return m;
}

JobMessage decode_job(const Frame& f) {
  Reader r(f, MessageType::job);
  JobMessage m;
  m.id = r.i64();
  m.kind = r.str();
  m.queue = r.str();
  m.args = r.str();
  m.attempt = r.i32();
  m.max_attempts = r.i32();
  m.priority = r.i32();
  m.scheduled_at_us = r.i64();
  m.created_at_us = r.i64();
  m.snoozes = r.i32();
  r.end();
  return m;
}

Rows decode_rows(const Frame& f) {
  Reader r(f, MessageType::rows);
  Rows m;
  m.columns = get_strings(r);
  m.row_count = r.i32();
  m.cells = get_params(r);
  m.affected = r.i64();
  r.end();
  if (m.row_count < 0) r.fail("negative row count");
  if (static_cast<uint64_t>(m.row_count) * m.columns.size() != m.cells.size())
    r.fail(std::to_string(m.cells.size()) + " cells for " + std::to_string(m.row_count) + " rows of " +
           std::to_string(m.columns.size()) + " columns");
  return m;
}

ExecError decode_exec_error(const Frame& f) {
  Reader r(f, MessageType::exec_error);
  ExecError m;
  m.code = r.i32();
  m.message = r.str();
  m.sqlstate = r.str();
  r.end();
  return m;
}

Hello decode_hello(const Frame& f) {
  Reader r(f, MessageType::hello);
  Hello m;
  m.protocol = r.u32();
  m.pid = r.i32();
  m.name = r.str();
  m.version = r.str();
  m.abi_major = r.u32();
  m.abi_minor = r.u32();
  m.kinds = get_strings(r);
  r.end();
  return m;
}

InitFailed decode_init_failed(const Frame& f) {
  Reader r(f, MessageType::init_failed);
  InitFailed m;
  m.message = r.str();
  r.end();
  return m;
}

Exec decode_exec(const Frame& f) {
  Reader r(f, MessageType::exec);
  Exec m;
  m.sql = r.str();
  m.params = get_params(r);
  r.end();
  return m;
}

JobLog decode_job_log(const Frame& f) {
  Reader r(f, MessageType::job_log);
  JobLog m;
  m.level = r.i32();
  m.message = r.str();
  r.end();
  return m;
}

PluginLog decode_plugin_log(const Frame& f) {
  Reader r(f, MessageType::plugin_log);
  PluginLog m;
  m.level = r.i32();
  m.message = r.str();
  r.end();
  return m;
}

OutcomeMessage decode_outcome(const Frame& f) {
  Reader r(f, MessageType::outcome);
  OutcomeMessage m;
  m.code = r.i32();
  m.message = r.opt_str();
  if (r.flag()) m.delay_ms = r.i64();
  r.end();
  return m;
}

// ---- channel ----

Channel::~Channel() {
  if (fd_ >= 0) ::close(fd_);
}

Channel::Channel(Channel&& other) noexcept
    : fd_(other.fd_), buffer_(std::move(other.buffer_)), receive_timeout_ms_(other.receive_timeout_ms_) {
  other.fd_ = -1;
}

Channel& Channel::operator=(Channel&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    buffer_ = std::move(other.buffer_);
    receive_timeout_ms_ = other.receive_timeout_ms_;
    other.fd_ = -1;
  }
  return *this;
}

namespace {

// Waits for `events` on fd up to timeout_ms (-1: forever). True when ready (or hung up: the
// following read/write reports it), false on timeout.
bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    int n = ::poll(&p, 1, timeout_ms);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll on a worker channel");
  }
}

int slice_ms(std::chrono::milliseconds d) {
  return d.count() < 0 ? -1 : static_cast<int>(std::min<int64_t>(d.count(), INT32_MAX));
}

}  // namespace

void Channel::send(const Frame& frame, std::chrono::milliseconds slice, const std::function<bool()>& keep_waiting) {
  const uint64_t body = 2 + frame.body.size();
  if (body > UINT32_MAX) throw ProtocolError("a frame of " + std::to_string(body) + " bytes is too long to send");
  char header[6];
  for (int i = 0; i < 4; ++i) header[i] = static_cast<char>((body >> (8 * i)) & 0xff);
  header[4] = static_cast<char>(frame.type & 0xff);
  header[5] = static_cast<char>(frame.type >> 8);

  // Header and body in one system call, without copying the body: a job costs few enough
  // system calls that one more per message shows in the throughput.
  iovec parts[2] = {{header, sizeof header}, {const_cast<char*>(frame.body.data()), frame.body.size()}};
  size_t first = 0;
  while (first < 2) {
    msghdr msg{};
    msg.msg_iov = parts + first;
    msg.msg_iovlen = 2 - first;
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      auto sent = static_cast<size_t>(n);
      while (first < 2 && sent >= parts[first].iov_len) {
        sent -= parts[first].iov_len;
        ++first;
      }
      if (first < 2) {
        parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + sent;
        parts[first].iov_len -= sent;
      }
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_for(fd_, POLLOUT, slice_ms(slice)) && keep_waiting && !keep_waiting())
        throw ChannelClosed("gave up waiting for the other side to read");
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) throw ChannelClosed("the other side closed the channel");
    throw std::system_error(errno, std::generic_category(), "write to a worker channel");
  }
}

std::optional<Frame> Channel::take_frame(size_t max_body) {
  if (buffer_.size() < 4) return std::nullopt;
  uint32_t body = 0;
  for (int i = 0; i < 4; ++i) body |= static_cast<uint32_t>(static_cast<uint8_t>(buffer_[i])) << (8 * i);
  if (body < 2) throw ProtocolError("a frame of " + std::to_string(body) + " bytes is too short for a type");
  if (body - 2 > max_body)
    throw ProtocolError("a frame of " + std::to_string(body) + " bytes is larger than the " + std::to_string(max_body) +
                        " allowed");
  if (buffer_.size() < 4 + size_t{body}) return std::nullopt;
  Frame f;
  f.type = static_cast<uint16_t>(static_cast<uint8_t>(buffer_[4]) | (static_cast<uint8_t>(buffer_[5]) << 8));
  f.body.assign(buffer_, 6, body - 2);
  buffer_.erase(0, 4 + size_t{body});
  return f;
}

void Channel::set_receive_timeout(int64_t ms) {
  if (ms == receive_timeout_ms_) return;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  if (::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
    throw std::system_error(errno, std::generic_category(), "set the receive timeout of a worker channel");
  receive_timeout_ms_ = ms;
}

std::optional<Frame> Channel::receive(std::chrono::milliseconds timeout, size_t max_body) {
  const bool forever = timeout.count() < 0;
  const auto deadline = forever ? std::chrono::steady_clock::time_point::max() : std::chrono::steady_clock::now() + timeout;
  // A blocking recv bounded by SO_RCVTIMEO: one system call where poll + recv would take two.
  // The socket's timeout is the whole `timeout` (0 for forever) and stays set between calls, so
  // the usual constant slice costs no setsockopt.
  int flags = 0;
  if (forever)
    set_receive_timeout(0);
  else if (timeout.count() == 0)
    flags = MSG_DONTWAIT;
  else
    set_receive_timeout(timeout.count());
  for (;;) {
    if (auto frame = take_frame(max_body)) return frame;
    // Checked after data too: a peer that trickles bytes must not keep the caller from its
    // own checks beyond the time it asked for.
    if (!forever && timeout.count() > 0 && std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, flags);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == 0)
      throw ChannelClosed(buffer_.empty() ? "the other side closed the channel"
                                          : "the other side closed the channel in the middle of a frame");
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!forever) return std::nullopt;  // the timeout passed (or nothing there, for 0)
      continue;
    }
    if (errno == EINTR) {
      if (!forever && std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      continue;
    }
    if (errno == ECONNRESET) throw ChannelClosed("the other side reset the channel");
    throw std::system_error(errno, std::generic_category(), "read from a worker channel");
  }
}

}  // namespace pgxq::isolation
