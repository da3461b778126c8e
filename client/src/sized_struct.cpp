// The caller's size-tagged structs (pgxq_insert_opts, pgxq_job_spec, pgxq_schema_info,
// pgxq_insert_result): checking
// struct_size against the layouts this library knows, and copying no more than it covers, so
// programs built against an older (smaller) header keep working and a garbage size is refused
// before anything else of the struct is touched.
#include <cstddef>
#include <cstring>

#include "internal.hpp"

namespace pgxq::client::detail {

namespace {

// The size of each struct's first (1.0) layout: the end of its last 1.0 field. Never change
// these; a struct grows by appending fields, which only raises sizeof.
constexpr size_t insert_opts_size_1_0 = offsetof(pgxq_insert_opts, delay_seconds) + sizeof(double);
constexpr size_t job_spec_size_1_0 = offsetof(pgxq_job_spec, opts) + sizeof(const pgxq_insert_opts*);
constexpr size_t schema_info_size_1_0 = offsetof(pgxq_schema_info, latest_version) + sizeof(int);
// pgxq_insert_result came with 1.1: its first layout.
constexpr size_t insert_result_size_1_1 = offsetof(pgxq_insert_result, inserted) + sizeof(int);

struct Layout {
  const char* name;
  const char* init;  // what the caller should have used
  size_t first;
  size_t current;
};

constexpr Layout insert_opts_layout{"pgxq_insert_opts", "PGXQ_INSERT_OPTS_INIT or pgxq_insert_opts_init()",
                                    insert_opts_size_1_0, sizeof(pgxq_insert_opts)};
constexpr Layout job_spec_layout{"pgxq_job_spec", "PGXQ_JOB_SPEC_INIT or pgxq_job_spec_init()", job_spec_size_1_0,
                                 sizeof(pgxq_job_spec)};
constexpr Layout schema_info_layout{"pgxq_schema_info", "PGXQ_SCHEMA_INFO_INIT or pgxq_schema_info_init()",
                                    schema_info_size_1_0, sizeof(pgxq_schema_info)};
constexpr Layout insert_result_layout{"pgxq_insert_result", "PGXQ_INSERT_RESULT_INIT or pgxq_insert_result_init()",
                                      insert_result_size_1_1, sizeof(pgxq_insert_result)};

bool check_size(size_t given, const Layout& l, std::string_view what, pgxq_error* err) {
  if (given >= l.first && given <= l.current) return true;
  std::string message(what);
  message.append(l.name).append(".struct_size is ").append(std::to_string(given));
  if (given > l.current) {
    message.append(", larger than the ")
        .append(std::to_string(l.current))
        .append(" bytes this libpgxq (" PGXQ_CLIENT_VERSION
                ") knows: the program was built against a newer libpgxq and needs it at run time,"
                " or the struct was not initialised with ")
        .append(l.init);
  } else {
    message.append(", smaller than any ")
        .append(l.name)
        .append(" (at least ")
        .append(std::to_string(l.first))
        .append(" bytes): initialise it with ")
        .append(l.init);
  }
  set_error(err, message);
  return false;
}

}  // namespace

bool read_insert_opts(const pgxq_insert_opts* given, pgxq_insert_opts& out, std::string_view what, pgxq_error* err) {
  pgxq_insert_opts_init(&out);
  if (!given) return true;
  if (!check_size(given->struct_size, insert_opts_layout, what, err)) return false;
  std::memcpy(&out, given, given->struct_size);
  out.struct_size = sizeof out;
  return true;
}

bool read_job_spec(const pgxq_job_spec* array, size_t stride, size_t index, pgxq_job_spec& out, pgxq_error* err) {
  const auto* at = reinterpret_cast<const unsigned char*>(array) + index * stride;
  size_t size = 0;
  std::memcpy(&size, at, sizeof size);
  if (size != stride) {
    std::string what = "job " + std::to_string(index) + ": ";
    if (!check_size(size, job_spec_layout, what, err)) return false;
    set_error(err, what + "pgxq_job_spec.struct_size is " + std::to_string(size) + " but job 0's is " +
                       std::to_string(stride) + ": every spec of one array must be initialised the same way (" +
                       job_spec_layout.init + ")");
    return false;
  }
  if (index == 0 && !check_size(size, job_spec_layout, "job 0: ", err)) return false;
  pgxq_job_spec_init(&out);
  std::memcpy(&out, at, size);
  out.struct_size = sizeof out;
  return true;
}

bool check_schema_info(const pgxq_schema_info* out, pgxq_error* err) {
  if (!out) {
    set_error(err, "pgxq_schema_status: out is NULL");
    return false;
  }
  return check_size(out->struct_size, schema_info_layout, {}, err);
}

void write_schema_info(const pgxq_schema_info& info, pgxq_schema_info* out) noexcept {
  // struct_size stays the caller's; everything after it, up to where the caller's struct ends.
  constexpr size_t first_field = offsetof(pgxq_schema_info, table_exists);
  std::memcpy(reinterpret_cast<unsigned char*>(out) + first_field,
              reinterpret_cast<const unsigned char*>(&info) + first_field, out->struct_size - first_field);
}

bool check_insert_result(const pgxq_insert_result* out, pgxq_error* err) {
  if (!out) {
    set_error(err, "pgxq_insert_ex: out is NULL");
    return false;
  }
  return check_size(out->struct_size, insert_result_layout, {}, err);
}

void write_insert_result(const pgxq_insert_result& result, pgxq_insert_result* out) noexcept {
  constexpr size_t first_field = offsetof(pgxq_insert_result, id);
  std::memcpy(reinterpret_cast<unsigned char*>(out) + first_field,
              reinterpret_cast<const unsigned char*>(&result) + first_field, out->struct_size - first_field);
}

}  // namespace pgxq::client::detail
