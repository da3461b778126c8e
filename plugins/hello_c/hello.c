/* hello_c: the smallest complete pgxqd plugin, in pure C99. Kind `hello` with args
 * {"name": "..."}: logs a greeting and completes. It touches no table, so its job completes
 * without ever opening a transaction.
 *
 * A real plugin would parse args with a JSON library; this one only extracts a plain string
 * value with a few lines of C to stay dependency-free. Settings: [plugins.hello_c]
 * greeting = "Hello" (optional). */
#include <pgxq/plugin.h>

#include <stdio.h>
#include <string.h>

/* Copies the string value of "name" from a flat JSON object into out; 0 when absent. Escaped
 * characters are copied as written (good enough for a greeting). */
static int find_name(const char *json, char *out, size_t cap) {
  const char *p = strstr(json, "\"name\"");
  size_t n = 0;
  if (p == NULL) return 0;
  p += 6;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != ':') return 0;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != '"') return 0;
  while (*p != '\0' && *p != '"' && n + 1 < cap) {
    if (*p == '\\' && p[1] != '\0') out[n++] = *p++;
    if (n + 1 < cap) out[n++] = *p++;
  }
  out[n] = '\0';
  return 1;
}

/* Handlers run concurrently: this one only uses its stack and the (immutable) settings. */
static int hello(const pgxq_plugin_host *host, pgxq_plugin_job *job, void *user_data) {
  pgxq_plugin *plugin = (pgxq_plugin *)user_data;
  const char *greeting = "Hello";
  char name[128];
  char line[256];

  if (host->config_string(plugin, "greeting", &greeting) != PGXQ_PLUGIN_OK) greeting = "Hello";
  if (!find_name(host->job_args(job, NULL), name, sizeof name)) {
    host->set_message(job, "args: \"name\" is required (a string)");
    return PGXQ_OUTCOME_DISCARD;
  }
  snprintf(line, sizeof line, "%s, %s!", greeting, name);
  host->log(job, PGXQ_LOG_INFO, line);
  return PGXQ_OUTCOME_COMPLETE;
}

static int init(const pgxq_plugin_host *host, pgxq_plugin *plugin) {
  const char *greeting = NULL;
  int rc = host->config_string(plugin, "greeting", &greeting);
  if (rc != PGXQ_PLUGIN_OK && rc != PGXQ_PLUGIN_E_NOT_FOUND) {
    /* Present but not a string: refuse to start rather than ignore the operator's setting. */
    host->set_init_error(plugin, host->last_error());
    return 1;
  }
  if (host->register_handler(plugin, "hello", hello, plugin) != PGXQ_PLUGIN_OK) {
    host->set_init_error(plugin, host->last_error());
    return 1;
  }
  return 0;
}

/* Needs nothing newer than ABI 1.0, so it loads on every 1.x host (PGXQ_PLUGIN_REQUIRES_MINOR
 * is left at 0). */
static const pgxq_plugin_descriptor descriptor =
    PGXQ_PLUGIN_DESCRIPTOR_INIT("hello_c", "1.0.0", init, NULL);

PGXQ_PLUGIN_EXPORT const pgxq_plugin_descriptor *pgxq_plugin_entry(void) { return &descriptor; }
