/* test_cli.c - the jobmatch command-line tool run as a program against a
 * live jobmatchd: `match vacancies|workers` (table, --why, --json,
 * profiles), `explain`, the exit codes of server and usage errors, `help`,
 * and briefly the record commands (get, list --all, import, put).
 *
 * Each test starts its own daemon and loads a handful of hand-made records
 * through the client library. What the tool should print is taken from the
 * same operations called through the library in the test, never from
 * scores written down here, so these tests check the tool's rendering and
 * argument handling, not the ranking (tests/integration/test_match.c does
 * that).
 *
 * Environment: JOBMATCHD (the daemon) and JOBMATCH_CLI (the tool), both
 * set by ctest.
 */
#define _GNU_SOURCE  /* strndup, asprintf */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "files.h"
#include "wire.h"

/* ---- the store every test starts from ----------------------------------- */

static const char *const vacancies[] = {
    "{\"id\": \"v-weld\", \"employer\": \"Acme\", \"title\": \"Welder\", "
    "\"occupation\": \"6-05-02-03\", \"region\": \"110105\", \"skills\": "
    "[{\"id\": \"welding\", \"level\": 4}, {\"id\": \"cnc\", \"level\": 5}]}",
    "{\"id\": \"v-weld2\", \"employer\": \"Acme\", \"title\": \"Welder\", "
    "\"occupation\": \"6-05-02-01\", \"region\": \"110102\", \"skills\": "
    "[{\"id\": \"welding\", \"level\": 2}]}",
    "{\"id\": \"v-code\", \"employer\": \"Beta\", \"title\": \"Coder\", "
    "\"occupation\": \"2-02-01-01\", \"region\": \"110105\", \"skills\": "
    "[{\"id\": \"python\", \"level\": 3}]}",
    /* Asks for more education than w1 has: rule 4 fails. */
    "{\"id\": \"v-eng\", \"employer\": \"Beta\", \"title\": \"Engineer\", "
    "\"occupation\": \"6-05-02-03\", \"region\": \"110105\", "
    "\"education_min\": 5, \"skills\": [{\"id\": \"welding\", \"level\": 3}, "
    "{\"id\": \"math\", \"level\": 3}]}",
    /* Another province: found with --scope all only. */
    "{\"id\": \"v-far\", \"employer\": \"Gamma\", \"title\": \"Welder\", "
    "\"occupation\": \"6-05-02-03\", \"region\": \"120101\", \"skills\": "
    "[{\"id\": \"welding\", \"level\": 2}]}",
    "{\"id\": \"v-cnc\", \"employer\": \"Gamma\", \"title\": \"Machinist\", "
    "\"occupation\": \"6-18-01-01\", \"region\": \"110106\", \"skills\": "
    "[{\"id\": \"cnc\", \"level\": 2}]}",
};
#define N_VACANCIES (sizeof vacancies / sizeof vacancies[0])

/* w1 without its id: the same person as an ad-hoc profile. */
#define W1_PROFILE                                                         \
    "{\"birth_year\": 1990, \"region\": \"110105\", \"education\": 3, "    \
    "\"skills\": [{\"id\": \"welding\", \"level\": 3}, "                   \
    "{\"id\": \"cnc\", \"level\": 5}], \"desired_occupations\": "          \
    "[\"6-05-02\"]}"

static const char *const workers[] = {
    "{\"id\": \"w1\", \"birth_year\": 1990, \"region\": \"110105\", "
    "\"education\": 3, \"skills\": [{\"id\": \"welding\", \"level\": 3}, "
    "{\"id\": \"cnc\", \"level\": 5}], \"desired_occupations\": "
    "[\"6-05-02\"]}",
    "{\"id\": \"w2\", \"birth_year\": 1995, \"region\": \"110105\", "
    "\"skills\": [{\"id\": \"python\", \"level\": 4}], "
    "\"desired_occupations\": [\"2-02\"]}",
    "{\"id\": \"w3\", \"birth_year\": 1980, \"region\": \"110108\", "
    "\"skills\": [{\"id\": \"welding\", \"level\": 5}], "
    "\"desired_occupations\": [\"6-05-02-03\"]}",
};
#define N_WORKERS (sizeof workers / sizeof workers[0])

static jt_daemon_t *daemon_;
static jm_client_t *adm;
static char tmp[256];

static void
setup(void)
{
    daemon_ = jt_daemon_start(NULL);
    adm = jt_connect_admin(daemon_);
    for (size_t i = 0; i < N_VACANCIES; i++) {
        jm_reply_t *r = jt_call_json(adm, "vacancy.put", "{\"vacancy\": %s}",
                                     vacancies[i]);
        jt_expect_ok(r, "vacancy.put");
        jm_reply_free(r);
    }
    for (size_t i = 0; i < N_WORKERS; i++) {
        jm_reply_t *r = jt_call_json(adm, "worker.put", "{\"worker\": %s}",
                                     workers[i]);
        jt_expect_ok(r, "worker.put");
        jm_reply_free(r);
    }
    snprintf(tmp, sizeof tmp, "/tmp/jm-cli-test.XXXXXX");
    cr_assert_not_null(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
}

static void
teardown(void)
{
    static const char *const names[] = { "out", "err", "in" };
    char path[300];

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, names[i]);
        unlink(path);
    }
    rmdir(tmp);
    if (adm)
        jm_close(adm);
    if (daemon_)
        cr_expect_eq(jt_daemon_stop(daemon_), 0, "jobmatchd did not exit cleanly");
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 60);

/* ---- running the tool ------------------------------------------------------ */

/* What one run of the tool left: its exit code and both outputs. */
typedef struct run {
    int code;        /* exit status, or 128 + signal */
    char *out, *err; /* malloc'd, NUL-terminated */
} run_t;

static void
run_free(run_t *r)
{
    free(r->out);
    free(r->err);
}

/* Writes text to tmp/in and returns the path (static storage). */
static const char *
write_input(const char *text)
{
    static char path[300];
    snprintf(path, sizeof path, "%s/in", tmp);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fputs(text, f) >= 0, true);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* Runs `jobmatch -a ADDR -t 10000 [-k key] args...` (args NULL-terminated)
 * with standard input from in_path (NULL = /dev/null) and waits for it. */
static run_t
cli_run(const char *key, const char *in_path, ...)
{
    const char *bin = getenv("JOBMATCH_CLI");
    cr_assert(bin && *bin, "JOBMATCH_CLI is not set");
    const char *argv[64];
    size_t n = 0;
    argv[n++] = bin;
    argv[n++] = "-a";
    argv[n++] = daemon_->addr;
    argv[n++] = "-t";
    argv[n++] = "10000";
    if (key) {
        argv[n++] = "-k";
        argv[n++] = key;
    }
    va_list ap;
    va_start(ap, in_path);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
        cr_assert_lt(n, sizeof argv / sizeof argv[0] - 1);
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;

    char out_path[300], err_path[300];
    snprintf(out_path, sizeof out_path, "%s/out", tmp);
    snprintf(err_path, sizeof err_path, "%s/err", tmp);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
    if (pid == 0) {
        int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 ||
            dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        unsetenv("JOBMATCH_KEY");
        unsetenv("JOBMATCH_ADDR");
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
    run_t r = {
        .code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
        .out = jt_read_file(out_path, NULL),
        .err = jt_read_file(err_path, NULL),
    };
    cr_assert_neq(r.code, 126, "could not set up the tool's files");
    cr_assert_neq(r.code, 127, "could not run %s", bin);
    return r;
}

#define ADMIN JT_ADMIN_KEY
#define ANON NULL

/* The lines of a text: a copy cut at the newlines (empty lines dropped). */
typedef struct lines {
    char *buf;
    char **v;
    size_t n;
} lines_t;

static lines_t
split_lines(const char *text)
{
    lines_t l = { .buf = strdup(text) };
    cr_assert_not_null(l.buf);
    size_t cap = 16;
    l.v = malloc(cap * sizeof *l.v);
    cr_assert_not_null(l.v);
    for (char *save = NULL, *t = strtok_r(l.buf, "\n", &save); t;
         t = strtok_r(NULL, "\n", &save)) {
        if (l.n == cap) {
            cap *= 2;
            l.v = realloc(l.v, cap * sizeof *l.v);
            cr_assert_not_null(l.v);
        }
        l.v[l.n++] = t;
    }
    return l;
}

static void
free_lines(lines_t *l)
{
    free(l->buf);
    free(l->v);
}

/* ---- what the library says ---------------------------------------------- */

/* Calls op with JSON args through the library and returns the reply
 * (caller frees), checking it holds a "matches" array. */
static jm_reply_t *
lib_matches(const char *op, const char *args_json, const msgpack_object **m)
{
    jm_reply_t *r = jt_call_json(adm, op, "%s", args_json);
    jt_expect_ok(r, op);
    *m = jt_need(&r->result, "matches");
    cr_assert_eq((*m)->type, MSGPACK_OBJECT_ARRAY);
    return r;
}

static const char *
match_id(const msgpack_object *m, uint32_t i)
{
    return jt_get_str(&m->via.array.ptr[i], "id");
}

static bool
ids_contain(const msgpack_object *m, const char *id)
{
    for (uint32_t i = 0; i < m->via.array.size; i++)
        if (jt_str_is(jt_get(&m->via.array.ptr[i], "id"), id))
            return true;
    return false;
}

/* Checks the table on stdout against the library's matches: a header,
 * then one line per match with rank, id and score (3 decimals), in order.
 * Returns the lines (free with free_lines) so callers can look further. */
static lines_t
expect_table(const run_t *r, const msgpack_object *m)
{
    lines_t l = split_lines(r->out);
    char **lines = l.v;
    cr_assert_eq(l.n, m->via.array.size + 1, "want %u matches and a header:\n%s",
                 m->via.array.size, r->out);
    cr_assert(strstr(lines[0], "rank") && strstr(lines[0], "id") &&
              strstr(lines[0], "score"), "header: %s", lines[0]);
    size_t id_col = (size_t)(strstr(lines[0], " id") + 1 - lines[0]);
    for (uint32_t i = 0; i < m->via.array.size; i++) {
        const char *line = lines[i + 1];
        unsigned rank;
        char id[80], score[32], want[32];
        cr_assert_eq(sscanf(line, "%u %79s %31s", &rank, id, score), 3,
                     "line: %s", line);
        cr_assert_eq(rank, i + 1, "line: %s", line);
        cr_assert_str_eq(id, match_id(m, i), "rank %u", rank);
        snprintf(want, sizeof want, "%.3f",
                 jt_get_double(&m->via.array.ptr[i], "score"));
        cr_assert_str_eq(score, want, "score of %s", id);
        /* The ids form one column, aligned under the header. */
        cr_assert_eq(strncmp(line + id_col, id, strlen(id)), 0,
                     "id not aligned: \"%s\" under \"%s\"", line, lines[0]);
    }
    return l;
}

/* ---- match vacancies / workers -------------------------------------------- */

Test(cli, match_vacancies_lists_the_library_ranking)
{
    static const char *const scopes[] = { "city", "all" };
    for (size_t s = 0; s < 2; s++) {
        char args[128];
        snprintf(args, sizeof args, "{\"worker\": \"w1\", \"scope\": \"%s\"}",
                 scopes[s]);
        const msgpack_object *m;
        jm_reply_t *lib = lib_matches("match.vacancies", args, &m);
        /* The store is built so that the list is not trivial. */
        cr_assert_geq(m->via.array.size, 3, "scope %s", scopes[s]);
        cr_assert(!ids_contain(m, "v-eng"), "v-eng breaks rule 4");
        cr_assert_eq(ids_contain(m, "v-far"), s == 1, "v-far only with all");

        run_t r = cli_run(ADMIN, NULL, "match", "vacancies", "--worker", "w1",
                          "--scope", scopes[s], NULL);
        cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
        cr_assert_str_empty(r.err);
        lines_t l = expect_table(&r, m);
        free_lines(&l);
        run_free(&r);
        jm_reply_free(lib);
    }
}

/* scope network with no [peers]: this node alone, each match naming it. */
Test(cli, match_vacancies_network_names_each_match_node)
{
    const msgpack_object *m;
    jm_reply_t *lib = lib_matches("match.vacancies", "{\"worker\": \"w1\", \"scope\": \"all\"}",
                                  &m);
    cr_assert_geq(m->via.array.size, 3);
    run_t r = cli_run(ADMIN, NULL, "match", "vacancies", "--worker", "w1", "--scope",
                      "network", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert_str_empty(r.err);
    lines_t l = expect_table(&r, m);
    cr_assert(strstr(l.v[0], "node"), "header: %s", l.v[0]);
    for (size_t i = 1; i < l.n; i++) {
        char node[80];
        cr_assert_eq(sscanf(l.v[i], "%*u %*s %*s %79s", node), 1, "line: %s", l.v[i]);
        cr_assert_str_eq(node, "local", "line: %s", l.v[i]);
    }
    free_lines(&l);
    run_free(&r);
    /* --why too: the server explains no network-wide match, so the same
     * table comes without reasons (the shell always asks for them). */
    r = cli_run(ADMIN, NULL, "match", "vacancies", "--worker", "w1", "--scope", "network",
                "--why", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    l = expect_table(&r, m);
    cr_assert(strstr(l.v[0], "node") && !strstr(l.v[0], "why"), "header: %s", l.v[0]);
    free_lines(&l);
    run_free(&r);
    jm_reply_free(lib);
}

Test(cli, match_vacancies_limit_and_filters_reach_the_server)
{
    const msgpack_object *m;
    jm_reply_t *lib = lib_matches(
        "match.vacancies",
        "{\"worker\": \"w1\", \"limit\": 1, \"scope\": \"all\"}", &m);
    cr_assert_eq(m->via.array.size, 1);
    run_t r = cli_run(ADMIN, NULL, "match", "vacancies", "--worker", "w1",
                      "--limit=1", "--scope=all", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    lines_t l = expect_table(&r, m);
    free_lines(&l);
    run_free(&r);
    jm_reply_free(lib);

    lib = lib_matches("match.vacancies",
                      "{\"worker\": \"w1\", \"scope\": \"all\", "
                      "\"employer\": \"Gamma\", \"occupation\": \"6-05\"}", &m);
    cr_assert_eq(m->via.array.size, 1);
    cr_assert_str_eq(match_id(m, 0), "v-far");
    r = cli_run(ADMIN, NULL, "match", "vacancies", "--worker", "w1", "--scope",
                "all", "--employer", "Gamma", "--occupation", "6-05", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    l = expect_table(&r, m);
    free_lines(&l);
    run_free(&r);
    jm_reply_free(lib);
}

Test(cli, why_names_the_shared_skills_and_bonuses)
{
    const msgpack_object *m;
    jm_reply_t *lib = lib_matches(
        "match.vacancies", "{\"worker\": \"w1\", \"explain\": true}", &m);
    run_t r = cli_run(ADMIN, NULL, "match", "vacancies", "--worker", "w1",
                      "--why", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    lines_t tab = expect_table(&r, m);
    char **lines = tab.v;
    cr_assert(strstr(lines[0], "why"), "header: %s", lines[0]);
    bool saw_two = false;
    for (uint32_t i = 0; i < m->via.array.size; i++) {
        const char *line = lines[i + 1];
        const msgpack_object *ex = jt_need(&m->via.array.ptr[i], "explain");
        const msgpack_object *sk = jt_need(ex, "skills");
        cr_assert_eq(sk->type, MSGPACK_OBJECT_ARRAY);
        cr_assert(strstr(line, "shares ") || sk->via.array.size == 0, "%s", line);
        for (uint32_t j = 0; j < sk->via.array.size; j++) {
            const msgpack_object *s = &sk->via.array.ptr[j];
            char want[128];
            snprintf(want, sizeof want, "%s (%d/%d, +%.2f)",
                     jt_get_str(s, "id"), (int)jt_get_int(s, "worker_level"),
                     (int)jt_get_int(s, "vacancy_level"),
                     jt_get_double(s, "contribution"));
            cr_assert(strstr(line, want), "\"%s\" lacks \"%s\"", line, want);
        }
        saw_two = saw_two || sk->via.array.size >= 2;
        const msgpack_object *occ = jt_need(ex, "occupation");
        if (jt_str_is(jt_get(occ, "level"), "minor"))
            cr_assert(strstr(line, "same minor group 6-05-02 (+1.2)"), "%s", line);
        if (jt_get_double(ex, "county_bonus") > 0)
            cr_assert(strstr(line, "same county (+0.5)"), "%s", line);
        else
            cr_assert_null(strstr(line, "same county"), "%s", line);
    }
    /* v-weld shares both welding and cnc with w1. */
    cr_assert(saw_two);
    cr_assert_str_eq(match_id(m, 0), "v-weld");
    cr_assert(strstr(lines[1], "welding") && strstr(lines[1], "cnc"), "%s",
              lines[1]);
    free_lines(&tab);
    run_free(&r);
    jm_reply_free(lib);
}

Test(cli, json_is_one_document_with_the_matches)
{
    const msgpack_object *m;
    jm_reply_t *lib = lib_matches("match.vacancies", "{\"worker\": \"w1\"}", &m);
    run_t r = cli_run(ADMIN, NULL, "match", "vacancies", "--worker", "w1",
                      "--json", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    json_error_t jerr;
    json_t *doc = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(doc, "not one JSON document (%s): %s", jerr.text, r.out);
    json_t *arr = json_object_get(doc, "matches");
    cr_assert(json_is_array(arr), "%s", r.out);
    cr_assert_eq(json_array_size(arr), m->via.array.size);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *h = json_array_get(arr, i);
        cr_assert_str_eq(json_string_value(json_object_get(h, "id")),
                         match_id(m, (uint32_t)i));
        cr_assert_float_eq(json_real_value(json_object_get(h, "score")),
                           jt_get_double(&m->via.array.ptr[i], "score"), 1e-12);
        cr_assert_null(json_object_get(h, "explain"), "explain not asked");
    }
    json_decref(doc);
    run_free(&r);
    jm_reply_free(lib);

    /* With --why the explain maps come along in the JSON too. */
    r = cli_run(ADMIN, NULL, "match", "vacancies", "--worker", "w1", "--json",
                "--why", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    doc = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(doc, "%s", r.out);
    arr = json_object_get(doc, "matches");
    cr_assert_gt(json_array_size(arr), 0);
    cr_assert(json_is_object(json_object_get(json_array_get(arr, 0), "explain")));
    json_decref(doc);
    run_free(&r);
}

Test(cli, match_workers_lists_the_library_ranking)
{
    const msgpack_object *m;
    jm_reply_t *lib = lib_matches(
        "match.workers", "{\"vacancy\": \"v-weld\", \"explain\": true}", &m);
    cr_assert_geq(m->via.array.size, 2);
    cr_assert(!ids_contain(m, "w2"), "w2 shares nothing with v-weld");
    run_t r = cli_run(ADMIN, NULL, "match", "workers", "--vacancy", "v-weld",
                      "--why", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    lines_t tab = expect_table(&r, m);
    for (uint32_t i = 0; i < m->via.array.size; i++)
        cr_assert(strstr(tab.v[i + 1], "welding ("), "%s", tab.v[i + 1]);
    free_lines(&tab);
    run_free(&r);
    jm_reply_free(lib);

    /* --category filters: nobody here is a graduate. */
    r = cli_run(ADMIN, NULL, "match", "workers", "--vacancy", "v-weld",
                "--category", "graduate", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert_str_eq(r.out, "no matches\n");
    run_free(&r);
}

Test(cli, profile_from_stdin_matches_like_the_stored_worker)
{
    const msgpack_object *m;
    jm_reply_t *lib = lib_matches("match.vacancies", "{\"worker\": \"w1\"}", &m);
    /* A kiosk may match by profile; from a file and from standard input. */
    const char *in = write_input(W1_PROFILE);
    run_t r = cli_run(ANON, NULL, "match", "vacancies", "--profile", in, NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    lines_t l = expect_table(&r, m);
    free_lines(&l);
    run_free(&r);
    r = cli_run(ANON, in, "match", "vacancies", "--profile", "-", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    l = expect_table(&r, m);
    free_lines(&l);
    run_free(&r);
    jm_reply_free(lib);

    /* But not by stored worker. */
    r = cli_run(ANON, NULL, "match", "vacancies", "--worker", "w1", NULL);
    cr_assert_eq(r.code, 1);
    cr_assert(strstr(r.err, "forbidden"), "%s", r.err);
    cr_assert_str_empty(r.out);
    run_free(&r);

    /* A profile that is not a JSON object is the user's error. */
    in = write_input("[1, 2]");
    r = cli_run(ANON, NULL, "match", "vacancies", "--profile", in, NULL);
    cr_assert_eq(r.code, 2, "exit %d: %s", r.code, r.err);
    run_free(&r);
}

/* ---- explain -------------------------------------------------------------- */

/* The line of stdout that starts (after blanks) with prefix and contains
 * part; NULL when none. Points into text. */
static const char *
find_line(const char *text, const char *prefix, const char *part)
{
    const char *l = text;
    while (*l) {
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        const char *p = l + strspn(l, " ");
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int)len, l);
        if (strncmp(p, prefix, strlen(prefix)) == 0 && strstr(buf, part))
            return l;
        l += len + (end != NULL);
    }
    return NULL;
}

Test(cli, explain_shows_the_failed_rule_and_missing_skills)
{
    run_t r = cli_run(ADMIN, NULL, "explain", "--worker", "w1", "--vacancy",
                      "v-eng", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert_not_null(find_line(r.out, "NO ", "education"), "%s", r.out);
    cr_assert_not_null(find_line(r.out, "NO ", "requires education 5, has 3"),
                       "%s", r.out);
    cr_assert_not_null(find_line(r.out, "ok ", "open"), "%s", r.out);
    cr_assert_not_null(find_line(r.out, "needs ", "needs math at level 3, lacks it"),
                       "%s", r.out);
    cr_assert_not_null(find_line(r.out, "verdict: not a match", "education"),
                       "%s", r.out);
    /* Exactly one rule fails. */
    lines_t l = split_lines(r.out);
    size_t no = 0;
    for (size_t i = 0; i < l.n; i++)
        no += strncmp(l.v[i] + strspn(l.v[i], " "), "NO ", 3) == 0;
    cr_assert_eq(no, 1, "%s", r.out);
    free_lines(&l);
    run_free(&r);

    /* Regions of two provinces fail the scope, said so. */
    r = cli_run(ADMIN, NULL, "explain", "--worker", "w1", "--vacancy", "v-far", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert_not_null(find_line(r.out, "NO ",
                                 "regions 110105 and 120101 are in different provinces; asked: city"),
                       "%s", r.out);
    run_free(&r);
    r = cli_run(ADMIN, NULL, "explain", "--worker", "w1", "--vacancy", "v-weld2", "--scope",
                "county", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert_not_null(find_line(r.out, "NO ",
                                 "regions 110105 and 110102 agree at city level; asked: county"),
                       "%s", r.out);
    run_free(&r);

    /* A pair that matches: all ok, the score the library gives, and the
     * skill held below the level asked. */
    jm_reply_t *lib = jt_call_json(adm, "match.explain",
                                   "{\"worker\": \"w1\", \"vacancy\": \"v-weld\"}");
    jt_expect_ok(lib, "match.explain");
    cr_assert(jt_get_bool(&lib->result, "match"));
    char want[64];
    snprintf(want, sizeof want, "verdict: a match, score %.3f",
             jt_get_double(&lib->result, "score"));
    r = cli_run(ADMIN, NULL, "explain", "--worker", "w1", "--vacancy", "v-weld",
                NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert_null(find_line(r.out, "NO ", ""), "%s", r.out);
    cr_assert_not_null(find_line(r.out, "verdict:", want), "want %s:\n%s", want, r.out);
    cr_assert_not_null(find_line(r.out, "needs ", "needs welding at level 4, has 3"),
                       "%s", r.out);
    run_free(&r);
    jm_reply_free(lib);

    /* --json gives the result itself. */
    r = cli_run(ADMIN, NULL, "explain", "--worker", "w1", "--vacancy", "v-eng",
                "--json", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    json_error_t jerr;
    json_t *doc = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(doc, "%s", r.out);
    cr_assert(json_is_false(json_object_get(doc, "match")), "%s", r.out);
    cr_assert(json_is_array(json_object_get(doc, "rules")), "%s", r.out);
    json_decref(doc);
    run_free(&r);
}

/* ---- errors and help ------------------------------------------------------ */

Test(cli, server_errors_exit_1_and_usage_errors_exit_2)
{
    run_t r = cli_run(ADMIN, NULL, "match", "vacancies", "--worker", "nobody",
                      NULL);
    cr_assert_eq(r.code, 1, "exit %d", r.code);
    cr_assert(strstr(r.err, "not_found"), "%s", r.err);
    cr_assert_str_empty(r.out);
    run_free(&r);

    r = cli_run(ADMIN, NULL, "explain", "--worker", "w1", "--vacancy", "nope",
                NULL);
    cr_assert_eq(r.code, 1, "exit %d", r.code);
    cr_assert(strstr(r.err, "not_found"), "%s", r.err);
    run_free(&r);

    /* A value the server refuses is the server's error. */
    r = cli_run(ADMIN, NULL, "match", "vacancies", "--worker", "w1", "--scope",
                "galaxy", NULL);
    cr_assert_eq(r.code, 1, "exit %d", r.code);
    cr_assert(strstr(r.err, "bad_request"), "%s", r.err);
    run_free(&r);

    static const char *const bad[][8] = {
        { "match", "vacancies", "--worker", "w1", "--bogus", NULL },
        { "match", "vacancies", "--worker", "w1", "--limit", "ten", NULL },
        { "match", "vacancies", "--worker", "w1", "--limit", NULL },
        { "match", "vacancies", "--worker", "w1", "--profile", "x.json", NULL },
        { "match", "vacancies", NULL },
        { "match", "vacancies", "--worker", "w1", "--category", "graduate", NULL },
        { "match", "workers", "--scope", "city", NULL },
        { "match", "workers", "--vacancy", "v-weld", "--why=yes", NULL },
        { "match", "workers", "--vacancy", "a", "--vacancy", "b", NULL },
        { "match", "everything", NULL },
        { "match", NULL },
        { "explain", "--worker", "w1", NULL },
        { "explain", "--worker", "w1", "--vacancy", "v-weld", "--why", NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *const *a = bad[i];
        r = cli_run(ADMIN, NULL, a[0], a[1], a[2], a[3], a[4], a[5], a[6], NULL);
        cr_assert_eq(r.code, 2, "case %zu (%s %s ... %s): exit %d: %s", i, a[0],
                     a[1] ? a[1] : "", a[4] ? a[4] : "", r.code, r.err);
        cr_assert(strstr(r.err, "usage"), "case %zu: %s", i, r.err);
        cr_assert_str_empty(r.out, "case %zu", i);
        run_free(&r);
    }
}

Test(cli, help_lists_the_match_commands)
{
    run_t r = cli_run(ANON, NULL, "help", NULL);
    cr_assert_eq(r.code, 0);
    cr_assert(strstr(r.out, "  match vacancies (--worker ID | --profile FILE.json|-)"),
              "%s", r.out);
    cr_assert(strstr(r.out, "  match workers --vacancy ID"), "%s", r.out);
    cr_assert(strstr(r.out, "  explain (--worker ID | --profile FILE.json|-) --vacancy ID"),
              "%s", r.out);
    cr_assert(strstr(r.out, "--why"), "%s", r.out);
    run_free(&r);
}

/* ---- the record commands -------------------------------------------------- */

Test(cli, get_and_list_vacancies)
{
    run_t r = cli_run(ADMIN, NULL, "get", "vacancy", "v-code", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    json_error_t jerr;
    json_t *doc = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(doc, "%s", r.out);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "id")), "v-code");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "title")), "Coder");
    json_decref(doc);
    run_free(&r);

    /* A small page size makes --all follow the cursor. */
    r = cli_run(ADMIN, NULL, "list", "vacancies", "--all", "--limit", "2", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    lines_t l = split_lines(r.out);
    cr_assert_eq(l.n, N_VACANCIES, "%s", r.out);
    for (size_t i = 0; i < l.n; i++) {
        doc = json_loads(l.v[i], 0, &jerr);
        cr_assert_not_null(doc, "line %zu: %s", i, l.v[i]);
        cr_assert(json_is_string(json_object_get(doc, "id")));
        json_decref(doc);
    }
    free_lines(&l);
    run_free(&r);
    cr_assert_eq(jt_admin_count(adm, "vacancies"), N_VACANCIES);
}

Test(cli, import_reports_the_bad_line_and_loads_the_rest)
{
    /* Line 2 is a vacancy without an employer, line 3 is not JSON. */
    const char *in = write_input(
        "{\"id\": \"imp-1\", \"employer\": \"Delta\", \"title\": \"Cook\", "
        "\"occupation\": \"4-03-02-01\", \"region\": \"110105\"}\n"
        "{\"id\": \"imp-2\", \"title\": \"Cook\", "
        "\"occupation\": \"4-03-02-01\", \"region\": \"110105\"}\n"
        "{\"id\": \"imp-3\", \"employer\": \"Delta\", \"title\": \"Cook\", "
        "\"occupation\": \"4-03-02-01\", \"region\": \"110105\"}\n");
    run_t r = cli_run(ADMIN, NULL, "import", "vacancies", in, NULL);
    cr_assert_eq(r.code, 1, "exit %d: %s", r.code, r.err);
    cr_assert(strstr(r.err, "line 2"), "%s", r.err);
    cr_assert(strstr(r.err, "employer"), "%s", r.err);
    cr_assert_null(strstr(r.err, "line 1:"), "%s", r.err);
    cr_assert_null(strstr(r.err, "line 3:"), "%s", r.err);
    run_free(&r);
    jm_reply_t *g = jt_call_json(adm, "vacancy.get", "{\"id\": \"imp-3\"}");
    jt_expect_ok(g, "imp-3 loaded");
    jm_reply_free(g);
    g = jt_call_json(adm, "vacancy.get", "{\"id\": \"imp-2\"}");
    jt_expect_error(g, "not_found", NULL);
    jm_reply_free(g);
    cr_assert_eq(jt_admin_count(adm, "vacancies"), N_VACANCIES + 2);
}

/* Import sends each run of lines in region order (--sort N lines a run):
 * the records of every region load, a bad line keeps its number, and of
 * two lines with one id the later wins, whether or not they share a run. */
Test(cli, import_in_region_order_keeps_the_later_line_of_an_id)
{
    const char *in = write_input(
        "{\"id\": \"ord-1\", \"employer\": \"Delta\", \"title\": \"First\", "
        "\"occupation\": \"4-03-02-01\", \"region\": \"650102\"}\n"
        "{\"id\": \"ord-2\", \"employer\": \"Delta\", \"title\": \"Cook\", "
        "\"occupation\": \"4-03-02-01\", \"region\": \"440305\"}\n"
        "{\"id\": \"ord-3\", \"employer\": \"Delta\", \"title\": \"Cook\", "
        "\"occupation\": \"4-03-02-01\", \"region\": \"110105\"}\n"
        "{\"id\": \"ord-4\", \"title\": \"No employer\", "
        "\"occupation\": \"4-03-02-01\", \"region\": \"310101\"}\n"
        "{\"id\": \"ord-1\", \"employer\": \"Delta\", \"title\": \"Second\", "
        "\"occupation\": \"4-03-02-01\", \"region\": \"110105\"}\n"
        "{\"id\": \"ord-5\", \"employer\": \"Delta\", \"title\": \"Cook\", "
        "\"occupation\": \"4-03-02-01\", \"region\": \"210102\"}\n"
        "{\"id\": \"ord-1\", \"employer\": \"Delta\", \"title\": \"Third\", "
        "\"occupation\": \"4-03-02-01\", \"region\": \"440305\"}\n");
    static const char *const runs[] = {NULL, "2", "0"};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        run_t r = runs[i] ? cli_run(ADMIN, NULL, "import", "vacancies", in, "--sort", runs[i], NULL)
                          : cli_run(ADMIN, NULL, "import", "vacancies", in, NULL);
        cr_assert_eq(r.code, 1, "--sort %s: exit %d: %s", runs[i], r.code, r.err);
        cr_assert(strstr(r.err, "imported 6 ("), "--sort %s: %s", runs[i], r.err);
        cr_assert(strstr(r.err, "line 4: employer"), "--sort %s: %s", runs[i], r.err);
        run_free(&r);
        jm_reply_t *g = jt_call_json(adm, "vacancy.get", "{\"id\": \"ord-1\"}");
        jt_expect_ok(g, "ord-1 loaded");
        const msgpack_object *v = jt_need(&g->result, "vacancy");
        cr_assert(jt_str_is(jt_need(v, "title"), "Third"), "--sort %s", runs[i]);
        cr_assert(jt_str_is(jt_need(v, "region"), "440305"), "--sort %s", runs[i]);
        jm_reply_free(g);
        for (int n = 2; n <= 5; n++) {
            char args[64];
            snprintf(args, sizeof args, "{\"id\": \"ord-%d\"}", n);
            g = jt_call_json(adm, "vacancy.get", args);
            if (n == 4)
                jt_expect_error(g, "not_found", NULL);
            else
                jt_expect_ok(g, "ord-n loaded");
            jm_reply_free(g);
        }
    }
}

Test(cli, put_worker_from_a_file)
{
    const char *in = write_input(
        "{\"id\": \"w-new\", \"birth_year\": 2000, \"region\": \"110105\", "
        "\"skills\": [{\"id\": \"cnc\", \"level\": 2}]}");
    run_t r = cli_run(ADMIN, NULL, "put", "worker", in, NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    run_free(&r);
    jm_reply_t *g = jt_call_json(adm, "worker.get", "{\"id\": \"w-new\"}");
    jt_expect_ok(g, "w-new stored");
    const msgpack_object *w = jt_need(&g->result, "worker");
    cr_assert_eq(jt_get_int(w, "birth_year"), 2000);
    jm_reply_free(g);

    /* The tool shows the new worker among the matches of v-cnc. */
    r = cli_run(ADMIN, NULL, "match", "workers", "--vacancy", "v-cnc", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert(strstr(r.out, " w-new "), "%s", r.out);
    run_free(&r);
}

Test(cli, backup_writes_a_copy_and_refuses_an_existing_path)
{
    char dir[320], file[340];
    snprintf(dir, sizeof dir, "%s/copy", tmp);
    snprintf(file, sizeof file, "%s/data.mdb", dir);
    run_t r = cli_run(ADMIN, NULL, "backup", dir, NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    json_error_t jerr;
    json_t *doc = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(doc, "%s", r.out);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "path")), dir);
    struct stat st;
    cr_assert_eq(stat(file, &st), 0, "%s: %s", file, strerror(errno));
    cr_assert_eq((json_int_t)st.st_size, json_integer_value(json_object_get(doc, "bytes")));
    cr_assert_eq((uint64_t)json_integer_value(json_object_get(doc, "changelog_seq")),
                 jt_admin_count(adm, "changelog_seq"));
    json_decref(doc);
    run_free(&r);

    r = cli_run(ADMIN, NULL, "backup", dir, NULL);
    cr_assert_eq(r.code, 1, "exit %d", r.code);
    cr_assert(strstr(r.err, "bad_request") && strstr(r.err, "already exists"), "%s", r.err);
    run_free(&r);
    r = cli_run(ADMIN, NULL, "backup", NULL);
    cr_assert_eq(r.code, 2, "exit %d", r.code);
    cr_assert(strstr(r.err, "usage"), "%s", r.err);
    run_free(&r);
    unlink(file);
    rmdir(dir);
}

/* ---- refer and stats ---------------------------------------------------- */

Test(cli, refer_commands_show_the_referral_and_its_history)
{
    run_t r = cli_run(ADMIN, NULL, "refer", "create", "--worker", "w1", "--vacancy", "v-weld",
                      "--note", "strong welder", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    lines_t l = split_lines(r.out);
    cr_assert_geq(l.n, 3, "%s", r.out);
    cr_assert(strncmp(l.v[0], "r-1  worker w1  vacancy v-weld  referred", 40) == 0, "%s", l.v[0]);
    cr_assert(strstr(l.v[1], "status") && strstr(l.v[1], "by") && strstr(l.v[1], "note"),
              "%s", l.v[1]);
    cr_assert(strncmp(l.v[2], "referred ", 9) == 0 && strstr(l.v[2], "admin") &&
              strstr(l.v[2], "strong welder"), "%s", l.v[2]);
    free_lines(&l);
    run_free(&r);

    r = cli_run(ADMIN, NULL, "refer", "update", "r-1", "hired", "--note", "starts Monday", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert(strstr(r.out, "hired at "), "%s", r.out);
    cr_assert(strstr(r.out, "starts Monday"), "%s", r.out);
    run_free(&r);
    /* The hire reached the records. */
    jm_reply_t *g = jt_call_json(adm, "worker.get", "{\"id\": \"w1\"}");
    jt_expect_ok(g, "w1");
    cr_assert_str_eq(jt_get_str(jt_need(&g->result, "worker"), "status"), "employed");
    jm_reply_free(g);

    r = cli_run(ADMIN, NULL, "refer", "update", "r-1", "rejected", NULL);
    cr_assert_eq(r.code, 1, "exit %d", r.code);
    cr_assert(strstr(r.err, "conflict: referral r-1 cannot move from hired to rejected"), "%s",
              r.err);
    run_free(&r);
    r = cli_run(ADMIN, NULL, "refer", "create", "--worker", "w2", NULL);
    cr_assert_eq(r.code, 2, "exit %d", r.code);
    run_free(&r);

    r = cli_run(ADMIN, NULL, "refer", "create", "--worker", "w2", "--vacancy", "v-code", "--json",
                NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert(strstr(r.out, "\"id\":\"r-2\""), "%s", r.out);
    run_free(&r);

    r = cli_run(ADMIN, NULL, "refer", "list", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    l = split_lines(r.out);
    cr_assert_eq(l.n, 3, "%s", r.out);
    cr_assert(strstr(l.v[0], "id") && strstr(l.v[0], "worker") && strstr(l.v[0], "status"));
    char id[16], worker[16], vacancy[16], status[16];
    cr_assert_eq(sscanf(l.v[1], "%15s %15s %15s %15s", id, worker, vacancy, status), 4);
    cr_assert_str_eq(id, "r-1");
    cr_assert_str_eq(status, "hired");
    /* Columns line up under the header. */
    size_t col = (size_t)(strstr(l.v[0], "status") - l.v[0]);
    cr_assert(strncmp(l.v[2] + col, "referred", 8) == 0, "%s\n%s", l.v[0], l.v[2]);
    free_lines(&l);
    run_free(&r);

    r = cli_run(ADMIN, NULL, "refer", "list", "--status", "referred", "--json", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    l = split_lines(r.out);
    cr_assert_eq(l.n, 1, "%s", r.out);
    cr_assert(strstr(l.v[0], "\"id\":\"r-2\""), "%s", l.v[0]);
    free_lines(&l);
    run_free(&r);
}

/* The number in column `col` (0-based, blank-separated) of the row that
 * starts with `label`. */
static long long
table_number(const char *out, const char *label, int col)
{
    lines_t l = split_lines(out);
    long long v = -1;
    for (size_t i = 0; i < l.n; i++) {
        if (strncmp(l.v[i], label, strlen(label)) != 0 || l.v[i][strlen(label)] != ' ')
            continue;
        char *save = NULL, *t = strtok_r(l.v[i], " ", &save);
        for (int c = 0; t && c < col; c++)
            t = strtok_r(NULL, " ", &save);
        cr_assert_not_null(t, "row %s has no column %d", label, col);
        v = strtoll(t, NULL, 10);
    }
    free_lines(&l);
    cr_assert_geq(v, 0, "no row %s in:\n%s", label, out);
    return v;
}

Test(cli, stats_tables_show_the_server_figures)
{
    char year[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(year, sizeof year, "%04d", tm.tm_year + 1900);

    run_t r = cli_run(ANON, NULL, "stats", "supply-demand", "--period", year, "--by", "major",
                      NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert(strstr(r.out, "group  openings  vacancies  applicants  ratio"), "%s", r.out);
    /* Five vacancies of major group 6 and one of 2; one worker wishes 2. */
    cr_assert_eq(table_number(r.out, "6", 1), 5, "%s", r.out);
    cr_assert_eq(table_number(r.out, "2", 1), 1, "%s", r.out);
    cr_assert_eq(table_number(r.out, "2", 3), 1, "%s", r.out);
    cr_assert_eq(table_number(r.out, "total", 1), (long long)N_VACANCIES, "%s", r.out);
    cr_assert_eq(table_number(r.out, "total", 3), (long long)N_WORKERS, "%s", r.out);
    run_free(&r);

    /* The roll-up of a node without [peers]: its own figures, and it is
     * named as the one node that answered. */
    r = cli_run(ANON, NULL, "stats", "supply-demand", "--period", year, "--by", "major",
                "--network", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert_eq(table_number(r.out, "total", 1), (long long)N_VACANCIES, "%s", r.out);
    cr_assert_eq(table_number(r.out, "total", 3), (long long)N_WORKERS, "%s", r.out);
    cr_assert(strstr(r.out, "nodes: local\n"), "%s", r.out);
    cr_assert(!strstr(r.out, "missing"), "%s", r.out);
    run_free(&r);

    r = cli_run(ANON, NULL, "stats", "supply-demand", "--period", year, "--by", "city", "--json",
                NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert(strstr(r.out, "\"group\":\"1101\""), "%s", r.out);
    run_free(&r);

    r = cli_run(ANON, NULL, "stats", "reemployment", "--period", year, "--region", "11", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert_eq(table_number(r.out, "other", 1), (long long)N_WORKERS, "%s", r.out);
    cr_assert_eq(table_number(r.out, "total", 2), 0, "%s", r.out);
    run_free(&r);

    r = cli_run(ANON, NULL, "stats", "wages", NULL);
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    cr_assert(strstr(r.out, "group  count  p10  p50  p90"), "%s", r.out);
    cr_assert_eq(table_number(r.out, "total", 1), 0, "%s", r.out);
    run_free(&r);

    r = cli_run(ANON, NULL, "stats", "reemployment", NULL);
    cr_assert_eq(r.code, 1, "exit %d", r.code);
    cr_assert(strstr(r.err, "period: required"), "%s", r.err);
    run_free(&r);
    r = cli_run(ANON, NULL, "stats", "wages", "--period", year, NULL);
    cr_assert_eq(r.code, 2, "exit %d", r.code);
    run_free(&r);
}
