/* cmd_stats.c - `jobmatch stats ...`: labour-market figures.
 *
 *   stats supply-demand --period P [--region R] [--by B] [--occupation O] [--network] [--json]
 *   stats wages [--region R] [--by B] [--occupation O] [--flag-limit N] [--json]
 *   stats reemployment --period P [--region R] [--network] [--json]
 *
 * Each prints an aligned table with a total row (wages: then the vacancies
 * offering below P10 and the workers wishing above P90, for counselors);
 * --json prints the server's result instead.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

static const char usage[] =
    "stats supply-demand --period P [--region R] [--by B] [--occupation O] [--network]\n"
    "                    [--json]\n"
    "       stats wages [--region R] [--by B] [--occupation O] [--flag-limit N] [--json]\n"
    "       stats reemployment --period P [--region R] [--network] [--json]\n"
    "       (P: 2026, 2026-Q1 or 2026-03; B: major, middle, minor, detail,\n"
    "        province, city or county)";

/* The commands, as bits of the options' `in`. */
enum { SUPPLY_DEMAND = 1 << 0, WAGES = 1 << 1, REEMPLOYMENT = 1 << 2 };

/* The options of the stats commands, in this order. */
enum { OPT_PERIOD, OPT_REGION, OPT_BY, OPT_OCCUPATION, OPT_FLAG_LIMIT, OPT_JSON, OPT_NETWORK,
       N_OPTS };
static const cli_opt_t opts[N_OPTS] = {
    [OPT_PERIOD] = {"--period", false, SUPPLY_DEMAND | REEMPLOYMENT},
    [OPT_REGION] = CLI_OPT("--region"),
    [OPT_BY] = {"--by", false, SUPPLY_DEMAND | WAGES},
    [OPT_OCCUPATION] = {"--occupation", false, SUPPLY_DEMAND | WAGES},
    [OPT_FLAG_LIMIT] = {"--flag-limit", false, WAGES},
    [OPT_JSON] = CLI_FLAG("--json"),
    /* The roll-up over this node and its [peers]. */
    [OPT_NETWORK] = {"--network", true, SUPPLY_DEMAND | REEMPLOYMENT},
};
/* The argument each option with a value sets. */
static const char *const arg_keys[OPT_JSON] = {"period", "region", "by", "occupation",
                                               "flag_limit"};

/* Packs the options given as the operation's args. */
static int
pack_args(msgpack_sbuffer *sb, const char *const *v)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    uint32_t n = 0;
    for (int i = 0; i < OPT_JSON; i++)
        n += v[i] != NULL;
    msgpack_pack_map(&pk, n + (v[OPT_NETWORK] != NULL));
    if (v[OPT_NETWORK]) {
        cli_pack_str(&pk, "network");
        msgpack_pack_true(&pk);
    }
    for (int i = 0; i < OPT_JSON; i++) {
        if (!v[i])
            continue;
        cli_pack_str(&pk, arg_keys[i]);
        if (i == OPT_FLAG_LIMIT) {
            long long x;
            if (cli_int_option("--flag-limit", v[i], LLONG_MIN, LLONG_MAX, &x) != 0)
                return CLI_EXIT_USAGE;
            msgpack_pack_int64(&pk, x);
        } else {
            cli_pack_str(&pk, v[i]);
        }
    }
    return 0;
}

static void
cell(char *buf, const msgpack_object *map, const char *key, int decimals)
{
    cli_cell(buf, 64, cli_map_get(map, key), decimals);
}

/* The group label: "(none)" for the empty group of workers without a
 * desired occupation at the level. */
static void
group_cell(char *buf, const msgpack_object *g)
{
    cell(buf, g, "group", 0);
    if (buf[0] == '\0')
        snprintf(buf, 64, "(none)");
}

static void
print_scope(const msgpack_object *res)
{
    char period[64], from[64], to[64], region[64], by[64], occ[64];
    cell(period, res, "period", 0);
    cell(from, res, "from", 0);
    cell(to, res, "to", 0);
    cell(region, res, "region", 0);
    cell(by, res, "by", 0);
    cell(occ, res, "occupation", 0);
    if (cli_map_get(res, "period"))
        printf("period %s (%s to %s)  ", period, from, to);
    printf("region %s", region[0] ? region : "(all)");
    if (cli_map_get(res, "by"))
        printf("  occupation %s  by %s", strcmp(occ, "-") ? occ : "(all)", by);
    fputs("\n\n", stdout);
}

/* A roll-up: whose figures these are, and whose are missing. */
static void
print_rollup(const msgpack_object *res)
{
    char node[64], why[64];
    const msgpack_object *answered = cli_map_get(res, "answered");
    const msgpack_object *missing = cli_map_get(res, "missing");
    if (answered && answered->type == MSGPACK_OBJECT_ARRAY) {
        fputs("\nnodes:", stdout);
        for (uint32_t i = 0; i < answered->via.array.size; i++) {
            cli_cell(node, sizeof node, &answered->via.array.ptr[i], 0);
            printf(" %s", node);
        }
        putchar('\n');
    }
    for (uint32_t i = 0; missing && missing->type == MSGPACK_OBJECT_ARRAY &&
                         i < missing->via.array.size; i++) {
        cell(node, &missing->via.array.ptr[i], "peer", 0);
        cell(why, &missing->via.array.ptr[i], "error", 0);
        printf("missing: %s (%s)\n", node, why);
    }
}

static void
print_supply_demand(const msgpack_object *res)
{
    static const char *const head[] = {"group", "openings", "vacancies", "applicants", "ratio"};
    cli_table_t t;
    cli_table_init(&t, 5, head, "lrrrr");
    const msgpack_object *groups = cli_map_get(res, "groups");
    char c[5][64];
    const char *row[5] = {c[0], c[1], c[2], c[3], c[4]};
    for (uint32_t i = 0; groups && i < groups->via.array.size; i++) {
        const msgpack_object *g = &groups->via.array.ptr[i];
        group_cell(c[0], g);
        cell(c[1], g, "openings", 0);
        cell(c[2], g, "vacancies", 0);
        cell(c[3], g, "applicants", 0);
        cell(c[4], g, "ratio", 3);
        cli_table_row(&t, row);
    }
    const msgpack_object *tot = cli_map_get(res, "total");
    snprintf(c[0], 64, "total");
    cell(c[1], tot, "openings", 0);
    cell(c[2], tot, "vacancies", 0);
    cell(c[3], tot, "applicants", 0);
    cell(c[4], tot, "ratio", 3);
    cli_table_row(&t, row);
    print_scope(res);
    cli_table_print(&t);
    cli_table_free(&t);
    print_rollup(res);
}

static void
print_flags(const msgpack_object *res, const char *key, const char *title,
            const char *wage_key)
{
    const msgpack_object *a = cli_map_get(res, key);
    if (!a || a->type != MSGPACK_OBJECT_ARRAY)
        return;
    printf("\n%s: %u\n", title, a->via.array.size);
    if (a->via.array.size == 0)
        return;
    const char *head[] = {"id", "group", wage_key};
    cli_table_t t;
    cli_table_init(&t, 3, head, "llr");
    char c[3][64];
    const char *row[3] = {c[0], c[1], c[2]};
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        const msgpack_object *f = &a->via.array.ptr[i];
        cell(c[0], f, "id", 0);
        cell(c[1], f, "group", 0);
        cell(c[2], f, wage_key, 1);
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    cli_table_free(&t);
}

static void
print_wages(const msgpack_object *res)
{
    static const char *const head[] = {"group", "count", "p10", "p50", "p90"};
    cli_table_t t;
    cli_table_init(&t, 5, head, "lrrrr");
    char c[5][64];
    const char *row[5] = {c[0], c[1], c[2], c[3], c[4]};
    const msgpack_object *groups = cli_map_get(res, "groups");
    for (uint32_t i = 0; groups && i <= groups->via.array.size; i++) {
        const msgpack_object *g = i < groups->via.array.size ? &groups->via.array.ptr[i]
                                                             : cli_map_get(res, "total");
        if (i < groups->via.array.size)
            group_cell(c[0], g);
        else
            snprintf(c[0], 64, "total");
        cell(c[1], g, "count", 0);
        cell(c[2], g, "p10", 1);
        cell(c[3], g, "p50", 1);
        cell(c[4], g, "p90", 1);
        cli_table_row(&t, row);
    }
    print_scope(res);
    cli_table_print(&t);
    cli_table_free(&t);
    print_flags(res, "below_p10", "vacancies offering below their group's P10", "wage");
    print_flags(res, "above_p90", "workers wishing above their group's P90", "wage_min");
    const msgpack_object *tr = cli_map_get(res, "truncated");
    if (tr && tr->type == MSGPACK_OBJECT_BOOLEAN && tr->via.boolean)
        puts("(lists cut at --flag-limit)");
}

static void
print_reemployment(const msgpack_object *res)
{
    static const char *const head[] = {"category", "registered", "hired", "rate"};
    cli_table_t t;
    cli_table_init(&t, 4, head, "lrrr");
    char c[4][64];
    const char *row[4] = {c[0], c[1], c[2], c[3]};
    const msgpack_object *cats = cli_map_get(res, "categories");
    for (uint32_t i = 0; cats && i <= cats->via.array.size; i++) {
        const msgpack_object *e = i < cats->via.array.size ? &cats->via.array.ptr[i]
                                                           : cli_map_get(res, "total");
        if (i < cats->via.array.size)
            cell(c[0], e, "category", 0);
        else
            snprintf(c[0], 64, "total");
        cell(c[1], e, "registered", 0);
        cell(c[2], e, "hired", 0);
        cell(c[3], e, "rate", 3);
        cli_table_row(&t, row);
    }
    print_scope(res);
    cli_table_print(&t);
    cli_table_free(&t);
    print_rollup(res);
}

int
cmd_stats(cli_t *cli, int argc, char **argv)
{
    static const struct {
        const char *name, *op;
        unsigned cmd;
        void (*print)(const msgpack_object *);
    } subs[] = {
        {"supply-demand", "stats.supply_demand", SUPPLY_DEMAND, print_supply_demand},
        {"wages", "stats.wages", WAGES, print_wages},
        {"reemployment", "stats.reemployment", REEMPLOYMENT, print_reemployment},
    };
    if (argc < 2)
        return cli_usage("%s", usage);
    size_t s = 0, n = sizeof subs / sizeof subs[0];
    while (s < n && strcmp(argv[1], subs[s].name) != 0)
        s++;
    if (s == n)
        return cli_usage("unknown stats \"%s\"; %s", argv[1], usage);
    const char *v[N_OPTS];
    if (cli_parse_options(argc - 2, argv + 2, opts, N_OPTS, subs[s].cmd, v, usage) != 0)
        return CLI_EXIT_USAGE;
    bool json = v[OPT_JSON] != NULL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = pack_args(&sb, v);
    if (rc == 0) {
        jm_reply_t *r;
        rc = cli_call_reply(cli, subs[s].op, &sb, &r);
        if (rc == 0) {
            if (json)
                rc = cli_print(cli, &r->result);
            else
                subs[s].print(&r->result);
            jm_reply_free(r);
        }
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}
