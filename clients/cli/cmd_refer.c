/* cmd_refer.c - `jobmatch refer ...`: referrals for counselors.
 *
 *   refer create --worker ID --vacancy ID [--note TEXT] [--json]
 *   refer update ID STATUS [--note TEXT] [--json]
 *   refer show ID [--json]
 *   refer list [--worker ID] [--vacancy ID] [--status S] [--limit N]
 *              [--cursor C] [--all] [--json]
 *
 * A referral is shown as one line and its history as a table; a listing
 * as a table of referrals (--json: one JSON referral per line).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "options.h"

static const char usage[] =
    "refer create --worker ID --vacancy ID [--note TEXT] [--json]\n"
    "       refer update ID interviewed|hired|rejected|withdrawn [--note TEXT] [--json]\n"
    "       refer show ID [--json]\n"
    "       refer list [--worker ID] [--vacancy ID] [--status S] [--limit N]\n"
    "                  [--cursor C] [--all] [--json]";

static void
time_cell(char *buf, const msgpack_object *o)
{
    if (!o || (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
               o->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)) {
        snprintf(buf, 64, "-");
        return;
    }
    time_t t = (time_t)o->via.i64;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, 64, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        cli_cell(buf, 64, o, 0);
}

static void
print_referral(const msgpack_object *ref)
{
    char id[64], worker[64], vacancy[64], status[64], hired[64];
    cli_cell(id, sizeof id, cli_map_get(ref, "id"), 0);
    cli_cell(worker, sizeof worker, cli_map_get(ref, "worker"), 0);
    cli_cell(vacancy, sizeof vacancy, cli_map_get(ref, "vacancy"), 0);
    cli_cell(status, sizeof status, cli_map_get(ref, "status"), 0);
    time_cell(hired, cli_map_get(ref, "hired_at"));
    printf("%s  worker %s  vacancy %s  %s", id, worker, vacancy, status);
    if (strcmp(status, "hired") == 0)
        printf(" at %s UTC", hired);
    fputs("\n\n", stdout);
    static const char *const head[] = {"status", "at (UTC)", "by", "note"};
    cli_table_t t;
    cli_table_init(&t, 4, head, NULL);
    const msgpack_object *h = cli_map_get(ref, "history");
    char c[4][1100];
    const char *row[4] = {c[0], c[1], c[2], c[3]};
    for (uint32_t i = 0; h && h->type == MSGPACK_OBJECT_ARRAY && i < h->via.array.size; i++) {
        const msgpack_object *e = &h->via.array.ptr[i];
        cli_cell(c[0], sizeof c[0], cli_map_get(e, "status"), 0);
        time_cell(c[1], cli_map_get(e, "at"));
        cli_cell(c[2], sizeof c[2], cli_map_get(e, "by"), 0);
        cli_cell(c[3], sizeof c[3], cli_map_get(e, "note"), 0);
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    cli_table_free(&t);
}

/* Calls op and shows result.referral (or the result as JSON). */
static int
call_show(cli_t *cli, const char *op, const msgpack_sbuffer *sb, bool json)
{
    jm_reply_t *r;
    int rc = cli_call_reply(cli, op, sb, &r);
    if (rc != 0)
        return rc;
    const msgpack_object *ref = cli_map_get(&r->result, "referral");
    if (json)
        rc = cli_print(cli, &r->result);
    else if (ref)
        print_referral(ref);
    jm_reply_free(r);
    return rc;
}

/* Packs {key: value, ...} from NULL-ended pairs, skipping NULL values. */
static void
pack_pairs(msgpack_sbuffer *sb, const char *const *keys, const char *const *values, int n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    uint32_t count = 0;
    for (int i = 0; i < n; i++)
        count += values[i] != NULL;
    msgpack_pack_map(&pk, count);
    for (int i = 0; i < n; i++) {
        if (!values[i])
            continue;
        cli_pack_str(&pk, keys[i]);
        cli_pack_str(&pk, values[i]);
    }
}

static int
refer_create(cli_t *cli, int argc, char **argv)
{
    static const cli_opt_t opts[] = {
        CLI_OPT("--worker"), CLI_OPT("--vacancy"), CLI_OPT("--note"), CLI_FLAG("--json"),
    };
    static const char *const keys[] = {"worker", "vacancy", "note"};
    const char *v[4];
    if (cli_parse_options(argc - 2, argv + 2, opts, 4, 0, v, usage) != 0)
        return CLI_EXIT_USAGE;
    bool json = v[3] != NULL;
    if (!v[0] || !v[1])
        return cli_usage("refer create needs --worker and --vacancy");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_pairs(&sb, keys, v, 3);
    int rc = call_show(cli, "referral.create", &sb, json);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int
refer_update(cli_t *cli, int argc, char **argv)
{
    static const cli_opt_t opts[] = {CLI_OPT("--note"), CLI_FLAG("--json")};
    static const char *const keys[] = {"id", "status", "note"};
    const char *v[4];   /* id, status, then the options */
    if (argc < 4 || argv[2][0] == '-' || argv[3][0] == '-')
        return cli_usage("%s", usage);
    if (cli_parse_options(argc - 4, argv + 4, opts, 2, 0, v + 2, usage) != 0)
        return CLI_EXIT_USAGE;
    bool json = v[3] != NULL;
    v[0] = argv[2];
    v[1] = argv[3];
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_pairs(&sb, keys, v, 3);
    int rc = call_show(cli, "referral.update", &sb, json);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int
refer_show(cli_t *cli, int argc, char **argv)
{
    static const char *const keys[] = {"id"};
    static const cli_opt_t opts[] = {CLI_FLAG("--json")};
    const char *flag;
    if (argc < 3 || argv[2][0] == '-')
        return cli_usage("%s", usage);
    if (cli_parse_options(argc - 3, argv + 3, opts, 1, 0, &flag, usage) != 0)
        return CLI_EXIT_USAGE;
    bool json = flag != NULL;
    const char *v[1] = {argv[2]};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_pairs(&sb, keys, v, 1);
    int rc = call_show(cli, "referral.get", &sb, json);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---- list ---------------------------------------------------------------- */

typedef struct list_opts {
    const char *v[4];   /* worker, vacancy, status, limit */
} list_opts_t;

static void
pack_page(msgpack_sbuffer *sb, const void *ctx, const char *cursor, size_t cursor_len)
{
    static const char *const keys[] = {"worker", "vacancy", "status"};
    const list_opts_t *o = ctx;
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    uint32_t n = (o->v[3] != NULL) + (cursor != NULL);
    for (int i = 0; i < 3; i++)
        n += o->v[i] != NULL;
    msgpack_pack_map(&pk, n);
    for (int i = 0; i < 3; i++) {
        if (!o->v[i])
            continue;
        cli_pack_str(&pk, keys[i]);
        cli_pack_str(&pk, o->v[i]);
    }
    if (o->v[3]) {
        cli_pack_str(&pk, "limit");
        msgpack_pack_int64(&pk, strtoll(o->v[3], NULL, 10));
    }
    if (cursor) {
        cli_pack_str(&pk, "cursor");
        msgpack_pack_str(&pk, cursor_len);
        msgpack_pack_str_body(&pk, cursor, cursor_len);
    }
}

static int
refer_list(cli_t *cli, int argc, char **argv)
{
    static const cli_opt_t opts[] = {
        CLI_OPT("--worker"), CLI_OPT("--vacancy"), CLI_OPT("--status"), CLI_OPT("--limit"),
        CLI_OPT("--cursor"), CLI_FLAG("--all"),    CLI_FLAG("--json"),
    };
    const char *v[7];
    long long limit;
    if (cli_parse_options(argc - 2, argv + 2, opts, 7, 0, v, usage) != 0)
        return CLI_EXIT_USAGE;
    if (v[3] && cli_int_option("--limit", v[3], 1, LLONG_MAX, &limit) != 0)
        return CLI_EXIT_USAGE;
    list_opts_t o = {{v[0], v[1], v[2], v[3]}};
    bool all = v[5] != NULL, json = v[6] != NULL;
    if (json)
        return cli_listing(cli, "referral.list", "referrals", pack_page, &o, v[4], all);

    static const char *const head[] = {"id", "worker", "vacancy", "status", "updated (UTC)"};
    cli_table_t t;
    cli_table_init(&t, 5, head, NULL);
    char *cursor = v[4] ? strdup(v[4]) : NULL;
    int rc = 0;
    do {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        pack_page(&sb, &o, cursor, cursor ? strlen(cursor) : 0);
        free(cursor);
        cursor = NULL;
        jm_reply_t *r;
        rc = cli_call_reply(cli, "referral.list", &sb, &r);
        msgpack_sbuffer_destroy(&sb);
        if (rc != 0)
            break;
        const msgpack_object *a = cli_map_get(&r->result, "referrals");
        char c[5][64];
        const char *row[5] = {c[0], c[1], c[2], c[3], c[4]};
        for (uint32_t i = 0; a && a->type == MSGPACK_OBJECT_ARRAY && i < a->via.array.size;
             i++) {
            const msgpack_object *ref = &a->via.array.ptr[i];
            cli_cell(c[0], 64, cli_map_get(ref, "id"), 0);
            cli_cell(c[1], 64, cli_map_get(ref, "worker"), 0);
            cli_cell(c[2], 64, cli_map_get(ref, "vacancy"), 0);
            cli_cell(c[3], 64, cli_map_get(ref, "status"), 0);
            time_cell(c[4], cli_map_get(ref, "updated"));
            cli_table_row(&t, row);
        }
        const msgpack_object *next = cli_map_get(&r->result, "cursor");
        if (next && next->type == MSGPACK_OBJECT_STR)
            cursor = strndup(next->via.str.ptr, next->via.str.size);
        jm_reply_free(r);
    } while (cursor && all);
    if (rc == 0)
        cli_table_print(&t);
    if (rc == 0 && cursor) {
        fflush(stdout);  /* after the table on a terminal */
        fprintf(stderr, "jobmatch: more referrals follow: --cursor %s (or --all)\n", cursor);
    }
    free(cursor);
    cli_table_free(&t);
    return rc;
}

int
cmd_refer(cli_t *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("%s", usage);
    if (strcmp(argv[1], "create") == 0)
        return refer_create(cli, argc, argv);
    if (strcmp(argv[1], "update") == 0)
        return refer_update(cli, argc, argv);
    if (strcmp(argv[1], "show") == 0)
        return refer_show(cli, argc, argv);
    if (strcmp(argv[1], "list") == 0)
        return refer_list(cli, argc, argv);
    return cli_usage("unknown refer command \"%s\"; %s", argv[1], usage);
}
