/* Compiled with -std=c99 -pedantic -Wall -Wextra -Werror: the ABI header must stay plain C99. */
#include <pgxq/plugin.h>

/* The initializer C plugins use, with every field set: no missing-initializer warning. */
static const pgxq_plugin_descriptor descriptor = PGXQ_PLUGIN_DESCRIPTOR_INIT("c99", "1.0.0", NULL, NULL);

/* Uses every type so the compiler checks them all. */
int pgxq_header_c99_check(const pgxq_plugin_host *host, const pgxq_plugin_descriptor *d);
int pgxq_header_c99_check(const pgxq_plugin_host *host, const pgxq_plugin_descriptor *d) {
  pgxq_plugin_entry_fn entry = 0;
  pgxq_plugin_handler_fn fn = 0;
  (void)entry;
  (void)fn;
  return (int)(d->struct_size + host->struct_size + descriptor.abi_minor) + (PGXQ_HOST_HAS(host, set_delay_ms) ? 1 : 0) +
         PGXQ_OUTCOME_COMPLETE + PGXQ_OUTCOME_RETRY + PGXQ_OUTCOME_DISCARD + PGXQ_OUTCOME_SNOOZE +
         PGXQ_OUTCOME_PANIC + PGXQ_LOG_INFO + PGXQ_PLUGIN_OK;
}
