// The worker protocol (isolation/protocol): every message survives encode → decode with awkward
// values (empty and NUL-bearing strings, NULLs, extreme integers); every truncation of every
// message, a byte too many, a frame of another type and a count larger than the frame are
// refused with ProtocolError and never read out of bounds; the channel carries whole frames
// over a socket pair in pieces, keeps a partial frame for the next call, refuses an oversized
// or typeless frame, and reports a peer that went away as ChannelClosed (no SIGPIPE).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "isolation/protocol.hpp"

using namespace pgxq::isolation;
using namespace std::chrono_literals;

namespace {

const std::string kAwkward = std::string("a\0b", 3) + "\xc3\xa9\xff";

// The frame as it travels: u32 little-endian length of type + fields, u16 type, fields.
std::string wire(const Frame& f) {
  std::string out;
  const uint32_t len = static_cast<uint32_t>(f.body.size() + 2);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out.push_back(static_cast<char>(f.type & 0xff));
  out.push_back(static_cast<char>(f.type >> 8));
  return out + f.body;
}

std::string length_prefix(uint32_t len) {
  std::string out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  return out;
}

struct SocketPair {
  SocketPair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    a = fds[0];
    b = fds[1];
  }
  ~SocketPair() {
    if (b >= 0) ::close(b);
  }
  void write_raw(const std::string& bytes) const {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(b, bytes.data() + done, bytes.size() - done);
      REQUIRE(n > 0);
      done += static_cast<size_t>(n);
    }
  }
  void close_b() {
    ::close(b);
    b = -1;
  }
  int a = -1;  // handed to a Channel, which owns it
  int b = -1;  // the raw peer
};

// Every strict prefix of the body fails to decode, and so does the body with a byte appended.
template <class Decode>
void refuses_truncation_and_excess(const Frame& f, Decode decode) {
  for (size_t n = 0; n < f.body.size(); ++n) {
    Frame cut{f.type, f.body.substr(0, n)};
    CAPTURE(n);
    CHECK_THROWS_AS(decode(cut), ProtocolError);
  }
  Frame longer{f.type, f.body + "x"};
  CHECK_THROWS_AS(decode(longer), ProtocolError);
  Frame other{static_cast<uint16_t>(f.type == 1 ? 2 : 1), f.body};
  CHECK_THROWS_AS(decode(other), ProtocolError);
}

}  // namespace

TEST_CASE("isolation protocol: every message round-trips, awkward values included") {
  Setup s;
  s.plugin_name = "testkit";
  s.plugin_path = "/usr/lib/pgxqd/plugins/testkit.so";
  s.settings_toml = "greeting = \"hi\"\n[db]\ntimeout = 5\n" + kAwkward;
  s.config_file = "";
  s.setting_lines = {{"greeting", 4}, {"db.timeout", 7}, {kAwkward, UINT32_MAX}};
  s.log_level = -1;
  Frame f = encode(s);
  CHECK(f.type == static_cast<uint16_t>(MessageType::setup));
  Setup s2 = decode_setup(f);
  CHECK(s2.protocol == kProtocolVersion);
  CHECK(s2.plugin_name == s.plugin_name);
  CHECK(s2.plugin_path == s.plugin_path);
  CHECK(s2.settings_toml == s.settings_toml);
  CHECK(s2.config_file.empty());
  CHECK(s2.setting_lines == s.setting_lines);
  CHECK(s2.log_level == -1);

  JobMessage j;
  j.id = INT64_MAX;
  j.kind = "segv";
  j.queue = kAwkward;
  j.args = R"({"status": 3})";
  j.attempt = 1;
  j.max_attempts = INT32_MAX;
  j.priority = INT32_MIN;
  j.scheduled_at_us = INT64_MIN;
  j.created_at_us = -1;
  j.snoozes = 7;
  JobMessage j2 = decode_job(encode(j));
  CHECK(encode(j).type == static_cast<uint16_t>(MessageType::job));
  CHECK(j2.id == j.id);
  CHECK(j2.kind == j.kind);
  CHECK(j2.queue == j.queue);
  CHECK(j2.args == j.args);
  CHECK(j2.attempt == 1);
  CHECK(j2.max_attempts == INT32_MAX);
  CHECK(j2.priority == INT32_MIN);
  CHECK(j2.scheduled_at_us == INT64_MIN);
  CHECK(j2.created_at_us == -1);
  CHECK(j2.snoozes == 7);

  Rows r;
  r.columns = {"id", "", kAwkward};
  r.row_count = 2;
  r.cells = {std::string("1"), std::nullopt, std::string(""), std::nullopt, kAwkward, std::string("x")};
  r.affected = 42;
  Rows r2 = decode_rows(encode(r));
  CHECK(r2.columns == r.columns);
  CHECK(r2.row_count == 2);
  CHECK(r2.cells == r.cells);
  CHECK(r2.affected == 42);

  Rows empty;
  Rows empty2 = decode_rows(encode(empty));
  CHECK(empty2.columns.empty());
  CHECK(empty2.row_count == 0);
  CHECK(empty2.cells.empty());

  ExecError e{-3, "relation \"nope\" does not exist", "42P01"};
  ExecError e2 = decode_exec_error(encode(e));
  CHECK(e2.code == -3);
  CHECK(e2.message == e.message);
  CHECK(e2.sqlstate == "42P01");

  Frame sd = encode(Shutdown{});
  CHECK(sd.type == static_cast<uint16_t>(MessageType::shutdown));
  CHECK(sd.body.empty());

  Hello h;
  h.pid = 1234;
  h.name = "testkit";
  h.version = "1.0.0";
  h.abi_major = 1;
  h.abi_minor = 1;
  h.kinds = {"noop", "segv", kAwkward};
  Hello h2 = decode_hello(encode(h));
  CHECK(h2.protocol == kProtocolVersion);
  CHECK(h2.pid == 1234);
  CHECK(h2.name == "testkit");
  CHECK(h2.version == "1.0.0");
  CHECK(h2.abi_major == 1);
  CHECK(h2.abi_minor == 1);
  CHECK(h2.kinds == h.kinds);

  InitFailed i{"plugin testkit (/x/testkit.so): init failed: " + kAwkward};
  CHECK(decode_init_failed(encode(i)).message == i.message);

  Exec x;
  x.sql = "SELECT $1, $2, $3";
  x.params = {std::string("1"), std::nullopt, kAwkward};
  Exec x2 = decode_exec(encode(x));
  CHECK(x2.sql == x.sql);
  CHECK(x2.params == x.params);

  JobLog jl{4, kAwkward};
  JobLog jl2 = decode_job_log(encode(jl));
  CHECK(jl2.level == 4);
  CHECK(jl2.message == kAwkward);

  PluginLog pl{-7, ""};
  PluginLog pl2 = decode_plugin_log(encode(pl));
  CHECK(pl2.level == -7);
  CHECK(pl2.message.empty());

  OutcomeMessage o{1, std::string("fail"), int64_t{1500}};
  OutcomeMessage o2 = decode_outcome(encode(o));
  CHECK(o2.code == 1);
  CHECK(o2.message == std::optional<std::string>("fail"));
  CHECK(o2.delay_ms == std::optional<int64_t>(1500));
  OutcomeMessage bare{77, std::nullopt, std::nullopt};
  OutcomeMessage bare2 = decode_outcome(encode(bare));
  CHECK(bare2.code == 77);
  CHECK_FALSE(bare2.message.has_value());
  CHECK_FALSE(bare2.delay_ms.has_value());
  OutcomeMessage empty_message{0, std::string(), int64_t{0}};
  OutcomeMessage empty_message2 = decode_outcome(encode(empty_message));
  CHECK(empty_message2.message == std::optional<std::string>(""));
  CHECK(empty_message2.delay_ms == std::optional<int64_t>(0));
}

TEST_CASE("isolation protocol: truncated, overlong and mistyped frames are refused") {
  Setup s;
  s.plugin_name = "testkit";
  s.settings_toml = "a = 1";
  s.setting_lines = {{"a", 1}};
  refuses_truncation_and_excess(encode(s), decode_setup);
  JobMessage j;
  j.kind = "noop";
  j.args = "{}";
  refuses_truncation_and_excess(encode(j), decode_job);
  Rows r;
  r.columns = {"a", "b"};
  r.row_count = 1;
  r.cells = {std::string("1"), std::nullopt};
  refuses_truncation_and_excess(encode(r), decode_rows);
  refuses_truncation_and_excess(encode(ExecError{-3, "m", "42P01"}), decode_exec_error);
  Hello h;
  h.name = "t";
  h.kinds = {"noop"};
  refuses_truncation_and_excess(encode(h), decode_hello);
  refuses_truncation_and_excess(encode(InitFailed{"no"}), decode_init_failed);
  refuses_truncation_and_excess(encode(Exec{"SELECT $1", {std::string("1"), std::nullopt}}), decode_exec);
  refuses_truncation_and_excess(encode(JobLog{2, "m"}), decode_job_log);
  refuses_truncation_and_excess(encode(PluginLog{2, "m"}), decode_plugin_log);
  refuses_truncation_and_excess(encode(OutcomeMessage{1, std::string("m"), int64_t{5}}), decode_outcome);
}

TEST_CASE("isolation protocol: a count larger than the frame is refused without allocating it") {
  // A Hello whose kinds count claims 2^32-1 strings in a frame that holds none: the decoder must
  // refuse it from the bytes left, not reserve four billion strings first.
  Hello h;
  h.name = "t";
  Frame f = encode(h);
  REQUIRE(f.body.size() >= 4);
  // The kinds list is the last field: its u32 count is the frame's last four bytes when empty.
  f.body.replace(f.body.size() - 4, 4, std::string("\xff\xff\xff\xff", 4));
  CHECK_THROWS_AS(decode_hello(f), ProtocolError);

  Exec x;
  x.sql = "SELECT 1";
  Frame fx = encode(x);
  fx.body.replace(fx.body.size() - 4, 4, std::string("\xff\xff\xff\x7f", 4));
  CHECK_THROWS_AS(decode_exec(fx), ProtocolError);

  // A string length beyond the frame.
  InitFailed i{"abc"};
  Frame fi = encode(i);
  fi.body.replace(0, 4, std::string("\xff\xff\xff\xff", 4));
  CHECK_THROWS_AS(decode_init_failed(fi), ProtocolError);

  // Rows whose cells do not match row_count × columns.
  Rows r;
  r.columns = {"a"};
  r.row_count = 3;
  r.cells = {std::string("1")};
  Frame fr = encode(r);
  CHECK_THROWS_AS(decode_rows(fr), ProtocolError);
}

TEST_CASE("isolation protocol: message type names") {
  CHECK(type_name(77) == "type 77");
  CHECK(type_name(0) == "type 0");
  std::vector<std::string> names;
  for (uint16_t t = 1; t <= 11; ++t) {
    std::string n = type_name(t);
    CAPTURE(t);
    CHECK_FALSE(n.empty());
    CHECK(n.find("type ") != 0);
    for (const auto& other : names) CHECK(n != other);
    names.push_back(n);
  }
}

TEST_CASE("isolation channel: frames arrive whole, in pieces or several at once") {
  SocketPair sp;
  Channel ch(sp.a);
  CHECK_FALSE(ch.receive(10ms, 1024).has_value());  // nothing yet: the time passes

  // Two frames in one write.
  sp.write_raw(wire(encode(JobLog{2, "one"})) + wire(encode(PluginLog{3, "two"})));
  auto f1 = ch.receive(1000ms, 1024);
  REQUIRE(f1.has_value());
  CHECK(decode_job_log(*f1).message == "one");
  auto f2 = ch.receive(1000ms, 1024);
  REQUIRE(f2.has_value());
  CHECK(decode_plugin_log(*f2).message == "two");

  // One frame a byte at a time: nothing until the last byte, then the frame.
  const std::string bytes = wire(encode(InitFailed{"piecemeal"}));
  for (size_t i = 0; i + 1 < bytes.size(); ++i) {
    sp.write_raw(bytes.substr(i, 1));
    CHECK_FALSE(ch.receive(1ms, 1024).has_value());
  }
  sp.write_raw(bytes.substr(bytes.size() - 1));
  auto f3 = ch.receive(1000ms, 1024);
  REQUIRE(f3.has_value());
  CHECK(decode_init_failed(*f3).message == "piecemeal");

  // A frame sent through a Channel comes out of the other one unchanged.
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  Channel left(fds[0]), right(fds[1]);
  Exec x{"SELECT $1", {kAwkward, std::nullopt}};
  left.send(encode(x));
  auto got = right.receive(1000ms, kMaxWorkerFrame);
  REQUIRE(got.has_value());
  CHECK(decode_exec(*got).params == x.params);
  // A frame larger than a socket buffer, read while it is still being written.
  Rows big;
  big.columns = {"v"};
  big.row_count = 1;
  big.cells = {std::string(4 << 20, 'x')};
  std::thread writer([&] { right.send(encode(big)); });
  std::optional<Frame> bigf;
  for (int i = 0; i < 500 && !bigf; ++i) bigf = left.receive(20ms, kMaxDaemonFrame);
  writer.join();
  REQUIRE(bigf.has_value());
  CHECK(decode_rows(*bigf).cells == big.cells);
}

TEST_CASE("isolation channel: an oversized or typeless frame is a protocol error") {
  {
    SocketPair sp;
    Channel ch(sp.a);
    // The bound is on the fields after the type: 2 + 1025 announced, 1024 allowed.
    sp.write_raw(length_prefix(2 + 1025) + std::string(16, 'x'));
    CHECK_THROWS_AS(ch.receive(1000ms, 1024), ProtocolError);
  }
  {
    SocketPair sp;
    Channel ch(sp.a);
    sp.write_raw(length_prefix(0xffffffffu));
    CHECK_THROWS_AS(ch.receive(1000ms, kMaxWorkerFrame), ProtocolError);
  }
  {
    SocketPair sp;
    Channel ch(sp.a);
    sp.write_raw(length_prefix(1) + "x");  // shorter than a type
    CHECK_THROWS_AS(ch.receive(1000ms, 1024), ProtocolError);
  }
  {
    SocketPair sp;
    Channel ch(sp.a);
    sp.write_raw(length_prefix(0));
    CHECK_THROWS_AS(ch.receive(1000ms, 1024), ProtocolError);
  }
  {
    // Exactly the bound is accepted.
    SocketPair sp;
    Channel ch(sp.a);
    sp.write_raw(length_prefix(2 + 64) + std::string("\x09\x00", 2) + std::string(64, 'y'));
    auto f = ch.receive(1000ms, 64);
    REQUIRE(f.has_value());
    CHECK(f->type == 9);
    CHECK(f->body.size() == 64);
  }
}

TEST_CASE("isolation channel: a peer that went away is ChannelClosed, before, inside or after a frame") {
  {
    SocketPair sp;
    Channel ch(sp.a);
    sp.close_b();
    CHECK_THROWS_AS(ch.receive(1000ms, 1024), ChannelClosed);
  }
  {
    SocketPair sp;
    Channel ch(sp.a);
    sp.write_raw(wire(encode(JobLog{2, "cut short"})).substr(0, 9));
    sp.close_b();
    CHECK_THROWS_AS(ch.receive(1000ms, 1024), ChannelClosed);
  }
  {
    SocketPair sp;
    Channel ch(sp.a);
    sp.write_raw(length_prefix(10).substr(0, 2));  // not even the whole length
    sp.close_b();
    CHECK_THROWS_AS(ch.receive(1000ms, 1024), ChannelClosed);
  }
  {
    // The frame before the close still arrives; the close comes after it.
    SocketPair sp;
    Channel ch(sp.a);
    sp.write_raw(wire(encode(JobLog{2, "last words"})));
    sp.close_b();
    auto f = ch.receive(1000ms, 1024);
    REQUIRE(f.has_value());
    CHECK(decode_job_log(*f).message == "last words");
    CHECK_THROWS_AS(ch.receive(1000ms, 1024), ChannelClosed);
  }
  {
    // Writing to a closed peer: ChannelClosed, and this process is still alive (no SIGPIPE).
    SocketPair sp;
    Channel ch(sp.a);
    sp.close_b();
    CHECK_THROWS_AS(ch.send(encode(JobLog{2, std::string(1 << 20, 'z')})), ChannelClosed);
  }
}

TEST_CASE("isolation channel: a send the peer does not read gives up when keep_waiting says so") {
  SocketPair sp;  // the peer never reads
  Channel ch(sp.a);
  int asked = 0;
  Rows big;
  big.columns = {"v"};
  big.row_count = 1;
  big.cells = {std::string(16 << 20, 'x')};  // more than any socket buffer
  CHECK_THROWS_AS(ch.send(encode(big), 5ms, [&] { return ++asked < 3; }), ChannelClosed);
  CHECK(asked == 3);
}

TEST_CASE("isolation channel: moving a channel moves its descriptor") {
  SocketPair sp;
  Channel a(sp.a);
  Channel b(std::move(a));
  CHECK(a.fd() == -1);
  CHECK(b.fd() == sp.a);
  sp.write_raw(wire(encode(Shutdown{})));
  auto f = b.receive(1000ms, 16);
  REQUIRE(f.has_value());
  CHECK(f->type == static_cast<uint16_t>(MessageType::shutdown));
}
