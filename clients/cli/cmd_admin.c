/* cmd_admin.c - the administrator's commands of the jobmatch tool: audit
 * (the audit trail of worker records) and metrics (admin.stats). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

static const char usage[] =
    "audit [--worker ID] [--key NAME] [--since T] [--until T] [--limit N] "
    "[--cursor C] [--all]";

/* The filters of `audit`, as given on the command line. */
typedef struct audit_opts {
    const char *worker, *key, *cursor;
    long long since, until;
    bool has_since, has_until;
    long limit;        /* 0 = the server's default */
    bool all;
} audit_opts_t;

static int
parse_audit_opts(int argc, char **argv, audit_opts_t *o)
{
    enum { WORKER, KEY, CURSOR, SINCE, UNTIL, LIMIT, ALL, N };
    static const cli_opt_t opts[N] = {
        [WORKER] = CLI_OPT("--worker"), [KEY] = CLI_OPT("--key"),
        [CURSOR] = CLI_OPT("--cursor"), [SINCE] = CLI_OPT("--since"),
        [UNTIL] = CLI_OPT("--until"),   [LIMIT] = CLI_OPT("--limit"),
        [ALL] = CLI_FLAG("--all"),
    };
    const char *v[N];
    long long n;

    if (cli_parse_options(argc - 1, argv + 1, opts, N, 0, v, usage) != 0)
        return CLI_EXIT_USAGE;
    o->worker = v[WORKER];
    o->key = v[KEY];
    o->cursor = v[CURSOR];
    o->all = v[ALL] != NULL;
    o->has_since = v[SINCE] != NULL;
    o->has_until = v[UNTIL] != NULL;
    if ((o->has_since && cli_int_option("--since", v[SINCE], LLONG_MIN, LLONG_MAX, &o->since)) ||
        (o->has_until && cli_int_option("--until", v[UNTIL], LLONG_MIN, LLONG_MAX, &o->until)))
        return CLI_EXIT_USAGE;
    if (v[LIMIT]) {
        if (cli_int_option("--limit", v[LIMIT], 1, 1000, &n) != 0)
            return CLI_EXIT_USAGE;
        o->limit = (long)n;
    }
    return 0;
}

static void
pack_audit_page(msgpack_sbuffer *sb, const void *ctx, const char *cursor,
                size_t cursor_len)
{
    const audit_opts_t *o = ctx;
    msgpack_packer pk;
    uint32_t n = (o->worker != NULL) + (o->key != NULL) + o->has_since +
                 o->has_until + (o->limit > 0) + (cursor != NULL);

    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    if (o->worker != NULL) {
        cli_pack_str(&pk, "worker");
        cli_pack_str(&pk, o->worker);
    }
    if (o->key != NULL) {
        cli_pack_str(&pk, "key");
        cli_pack_str(&pk, o->key);
    }
    if (o->has_since) {
        cli_pack_str(&pk, "since");
        msgpack_pack_int64(&pk, o->since);
    }
    if (o->has_until) {
        cli_pack_str(&pk, "until");
        msgpack_pack_int64(&pk, o->until);
    }
    if (o->limit > 0) {
        cli_pack_str(&pk, "limit");
        msgpack_pack_int64(&pk, o->limit);
    }
    if (cursor != NULL) {
        cli_pack_str(&pk, "cursor");
        msgpack_pack_str(&pk, cursor_len);
        msgpack_pack_str_body(&pk, cursor, cursor_len);
    }
}

/* `jobmatch audit`: audit.list, one JSON entry per line, oldest first. */
int
cmd_audit(cli_t *cli, int argc, char **argv)
{
    audit_opts_t o = { 0 };
    int rc = parse_audit_opts(argc, argv, &o);

    if (rc != 0)
        return rc;
    return cli_listing(cli, "audit.list", "entries", pack_audit_page, &o,
                       o.cursor, o.all);
}

/* `jobmatch metrics`: admin.stats as JSON (the daemon's own counts; not to
 * be confused with labour-market statistics). */
int
cmd_metrics(cli_t *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return cli_usage("metrics takes no arguments");
    return cli_call_print(cli, "admin.stats", NULL, NULL);
}
