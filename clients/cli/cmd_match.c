/* cmd_match.c - `jobmatch match vacancies|workers` and `jobmatch explain`:
 * the matching operations (match.vacancies, match.workers, match.explain)
 * for people at a terminal.
 *
 * By default the answers are turned into text: a ranked table, with --why
 * a one-line reason per match built from the server's explain map, and
 * for `explain` the rules met or not, the parts of the score, the skills
 * the worker lacks and a verdict. --json prints the result as the server
 * sent it, for scripts. Nothing here computes a score: every number shown
 * is one the server answered.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

/* The reason of one match is cut here: a readable line, not a report. */
#define WHY_MAX 400

/* An integer option: whether it was given, and its value. */
typedef struct opt_int {
    bool set;
    int64_t v;
} opt_int_t;

/* Everything the three commands accept; each command allows a subset. */
typedef struct match_args {
    const char *worker, *profile, *vacancy, *scope;
    const char *occupation, *employer, *category;
    opt_int_t limit, as_of, min_wage;
    bool why, json;
} match_args_t;

/* Which commands take an option. */
enum {
    FOR_VAC = 1 << 0,      /* match vacancies */
    FOR_WRK = 1 << 1,      /* match workers */
    FOR_EXP = 1 << 2,      /* explain */
};

enum {
    O_WORKER, O_PROFILE, O_VACANCY, O_SCOPE, O_LIMIT, O_AS_OF, O_OCCUPATION,
    O_EMPLOYER, O_MIN_WAGE, O_CATEGORY, O_WHY, O_JSON, N_OPTS
};

static const cli_opt_t opts[N_OPTS] = {
    [O_WORKER] = {"--worker", false, FOR_VAC | FOR_EXP},
    [O_PROFILE] = {"--profile", false, FOR_VAC | FOR_EXP},
    [O_VACANCY] = {"--vacancy", false, FOR_WRK | FOR_EXP},
    [O_SCOPE] = {"--scope", false, FOR_VAC | FOR_WRK | FOR_EXP},
    [O_LIMIT] = {"--limit", false, FOR_VAC | FOR_WRK},
    [O_AS_OF] = {"--as-of", false, FOR_VAC | FOR_WRK | FOR_EXP},
    [O_OCCUPATION] = {"--occupation", false, FOR_VAC},
    [O_EMPLOYER] = {"--employer", false, FOR_VAC},
    [O_MIN_WAGE] = {"--min-wage", false, FOR_VAC},
    [O_CATEGORY] = {"--category", false, FOR_WRK},
    [O_WHY] = {"--why", true, FOR_VAC | FOR_WRK},
    [O_JSON] = {"--json", true, FOR_VAC | FOR_WRK | FOR_EXP},
};

static const char usage_vac[] =
    "match vacancies (--worker ID | --profile FILE.json|-) "
    "[--scope county|city|province|all|network] [--limit N] [--as-of T] "
    "[--occupation P] [--employer E] [--min-wage W] [--why] [--json]";
static const char usage_wrk[] =
    "match workers --vacancy ID [--scope S] [--limit N] [--as-of T] "
    "[--category C] [--why] [--json]";
static const char usage_exp[] =
    "explain (--worker ID | --profile FILE.json|-) --vacancy ID "
    "[--scope S] [--as-of T] [--json]";

/* Parses argv[first..argc) into *a, allowing the options of cmd only.
 * Returns 0 or CLI_EXIT_USAGE (message printed). */
static int
parse_args(int argc, char **argv, int first, unsigned cmd,
           const char *usage, match_args_t *a)
{
    const char *v[N_OPTS];

    memset(a, 0, sizeof *a);
    if (cli_parse_options(argc - first, argv + first, opts, N_OPTS, cmd, v, usage) != 0)
        return CLI_EXIT_USAGE;
    a->worker = v[O_WORKER];
    a->profile = v[O_PROFILE];
    a->vacancy = v[O_VACANCY];
    a->scope = v[O_SCOPE];
    a->occupation = v[O_OCCUPATION];
    a->employer = v[O_EMPLOYER];
    a->category = v[O_CATEGORY];
    a->why = v[O_WHY] != NULL;
    a->json = v[O_JSON] != NULL;
    const struct {
        int opt;
        opt_int_t *to;
    } ints[] = {
        { O_LIMIT, &a->limit }, { O_AS_OF, &a->as_of }, { O_MIN_WAGE, &a->min_wage },
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        long long n;

        if (v[ints[i].opt] == NULL)
            continue;
        if (cli_int_option(opts[ints[i].opt].name, v[ints[i].opt], LLONG_MIN, LLONG_MAX,
                           &n) != 0)
            return CLI_EXIT_USAGE;
        ints[i].to->set = true;
        ints[i].to->v = (int64_t)n;
    }
    return 0;
}

/* ---- packing the request -------------------------------------------------- */

static void
pack_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
    cli_pack_str(pk, key);
    cli_pack_str(pk, val);
}

static void
pack_kv_int(msgpack_packer *pk, const char *key, int64_t val)
{
    cli_pack_str(pk, key);
    msgpack_pack_int64(pk, val);
}

/* Packs the args map of the operation into sb. The profile file (if any)
 * is read and packed last. Returns 0 or CLI_EXIT_USAGE (message printed). */
static int
pack_request(const match_args_t *a, bool explain, msgpack_sbuffer *sb)
{
    const char *strs[][2] = {
        { "worker", a->worker },         { "vacancy", a->vacancy },
        { "scope", a->scope },           { "occupation", a->occupation },
        { "employer", a->employer },     { "category", a->category },
    };
    const struct {
        const char *key;
        const opt_int_t *v;
    } ints[] = {
        { "limit", &a->limit },
        { "as_of", &a->as_of },
        { "min_wage", &a->min_wage },
    };
    msgpack_packer pk;
    char err[256];
    uint32_t n = 0;

    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        n += strs[i][1] != NULL;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        n += ints[i].v->set;
    n += explain;
    n += a->profile != NULL;

    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strs[i][1] != NULL)
            pack_kv_str(&pk, strs[i][0], strs[i][1]);
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (ints[i].v->set)
            pack_kv_int(&pk, ints[i].key, ints[i].v->v);
    if (explain) {
        cli_pack_str(&pk, "explain");
        msgpack_pack_true(&pk);
    }
    if (a->profile != NULL) {
        char *text;
        size_t len;
        int rc;

        if (cli_read_file(a->profile, &text, &len) != 0)
            return CLI_EXIT_USAGE;
        cli_pack_str(&pk, "profile");
        rc = cli_pack_object(text, sb, err, sizeof err);
        free(text);
        if (rc != 0) {
            cli_error("input", "%s: %s", a->profile, err);
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

/* ---- reading the answer --------------------------------------------------- */

/* A number of any msgpack numeric type; 0 for anything else. */
static double
num(const msgpack_object *o)
{
    if (o == NULL)
        return 0;
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return o->via.f64;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return (double)o->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return (double)o->via.i64;
    default:
        return 0;
    }
}

/* An integer field, or 0 when absent or not an integer. */
static int64_t
integer(const msgpack_object *o)
{
    if (o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return o->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)o->via.u64;
    if (o != NULL && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return o->via.i64;
    return 0;
}

/* A string field as pointer and length; false when absent or not a str. */
static bool
str_of(const msgpack_object *o, const char **p, size_t *n)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR) {
        *p = "";
        *n = 0;
        return false;
    }
    *p = o->via.str.ptr;
    *n = o->via.str.size;
    return true;
}

static bool
truthy(const msgpack_object *o)
{
    return o != NULL && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

/* A growing line of text with a hard cap; what does not fit is dropped and
 * the line ends in "...". */
typedef struct line {
    char buf[WHY_MAX];
    size_t len;
    bool cut;
} line_t;

static void
line_add(line_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
line_add(line_t *l, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (l->cut)
        return;
    va_start(ap, fmt);
    n = vsnprintf(l->buf + l->len, sizeof l->buf - l->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof l->buf - l->len) {
        /* Keep room for the ellipsis that marks the cut. */
        l->len = sizeof l->buf - 4;
        memcpy(l->buf + l->len, "...", 4);
        l->len += 3;
        l->cut = true;
        return;
    }
    l->len += (size_t)n;
}

/* Appends bytes from the server, with control characters shown as '?' so
 * that no answer can move the cursor or recolour the terminal. */
static void
line_add_safe(line_t *l, const char *p, size_t n)
{
    char tmp[80];
    size_t k = n < sizeof tmp - 1 ? n : sizeof tmp - 1;

    for (size_t i = 0; i < k; i++)
        tmp[i] = (unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
    tmp[k] = '\0';
    line_add(l, "%s%s", tmp, k < n ? "..." : "");
}

/* Writes bytes from the server to stdout, control characters as '?'. */
static void
put_safe(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        putchar((unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i]);
}

/* Columns a string takes on a terminal: one per UTF-8 sequence. Ids are
 * ASCII by the contract, so this is their length; it is only kept honest
 * for anything else. */
static size_t
display_width(const char *p, size_t n)
{
    size_t w = 0;

    for (size_t i = 0; i < n; i++)
        w += ((unsigned char)p[i] & 0xc0) != 0x80;
    return w;
}

/* The occupation part of a reason: which level agreed and on what code.
 * The code is the worker's desired code cut to that level's length. */
static void
why_occupation(line_t *l, const msgpack_object *occ, bool *first)
{
    static const struct {
        const char *level, *text;
        size_t chars;
    } levels[] = {
        { "full", "same occupation", 10 },
        { "minor", "same minor group", 7 },
        { "middle", "same middle group", 4 },
        { "major", "same major group", 1 },
    };
    const char *lvl, *code;
    size_t lvl_n, code_n;
    double bonus = num(cli_map_get(occ, "bonus"));

    if (bonus <= 0 || !str_of(cli_map_get(occ, "level"), &lvl, &lvl_n))
        return;
    str_of(cli_map_get(occ, "desired"), &code, &code_n);
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (strlen(levels[i].level) != lvl_n ||
            memcmp(levels[i].level, lvl, lvl_n) != 0)
            continue;
        line_add(l, "%s%s", *first ? "" : "; ", levels[i].text);
        if (code_n > 0) {
            line_add(l, " ");
            line_add_safe(l, code,
                          code_n < levels[i].chars ? code_n : levels[i].chars);
        }
        line_add(l, " (+%.1f)", bonus);
        *first = false;
        return;
    }
    line_add(l, "%soccupation (+%.1f)", *first ? "" : "; ", bonus);
    *first = false;
}

/* Builds the one-line reason of a match from its explain map: the shared
 * skills with levels held/required and what each added, then the bonuses. */
static void
why_line(const msgpack_object *ex, line_t *l)
{
    const msgpack_object *skills = cli_map_get(ex, "skills");
    double county = num(cli_map_get(ex, "county_bonus"));
    double priority = num(cli_map_get(ex, "priority_bonus"));
    bool first = true;

    memset(l, 0, sizeof *l);
    if (ex == NULL || ex->type != MSGPACK_OBJECT_MAP) {
        line_add(l, "(no explanation)");
        return;
    }
    if (skills != NULL && skills->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < skills->via.array.size; i++) {
            const msgpack_object *s = &skills->via.array.ptr[i];
            const char *id;
            size_t id_n;

            str_of(cli_map_get(s, "id"), &id, &id_n);
            line_add(l, "%s", i == 0 ? "shares " : ", ");
            line_add_safe(l, id, id_n);
            line_add(l, " (%" PRId64 "/%" PRId64 ", +%.2f)",
                     integer(cli_map_get(s, "worker_level")),
                     integer(cli_map_get(s, "vacancy_level")),
                     num(cli_map_get(s, "contribution")));
            first = false;
        }
    }
    why_occupation(l, cli_map_get(ex, "occupation"), &first);
    if (county > 0) {
        line_add(l, "%ssame county (+%.1f)", first ? "" : "; ", county);
        first = false;
    }
    if (priority > 0) {
        line_add(l, "%spriority category (+%.1f)", first ? "" : "; ",
                 priority);
        first = false;
    }
    if (first)
        line_add(l, "-");
}

/* The peers a network-wide request went without, on stderr: the table
 * holds what the others answered. */
static void
print_missing_peers(const msgpack_object *result)
{
    const msgpack_object *m = cli_map_get(result, "missing");
    if (m == NULL || m->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (uint32_t i = 0; i < m->via.array.size; i++) {
        const msgpack_object *e = &m->via.array.ptr[i];
        const char *peer, *err;
        size_t peer_n, err_n;

        str_of(cli_map_get(e, "peer"), &peer, &peer_n);
        str_of(cli_map_get(e, "error"), &err, &err_n);
        fprintf(stderr, "jobmatch: peer %.*s did not answer: %.*s\n", (int)peer_n, peer,
                (int)err_n, err);
    }
}

/* Prints the matches as an aligned table: rank, id, score, the node of
 * each match when the server names it and, with why, the reason. Returns
 * an exit code. */
static int
print_table(const msgpack_object *result, bool why)
{
    const msgpack_object *m = cli_map_get(result, "matches");
    size_t id_w = 2, score_w = 5, rank_w = 4;
    char score[64];

    if (m == NULL || m->type != MSGPACK_OBJECT_ARRAY) {
        cli_error("protocol", "answer without a \"matches\" array");
        return CLI_EXIT_IO;
    }
    print_missing_peers(result);
    if (m->via.array.size == 0) {
        puts("no matches");
        return CLI_EXIT_OK;
    }
    for (uint32_t i = 0; i < m->via.array.size; i++) {
        const msgpack_object *h = &m->via.array.ptr[i];
        const char *id;
        size_t id_n, w;

        str_of(cli_map_get(h, "id"), &id, &id_n);
        w = display_width(id, id_n);
        id_w = w > id_w ? w : id_w;
        w = (size_t)snprintf(score, sizeof score, "%.3f",
                             num(cli_map_get(h, "score")));
        score_w = w > score_w ? w : score_w;
    }
    /* A network-wide match names each match's node. */
    bool nodes = cli_map_get(&m->via.array.ptr[0], "node") != NULL;
    size_t node_w = 4;
    for (uint32_t i = 0; nodes && i < m->via.array.size; i++) {
        const char *node;
        size_t node_n, w;

        str_of(cli_map_get(&m->via.array.ptr[i], "node"), &node, &node_n);
        w = display_width(node, node_n);
        node_w = w > node_w ? w : node_w;
    }
    printf("%*s  %-*s  %*s", (int)rank_w, "rank", (int)id_w, "id", (int)score_w, "score");
    if (nodes)
        printf("  %-*s", why ? (int)node_w : 0, "node");
    printf("%s\n", why ? "  why" : "");
    for (uint32_t i = 0; i < m->via.array.size; i++) {
        const msgpack_object *h = &m->via.array.ptr[i];
        const char *id;
        size_t id_n;

        str_of(cli_map_get(h, "id"), &id, &id_n);
        printf("%*" PRIu32 "  ", (int)rank_w, i + 1);
        put_safe(id, id_n);
        printf("%*s  %*.3f", (int)(id_w - display_width(id, id_n)), "",
               (int)score_w, num(cli_map_get(h, "score")));
        if (nodes) {
            const char *node;
            size_t node_n;

            str_of(cli_map_get(h, "node"), &node, &node_n);
            fputs("  ", stdout);
            put_safe(node, node_n);
            if (why)  /* no trailing blanks when it ends the line */
                printf("%*s", (int)(node_w - display_width(node, node_n)), "");
        }
        if (why) {
            line_t l;

            why_line(cli_map_get(h, "explain"), &l);
            printf("  %s", l.buf);
        }
        putchar('\n');
    }
    return CLI_EXIT_OK;
}

/* ---- match ---------------------------------------------------------------- */

static int
run_match(cli_t *cli, const char *op, const match_args_t *a)
{
    msgpack_sbuffer sb;
    jm_reply_t *r;
    int rc;

    /* The server explains no network-wide match (docs/protocol.md 5.29):
     * that table goes without reasons, in the shell too. */
    bool why = a->why && !(a->scope && strcmp(a->scope, "network") == 0);
    msgpack_sbuffer_init(&sb);
    rc = pack_request(a, why, &sb);
    if (rc == 0)
        rc = cli_call_reply(cli, op, &sb, &r);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        return rc;
    rc = a->json ? cli_print(cli, &r->result) : print_table(&r->result, why);
    jm_reply_free(r);
    return rc;
}

int
cmd_match(cli_t *cli, int argc, char **argv)
{
    match_args_t a;
    int rc;

    if (argc >= 2 && strcmp(argv[1], "vacancies") == 0) {
        if ((rc = parse_args(argc, argv, 2, FOR_VAC, usage_vac, &a)) != 0)
            return rc;
        if ((a.worker == NULL) == (a.profile == NULL))
            return cli_usage("give one of --worker and --profile; %s",
                             usage_vac);
        return run_match(cli, "match.vacancies", &a);
    }
    if (argc >= 2 && strcmp(argv[1], "workers") == 0) {
        if ((rc = parse_args(argc, argv, 2, FOR_WRK, usage_wrk, &a)) != 0)
            return rc;
        if (a.vacancy == NULL)
            return cli_usage("--vacancy is required; %s", usage_wrk);
        return run_match(cli, "match.workers", &a);
    }
    return cli_usage("%s\n       %s", usage_vac, usage_wrk);
}

/* ---- explain -------------------------------------------------------------- */

/* Prints each rule as "ok" or "NO" with its name and detail, and gathers
 * the names of the rules not met into failed. */
static void
print_rules(const msgpack_object *rules, line_t *failed)
{
    size_t name_w = 4;

    if (rules == NULL || rules->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (uint32_t i = 0; i < rules->via.array.size; i++) {
        const char *name;
        size_t n;

        str_of(cli_map_get(&rules->via.array.ptr[i], "rule"), &name, &n);
        name_w = n > name_w ? n : name_w;
    }
    puts("rules:");
    for (uint32_t i = 0; i < rules->via.array.size; i++) {
        const msgpack_object *rule = &rules->via.array.ptr[i];
        bool met = truthy(cli_map_get(rule, "met"));
        const char *name, *detail;
        size_t name_n, detail_n;

        str_of(cli_map_get(rule, "rule"), &name, &name_n);
        str_of(cli_map_get(rule, "detail"), &detail, &detail_n);
        printf("  %s  ", met ? "ok" : "NO");
        put_safe(name, name_n);
        printf("%*s  ", (int)(name_w - name_n), "");
        put_safe(detail, detail_n);
        putchar('\n');
        if (!met) {
            line_add(failed, "%s", failed->len > 0 ? ", " : "");
            line_add_safe(failed, name, name_n);
        }
    }
}

/* Prints the parts of the score from the explain map. */
static void
print_parts(const msgpack_object *ex, double score)
{
    const msgpack_object *skills = cli_map_get(ex, "skills");
    const msgpack_object *occ = cli_map_get(ex, "occupation");
    const char *lvl, *code;
    size_t lvl_n, code_n;

    puts("score:");
    printf("  skills      %8.3f\n", num(cli_map_get(ex, "skill_part")));
    if (skills != NULL && skills->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < skills->via.array.size; i++) {
            const msgpack_object *s = &skills->via.array.ptr[i];
            const char *id;
            size_t id_n;

            str_of(cli_map_get(s, "id"), &id, &id_n);
            printf("    ");
            put_safe(id, id_n);
            printf(": level %" PRId64 " of %" PRId64 ", idf %.3f, +%.3f\n",
                   integer(cli_map_get(s, "worker_level")),
                   integer(cli_map_get(s, "vacancy_level")),
                   num(cli_map_get(s, "idf")),
                   num(cli_map_get(s, "contribution")));
        }
    }
    printf("  occupation  %8.3f", num(cli_map_get(occ, "bonus")));
    if (str_of(cli_map_get(occ, "level"), &lvl, &lvl_n)) {
        printf("  (");
        put_safe(lvl, lvl_n);
        if (str_of(cli_map_get(occ, "desired"), &code, &code_n)) {
            printf(", desired ");
            put_safe(code, code_n);
        }
        putchar(')');
    }
    putchar('\n');
    printf("  county      %8.3f\n", num(cli_map_get(ex, "county_bonus")));
    printf("  priority    %8.3f\n", num(cli_map_get(ex, "priority_bonus")));
    printf("  total       %8.3f\n", score);
}

/* Prints the skills the vacancy asks for that the worker lacks or holds
 * below the level required. */
static void
print_missing(const msgpack_object *missing)
{
    if (missing == NULL || missing->type != MSGPACK_OBJECT_ARRAY)
        return;
    if (missing->via.array.size == 0) {
        puts("missing skills: none");
        return;
    }
    puts("missing skills:");
    for (uint32_t i = 0; i < missing->via.array.size; i++) {
        const msgpack_object *s = &missing->via.array.ptr[i];
        int64_t has = integer(cli_map_get(s, "worker_level"));
        const char *id;
        size_t id_n;

        str_of(cli_map_get(s, "id"), &id, &id_n);
        printf("  needs ");
        put_safe(id, id_n);
        printf(" at level %" PRId64, integer(cli_map_get(s, "required_level")));
        if (has > 0)
            printf(", has %" PRId64 "\n", has);
        else
            puts(", lacks it");
    }
}

static int
print_explanation(const msgpack_object *res)
{
    bool match = truthy(cli_map_get(res, "match"));
    double score = num(cli_map_get(res, "score"));
    line_t failed;

    if (res == NULL || res->type != MSGPACK_OBJECT_MAP ||
        cli_map_get(res, "rules") == NULL) {
        cli_error("protocol", "match.explain answer without \"rules\"");
        return CLI_EXIT_IO;
    }
    memset(&failed, 0, sizeof failed);
    print_rules(cli_map_get(res, "rules"), &failed);
    print_parts(cli_map_get(res, "explain"), score);
    print_missing(cli_map_get(res, "missing_skills"));
    if (match)
        printf("verdict: a match, score %.3f", score);
    else
        printf("verdict: not a match");
    if (failed.len > 0)
        printf(" (not met: %s)", failed.buf);
    putchar('\n');
    return CLI_EXIT_OK;
}

int
cmd_explain(cli_t *cli, int argc, char **argv)
{
    msgpack_sbuffer sb;
    match_args_t a;
    jm_reply_t *r;
    int rc;

    if ((rc = parse_args(argc, argv, 1, FOR_EXP, usage_exp, &a)) != 0)
        return rc;
    if ((a.worker == NULL) == (a.profile == NULL) || a.vacancy == NULL)
        return cli_usage("%s", usage_exp);
    msgpack_sbuffer_init(&sb);
    rc = pack_request(&a, false, &sb);
    if (rc == 0)
        rc = cli_call_reply(cli, "match.explain", &sb, &r);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        return rc;
    rc = a.json ? cli_print(cli, &r->result) : print_explanation(&r->result);
    jm_reply_free(r);
    return rc;
}
