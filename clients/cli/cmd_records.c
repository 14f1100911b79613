/* cmd_records.c - the one-request commands of the jobmatch tool (ping,
 * info, check, backup, get, put, delete, close, call) and list, which
 * follows cursors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

/* The record kinds the tool knows, by their singular and plural names. */
typedef struct kind {
    const char *one;    /* "vacancy": op prefix and record key */
    const char *many;   /* "vacancies": list and put_many key */
} kind_t;

static const kind_t kinds[] = {
    { "vacancy", "vacancies" },
    { "worker", "workers" },
};

/* Finds a kind by either name; NULL when unknown. */
static const kind_t *
find_kind(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(name, kinds[i].one) == 0 ||
            strcmp(name, kinds[i].many) == 0)
            return &kinds[i];
    return NULL;
}

int
cli_call_print(cli_t *cli, const char *op, const msgpack_sbuffer *args,
           const char *key)
{
    const msgpack_object *o;
    jm_reply_t *r = NULL;
    int rc;

    rc = jm_call(cli->client, op, args != NULL ? args->data : NULL,
                 args != NULL ? args->size : 0, &r);
    if (rc != 0) {
        rc = cli_report(cli, rc, r);
        jm_reply_free(r);
        return rc;
    }
    o = key != NULL ? cli_map_get(&r->result, key) : NULL;
    rc = cli_print(cli, o != NULL ? o : &r->result);
    jm_reply_free(r);
    return rc;
}

/* Builds {"id": id} and calls "<kind>.<verb>". */
static int
call_by_id(cli_t *cli, const kind_t *k, const char *verb, const char *id,
           const char *print_key)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char op[64];
    int rc;

    snprintf(op, sizeof op, "%s.%s", k->one, verb);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    cli_pack_str(&pk, "id");
    cli_pack_str(&pk, id);
    rc = cli_call_print(cli, op, &sb, print_key);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int
cmd_ping(cli_t *cli, int argc, char **argv)
{
    jm_reply_t *r = NULL;
    int rc;

    if (argc != 1)
        return cli_usage("ping takes no arguments");
    rc = jm_call(cli->client, "ping", NULL, 0, &r);
    if (rc != 0) {
        rc = cli_report(cli, rc, r);
        jm_reply_free(r);
        return rc;
    }
    /* "pong" reads better bare than as a JSON string. */
    if (r->result.type == MSGPACK_OBJECT_STR)
        printf("%.*s\n", (int)r->result.via.str.size, r->result.via.str.ptr);
    else
        rc = cli_print(cli, &r->result);
    jm_reply_free(r);
    return rc;
}

int
cmd_info(cli_t *cli, int argc, char **argv)
{
    msgpack_sbuffer sb = { .size = 1, .data = (char[]){ (char)0x80 } };

    if (argc != 1)
        return cli_usage("info takes no arguments");
    return cli_call_print(cli, "admin.info", &sb, NULL);
}

/* `jobmatch check`: admin.check; exits 1 when the store is inconsistent. */
int
cmd_check(cli_t *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return cli_usage("check takes no arguments");
    jm_reply_t *r = NULL;
    int rc = jm_call(cli->client, "admin.check", "\x80", 1, &r);
    if (rc != JM_OK) {
        int code = cli_report(cli, rc, r);
        jm_reply_free(r);
        return code;
    }
    const msgpack_object *ok = cli_map_get(&r->result, "ok");
    int code = cli_print(cli, &r->result);
    if (code == CLI_EXIT_OK && !(ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean))
        code = CLI_EXIT_SERVER;
    jm_reply_free(r);
    return code;
}

/* `jobmatch backup DIR`: admin.backup; DIR is on the server's host. */
int
cmd_backup(cli_t *cli, int argc, char **argv)
{
    if (argc != 2)
        return cli_usage("backup DIR (absolute on the server's host, or a name in its backup_dir)");
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    cli_pack_str(&pk, "path");
    cli_pack_str(&pk, argv[1]);
    int rc = cli_call_print(cli, "admin.backup", &sb, NULL);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int
cmd_get(cli_t *cli, int argc, char **argv)
{
    const kind_t *k = argc == 3 ? find_kind(argv[1]) : NULL;

    if (k == NULL)
        return cli_usage("get vacancy|worker ID");
    return call_by_id(cli, k, "get", argv[2], k->one);
}

int
cmd_delete(cli_t *cli, int argc, char **argv)
{
    const kind_t *k = argc == 3 ? find_kind(argv[1]) : NULL;

    if (k == NULL)
        return cli_usage("delete vacancy|worker ID");
    return call_by_id(cli, k, "delete", argv[2], NULL);
}

int
cmd_close(cli_t *cli, int argc, char **argv)
{
    const kind_t *k = argc == 3 ? find_kind(argv[1]) : NULL;

    if (k == NULL || strcmp(k->one, "vacancy") != 0)
        return cli_usage("close vacancy ID");
    return call_by_id(cli, k, "close", argv[2], NULL);
}

int
cmd_put(cli_t *cli, int argc, char **argv)
{
    const kind_t *k = argc == 3 ? find_kind(argv[1]) : NULL;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char op[64], err[256];
    char *text;
    size_t len;
    int rc;

    if (k == NULL)
        return cli_usage("put vacancy|worker FILE.json|-");
    if (cli_read_file(argv[2], &text, &len) != 0)
        return CLI_EXIT_USAGE;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    cli_pack_str(&pk, k->one);
    rc = cli_pack_object(text, &sb, err, sizeof err);
    free(text);
    if (rc != 0) {
        cli_error("input", "%s: %s", argv[2], err);
        msgpack_sbuffer_destroy(&sb);
        return CLI_EXIT_USAGE;
    }
    snprintf(op, sizeof op, "%s.put", k->one);
    rc = cli_call_print(cli, op, &sb, NULL);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int
cmd_call(cli_t *cli, int argc, char **argv)
{
    msgpack_sbuffer sb;
    char err[256];
    int rc;

    if (argc < 2 || argc > 3)
        return cli_usage("call OP [JSON-ARGS]");
    msgpack_sbuffer_init(&sb);
    if (argc == 3 && cli_pack_object(argv[2], &sb, err, sizeof err) != 0) {
        cli_error("input", "JSON-ARGS: %s", err);
        msgpack_sbuffer_destroy(&sb);
        return CLI_EXIT_USAGE;
    }
    rc = cli_call_print(cli, argv[1], sb.size > 0 ? &sb : NULL, NULL);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* The filters of `list`, as given on the command line. */
typedef struct list_opts {
    const char *region, *occupation, *status, *category, *cursor;
    long limit;        /* 0 = the server's default */
    bool all;
} list_opts_t;

static const char list_usage[] =
    "list vacancies|workers [--region P] [--occupation P] [--status S] "
    "[--category C] [--limit N] [--cursor C] [--all]";

static int
parse_list_opts(int argc, char **argv, list_opts_t *o)
{
    enum { REGION, OCCUPATION, STATUS, CATEGORY, CURSOR, LIMIT, ALL, N };
    static const cli_opt_t opts[N] = {
        [REGION] = CLI_OPT("--region"), [OCCUPATION] = CLI_OPT("--occupation"),
        [STATUS] = CLI_OPT("--status"), [CATEGORY] = CLI_OPT("--category"),
        [CURSOR] = CLI_OPT("--cursor"), [LIMIT] = CLI_OPT("--limit"),
        [ALL] = CLI_FLAG("--all"),
    };
    const char *v[N];
    long long limit;

    if (cli_parse_options(argc - 2, argv + 2, opts, N, 0, v, list_usage) != 0)
        return CLI_EXIT_USAGE;
    o->region = v[REGION];
    o->occupation = v[OCCUPATION];
    o->status = v[STATUS];
    o->category = v[CATEGORY];
    o->cursor = v[CURSOR];
    o->all = v[ALL] != NULL;
    if (v[LIMIT]) {
        if (cli_int_option("--limit", v[LIMIT], 1, 1000000, &limit) != 0)
            return CLI_EXIT_USAGE;
        o->limit = (long)limit;
    }
    return 0;
}

/* Packs the list request for one page. */
static void
pack_list_args(msgpack_sbuffer *sb, const list_opts_t *o, const char *cursor,
               size_t cursor_len)
{
    msgpack_packer pk;
    const char *keys[] = { "region", "occupation", "status", "category" };
    const char *vals[] = { o->region, o->occupation, o->status, o->category };
    uint32_t n = 0;

    for (size_t i = 0; i < 4; i++)
        n += vals[i] != NULL;
    n += o->limit > 0;
    n += cursor != NULL;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    for (size_t i = 0; i < 4; i++) {
        if (vals[i] == NULL)
            continue;
        cli_pack_str(&pk, keys[i]);
        cli_pack_str(&pk, vals[i]);
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

/* Packs one page's arguments for cli_listing. */
static void
pack_list_page(msgpack_sbuffer *sb, const void *ctx, const char *cursor,
               size_t cursor_len)
{
    pack_list_args(sb, ctx, cursor, cursor_len);
}

int
cli_listing(cli_t *cli, const char *op, const char *items_key,
            cli_pack_page_fn pack, const void *ctx, const char *first_cursor,
            bool all)
{
    char *cursor = NULL;
    size_t cursor_len = 0;
    int rc;

    if (first_cursor != NULL) {
        cursor = strdup(first_cursor);
        cursor_len = strlen(first_cursor);
        if (cursor == NULL)
            return cli_report(cli, JM_ENOMEM, NULL);
    }
    for (;;) {
        const msgpack_object *items, *next;
        msgpack_sbuffer sb;
        jm_reply_t *r = NULL;

        msgpack_sbuffer_init(&sb);
        pack(&sb, ctx, cursor, cursor_len);
        rc = jm_call(cli->client, op, sb.data, sb.size, &r);
        msgpack_sbuffer_destroy(&sb);
        free(cursor);
        cursor = NULL;
        if (rc != 0) {
            rc = cli_report(cli, rc, r);
            jm_reply_free(r);
            return rc;
        }
        items = cli_map_get(&r->result, items_key);
        if (items == NULL || items->type != MSGPACK_OBJECT_ARRAY) {
            cli_error("protocol", "%s answer without a \"%s\" array", op,
                      items_key);
            jm_reply_free(r);
            return CLI_EXIT_IO;
        }
        for (uint32_t i = 0; i < items->via.array.size && rc == 0; i++)
            rc = cli_print(cli, &items->via.array.ptr[i]);
        next = cli_map_get(&r->result, "cursor");
        if (rc == 0 && next != NULL && next->type == MSGPACK_OBJECT_STR) {
            cursor_len = next->via.str.size;
            cursor = strndup(next->via.str.ptr, cursor_len);
            if (cursor == NULL)
                rc = cli_report(cli, JM_ENOMEM, NULL);
        }
        jm_reply_free(r);
        if (rc != 0 || cursor == NULL)
            break;
        if (!all) {
            /* stdout holds only items; the way on goes to stderr, after
             * them on a terminal. */
            fflush(stdout);
            fprintf(stderr, "jobmatch: more %s follow: --cursor %s "
                    "(or --all)\n", items_key, cursor);
            break;
        }
        /* A page of output is complete; let a reader of a pipe see it. */
        fflush(stdout);
    }
    free(cursor);
    return rc;
}

int
cmd_list(cli_t *cli, int argc, char **argv)
{
    const kind_t *k = argc >= 2 ? find_kind(argv[1]) : NULL;
    list_opts_t o = { 0 };
    char op[64];
    int rc;

    if (k == NULL)
        return cli_usage("%s", list_usage);
    if ((rc = parse_list_opts(argc, argv, &o)) != 0)
        return rc;
    snprintf(op, sizeof op, "%s.list", k->one);
    return cli_listing(cli, op, k->many, pack_list_page, &o, o.cursor, o.all);
}
