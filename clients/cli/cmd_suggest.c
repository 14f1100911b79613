/* cmd_suggest.c - `jobmatch suggest TEXT [--limit N] [--json]`: occupation
 * codes for a job title as people write it (occupation.suggest), as a
 * ranked table of code, score and name. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

static const char usage[] = "suggest TEXT [--limit N] [--json]";

int
cmd_suggest(cli_t *cli, int argc, char **argv)
{
    static const cli_opt_t opts[] = { CLI_OPT("--limit"), CLI_FLAG("--json") };
    const char *v[2];
    long long limit;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    jm_reply_t *r = NULL;
    int rc;

    if (argc < 2 || argv[1][0] == '-')
        return cli_usage("%s", usage);
    if (cli_parse_options(argc - 2, argv + 2, opts, 2, 0, v, usage) != 0 ||
        (v[0] && cli_int_option("--limit", v[0], LLONG_MIN, LLONG_MAX, &limit) != 0))
        return CLI_EXIT_USAGE;
    bool json = v[1] != NULL;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, v[0] ? 2 : 1);
    cli_pack_str(&pk, "text");
    cli_pack_str(&pk, argv[1]);
    if (v[0]) {
        cli_pack_str(&pk, "limit");
        msgpack_pack_int64(&pk, limit);
    }
    rc = cli_call_reply(cli, "occupation.suggest", &sb, &r);
    msgpack_sbuffer_destroy(&sb);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (json) {
        rc = cli_print(cli, &r->result);
        jm_reply_free(r);
        return rc;
    }
    const msgpack_object *list = cli_map_get(&r->result, "suggestions");
    if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY) {
        cli_error("protocol", "occupation.suggest answer without suggestions");
        jm_reply_free(r);
        return CLI_EXIT_IO;
    }
    static const char *const head[] = { "rank", "code", "score", "name" };
    cli_table_t t;
    cli_table_init(&t, 4, head, "rlrl");
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *s = &list->via.array.ptr[i];
        char rank[16], code[32], score[32], name[256];
        const char *cells[] = { rank, code, score, name };

        snprintf(rank, sizeof rank, "%u", i + 1);
        cli_cell(code, sizeof code, cli_map_get(s, "code"), 0);
        cli_cell(score, sizeof score, cli_map_get(s, "score"), 3);
        cli_cell(name, sizeof name, cli_map_get(s, "name"), 0);
        cli_table_row(&t, cells);
    }
    if (list->via.array.size == 0)
        printf("no occupation matches \"%s\"\n", argv[1]);
    else
        cli_table_print(&t);
    cli_table_free(&t);
    jm_reply_free(r);
    return CLI_EXIT_OK;
}
