/* test_kiosk.c - jobmatch-kiosk's JSON API against a live daemon: what the
 * kiosk answers is what the daemon answers a kiosk (rankings, statistics),
 * with names added; bad input is refused naming the field; a daemon that
 * is down is a clear 503; a key with more than the kiosk role is refused
 * at start; the page's files are served, and nothing outside them. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon.h"
#include "wire.h"

static const char ini[] = "[keys]\n"
                          "stand = kiosk:stand-secret-0001\n"
                          "desk = counselor:desk-secret-00001\n";

typedef struct kiosk {
    pid_t pid;
    int port;
    char dir[300];
} kiosk_t;

/* Starts jobmatch-kiosk for daemon d (key_file NULL = anonymous) and waits
 * for its ready file. */
static kiosk_t *
kiosk_start(const jt_daemon_t *d, const char *key_file)
{
    const char *exe = getenv("JOBMATCH_KIOSK");
    cr_assert_not_null(exe, "JOBMATCH_KIOSK is not set (run through ctest)");
    kiosk_t *k = calloc(1, sizeof *k);
    snprintf(k->dir, sizeof k->dir, "%s/kiosk-ready", d->dir);
    unlink(k->dir);
    k->pid = fork();
    cr_assert_geq(k->pid, 0);
    if (k->pid == 0) {
        const char *argv[] = {exe, "--listen", "127.0.0.1:0", "--daemon", d->addr,
                              "--ready-file", k->dir, "--timeout", "3000",
                              key_file ? "--key-file" : NULL, key_file, NULL};
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(k->dir, "r");
        if (f) {
            int got = fscanf(f, "http://127.0.0.1:%d/", &k->port);
            fclose(f);
            if (got == 1)
                return k;
        }
        int status;
        cr_assert_eq(waitpid(k->pid, &status, WNOHANG), 0, "jobmatch-kiosk exited early");
        jt_sleep_ms(50);
    }
    cr_assert_fail("jobmatch-kiosk did not become ready");
    return NULL;
}

/* Stops it with SIGTERM; returns its exit status. */
static int
kiosk_stop(kiosk_t *k)
{
    kill(k->pid, SIGTERM);
    int status = -1;
    waitpid(k->pid, &status, 0);
    free(k);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

typedef struct answer {
    int status;
    char *head; /* status line and headers */
    json_t *json; /* the body as JSON, or NULL */
    char *body;
} answer_t;

static void
answer_free(answer_t *a)
{
    free(a->head);
    json_decref(a->json);
}

static answer_t
http(const kiosk_t *k, const char *method, const char *path, const char *body)
{
    char *req;
    cr_assert_geq(asprintf(&req,
                           "%s %s HTTP/1.1\r\nHost: kiosk\r\nConnection: close\r\n"
                           "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                           method, path, body ? strlen(body) : 0, body ? body : ""),
                  0);
    char *buf = jt_http("127.0.0.1", k->port, req);
    free(req);
    answer_t a = {.head = buf};
    cr_assert_eq(sscanf(buf, "HTTP/1.1 %d", &a.status), 1, "no status line: %.80s", buf);
    char *sep = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(sep);
    a.body = sep + 4;
    a.json = json_loads(a.body, 0, NULL);
    return a;
}

static const char *
error_field(const answer_t *a)
{
    return json_string_value(json_object_get(json_object_get(a->json, "error"), "field"));
}

static const char *
error_code(const answer_t *a)
{
    return json_string_value(json_object_get(json_object_get(a->json, "error"), "code"));
}

/* The daemon's own result for op as JSON, asked as a kiosk. */
static json_t *
daemon_json(const jt_daemon_t *d, const char *op, const char *args)
{
    jm_client_t *c = jt_connect(d);
    char *text = NULL;
    cr_assert_eq(jm_call_json(c, op, args, &text), 0, "%s: %s", op, c->errstr);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    jm_close(c);
    cr_assert_not_null(j);
    return j;
}

/* Skill ids of the reference list hold colons, which jt_pack_skills'
 * "id:level" cannot carry: the records are written as JSON. */
static void
put_vacancy(jm_client_t *admin, const char *id, const char *region, const char *occupation,
            const char *skills_json)
{
    jm_reply_t *r = jt_call_json(admin, "vacancy.put",
                                 "{\"vacancy\": {\"id\": \"%s\", \"employer\": \"Employer of %s\","
                                 " \"title\": \"Opening %s\", \"occupation\": \"%s\", \"region\": \"%s\","
                                 " \"skills\": %s}}",
                                 id, id, id, occupation, region, skills_json);
    jt_expect_ok(r, "vacancy.put");
    jm_reply_free(r);
}

static void
load_vacancies(const jt_daemon_t *d)
{
    jm_client_t *admin = jt_connect_admin(d);
    put_vacancy(admin, "v-1", "440305", "6-31-01-03",
                "[{\"id\": \"tech:microsoft-excel\", \"level\": 3}, {\"id\": \"onet:2.A.1.d\", \"level\": 2}]");
    put_vacancy(admin, "v-2", "440306", "6-31-01-04", "[{\"id\": \"tech:microsoft-excel\", \"level\": 2}]");
    put_vacancy(admin, "v-3", "440305", "2-02-11-01", "[{\"id\": \"onet:2.A.1.d\", \"level\": 4}]");
    put_vacancy(admin, "v-4", "110105", "6-31-01-03", "[{\"id\": \"tech:microsoft-excel\", \"level\": 1}]");
    jm_reply_t *r = jt_call_json(admin, "worker.put",
                                 "{\"worker\": {\"id\": \"w-1\", \"birth_year\": 1990, \"region\": \"440305\","
                                 " \"desired_occupations\": [\"6-31\"]}}");
    jt_expect_ok(r, "worker.put");
    jm_reply_free(r);
    jm_close(admin);
}

static const char profile_form[] =
    "{\"region\": \"440305\", \"birth_year\": 1990, \"education\": 3, \"wage_min\": 0,"
    " \"skills\": [{\"id\": \"tech:microsoft-excel\", \"level\": 3},"
    "              {\"id\": \"onet:2.A.1.d\", \"level\": 2}],"
    " \"occupations\": [\"6-31-01-03\"], \"scope\": \"city\"}";

static const char profile_wire[] =
    "{\"profile\": {\"region\": \"440305\", \"birth_year\": 1990, \"education\": 3,"
    " \"wage_min\": 0, \"skills\": [{\"id\": \"tech:microsoft-excel\", \"level\": 3},"
    " {\"id\": \"onet:2.A.1.d\", \"level\": 2}], \"desired_occupations\": [\"6-31-01-03\"]},"
    " \"scope\": \"city\", \"limit\": 10, \"explain\": true}";

Test(kiosk, match_is_the_daemons_ranking_with_names)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    load_vacancies(d);
    kiosk_t *k = kiosk_start(d, NULL);

    answer_t a = http(k, "POST", "/api/match", profile_form);
    cr_assert_eq(a.status, 200, "%s", a.body);
    json_t *own = daemon_json(d, "match.vacancies", profile_wire);
    json_t *mine = json_object_get(a.json, "matches"), *theirs = json_object_get(own, "matches");
    cr_assert_eq(json_array_size(mine), 3, "v-1, v-2, v-3 in the city; v-4 is in Beijing");
    cr_assert_eq(json_array_size(mine), json_array_size(theirs));
    for (size_t i = 0; i < json_array_size(mine); i++) {
        json_t *m = json_array_get(mine, i), *t = json_array_get(theirs, i);
        cr_assert_str_eq(json_string_value(json_object_get(m, "id")),
                         json_string_value(json_object_get(t, "id")));
        cr_assert_float_eq(json_real_value(json_object_get(m, "score")),
                           json_real_value(json_object_get(t, "score")), 1e-12);
    }
    json_t *top = json_array_get(mine, 0);
    cr_assert_str_eq(json_string_value(json_object_get(top, "id")), "v-1");
    json_t *v = json_object_get(top, "vacancy");
    cr_assert_str_eq(json_string_value(json_object_get(v, "region_name")), "广东省 深圳市 南山区");
    cr_assert_str_eq(json_string_value(json_object_get(v, "occupation_name")), "电工");
    cr_assert_not_null(json_string_value(json_object_get(v, "title")));
    json_t *ex = json_object_get(top, "explain");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ex, "occupation"), "level")),
                     "full");
    json_t *skill = json_array_get(json_object_get(ex, "skills"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(skill, "name")), "Microsoft Excel");
    cr_assert_null(strstr(a.body, "w-1"), "no worker reaches the kiosk's answer");
    json_decref(own);
    answer_free(&a);

    cr_assert_eq(kiosk_stop(k), 0, "a SIGTERM stops the kiosk cleanly");
    jt_daemon_stop(d);
}

Test(kiosk, bad_input_names_the_field)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    kiosk_t *k = kiosk_start(d, NULL);
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"birth_year\": 1990}", "region"},
        {"{\"region\": \"999999\", \"birth_year\": 1990}", "region"},
        {"{\"region\": \"4403\", \"birth_year\": 1990}", "region"},
        {"{\"region\": \"440305\"}", "birth_year"},
        {"{\"region\": \"440305\", \"birth_year\": 1800}", "birth_year"},
        {"{\"region\": \"440305\", \"birth_year\": \"1990\"}", "birth_year"},
        {"{\"region\": \"440305\", \"birth_year\": 1990, \"education\": 9}", "education"},
        {"{\"region\": \"440305\", \"birth_year\": 1990, \"wage_min\": -1}", "wage_min"},
        {"{\"region\": \"440305\", \"birth_year\": 1990, \"scope\": \"moon\"}", "scope"},
        {"{\"region\": \"440305\", \"birth_year\": 1990, \"skills\": [{\"id\": \"juggling\", \"level\": 2}]}", "skills"},
        {"{\"region\": \"440305\", \"birth_year\": 1990, \"skills\": [{\"id\": \"tech:r\", \"level\": 6}]}", "skills"},
        {"{\"region\": \"440305\", \"birth_year\": 1990, \"skills\": [{\"id\": \"tech:r\", \"level\": 2}, {\"id\": \"tech:r\", \"level\": 3}]}", "skills"},
        {"{\"region\": \"440305\", \"birth_year\": 1990, \"occupations\": [\"9-99-99-99\"]}", "occupations"},
        {"{\"region\": \"440305\", \"birth_year\": 1990, \"occupations\": \"6-31\"}", "occupations"},
        {"not json", "body"},
        {"[1, 2]", "body"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        answer_t a = http(k, "POST", "/api/match", cases[i].body);
        cr_assert_eq(a.status, 400, "%s -> %d %s", cases[i].body, a.status, a.body);
        cr_assert_str_eq(error_code(&a), "bad_request");
        cr_assert_str_eq(error_field(&a), cases[i].field, "%s: %s", cases[i].body, a.body);
        answer_free(&a);
    }
    /* None of that harmed the kiosk or its connection to the daemon. */
    answer_t ok = http(k, "POST", "/api/match", "{\"region\": \"440305\", \"birth_year\": 1990}");
    cr_assert_eq(ok.status, 200, "%s", ok.body);
    answer_free(&ok);

    answer_t a = http(k, "GET", "/api/match", NULL);
    cr_assert_eq(a.status, 405);
    answer_free(&a);
    a = http(k, "GET", "/api/supply_demand?region=4", NULL);
    cr_assert_eq(a.status, 400);
    cr_assert_str_eq(error_field(&a), "region");
    answer_free(&a);
    a = http(k, "GET", "/api/skills?limit=500&q=ex", NULL);
    cr_assert_eq(a.status, 400);
    cr_assert_str_eq(error_field(&a), "limit");
    answer_free(&a);
    a = http(k, "GET", "/api/nothing", NULL);
    cr_assert_eq(a.status, 404);
    answer_free(&a);
    cr_assert_eq(kiosk_stop(k), 0);
    jt_daemon_stop(d);
}

Test(kiosk, lookups_and_statistics)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    load_vacancies(d);
    kiosk_t *k = kiosk_start(d, NULL);

    answer_t a = http(k, "GET", "/api/regions", NULL);
    cr_assert_eq(a.status, 200);
    cr_assert_eq(json_array_size(json_object_get(a.json, "regions")), 3213);
    answer_free(&a);

    a = http(k, "GET", "/api/skills?q=EXCEL", NULL);
    cr_assert_eq(a.status, 200);
    json_t *first = json_array_get(json_object_get(a.json, "skills"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "id")), "tech:microsoft-excel");
    answer_free(&a);
    /* A general skill by its Chinese name: 口头表达 (Speaking). */
    a = http(k, "GET", "/api/skills?q=%E5%8F%A3%E5%A4%B4%E8%A1%A8%E8%BE%BE", NULL);
    cr_assert_eq(a.status, 200);
    first = json_array_get(json_object_get(a.json, "skills"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "id")), "onet:2.A.1.d", "%s", a.body);
    cr_assert_str_eq(json_string_value(json_object_get(first, "name")), "Speaking");
    cr_assert_str_eq(json_string_value(json_object_get(first, "name_zh")), "口头表达");
    answer_free(&a);

    /* Percent-encoded UTF-8, as a browser sends it: 电工 (electrician). */
    a = http(k, "GET", "/api/occupations?q=%E7%94%B5%E5%B7%A5&limit=5", NULL);
    cr_assert_eq(a.status, 200, "%s", a.body);
    json_t *sug = json_object_get(a.json, "suggestions");
    cr_assert_gt(json_array_size(sug), 0);
    cr_assert_leq(json_array_size(sug), 5);
    bool found = false;
    for (size_t i = 0; i < json_array_size(sug); i++) {
        const char *code = json_string_value(json_object_get(json_array_get(sug, i), "code"));
        cr_assert(code && (strlen(code) == 1 || strlen(code) == 4 || strlen(code) == 7 ||
                           (strlen(code) == 10 && strcmp(code + 7, "-00") != 0)),
                  "a code, or a group's prefix: %s", a.body);
        found |= strcmp(code, "6-31-01-03") == 0;
    }
    cr_assert(found, "电工 (6-31-01-03) is among the suggestions: %s", a.body);
    cr_assert_str_eq(json_string_value(json_object_get(a.json, "source")), "daemon",
                     "the daemon's occupation.suggest, when it has it");
    answer_free(&a);

    a = http(k, "GET", "/api/supply_demand?region=4403", NULL);
    cr_assert_eq(a.status, 200, "%s", a.body);
    char args[128];
    snprintf(args, sizeof args, "{\"period\": \"%s\", \"region\": \"4403\", \"by\": \"middle\"}",
             json_string_value(json_object_get(a.json, "period")));
    json_t *own = daemon_json(d, "stats.supply_demand", args);
    json_t *groups = json_object_get(a.json, "groups");
    cr_assert_eq(json_array_size(groups), 2, "6-31 and 2-02: %s", a.body);
    json_t *top = json_array_get(groups, 0);
    cr_assert_str_eq(json_string_value(json_object_get(top, "group")), "6-31");
    cr_assert_eq(json_integer_value(json_object_get(top, "openings")), 2);
    cr_assert_eq(json_integer_value(json_object_get(top, "applicants")), 1);
    cr_assert_not_null(json_string_value(json_object_get(top, "name")));
    cr_assert(json_equal(json_object_get(a.json, "total"), json_object_get(own, "total")),
              "the total is the daemon's");
    cr_assert_str_eq(json_string_value(json_object_get(a.json, "region_name")), "广东省 深圳市");
    json_decref(own);
    answer_free(&a);
    cr_assert_eq(kiosk_stop(k), 0);
    jt_daemon_stop(d);
}

Test(kiosk, daemon_down_is_a_clear_503)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    kiosk_t *k = kiosk_start(d, NULL);
    answer_t a = http(k, "GET", "/api/status", NULL);
    cr_assert_eq(a.status, 200);
    answer_free(&a);
    jt_daemon_term(d);

    a = http(k, "POST", "/api/match", "{\"region\": \"440305\", \"birth_year\": 1990}");
    cr_assert_eq(a.status, 503, "%s", a.body);
    cr_assert_str_eq(error_code(&a), "daemon_down");
    const char *msg = json_string_value(json_object_get(json_object_get(a.json, "error"), "message"));
    cr_assert(msg && strstr(msg, d->addr) && strstr(msg, "cannot be reached"), "%s", a.body);
    answer_free(&a);
    a = http(k, "GET", "/api/status", NULL);
    cr_assert_eq(a.status, 503);
    answer_free(&a);
    /* The page still loads, and still suggests occupations from the
     * kiosk's own list, so it can say what is wrong. */
    a = http(k, "GET", "/", NULL);
    cr_assert_eq(a.status, 200);
    cr_assert_not_null(strstr(a.body, "kiosk.js"));
    answer_free(&a);
    a = http(k, "GET", "/api/occupations?q=%E7%94%B5%E5%B7%A5", NULL);
    cr_assert_eq(a.status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(a.json, "source")), "kiosk");
    answer_free(&a);
    cr_assert_eq(kiosk_stop(k), 0);
    jt_daemon_stop(d);
}

static void
write_key(const jt_daemon_t *d, const char *name, const char *key, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", d->dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "%s\n", key);
    fclose(f);
}

Test(kiosk, only_the_kiosk_role)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    char path[400];
    write_key(d, "stand.key", "stand-secret-0001", path, sizeof path);
    kiosk_t *k = kiosk_start(d, path);
    answer_t a = http(k, "GET", "/api/status", NULL);
    cr_assert_eq(a.status, 200, "%s", a.body);
    cr_assert_str_eq(json_string_value(json_object_get(a.json, "role")), "kiosk");
    answer_free(&a);
    cr_assert_eq(kiosk_stop(k), 0);

    /* A counselor's key would let a public screen read workers. */
    static const struct {
        const char *key, *says;
    } bad[] = {{"desk-secret-00001", "role 'counselor'"}, {"no-such-key-at-all", "refused"}};
    for (size_t i = 0; i < 2; i++) {
        write_key(d, "bad.key", bad[i].key, path, sizeof path);
        char log[400];
        snprintf(log, sizeof log, "%s/kiosk.log", d->dir);
        char *cmd;
        cr_assert_geq(asprintf(&cmd, "'%s' --listen 127.0.0.1:0 --daemon %s --key-file '%s' 2>'%s'",
                               getenv("JOBMATCH_KIOSK"), d->addr, path, log), 0);
        int status = system(cmd);
        free(cmd);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "refused at start");
        FILE *f = fopen(log, "r");
        char text[512] = "";
        cr_assert_not_null(f);
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
        cr_assert_not_null(strstr(text, bad[i].says), "%s", text);
        cr_assert_null(strstr(text, bad[i].key), "the key is not printed: %s", text);
    }
    jt_daemon_stop(d);
}

Test(kiosk, files_only_from_the_page_folder)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    kiosk_t *k = kiosk_start(d, NULL);
    answer_t a = http(k, "GET", "/", NULL);
    cr_assert_eq(a.status, 200);
    cr_assert_not_null(strstr(a.head, "text/html"));
    cr_assert_not_null(strstr(a.head, "Content-Security-Policy: default-src 'self'"));
    answer_free(&a);
    a = http(k, "GET", "/kiosk.js", NULL);
    cr_assert_eq(a.status, 200);
    cr_assert_not_null(strstr(a.head, "text/javascript"));
    answer_free(&a);
    static const char *const refused[] = {"/../CMakeLists.txt", "/%2e%2e/main.c", "/.hidden.js",
                                          "/main.c", "/www/kiosk.js", "/kiosk.js/x"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        a = http(k, "GET", refused[i], NULL);
        cr_assert_eq(a.status, 404, "%s -> %d", refused[i], a.status);
        answer_free(&a);
    }
    a = http(k, "DELETE", "/", NULL);
    cr_assert_geq(a.status, 400);
    answer_free(&a);
    cr_assert_eq(kiosk_stop(k), 0);
    jt_daemon_stop(d);
}
