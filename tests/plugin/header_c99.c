/* Compiled with -std=c99 -pedantic -Wall -Wextra -Werror: the ABI header must stay plain C99. */
#include <pgxq/plugin.h>

/* Uses every type so the compiler checks them all. */
int pgxq_header_c99_check(const pgxq_plugin_host *host, const pgxq_plugin_descriptor *d);
int pgxq_header_c99_check(const pgxq_plugin_host *host, const pgxq_plugin_descriptor *d) {
  pgxq_plugin_entry_fn entry = 0;
  pgxq_plugin_handler_fn fn = 0;
  (void)entry;
  (void)fn;
  return (int)(d->struct_size + host->struct_size) + (PGXQ_HOST_HAS(host, set_delay_ms) ? 1 : 0) +
         PGXQ_OUTCOME_COMPLETE + PGXQ_OUTCOME_RETRY + PGXQ_OUTCOME_DISCARD + PGXQ_OUTCOME_SNOOZE +
         PGXQ_OUTCOME_PANIC + PGXQ_LOG_INFO + PGXQ_PLUGIN_OK;
}
