/* The ABI 1.x layout of pgxq/plugin.h's structs as a C compiler lays them out (plugins are
 * mostly C), for abi_layout_test.cpp to compare with the pinned values. */
#include <pgxq/plugin.h>

#include "abi_layout.h"

#define FIELD(type, member) {#member, offsetof(type, member), sizeof(((type *)0)->member)},

static const pgxq_abi_field descriptor_fields[] = {PGXQ_ABI_DESCRIPTOR_FIELDS(FIELD)};
static const pgxq_abi_field host_fields[] = {PGXQ_ABI_HOST_FIELDS(FIELD)};

pgxq_abi_layout pgxq_abi_layout_c_descriptor(void) {
  pgxq_abi_layout l = {descriptor_fields, sizeof descriptor_fields / sizeof descriptor_fields[0],
                       sizeof(pgxq_plugin_descriptor)};
  return l;
}

pgxq_abi_layout pgxq_abi_layout_c_host(void) {
  pgxq_abi_layout l = {host_fields, sizeof host_fields / sizeof host_fields[0], sizeof(pgxq_plugin_host)};
  return l;
}
