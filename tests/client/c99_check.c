/* Compiled with -std=c99 -pedantic -Werror: proves client.h is usable from plain C99, with its
 * initialiser macros and inline init functions. */
#include <pgxq/client.h>

int pgxq_c99_check(PGconn* conn);

int pgxq_c99_check(PGconn* conn) {
  pgxq_error err;
  pgxq_insert_opts opts = PGXQ_INSERT_OPTS_INIT;
  pgxq_insert_opts later;
  pgxq_job_spec specs[2] = {PGXQ_JOB_SPEC_INIT, PGXQ_JOB_SPEC_INIT};
  pgxq_schema_info info = PGXQ_SCHEMA_INFO_INIT;
  pgxq_insert_result result = PGXQ_INSERT_RESULT_INIT;
  pgxq_insert_result later_result;
  char channel[PGXQ_NOTIFY_CHANNEL_MAX];
  opts.queue = "q";
  pgxq_insert_opts_init(&later);
  later.has_delay = 1;
  later.delay_seconds = 60;
  specs[0].kind = "k";
  specs[0].args_json = "{}";
  specs[0].opts = &opts;
  pgxq_job_spec_init(&specs[1]);
  specs[1].kind = "k";
  specs[1].opts = &later;
  pgxq_schema_info_init(&info);
  pgxq_insert_result_init(&later_result);
  later.unique_key = "k:1";
  if (pgxq_validate_table_name(PGXQ_DEFAULT_TABLE, &err) != 0) return -1;
  if (pgxq_notify_channel(NULL, channel, sizeof channel, &err) != 0) return -1;
  if (pgxq_schema_status(conn, NULL, &info, &err) != 0) return -1;
  if (pgxq_insert(conn, "k", NULL, &opts, &err) < 0) return -1;
  if (pgxq_insert(conn, "k", NULL, NULL, &err) < 0) return -1;
  if (pgxq_insert_ex(conn, "k", NULL, &later, &result, &err) != 0) return -1;
  if (pgxq_insert_ex(conn, "k", NULL, &later, &later_result, &err) != 0 || later_result.inserted) return -1;
  return pgxq_insert_many(conn, NULL, specs, 2, NULL) < 0 ? -1 : 0;
}
