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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

static const char usage[] =
    "alerts subscribe (--worker ID | --vacancy ID) [--min-score S] [--scope S]\n"
    "              [--occupation P] [--employer E] [--min-wage W] [--category C]\n"
    "       alerts unsubscribe SUB\n"
    "       alerts list SUB [--after SEQ] [--limit N]\n"
    "       alerts subscriptions [--worker ID | --vacancy ID]\n"
    "       alerts watch SUB...";

/* The commands, as bits of the options' `in`. */
enum { SUBSCRIBE = 1 << 0, LIST = 1 << 1, SUBSCRIPTIONS = 1 << 2, NO_OPTIONS = 1 << 3 };

static const cli_opt_t opts[] = {
    {"--worker", false, SUBSCRIBE | SUBSCRIPTIONS},
    {"--vacancy", false, SUBSCRIBE | SUBSCRIPTIONS},
    {"--min-score", false, SUBSCRIBE},
    {"--scope", false, SUBSCRIBE},
    {"--occupation", false, SUBSCRIBE},
    {"--employer", false, SUBSCRIBE},
    {"--min-wage", false, SUBSCRIBE},
    {"--category", false, SUBSCRIBE},
    {"--after", false, LIST},
    {"--limit", false, LIST},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

/* The argument each option sets, in the order of opts. */
enum kind { STR, INT, NUM };
static const struct {
    const char *key;
    enum kind kind;
} arg_of[N_OPTS] = {
    {"worker", STR},     {"vacancy", STR},  {"min_score", NUM}, {"scope", STR},
    {"occupation", STR}, {"employer", STR}, {"min_wage", INT},  {"category", STR},
    {"after", INT},      {"limit", INT},
};

/* Packs {key: value...} from the options of command cmd in
 * argv[first..argc) and, first, `sub` as "subscription" when non-NULL. */
static int
pack_args(int argc, char **argv, int first, unsigned cmd, const char *sub,
          msgpack_sbuffer *sb)
{
    const char *vals[N_OPTS];
    if (cli_parse_options(argc - first, argv + first, opts, N_OPTS, cmd, vals, usage) != 0)
        return CLI_EXIT_USAGE;
    uint32_t n = 0;
    for (size_t j = 0; j < N_OPTS; j++)
        n += vals[j] != NULL;
    long long subid = 0;
    if (sub && (cli_int_option("SUB", sub, 1, LLONG_MAX, &subid) != 0))
        return CLI_EXIT_USAGE;
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
        cli_pack_str(&pk, arg_of[j].key);
        if (arg_of[j].kind == STR) {
            cli_pack_str(&pk, vals[j]);
        } else if (arg_of[j].kind == INT) {
            long long v;
            if (cli_int_option(opts[j].name, vals[j], LLONG_MIN, LLONG_MAX, &v) != 0)
                return CLI_EXIT_USAGE;
            msgpack_pack_int64(&pk, v);
        } else {
            char *end;
            errno = 0;
            double v = strtod(vals[j], &end);
            if (*vals[j] == '\0' || *end != '\0' || errno)
                return cli_usage("%s wants a number, not \"%s\"", opts[j].name, vals[j]);
            msgpack_pack_double(&pk, v);
        }
    }
    return 0;
}

static int
call(cli_t *cli, const char *op, int argc, char **argv, int first, unsigned cmd,
     const char *sub)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = pack_args(argc, argv, first, cmd, sub, &sb);
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
        int rc = pack_args(0, NULL, 0, NO_OPTIONS, argv[i], &sb);
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
        return call(cli, "alert.subscribe", argc, argv, 2, SUBSCRIBE, NULL);
    if (strcmp(verb, "unsubscribe") == 0 && argc == 3)
        return call(cli, "alert.unsubscribe", argc, argv, 3, NO_OPTIONS, argv[2]);
    if (strcmp(verb, "list") == 0 && argc >= 3)
        return call(cli, "alert.list", argc, argv, 3, LIST, argv[2]);
    if (strcmp(verb, "subscriptions") == 0)
        return call(cli, "alert.subscriptions", argc, argv, 2, SUBSCRIPTIONS, NULL);
    if (strcmp(verb, "watch") == 0)
        return watch(cli, argc, argv);
    return cli_usage("%s", usage);
}
