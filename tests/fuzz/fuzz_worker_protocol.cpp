// Fuzz target: the daemon's side of the worker protocol (isolation/protocol) on whatever a
// hostile plugin's worker process could send. The first two input bytes pick the message type,
// the rest is the frame body: every decoder either returns a message or throws ProtocolError,
// and a message it returns encodes to a body that decodes to the same encoding again (so the
// decoders and encoders agree). Then the whole input goes through a Channel over a socket pair
// as raw stream bytes: receive returns frames, or throws ProtocolError / ChannelClosed at the
// end — nothing else, and nothing is read out of bounds or allocated beyond the frame bound.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "isolation/protocol.hpp"

using namespace pgxq::isolation;

namespace {

template <class Decode>
void check_decoder(const Frame& frame, Decode decode) {
  try {
    auto message = decode(frame);
    Frame again = encode(message);
    if (again.type != frame.type) std::abort();
    Frame third = encode(decode(again));
    if (third.body != again.body) std::abort();
  } catch (const ProtocolError&) {
  }
}

void every_decoder(const Frame& frame) {
  check_decoder(frame, decode_setup);
  check_decoder(frame, decode_job);
  check_decoder(frame, decode_rows);
  check_decoder(frame, decode_exec_error);
  check_decoder(frame, decode_hello);
  check_decoder(frame, decode_init_failed);
  check_decoder(frame, decode_exec);
  check_decoder(frame, decode_job_log);
  check_decoder(frame, decode_plugin_log);
  check_decoder(frame, decode_outcome);
  (void)type_name(frame.type);
}

void through_channel(const uint8_t* data, size_t size) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return;
  // Small enough for one socket buffer, so the write never blocks (the input is bounded by
  // -max_len in scripts/fuzz).
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fds[1], data + done, size - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fds[1]);
  Channel channel(fds[0]);
  try {
    for (int i = 0; i < 1000; ++i) {
      // A small bound, so that "oversized" is reachable from a short input.
      auto frame = channel.receive(std::chrono::milliseconds(0), 4096);
      if (frame) every_decoder(*frame);
    }
  } catch (const ProtocolError&) {
  } catch (const ChannelClosed&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Frame frame;
  frame.type = static_cast<uint16_t>(data[0] | (data[1] << 8));
  frame.body.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  every_decoder(frame);
  // The same body under each real type, so every decoder sees every input with its own type.
  for (uint16_t t = 1; t <= 11; ++t) {
    frame.type = t;
    every_decoder(frame);
  }
  through_channel(data, size);
  return 0;
}
