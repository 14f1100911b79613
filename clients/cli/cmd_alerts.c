/* cmd_alerts.c - `jobmatch alerts ...`: match alerts for counselors.
 *
 *   alerts subscribe (--worker ID | --vacancy ID) [--min-score S] [--scope S]
 *          [--occupation P] [--employer E] [--min-wage W] [--category C]
 *   alerts unsubscribe SUB
 *   alerts list SUB [--after SEQ] [--limit N]
 *   alerts subscriptions [--worker ID | --vacancy ID]
 *   alerts watch SUB...
 *
 * `watch` listens to the subscriptions and prints each alert pushed, one
 * JSON line each, until interrupted; the others print the result JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "alerts subscribe (--worker ID | --vacancy ID) [--min-score S] [--scope S]\n"
    "              [--occupation P] [--employer E] [--min-wage W] [--category C]\n"
    "       alerts unsubscribe SUB\n"
    "       alerts list SUB [--after SEQ] [--limit N]\n"
    "       alerts subscriptions [--worker ID | --vacancy ID]\n"
    "       alerts watch SUB...";

enum kind { STR, INT, NUM };

typedef struct opt {
    const char *flag, *key;
    enum kind kind;
} opt_t;

static const opt_t opts[] = {
    {"--worker", "worker", STR},       {"--vacancy", "vacancy", STR},
    {"--min-score", "min_score", NUM}, {"--scope", "scope", STR},
    {"--occupation", "occupation", STR}, {"--employer", "employer", STR},
    {"--min-wage", "min_wage", INT},   {"--category", "category", STR},
    {"--after", "after", INT},         {"--limit", "limit", INT},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

/* Packs {key: value...} from "--flag VALUE" pairs in argv[first..argc),
 * allowing the flags named in `allowed` (space-separated) and, first,
 * `sub` as "subscription" when non-NULL. */
static int
pack_args(int argc, char **argv, int first, const char *allowed, const char *sub,
          msgpack_sbuffer *sb)
{
    const char *vals[N_OPTS] = {NULL};
    uint32_t n = 0;
    for (int i = first; i < argc; i++) {
        size_t j = 0;
        while (j < N_OPTS && strcmp(argv[i], opts[j].flag) != 0)
            j++;
        const char *hit = j < N_OPTS ? strstr(allowed, opts[j].flag) : NULL;
        if (!hit || (hit[strlen(opts[j].flag)] != ' ' && hit[strlen(opts[j].flag)] != '\0'))
            return cli_usage("unknown argument \"%s\"; %s", argv[i], usage);
        if (i + 1 >= argc)
            return cli_usage("%s needs a value", argv[i]);
        if (!vals[j])
            n++;
        vals[j] = argv[++i];
    }
    int64_t subid = 0;
    char *end;
    if (sub) {
        errno = 0;
        subid = strtoll(sub, &end, 10);
        if (*sub == '\0' || *end != '\0' || errno || subid <= 0)
            return cli_usage("SUB is a subscription number, not \"%s\"", sub);
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n + (sub != NULL));
    if (sub) {
        cli_pack_str(&pk, "subscription");
        msgpack_pack_int64(&pk, subid);
    }
    for (size_t j = 0; j < N_OPTS; j++) {
        if (!vals[j])
            continue;
        cli_pack_str(&pk, opts[j].key);
        if (opts[j].kind == STR) {
            cli_pack_str(&pk, vals[j]);
            continue;
        }
        errno = 0;
        if (opts[j].kind == INT) {
            long long v = strtoll(vals[j], &end, 10);
            if (*vals[j] == '\0' || *end != '\0' || errno)
                return cli_usage("%s wants an integer, not \"%s\"", opts[j].flag, vals[j]);
            msgpack_pack_int64(&pk, v);
        } else {
            double v = strtod(vals[j], &end);
            if (*vals[j] == '\0' || *end != '\0' || errno)
                return cli_usage("%s wants a number, not \"%s\"", opts[j].flag, vals[j]);
            msgpack_pack_double(&pk, v);
        }
    }
    return 0;
}

static int
call(cli_t *cli, const char *op, int argc, char **argv, int first, const char *allowed,
     const char *sub)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = pack_args(argc, argv, first, allowed, sub, &sb);
    if (rc == 0)
        rc = cli_call_print(cli, op, &sb, NULL);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Listens to every subscription named, then prints each alert pushed. */
static int
watch(cli_t *cli, int argc, char **argv)
{
    if (argc < 3)
        return cli_usage("%s", usage);
    for (int i = 2; i < argc; i++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        int rc = pack_args(0, NULL, 0, "", argv[i], &sb);
        jm_reply_t *r = NULL;
        if (rc == 0 && (rc = jm_call(cli->client, "alert.listen", sb.data, sb.size, &r)) != 0)
            rc = cli_report(cli, rc, r);
        jm_reply_free(r);
        msgpack_sbuffer_destroy(&sb);
        if (rc != 0)
            return rc;
    }
    fprintf(stderr, "jobmatch: watching %d subscription%s; interrupt to stop\n", argc - 2,
            argc == 3 ? "" : "s");
    for (;;) {
        jm_reply_t *r = NULL;
        int rc = jm_recv(cli->client, &r);
        if (rc != 0) {
            rc = cli_report(cli, rc, r);
            jm_reply_free(r);
            return rc;
        }
        const msgpack_object *data = cli_map_get(&r->result, "data");
        if (r->id == 0 && data)
            cli_print(cli, data);
        jm_reply_free(r);
        fflush(stdout);
    }
}

int
cmd_alerts(cli_t *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("%s", usage);
    const char *verb = argv[1];
    if (strcmp(verb, "subscribe") == 0)
        return call(cli, "alert.subscribe", argc, argv, 2,
                    "--worker --vacancy --min-score --scope --occupation --employer "
                    "--min-wage --category", NULL);
    if (strcmp(verb, "unsubscribe") == 0 && argc == 3)
        return call(cli, "alert.unsubscribe", argc, argv, 3, "", argv[2]);
    if (strcmp(verb, "list") == 0 && argc >= 3)
        return call(cli, "alert.list", argc, argv, 3, "--after --limit", argv[2]);
    if (strcmp(verb, "subscriptions") == 0)
        return call(cli, "alert.subscriptions", argc, argv, 2, "--worker --vacancy", NULL);
    if (strcmp(verb, "watch") == 0)
        return watch(cli, argc, argv);
    return cli_usage("%s", usage);
}
