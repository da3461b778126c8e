/* Compiled with -std=c99 -pedantic -Werror: proves client.h is usable from plain C99. */
#include <pgxq/client.h>

int pgxq_c99_check(PGconn* conn);

int pgxq_c99_check(PGconn* conn) {
  pgxq_error err;
  pgxq_insert_opts opts = pgxq_insert_opts_default();
  pgxq_job_spec spec;
  char channel[PGXQ_NOTIFY_CHANNEL_MAX];
  opts.queue = "q";
  spec.kind = "k";
  spec.args_json = "{}";
  spec.opts = opts;
  if (pgxq_validate_table_name(PGXQ_DEFAULT_TABLE, &err) != 0) return -1;
  if (pgxq_notify_channel(NULL, channel, sizeof channel, &err) != 0) return -1;
  if (pgxq_insert(conn, "k", NULL, &opts, &err) < 0) return -1;
  return pgxq_insert_many(conn, NULL, &spec, 1, NULL) < 0 ? -1 : 0;
}
