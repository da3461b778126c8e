/* The ABI 1.0 layout of pgxq/plugin.h's structs as a C compiler lays them out (plugins are
 * mostly C), for abi_layout_test.cpp to compare with the pinned values. */
#include <pgxq/plugin.h>

#include "abi_layout.h"

#define FIELD(type, member) {#member, offsetof(type, member), sizeof(((type *)0)->member)}

static const pgxq_abi_field descriptor_fields[] = {
    FIELD(pgxq_plugin_descriptor, abi_major), FIELD(pgxq_plugin_descriptor, abi_minor),
    FIELD(pgxq_plugin_descriptor, struct_size), FIELD(pgxq_plugin_descriptor, name),
    FIELD(pgxq_plugin_descriptor, version), FIELD(pgxq_plugin_descriptor, init),
    FIELD(pgxq_plugin_descriptor, shutdown),
};

static const pgxq_abi_field host_fields[] = {
    FIELD(pgxq_plugin_host, abi_major),        FIELD(pgxq_plugin_host, abi_minor),
    FIELD(pgxq_plugin_host, struct_size),      FIELD(pgxq_plugin_host, host_version),
    FIELD(pgxq_plugin_host, last_error),       FIELD(pgxq_plugin_host, last_sqlstate),
    FIELD(pgxq_plugin_host, register_handler), FIELD(pgxq_plugin_host, set_init_error),
    FIELD(pgxq_plugin_host, plugin_log),       FIELD(pgxq_plugin_host, config_string),
    FIELD(pgxq_plugin_host, config_int),       FIELD(pgxq_plugin_host, config_bool),
    FIELD(pgxq_plugin_host, config_double),    FIELD(pgxq_plugin_host, job_id),
    FIELD(pgxq_plugin_host, job_kind),         FIELD(pgxq_plugin_host, job_queue),
    FIELD(pgxq_plugin_host, job_args),         FIELD(pgxq_plugin_host, job_attempt),
    FIELD(pgxq_plugin_host, job_max_attempts), FIELD(pgxq_plugin_host, job_priority),
    FIELD(pgxq_plugin_host, job_scheduled_at), FIELD(pgxq_plugin_host, job_created_at),
    FIELD(pgxq_plugin_host, exec),             FIELD(pgxq_plugin_host, rows_count),
    FIELD(pgxq_plugin_host, rows_columns),     FIELD(pgxq_plugin_host, rows_value),
    FIELD(pgxq_plugin_host, rows_length),      FIELD(pgxq_plugin_host, rows_is_null),
    FIELD(pgxq_plugin_host, rows_column_name), FIELD(pgxq_plugin_host, rows_affected),
    FIELD(pgxq_plugin_host, rows_free),        FIELD(pgxq_plugin_host, should_stop),
    FIELD(pgxq_plugin_host, log),              FIELD(pgxq_plugin_host, set_message),
    FIELD(pgxq_plugin_host, set_delay_ms),
};

pgxq_abi_layout pgxq_abi_layout_c_descriptor(void) {
  pgxq_abi_layout l = {descriptor_fields, sizeof descriptor_fields / sizeof descriptor_fields[0],
                       sizeof(pgxq_plugin_descriptor)};
  return l;
}

pgxq_abi_layout pgxq_abi_layout_c_host(void) {
  pgxq_abi_layout l = {host_fields, sizeof host_fields / sizeof host_fields[0], sizeof(pgxq_plugin_host)};
  return l;
}
