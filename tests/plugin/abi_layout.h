/* One struct's layout as seen by a compiler: each field's name, offset and size in bytes.
 * Shared by abi_layout_c.c (the C compiler's view) and abi_layout_test.cpp. */
#ifndef PGXQ_TEST_ABI_LAYOUT_H
#define PGXQ_TEST_ABI_LAYOUT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pgxq_abi_field {
  const char *name;
  size_t offset;
  size_t size;
} pgxq_abi_field;

typedef struct pgxq_abi_layout {
  const pgxq_abi_field *fields;
  size_t count;
  size_t struct_size;
} pgxq_abi_layout;

/* The fields of each struct in declaration order, for X(type, member) to turn into a table
 * entry: one list for both compilers' views. A later minor appends members here. */
#define PGXQ_ABI_DESCRIPTOR_FIELDS(X)                                                       \
  X(pgxq_plugin_descriptor, abi_major) X(pgxq_plugin_descriptor, abi_minor)                 \
  X(pgxq_plugin_descriptor, struct_size) X(pgxq_plugin_descriptor, name)                    \
  X(pgxq_plugin_descriptor, version) X(pgxq_plugin_descriptor, init)                        \
  X(pgxq_plugin_descriptor, shutdown)

#define PGXQ_ABI_HOST_FIELDS(X)                                                             \
  X(pgxq_plugin_host, abi_major) X(pgxq_plugin_host, abi_minor)                             \
  X(pgxq_plugin_host, struct_size) X(pgxq_plugin_host, host_version)                        \
  X(pgxq_plugin_host, last_error) X(pgxq_plugin_host, last_sqlstate)                        \
  X(pgxq_plugin_host, register_handler) X(pgxq_plugin_host, set_init_error)                 \
  X(pgxq_plugin_host, plugin_log) X(pgxq_plugin_host, config_string)                        \
  X(pgxq_plugin_host, config_int) X(pgxq_plugin_host, config_bool)                          \
  X(pgxq_plugin_host, config_double) X(pgxq_plugin_host, job_id)                            \
  X(pgxq_plugin_host, job_kind) X(pgxq_plugin_host, job_queue)                              \
  X(pgxq_plugin_host, job_args) X(pgxq_plugin_host, job_attempt)                            \
  X(pgxq_plugin_host, job_max_attempts) X(pgxq_plugin_host, job_priority)                   \
  X(pgxq_plugin_host, job_scheduled_at) X(pgxq_plugin_host, job_created_at)                 \
  X(pgxq_plugin_host, exec) X(pgxq_plugin_host, rows_count)                                 \
  X(pgxq_plugin_host, rows_columns) X(pgxq_plugin_host, rows_value)                         \
  X(pgxq_plugin_host, rows_length) X(pgxq_plugin_host, rows_is_null)                        \
  X(pgxq_plugin_host, rows_column_name) X(pgxq_plugin_host, rows_affected)                  \
  X(pgxq_plugin_host, rows_free) X(pgxq_plugin_host, should_stop)                           \
  X(pgxq_plugin_host, log) X(pgxq_plugin_host, set_message)                                 \
  X(pgxq_plugin_host, set_delay_ms)                                                         \
  /* ABI 1.1 */ X(pgxq_plugin_host, job_snoozes)

pgxq_abi_layout pgxq_abi_layout_c_descriptor(void);
pgxq_abi_layout pgxq_abi_layout_c_host(void);

#ifdef __cplusplus
}
#endif

#endif
