/* cmd_admin.c - the administrator's commands of the jobmatch tool: audit
 * (the audit trail of worker records) and metrics (admin.stats). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The filters of `audit`, as given on the command line. */
typedef struct audit_opts {
    const char *worker, *key, *cursor;
    long long since, until;
    bool has_since, has_until;
    long limit;        /* 0 = the server's default */
    bool all;
} audit_opts_t;

static int
parse_number(const char *name, const char *val, long long min, long long max,
             long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(val, &end, 10);
    if (*val == '\0' || *end != '\0' || errno != 0 || *out < min || *out > max)
        return cli_usage("%s wants a number %lld..%lld", name, min, max);
    return 0;
}

static int
parse_audit_opts(int argc, char **argv, audit_opts_t *o)
{
    static const char *const names[] = { "--worker", "--key", "--cursor",
                                         "--since", "--until", "--limit" };

    for (int i = 1; i < argc; i++) {
        const char *val = NULL, *a = argv[i];
        size_t j;
        long long n;

        if (strcmp(a, "--all") == 0) {
            o->all = true;
            continue;
        }
        for (j = 0; j < sizeof names / sizeof names[0]; j++) {
            size_t len = strlen(names[j]);

            if (strncmp(a, names[j], len) != 0)
                continue;
            if (a[len] == '=')
                val = a + len + 1;
            else if (a[len] == '\0' && i + 1 < argc)
                val = argv[++i];
            else if (a[len] == '\0')
                return cli_usage("%s needs a value", names[j]);
            else
                continue;
            break;
        }
        if (val == NULL)
            return cli_usage("audit: unknown argument \"%s\"", a);
        switch (j) {
        case 0: o->worker = val; break;
        case 1: o->key = val; break;
        case 2: o->cursor = val; break;
        case 3:
            if (parse_number("--since", val, INT64_MIN, INT64_MAX, &o->since))
                return CLI_EXIT_USAGE;
            o->has_since = true;
            break;
        case 4:
            if (parse_number("--until", val, INT64_MIN, INT64_MAX, &o->until))
                return CLI_EXIT_USAGE;
            o->has_until = true;
            break;
        default:
            if (parse_number("--limit", val, 1, 1000, &n))
                return CLI_EXIT_USAGE;
            o->limit = (long)n;
        }
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
