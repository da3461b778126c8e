/* The plugin SDK is header-only, so there is no library whose ABI abidw could read. This shared
 * object exists only for that: its exported functions take and return every type of
 * pgxq/plugin.h, so the dump of its debug information is the SDK's ABI (tests/abi/check-abi). */
#include <pgxq/plugin.h>

const pgxq_plugin_descriptor *pgxq_abi_descriptor(const pgxq_plugin_descriptor *descriptor);
const pgxq_plugin_host *pgxq_abi_host(const pgxq_plugin_host *host);
pgxq_plugin_entry_fn pgxq_abi_entry(pgxq_plugin_entry_fn entry);
pgxq_plugin_handler_fn pgxq_abi_handler(pgxq_plugin_handler_fn handler);

const pgxq_plugin_descriptor *pgxq_abi_descriptor(const pgxq_plugin_descriptor *descriptor) {
  return descriptor;
}
const pgxq_plugin_host *pgxq_abi_host(const pgxq_plugin_host *host) { return host; }
pgxq_plugin_entry_fn pgxq_abi_entry(pgxq_plugin_entry_fn entry) { return entry; }
pgxq_plugin_handler_fn pgxq_abi_handler(pgxq_plugin_handler_fn handler) { return handler; }
