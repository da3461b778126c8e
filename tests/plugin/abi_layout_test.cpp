// ABI 1.0 and what 1.1 appended, frozen in a test: the offset and size of every field of
// pgxq_plugin_descriptor and pgxq_plugin_host, pinned for LP64 Linux (x86_64, aarch64), as both
// the C and the C++ compiler lay them out. Appending a field passes (the structs may only grow);
// moving, resizing or removing a field of an earlier minor fails here. Also: the host's own
// table fills every slot.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include <pgxq/plugin.h>

#include "abi_layout.h"
#include "plugin/abi_check.hpp"
#include "plugin/host_api.hpp"

#if !(defined(__linux__) && defined(__LP64__) && __SIZEOF_POINTER__ == 8)
#error "abi_layout_test.cpp pins the LP64 Linux layout: add the pinned values for this platform"
#endif

namespace {

struct Pinned {
  std::string name;
  size_t offset;
  size_t size;
};

// ABI 1.0, frozen. Never edit a line of these tables; a later minor appends lines.
const std::vector<Pinned> kDescriptor10 = {
    {"abi_major", 0, 4}, {"abi_minor", 4, 4}, {"struct_size", 8, 4}, {"name", 16, 8},
    {"version", 24, 8},  {"init", 32, 8},     {"shutdown", 40, 8},
};
constexpr size_t kDescriptor10Size = 48;

const std::vector<Pinned> kHost10 = {
    {"abi_major", 0, 4},          {"abi_minor", 4, 4},         {"struct_size", 8, 4},
    {"host_version", 16, 8},      {"last_error", 24, 8},       {"last_sqlstate", 32, 8},
    {"register_handler", 40, 8},  {"set_init_error", 48, 8},   {"plugin_log", 56, 8},
    {"config_string", 64, 8},     {"config_int", 72, 8},       {"config_bool", 80, 8},
    {"config_double", 88, 8},     {"job_id", 96, 8},           {"job_kind", 104, 8},
    {"job_queue", 112, 8},        {"job_args", 120, 8},        {"job_attempt", 128, 8},
    {"job_max_attempts", 136, 8}, {"job_priority", 144, 8},    {"job_scheduled_at", 152, 8},
    {"job_created_at", 160, 8},   {"exec", 168, 8},            {"rows_count", 176, 8},
    {"rows_columns", 184, 8},     {"rows_value", 192, 8},      {"rows_length", 200, 8},
    {"rows_is_null", 208, 8},     {"rows_column_name", 216, 8}, {"rows_affected", 224, 8},
    {"rows_free", 232, 8},        {"should_stop", 240, 8},     {"log", 248, 8},
    {"set_message", 256, 8},      {"set_delay_ms", 264, 8},
};
constexpr size_t kHost10Size = 272;

// ABI 1.1, frozen: appended after the 1.0 table, which it leaves as it was.
const std::vector<Pinned> kHost11Appended = {
    {"job_snoozes", 272, 8},
};
constexpr size_t kHost11Size = 280;

std::vector<Pinned> host11() {
  std::vector<Pinned> all = kHost10;
  all.insert(all.end(), kHost11Appended.begin(), kHost11Appended.end());
  return all;
}

#define FIELD(type, member) Pinned{#member, offsetof(type, member), sizeof(type::member)},

// The C++ compiler's view, in declaration order.
const std::vector<Pinned> kDescriptorCxx = {PGXQ_ABI_DESCRIPTOR_FIELDS(FIELD)};
const std::vector<Pinned> kHostCxx = {PGXQ_ABI_HOST_FIELDS(FIELD)};

std::vector<Pinned> from_c(pgxq_abi_layout l) {
  std::vector<Pinned> out;
  for (size_t i = 0; i < l.count; ++i) out.push_back({l.fields[i].name, l.fields[i].offset, l.fields[i].size});
  return out;
}

void check_layout(const char* compiler, const std::vector<Pinned>& pinned, const std::vector<Pinned>& seen,
                  size_t seen_struct_size, size_t pinned_size) {
  REQUIRE(seen.size() == pinned.size());
  for (size_t i = 0; i < pinned.size(); ++i) {
    INFO(std::string(compiler) << ": field #" << i << " " << pinned[i].name);
    CHECK(seen[i].name == pinned[i].name);
    CHECK(seen[i].offset == pinned[i].offset);
    CHECK(seen[i].size == pinned[i].size);
  }
  INFO(std::string(compiler) << ": the struct may grow at the end, never shrink");
  CHECK(seen_struct_size >= pinned_size);
}

}  // namespace

TEST_CASE("abi layout: pgxq_plugin_descriptor keeps its 1.0 fields where they were") {
  check_layout("C++", kDescriptor10, kDescriptorCxx, sizeof(pgxq_plugin_descriptor), kDescriptor10Size);
  auto c = pgxq_abi_layout_c_descriptor();
  check_layout("C", kDescriptor10, from_c(c), c.struct_size, kDescriptor10Size);
  CHECK(pgxq::plugin::kDescriptorV1Size == kDescriptor10Size);
}

TEST_CASE("abi layout: pgxq_plugin_host keeps its 1.0 fields where they were, 1.1's appended after them") {
  check_layout("C++", host11(), kHostCxx, sizeof(pgxq_plugin_host), kHost11Size);
  auto c = pgxq_abi_layout_c_host();
  check_layout("C", host11(), from_c(c), c.struct_size, kHost11Size);
  // The 1.0 prefix is exactly the 1.0 table: a 1.0 plugin reads every field where it was.
  CHECK(offsetof(pgxq_plugin_host, job_snoozes) == kHost10Size);
}

TEST_CASE("abi layout: the host's table describes itself and fills every function slot") {
  const pgxq_plugin_host* host = pgxq::plugin::host_table();
  CHECK(host->abi_major == PGXQ_PLUGIN_ABI_MAJOR);
  CHECK(host->abi_minor == PGXQ_PLUGIN_ABI_MINOR);
  CHECK(host->struct_size == sizeof(pgxq_plugin_host));
  REQUIRE(host->host_version != nullptr);
  CHECK(std::string(host->host_version) == PGXQ_VERSION);
  // Every slot after host_version, including those later minors append, is a function the
  // host provides: read each pointer-sized slot up to the table's end.
  const auto* bytes = reinterpret_cast<const unsigned char*>(host);
  for (size_t at = offsetof(pgxq_plugin_host, last_error); at < sizeof(pgxq_plugin_host); at += sizeof(void*)) {
    void (*fn)() = nullptr;
    std::memcpy(&fn, bytes + at, sizeof fn);
    INFO("host table slot at offset " << at);
    CHECK((fn != nullptr));
  }
  CHECK(PGXQ_HOST_HAS(host, set_delay_ms));
  CHECK(PGXQ_HOST_HAS(host, job_snoozes));  // ABI 1.1: snooze
  CHECK(host->abi_minor >= 1);
}
