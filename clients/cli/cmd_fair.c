/* cmd_fair.c - `jobmatch fair ...`: job fairs for counselors.
 *
 *   fair create ID --name NAME [--region R] [--date T]
 *   fair add|remove FAIR vacancies|workers (ID... | --file FILE|-)
 *   fair show FAIR
 *   fair allocate FAIR [--scope S] [--as-of T] [--referrals] [--json]
 *
 * `allocate` prints the assignments as an aligned table with both sides'
 * scores, then who and what is left (and with --referrals, the referral
 * made of each assignment); --json prints the server's result.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

static const char usage[] =
    "fair create ID --name NAME [--region R] [--date T]\n"
    "       fair add|remove FAIR vacancies|workers (ID... | --file FILE|-)\n"
    "       fair show FAIR\n"
    "       fair allocate FAIR [--scope S] [--as-of T] [--referrals] [--json]";

static int
fair_create(cli_t *cli, int argc, char **argv)
{
    static const cli_opt_t opts[] = {
        CLI_OPT("--name"), CLI_OPT("--region"), CLI_OPT("--date"),
    };
    const char *v[3];
    long long date = 0;
    if (argc < 3 || argv[2][0] == '-')
        return cli_usage("%s", usage);
    if (cli_parse_options(argc - 3, argv + 3, opts, 3, 0, v, usage) != 0)
        return CLI_EXIT_USAGE;
    if (!v[0])
        return cli_usage("fair create needs --name");
    if (v[2] && cli_int_option("--date", v[2], LLONG_MIN, LLONG_MAX, &date) != 0)
        return CLI_EXIT_USAGE;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2 + (v[1] != NULL) + (v[2] != NULL));
    cli_pack_str(&pk, "id");
    cli_pack_str(&pk, argv[2]);
    cli_pack_str(&pk, "name");
    cli_pack_str(&pk, v[0]);
    if (v[1]) {
        cli_pack_str(&pk, "region");
        cli_pack_str(&pk, v[1]);
    }
    if (v[2]) {
        cli_pack_str(&pk, "date");
        msgpack_pack_int64(&pk, date);
    }
    int rc = cli_call_print(cli, "fair.create", &sb, NULL);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Splits text into ids, one per line (blank lines skipped), in place. */
static size_t
split_lines(char *text, char **ids, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(text, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line && n < max)
            ids[n++] = line;
    }
    return n;
}

static int
fair_members(cli_t *cli, int argc, char **argv, bool add)
{
    if (argc < 5)
        return cli_usage("%s", usage);
    const char *kind = argv[3];
    if (strcmp(kind, "vacancies") != 0 && strcmp(kind, "workers") != 0)
        return cli_usage("fair %s: say vacancies or workers, not \"%s\"", argv[1], kind);
    char *text = NULL;
    char **ids;
    size_t n;
    const char *file = NULL;
    if (strncmp(argv[4], "--file=", 7) == 0 || strcmp(argv[4], "--file") == 0) {
        if (argc != (argv[4][6] == '=' ? 5 : 6))
            return cli_usage("%s", usage);
        file = argv[4][6] == '=' ? argv[4] + 7 : argv[5];
    }
    if (file) {
        size_t len;
        if (cli_read_file(file, &text, &len) != 0)
            return CLI_EXIT_USAGE;
        /* At most one id per two bytes (one character and a newline). */
        ids = malloc((len / 2 + 2) * sizeof *ids);
        if (!ids) {
            free(text);
            cli_error("io", "out of memory");
            return CLI_EXIT_IO;
        }
        n = split_lines(text, ids, len / 2 + 1);
    } else {
        ids = argv + 4;
        n = (size_t)(argc - 4);
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    cli_pack_str(&pk, "fair");
    cli_pack_str(&pk, argv[2]);
    cli_pack_str(&pk, kind);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++)
        cli_pack_str(&pk, ids[i]);
    int rc = cli_call_print(cli, add ? "fair.register" : "fair.unregister", &sb, NULL);
    msgpack_sbuffer_destroy(&sb);
    if (text) {
        free(text);
        free(ids);
    }
    return rc;
}

static int
fair_show(cli_t *cli, int argc, char **argv)
{
    if (argc != 3)
        return cli_usage("%s", usage);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    cli_pack_str(&pk, "fair");
    cli_pack_str(&pk, argv[2]);
    int rc = cli_call_print(cli, "fair.get", &sb, NULL);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int
str_width(const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_STR ? (int)o->via.str.size : 0;
}

static void
print_allocation(const msgpack_object *res)
{
    const msgpack_object *as = cli_map_get(res, "assignments");
    const msgpack_object *un = cli_map_get(res, "unassigned");
    const msgpack_object *uf = cli_map_get(res, "unfilled");
    const msgpack_object *missing = cli_map_get(res, "missing");
    uint32_t n = as && as->type == MSGPACK_OBJECT_ARRAY ? as->via.array.size : 0;
    int ww = (int)strlen("worker"), vw = (int)strlen("vacancy");
    for (uint32_t i = 0; i < n; i++) {
        int a = str_width(cli_map_get(&as->via.array.ptr[i], "worker"));
        int b = str_width(cli_map_get(&as->via.array.ptr[i], "vacancy"));
        ww = a > ww ? a : ww;
        vw = b > vw ? b : vw;
    }
    printf("%-*s  %-*s  %12s  %13s\n", ww, "worker", vw, "vacancy", "worker_score",
           "vacancy_score");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *a = &as->via.array.ptr[i];
        const msgpack_object *w = cli_map_get(a, "worker"), *v = cli_map_get(a, "vacancy");
        const msgpack_object *x = cli_map_get(a, "worker_score"), *y = cli_map_get(a, "vacancy_score");
        printf("%-*.*s  %-*.*s  %12.4f  %13.4f\n", ww, str_width(w), w ? w->via.str.ptr : "",
               vw, str_width(v), v ? v->via.str.ptr : "",
               x && x->type == MSGPACK_OBJECT_FLOAT64 ? x->via.f64 : 0.0,
               y && y->type == MSGPACK_OBJECT_FLOAT64 ? y->via.f64 : 0.0);
    }
    uint32_t n_un = un && un->type == MSGPACK_OBJECT_ARRAY ? un->via.array.size : 0;
    uint64_t places = 0;
    uint32_t n_uf = uf && uf->type == MSGPACK_OBJECT_ARRAY ? uf->via.array.size : 0;
    for (uint32_t i = 0; i < n_uf; i++) {
        const msgpack_object *p = cli_map_get(&uf->via.array.ptr[i], "places");
        if (p && p->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            places += p->via.u64;
    }
    printf("\n%" PRIu32 " placed, %" PRIu32 " not placed; %" PRIu32
           " vacancies keep %" PRIu64 " open places\n", n, n_un, n_uf, places);
    const msgpack_object *refs = cli_map_get(res, "referrals");
    if (refs && refs->type == MSGPACK_OBJECT_ARRAY) {
        uint32_t made = 0;
        for (uint32_t i = 0; i < refs->via.array.size; i++)
            made += cli_map_get(&refs->via.array.ptr[i], "referral") != NULL;
        printf("%" PRIu32 " referrals made, %" PRIu32 " refused\n", made,
               refs->via.array.size - made);
        for (uint32_t i = 0; i < refs->via.array.size; i++) {
            const msgpack_object *e = cli_map_get(&refs->via.array.ptr[i], "error");
            const msgpack_object *m = e ? cli_map_get(e, "message") : NULL;
            if (m)
                printf("  refused: %.*s\n", str_width(m), m->via.str.ptr);
        }
    }
    for (int k = 0; k < 2 && missing; k++) {
        const char *key = k == 0 ? "vacancies" : "workers";
        const msgpack_object *m = cli_map_get(missing, key);
        if (!m || m->type != MSGPACK_OBJECT_ARRAY || m->via.array.size == 0)
            continue;
        printf("%s registered but no longer stored:", key);
        for (uint32_t i = 0; i < m->via.array.size; i++)
            printf(" %.*s", str_width(&m->via.array.ptr[i]), m->via.array.ptr[i].via.str.ptr);
        printf("\n");
    }
}

static int
fair_allocate(cli_t *cli, int argc, char **argv)
{
    static const cli_opt_t opts[] = {
        CLI_OPT("--scope"), CLI_OPT("--as-of"), CLI_FLAG("--referrals"), CLI_FLAG("--json"),
    };
    const char *v[4];
    long long as_of = 0;
    if (argc < 3 || argv[2][0] == '-')
        return cli_usage("%s", usage);
    if (cli_parse_options(argc - 3, argv + 3, opts, 4, 0, v, usage) != 0)
        return CLI_EXIT_USAGE;
    if (v[1] && cli_int_option("--as-of", v[1], LLONG_MIN, LLONG_MAX, &as_of) != 0)
        return CLI_EXIT_USAGE;
    bool refer = v[2] != NULL, json = v[3] != NULL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1 + (v[0] != NULL) + (v[1] != NULL) + refer);
    cli_pack_str(&pk, "fair");
    cli_pack_str(&pk, argv[2]);
    if (refer) {
        cli_pack_str(&pk, "referrals");
        msgpack_pack_true(&pk);
    }
    if (v[0]) {
        cli_pack_str(&pk, "scope");
        cli_pack_str(&pk, v[0]);
    }
    if (v[1]) {
        cli_pack_str(&pk, "as_of");
        msgpack_pack_int64(&pk, as_of);
    }
    int rc;
    if (json) {
        rc = cli_call_print(cli, "fair.allocate", &sb, NULL);
    } else {
        jm_reply_t *r = NULL;
        rc = jm_call(cli->client, "fair.allocate", sb.data, sb.size, &r);
        if (rc != 0)
            rc = cli_report(cli, rc, r);
        else
            print_allocation(&r->result);
        jm_reply_free(r);
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int
cmd_fair(cli_t *cli, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("%s", usage);
    const char *verb = argv[1];
    if (strcmp(verb, "create") == 0)
        return fair_create(cli, argc, argv);
    if (strcmp(verb, "add") == 0 || strcmp(verb, "remove") == 0)
        return fair_members(cli, argc, argv, verb[0] == 'a');
    if (strcmp(verb, "show") == 0)
        return fair_show(cli, argc, argv);
    if (strcmp(verb, "allocate") == 0)
        return fair_allocate(cli, argc, argv);
    return cli_usage("unknown fair command \"%s\"; %s", verb, usage);
}
