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

pgxq_abi_layout pgxq_abi_layout_c_descriptor(void);
pgxq_abi_layout pgxq_abi_layout_c_host(void);

#ifdef __cplusplus
}
#endif

#endif
