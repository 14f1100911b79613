/* test_records.c - vacancy and worker records through a running jobmatchd:
 * put/get round trips with defaults, replace, delete, close, listing with
 * filters and cursors, put_many, and the admin.info counters. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "wire.h"

/* Fetches a record; returns the reply (caller frees) and its map. */
static jm_reply_t *
get_record(jm_client_t *c, const char *kind, const char *id,
           const msgpack_object **rec)
{
    char op[32];
    snprintf(op, sizeof op, "%s.get", kind);
    jm_reply_t *r = jt_call_json(c, op, "{\"id\": \"%s\"}", id);
    jt_expect_ok(r, op);
    *rec = jt_need(&r->result, kind);
    cr_assert_eq((*rec)->type, MSGPACK_OBJECT_MAP);
    return r;
}

static void
expect_not_found(jm_client_t *c, const char *kind, const char *id)
{
    char op[32];
    snprintf(op, sizeof op, "%s.get", kind);
    jm_reply_t *r = jt_call_json(c, op, "{\"id\": \"%s\"}", id);
    jt_expect_error(r, "not_found", NULL);
    jm_reply_free(r);
}

/* Checks arr is an array of strings equal, as a set, to want (a
 * comma-separated list, "" for none). */
static void
expect_str_set(const msgpack_object *arr, const char *want, const char *what)
{
    cr_assert_eq(arr->type, MSGPACK_OBJECT_ARRAY, "%s: not an array", what);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", want);
    uint32_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        bool found = false;
        for (uint32_t i = 0; i < arr->via.array.size; i++)
            found = found || jt_str_is(&arr->via.array.ptr[i], t);
        cr_assert(found, "%s: %s missing", what, t);
        n++;
    }
    cr_assert_eq(arr->via.array.size, n, "%s: %u entries, want %u", what,
                 arr->via.array.size, n);
}

/* Checks a skills array against "id:level,..." in that order. */
static void
expect_skills(const msgpack_object *arr, const char *want)
{
    cr_assert_eq(arr->type, MSGPACK_OBJECT_ARRAY);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", want);
    uint32_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save), n++) {
        char *colon = strchr(t, ':');
        *colon = '\0';
        cr_assert_lt(n, arr->via.array.size, "skill %s missing", t);
        const msgpack_object *s = &arr->via.array.ptr[n];
        cr_assert_str_eq(jt_get_str(s, "id"), t);
        cr_assert_eq(jt_get_int(s, "level"), atoi(colon + 1));
    }
    cr_assert_eq(arr->via.array.size, n);
}

/* ---- round trips --------------------------------------------------------- */

Test(records, vacancy_every_field_round_trips, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);

    jm_reply_t *r = jt_call_json(c, "vacancy.put",
        "{\"vacancy\": {\"id\": \"V-2024.001:a\", \"employer\": \"北京精工机械\","
        " \"title\": \"数控车工\", \"occupation\": \"6-18-01-01\","
        " \"region\": \"110105\", \"skills\": [{\"id\": \"cnc/lathe\", \"level\": 4},"
        " {\"id\": \"blueprint\", \"level\": 2}], \"education_min\": 3,"
        " \"age_min\": 18, \"age_max\": 45, \"wage_min\": 5000, \"wage_max\": 8000,"
        " \"headcount\": 3, \"filled\": 2, \"priority_categories\": [\"migrant\", \"laid_off\"],"
        " \"posted\": 1700000000, \"expires\": 1900000000, \"status\": \"open\"}}");
    jt_expect_ok(r, "put");
    cr_assert_str_eq(jt_get_str(&r->result, "id"), "V-2024.001:a");
    cr_assert(jt_get_bool(&r->result, "created"));
    jm_reply_free(r);

    const msgpack_object *v;
    r = get_record(c, "vacancy", "V-2024.001:a", &v);
    cr_assert_str_eq(jt_get_str(v, "id"), "V-2024.001:a");
    cr_assert_str_eq(jt_get_str(v, "employer"), "北京精工机械");
    cr_assert_str_eq(jt_get_str(v, "title"), "数控车工");
    cr_assert_str_eq(jt_get_str(v, "occupation"), "6-18-01-01");
    cr_assert_str_eq(jt_get_str(v, "region"), "110105");
    expect_skills(jt_need(v, "skills"), "cnc/lathe:4,blueprint:2");
    cr_assert_eq(jt_get_int(v, "education_min"), 3);
    cr_assert_eq(jt_get_int(v, "age_min"), 18);
    cr_assert_eq(jt_get_int(v, "age_max"), 45);
    cr_assert_eq(jt_get_int(v, "wage_min"), 5000);
    cr_assert_eq(jt_get_int(v, "wage_max"), 8000);
    cr_assert_eq(jt_get_int(v, "headcount"), 3);
    cr_assert_eq(jt_get_int(v, "filled"), 0, "a client-sent filled was stored");
    expect_str_set(jt_need(v, "priority_categories"), "migrant,laid_off", "priority");
    cr_assert_eq(jt_get_int(v, "posted"), 1700000000);
    cr_assert_eq(jt_get_int(v, "expires"), 1900000000);
    cr_assert_str_eq(jt_get_str(v, "status"), "open");
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

Test(records, vacancy_defaults_are_filled_in, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    int64_t t0 = (int64_t)time(NULL);
    jm_reply_t *r = jt_call_json(c, "vacancy.put",
        "{\"vacancy\": {\"id\": \"v1\", \"employer\": \"E\", \"title\": \"T\","
        " \"occupation\": \"2-02-01-00\", \"region\": \"310101\"}}");
    jt_expect_ok(r, "minimal put");
    jm_reply_free(r);
    int64_t t1 = (int64_t)time(NULL);

    const msgpack_object *v;
    r = get_record(c, "vacancy", "v1", &v);
    expect_skills(jt_need(v, "skills"), "");
    cr_assert_eq(jt_get_int(v, "education_min"), 0);
    cr_assert_eq(jt_get_int(v, "age_min"), 0);
    cr_assert_eq(jt_get_int(v, "age_max"), 0);
    cr_assert_eq(jt_get_int(v, "wage_min"), 0);
    cr_assert_eq(jt_get_int(v, "wage_max"), 0);
    cr_assert_eq(jt_get_int(v, "headcount"), 1);
    cr_assert_eq(jt_get_int(v, "filled"), 0);
    expect_str_set(jt_need(v, "priority_categories"), "", "priority");
    int64_t posted = jt_get_int(v, "posted");
    cr_assert(posted >= t0 && posted <= t1, "posted %lld not server time [%lld, %lld]",
              (long long)posted, (long long)t0, (long long)t1);
    cr_assert_eq(jt_get_int(v, "expires"), 0);
    cr_assert_str_eq(jt_get_str(v, "status"), "open");
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

Test(records, worker_every_field_round_trips, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jm_reply_t *r = jt_call_json(c, "worker.put",
        "{\"worker\": {\"id\": \"w-1\", \"name\": \"王小明\", \"national_id\": \"11010519900101123X\","
        " \"phone\": \"+86 138 0000 0000\", \"birth_year\": 1990, \"region\": \"110105\","
        " \"education\": 4, \"skills\": [{\"id\": \"weld\", \"level\": 5}],"
        " \"desired_occupations\": [\"6-05\", \"6-18-01-01\"], \"wage_min\": 4500,"
        " \"category\": \"laid_off\", \"center\": \"chaoyang-03\","
        " \"registered\": 1690000000, \"status\": \"employed\"}}");
    jt_expect_ok(r, "put");
    cr_assert(jt_get_bool(&r->result, "created"));
    jm_reply_free(r);

    const msgpack_object *w;
    r = get_record(c, "worker", "w-1", &w);
    cr_assert_str_eq(jt_get_str(w, "id"), "w-1");
    cr_assert_str_eq(jt_get_str(w, "name"), "王小明");
    cr_assert_str_eq(jt_get_str(w, "national_id"), "11010519900101123X");
    cr_assert_str_eq(jt_get_str(w, "phone"), "+86 138 0000 0000");
    cr_assert_eq(jt_get_int(w, "birth_year"), 1990);
    cr_assert_str_eq(jt_get_str(w, "region"), "110105");
    cr_assert_eq(jt_get_int(w, "education"), 4);
    expect_skills(jt_need(w, "skills"), "weld:5");
    expect_str_set(jt_need(w, "desired_occupations"), "6-05,6-18-01-01", "desired");
    cr_assert_eq(jt_get_int(w, "wage_min"), 4500);
    cr_assert_str_eq(jt_get_str(w, "category"), "laid_off");
    cr_assert_str_eq(jt_get_str(w, "center"), "chaoyang-03");
    cr_assert_eq(jt_get_int(w, "registered"), 1690000000);
    cr_assert_str_eq(jt_get_str(w, "status"), "employed");
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

Test(records, worker_defaults_are_filled_in, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    int64_t t0 = (int64_t)time(NULL);
    jm_reply_t *r = jt_call_json(c, "worker.put",
        "{\"worker\": {\"id\": \"w2\", \"birth_year\": 2001, \"region\": \"440305\"}}");
    jt_expect_ok(r, "minimal put");
    jm_reply_free(r);
    int64_t t1 = (int64_t)time(NULL);

    const msgpack_object *w;
    r = get_record(c, "worker", "w2", &w);
    cr_assert_eq(jt_get_int(w, "education"), 0);
    expect_skills(jt_need(w, "skills"), "");
    expect_str_set(jt_need(w, "desired_occupations"), "", "desired");
    cr_assert_eq(jt_get_int(w, "wage_min"), 0);
    cr_assert_str_eq(jt_get_str(w, "category"), "other");
    int64_t reg = jt_get_int(w, "registered");
    cr_assert(reg >= t0 && reg <= t1, "registered %lld is not server time", (long long)reg);
    cr_assert_str_eq(jt_get_str(w, "status"), "available");
    /* Optional strings never sent are not invented. */
    cr_assert_null(jt_get(w, "name"));
    cr_assert_null(jt_get(w, "national_id"));
    cr_assert_null(jt_get(w, "phone"));
    cr_assert_null(jt_get(w, "center"));
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* ---- replace, delete, close ---------------------------------------------- */

Test(records, replace_delete_and_close, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    uint64_t seq0 = jt_admin_count(c, "changelog_seq");

    jt_put_vacancy(c, "v1", "110105", "6-05-02-03", "weld:2");
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), seq0 + 1);
    /* Replacing: created is false, the new values win, counts unchanged,
     * and a client's filled is still ignored. */
    jm_reply_t *r = jt_call_json(c, "vacancy.put",
        "{\"vacancy\": {\"id\": \"v1\", \"employer\": \"New\", \"title\": \"Changed\","
        " \"occupation\": \"6-05-02-01\", \"region\": \"120101\", \"filled\": 9,"
        " \"headcount\": 4}}");
    jt_expect_ok(r, "replace");
    cr_assert_eq(jt_get_bool(&r->result, "created"), false);
    cr_assert_str_eq(jt_get_str(&r->result, "id"), "v1");
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), seq0 + 2);
    cr_assert_eq(jt_admin_count(c, "vacancies"), 1);
    const msgpack_object *v;
    r = get_record(c, "vacancy", "v1", &v);
    cr_assert_str_eq(jt_get_str(v, "title"), "Changed");
    cr_assert_str_eq(jt_get_str(v, "region"), "120101");
    cr_assert_eq(jt_get_int(v, "filled"), 0);
    cr_assert_eq(jt_get_int(v, "headcount"), 4);
    expect_skills(jt_need(v, "skills"), "");
    jm_reply_free(r);

    /* Close. */
    cr_assert_eq(jt_admin_count(c, "vacancies_open"), 1);
    r = jt_call_json(c, "vacancy.close", "{\"id\": \"v1\"}");
    jt_expect_ok(r, "close");
    cr_assert_str_eq(jt_get_str(&r->result, "id"), "v1");
    cr_assert_str_eq(jt_get_str(&r->result, "status"), "closed");
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), seq0 + 3);
    r = get_record(c, "vacancy", "v1", &v);
    cr_assert_str_eq(jt_get_str(v, "status"), "closed");
    cr_assert_str_eq(jt_get_str(v, "title"), "Changed", "close changed other fields");
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "vacancies_open"), 0);
    cr_assert_eq(jt_admin_count(c, "vacancies"), 1);
    /* Closing again is fine. */
    r = jt_call_json(c, "vacancy.close", "{\"id\": \"v1\"}");
    jt_expect_ok(r, "close again");
    jm_reply_free(r);

    /* Delete. */
    uint64_t seq = jt_admin_count(c, "changelog_seq");
    r = jt_call_json(c, "vacancy.delete", "{\"id\": \"v1\"}");
    jt_expect_ok(r, "delete");
    cr_assert_str_eq(jt_get_str(&r->result, "id"), "v1");
    cr_assert(jt_get_bool(&r->result, "deleted"));
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), seq + 1);
    expect_not_found(c, "vacancy", "v1");
    cr_assert_eq(jt_admin_count(c, "vacancies"), 0);
    r = jt_call_json(c, "vacancy.delete", "{\"id\": \"v1\"}");
    jt_expect_error(r, "not_found", NULL);
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), seq + 1);
    /* A deleted id can be created again. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    jt_args_vacancy(&sb, "v1", "110105", "6-05-02-03", NULL);
    r = jt_call(c, "vacancy.put", &sb);
    jt_expect_ok(r, "put after delete");
    cr_assert(jt_get_bool(&r->result, "created"));
    jm_reply_free(r);
    msgpack_sbuffer_destroy(&sb);

    /* Workers: replace and delete. */
    jt_put_worker(c, "w1", "110105", "6-05", "weld:3");
    msgpack_sbuffer_init(&sb);
    jt_args_worker(&sb, "w1", "110106", NULL, NULL);
    r = jt_call(c, "worker.put", &sb);
    jt_expect_ok(r, "worker replace");
    cr_assert_eq(jt_get_bool(&r->result, "created"), false);
    jm_reply_free(r);
    msgpack_sbuffer_destroy(&sb);
    const msgpack_object *w;
    r = get_record(c, "worker", "w1", &w);
    cr_assert_str_eq(jt_get_str(w, "region"), "110106");
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "workers"), 1);
    r = jt_call_json(c, "worker.delete", "{\"id\": \"w1\"}");
    jt_expect_ok(r, "worker delete");
    jm_reply_free(r);
    expect_not_found(c, "worker", "w1");
    cr_assert_eq(jt_admin_count(c, "workers"), 0);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* ---- listing ------------------------------------------------------------- */

/* Lists every page of op with the filter JSON members in filter ("" for
 * none) and checks the ids are exactly want (comma-separated), each once. */
static void
expect_list(jm_client_t *c, const char *kind, const char *filter, const char *want)
{
    char op[32], key[32];
    snprintf(op, sizeof op, "%s.list", kind);
    snprintf(key, sizeof key, "%s", strcmp(kind, "vacancy") == 0 ? "vacancies" : "workers");
    char got[2048] = ",";
    size_t n_got = 0;
    char cursor[300] = "";
    for (int page = 0; page < 100; page++) {
        jm_reply_t *r;
        if (cursor[0])
            r = jt_call_json(c, op, "{%s%s \"limit\": 2, \"cursor\": \"%s\"}", filter,
                             filter[0] ? "," : "", cursor);
        else
            r = jt_call_json(c, op, "{%s%s \"limit\": 2}", filter, filter[0] ? "," : "");
        jt_expect_ok(r, op);
        const msgpack_object *arr = jt_need(&r->result, key);
        cr_assert_eq(arr->type, MSGPACK_OBJECT_ARRAY);
        cr_assert_leq(arr->via.array.size, 2);
        for (uint32_t i = 0; i < arr->via.array.size; i++) {
            const char *id = jt_get_str(&arr->via.array.ptr[i], "id");
            char tag[80];
            snprintf(tag, sizeof tag, ",%s,", id);
            cr_assert_null(strstr(got, tag), "%s {%s}: %s listed twice", op, filter, id);
            strncat(got, id, sizeof got - strlen(got) - 2);
            strcat(got, ",");
            n_got++;
        }
        const msgpack_object *cur = jt_need(&r->result, "cursor");
        if (cur->type == MSGPACK_OBJECT_NIL) {
            jm_reply_free(r);
            cursor[0] = '\0';
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", jt_get_str(&r->result, "cursor"));
        jm_reply_free(r);
    }
    cr_assert_eq(cursor[0], '\0', "listing did not end");
    char buf[512];
    snprintf(buf, sizeof buf, "%s", want);
    size_t n_want = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        char tag[80];
        snprintf(tag, sizeof tag, ",%s,", t);
        cr_assert_not_null(strstr(got, tag), "%s {%s}: %s missing (got %s)", op,
                           filter, t, got);
        n_want++;
    }
    cr_assert_eq(n_got, n_want, "%s {%s}: got %s, want %s", op, filter, got, want);
}

Test(records, list_filters, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);

    jt_put_vacancy(c, "v1", "110105", "6-05-02-03", "weld:2");
    jt_put_vacancy(c, "v2", "110106", "6-05-01-01", NULL);
    jt_put_vacancy(c, "v3", "120101", "2-02-01-00", NULL);
    jm_reply_t *r = jt_call_json(c, "vacancy.put",
        "{\"vacancy\": {\"id\": \"v4\", \"employer\": \"E\", \"title\": \"T\","
        " \"occupation\": \"6-05-02-01\", \"region\": \"110105\", \"status\": \"closed\"}}");
    jt_expect_ok(r, "closed put");
    jm_reply_free(r);
    jt_put_vacancy(c, "v5", "310101", "6-18-01-01", NULL);
    r = jt_call_json(c, "vacancy.close", "{\"id\": \"v5\"}");
    jt_expect_ok(r, "close");
    jm_reply_free(r);

    expect_list(c, "vacancy", "", "v1,v2,v3,v4,v5");
    expect_list(c, "vacancy", "\"region\": \"11\"", "v1,v2,v4");
    expect_list(c, "vacancy", "\"region\": \"1101\"", "v1,v2,v4");
    expect_list(c, "vacancy", "\"region\": \"110105\"", "v1,v4");
    expect_list(c, "vacancy", "\"region\": \"4\"", "");
    expect_list(c, "vacancy", "\"occupation\": \"6\"", "v1,v2,v4,v5");
    expect_list(c, "vacancy", "\"occupation\": \"6-05\"", "v1,v2,v4");
    expect_list(c, "vacancy", "\"occupation\": \"6-05-02\"", "v1,v4");
    expect_list(c, "vacancy", "\"occupation\": \"6-05-02-03\"", "v1");
    expect_list(c, "vacancy", "\"status\": \"closed\"", "v4,v5");
    expect_list(c, "vacancy", "\"status\": \"open\"", "v1,v2,v3");
    expect_list(c, "vacancy", "\"region\": \"11\", \"status\": \"open\"", "v1,v2");
    expect_list(c, "vacancy", "\"occupation\": \"6-05\", \"status\": \"closed\"", "v4");

    /* By category: the vacancies giving it priority. A replace moves a
     * vacancy between categories; a delete takes it out. */
    const char *v6 = "{\"vacancy\": {\"id\": \"v6\", \"employer\": \"E\", \"title\": \"T\","
                     " \"occupation\": \"6-05-02-01\", \"region\": \"110106\","
                     " \"priority_categories\": [%s]}}";
    r = jt_call_json(c, "vacancy.put", v6, "\"laid_off\", \"graduate\"");
    jt_expect_ok(r, "v6 put");
    jm_reply_free(r);
    r = jt_call_json(c, "vacancy.put",
        "{\"vacancy\": {\"id\": \"v7\", \"employer\": \"E\", \"title\": \"T\","
        " \"occupation\": \"2-02-01-00\", \"region\": \"120101\", \"status\": \"closed\","
        " \"priority_categories\": [\"laid_off\"]}}");
    jt_expect_ok(r, "v7 put");
    jm_reply_free(r);
    expect_list(c, "vacancy", "\"category\": \"laid_off\"", "v6,v7");
    expect_list(c, "vacancy", "\"category\": \"graduate\"", "v6");
    expect_list(c, "vacancy", "\"category\": \"other\"", "");
    expect_list(c, "vacancy", "\"category\": \"laid_off\", \"status\": \"open\"", "v6");
    expect_list(c, "vacancy", "\"category\": \"laid_off\", \"region\": \"12\"", "v7");
    expect_list(c, "vacancy", "\"category\": \"laid_off\", \"occupation\": \"6\"", "v6");
    r = jt_call_json(c, "vacancy.put", v6, "\"migrant\"");
    jt_expect_ok(r, "v6 replaced");
    jm_reply_free(r);
    expect_list(c, "vacancy", "\"category\": \"laid_off\"", "v7");
    expect_list(c, "vacancy", "\"category\": \"graduate\"", "");
    expect_list(c, "vacancy", "\"category\": \"migrant\"", "v6");
    r = jt_call_json(c, "vacancy.delete", "{\"id\": \"v7\"}");
    jt_expect_ok(r, "v7 deleted");
    jm_reply_free(r);
    expect_list(c, "vacancy", "\"category\": \"laid_off\"", "");
    expect_list(c, "vacancy", "", "v1,v2,v3,v4,v5,v6");

    /* Workers: desired occupations may be prefixes themselves; a worker
     * with two codes under the filter appears once. */
    r = jt_call_json(c, "worker.put_many", "{\"workers\": ["
        "{\"id\": \"wA\", \"birth_year\": 1990, \"region\": \"110105\","
        " \"desired_occupations\": [\"6-05\"], \"category\": \"graduate\"},"
        "{\"id\": \"wB\", \"birth_year\": 1980, \"region\": \"110106\","
        " \"desired_occupations\": [\"6-05-02-03\", \"6-05-01\"], \"category\": \"laid_off\","
        " \"status\": \"employed\"},"
        "{\"id\": \"wC\", \"birth_year\": 1975, \"region\": \"120101\","
        " \"desired_occupations\": [\"6\"]},"
        "{\"id\": \"wD\", \"birth_year\": 2000, \"region\": \"110105\","
        " \"desired_occupations\": [\"2-02-01\"], \"category\": \"graduate\"},"
        "{\"id\": \"wE\", \"birth_year\": 1999, \"region\": \"310101\", \"status\": \"inactive\"}"
        "]}");
    jt_expect_ok(r, "worker.put_many");
    jm_reply_free(r);

    expect_list(c, "worker", "", "wA,wB,wC,wD,wE");
    expect_list(c, "worker", "\"occupation\": \"6\"", "wA,wB,wC");
    expect_list(c, "worker", "\"occupation\": \"6-05\"", "wA,wB");
    expect_list(c, "worker", "\"occupation\": \"6-05-02\"", "wB");
    expect_list(c, "worker", "\"occupation\": \"6-05-01\"", "wB");
    expect_list(c, "worker", "\"occupation\": \"2\"", "wD");
    expect_list(c, "worker", "\"region\": \"11\"", "wA,wB,wD");
    expect_list(c, "worker", "\"region\": \"110105\"", "wA,wD");
    expect_list(c, "worker", "\"category\": \"graduate\"", "wA,wD");
    expect_list(c, "worker", "\"category\": \"other\"", "wC,wE");
    expect_list(c, "worker", "\"status\": \"employed\"", "wB");
    expect_list(c, "worker", "\"status\": \"available\"", "wA,wC,wD");
    expect_list(c, "worker", "\"status\": \"inactive\"", "wE");
    expect_list(c, "worker", "\"region\": \"11\", \"category\": \"graduate\"", "wA,wD");
    expect_list(c, "worker", "\"occupation\": \"6-05\", \"status\": \"available\"", "wA");
    expect_list(c, "worker", "\"occupation\": \"6\", \"region\": \"12\"", "wC");

    /* Bad filters are bad requests naming the argument. */
    struct {
        const char *op, *args, *field;
    } bad[] = {
        {"vacancy.list", "{\"region\": \"11a\"}", "region"},
        {"vacancy.list", "{\"region\": \"1101050\"}", "region"},
        {"vacancy.list", "{\"occupation\": \"6-0\"}", "occupation"},
        {"vacancy.list", "{\"status\": \"available\"}", "status"},
        {"worker.list", "{\"status\": \"open\"}", "status"},
        {"worker.list", "{\"category\": \"retired\"}", "category"},
        {"vacancy.list", "{\"category\": \"laid-off\"}", "category"},
        {"vacancy.list", "{\"limit\": 0}", "limit"},
        {"vacancy.list", "{\"limit\": 1001}", "limit"},
        {"vacancy.list", "{\"limit\": \"5\"}", "limit"},
        {"vacancy.list", "{\"cursor\": \"zz\"}", "cursor"},
        {"vacancy.list", "{\"cursor\": \"abc\"}", "cursor"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = jt_call_json(c, bad[i].op, "%s", bad[i].args);
        cr_assert(!r->ok, "%s %s accepted", bad[i].op, bad[i].args);
        cr_assert_str_eq(r->error_code, "bad_request", "%s %s", bad[i].op, bad[i].args);
        cr_assert(strstr(r->error_message, bad[i].field), "%s %s: '%s'", bad[i].op,
                  bad[i].args, r->error_message);
        jm_reply_free(r);
    }
    /* A cursor from one listing does not fit another. */
    r = jt_call_json(c, "vacancy.list", "{\"region\": \"11\", \"limit\": 1}");
    jt_expect_ok(r, "list");
    char cursor[300];
    snprintf(cursor, sizeof cursor, "%s", jt_get_str(&r->result, "cursor"));
    jm_reply_free(r);
    r = jt_call_json(c, "vacancy.list", "{\"region\": \"12\", \"cursor\": \"%s\"}", cursor);
    jt_expect_error(r, "bad_request", "cursor");
    jm_reply_free(r);
    r = jt_call_json(c, "worker.list", "{\"cursor\": \"%s\"}", cursor);
    jt_expect_error(r, "bad_request", "cursor");
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* Packs {"vacancies": [...]} with ids prefix0..prefix(n-1), regions
 * alternating between 110105 and 440305. */
static void
pack_vacancy_batch(msgpack_sbuffer *sb, const char *key, const char *prefix,
                   int first, int n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    jt_pack_str(&pk, key);
    msgpack_pack_array(&pk, (size_t)n);
    for (int i = first; i < first + n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s%04d", prefix, i);
        if (strcmp(key, "vacancies") == 0)
            jt_pack_vacancy(&pk, id, i % 2 ? "440305" : "110105", "6-05-02-03", "a:1");
        else
            jt_pack_worker(&pk, id, i % 2 ? "440305" : "110105", "6-05", "a:1");
    }
}

/* Pages through op with limit 7 (and the filter) and checks each of the
 * expected ids appears exactly once. */
static void
page_through(jm_client_t *c, const char *op, const char *key, const char *filter,
             int total, int step)
{
    char *seen = calloc((size_t)total, 1);
    char cursor[300] = "";
    int n = 0, pages = 0;
    for (;;) {
        jm_reply_t *r;
        if (cursor[0])
            r = jt_call_json(c, op, "{%s \"limit\": 7, \"cursor\": \"%s\"}", filter, cursor);
        else
            r = jt_call_json(c, op, "{%s \"limit\": 7}", filter);
        jt_expect_ok(r, op);
        const msgpack_object *arr = jt_need(&r->result, key);
        cr_assert_leq(arr->via.array.size, 7);
        for (uint32_t i = 0; i < arr->via.array.size; i++) {
            const char *id = jt_get_str(&arr->via.array.ptr[i], "id");
            int k = atoi(id + 1);
            cr_assert(k >= 0 && k < total && k % step == 0, "unexpected %s", id);
            cr_assert_eq(seen[k], 0, "%s listed twice", id);
            seen[k] = 1;
            n++;
        }
        pages++;
        cr_assert_lt(pages, 200, "paging does not end");
        const msgpack_object *cur = jt_need(&r->result, "cursor");
        if (cur->type == MSGPACK_OBJECT_NIL) {
            jm_reply_free(r);
            break;
        }
        cr_assert_eq(arr->via.array.size, 7, "a short page before the end");
        snprintf(cursor, sizeof cursor, "%s", jt_get_str(&r->result, "cursor"));
        jm_reply_free(r);
    }
    cr_assert_eq(n, (total + step - 1) / step, "%s {%s}: %d listed", op, filter, n);
    free(seen);
}

Test(records, cursor_paging_returns_each_record_once, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_vacancy_batch(&sb, "vacancies", "v", 0, 250);
    jt_call_ok(c, "vacancy.put_many", &sb);
    msgpack_sbuffer_clear(&sb);
    pack_vacancy_batch(&sb, "workers", "w", 0, 250);
    jt_call_ok(c, "worker.put_many", &sb);
    msgpack_sbuffer_destroy(&sb);

    page_through(c, "vacancy.list", "vacancies", "", 250, 1);
    page_through(c, "vacancy.list", "vacancies", "\"region\": \"11\",", 250, 2);
    page_through(c, "vacancy.list", "vacancies", "\"occupation\": \"6-05\",", 250, 1);
    page_through(c, "vacancy.list", "vacancies", "\"status\": \"open\",", 250, 1);
    page_through(c, "worker.list", "workers", "", 250, 1);
    page_through(c, "worker.list", "workers", "\"region\": \"1101\",", 250, 2);
    page_through(c, "worker.list", "workers", "\"occupation\": \"6\",", 250, 1);
    page_through(c, "worker.list", "workers", "\"category\": \"other\",", 250, 1);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* ---- put_many ------------------------------------------------------------ */

Test(records, put_many_counts_and_all_or_nothing, .timeout = 60)
{
    /* Room for a batch of 10,001 records in one frame. */
    const char *args[] = {"--max-frame", "4M", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    jm_client_t *c = jt_connect_admin(d);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);

    uint64_t seq0 = jt_admin_count(c, "changelog_seq");
    pack_vacancy_batch(&sb, "vacancies", "v", 0, 50);
    jm_reply_t *r = jt_call(c, "vacancy.put_many", &sb);
    jt_expect_ok(r, "put_many");
    cr_assert_eq(jt_get_int(&r->result, "count"), 50);
    cr_assert_eq(jt_get_int(&r->result, "created"), 50);
    cr_assert_eq(jt_get_int(&r->result, "replaced"), 0);
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "vacancies"), 50);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), seq0 + 50);

    /* 30 records, 20 of them already there. */
    msgpack_sbuffer_clear(&sb);
    pack_vacancy_batch(&sb, "vacancies", "v", 30, 30);
    r = jt_call(c, "vacancy.put_many", &sb);
    jt_expect_ok(r, "overlapping put_many");
    cr_assert_eq(jt_get_int(&r->result, "count"), 30);
    cr_assert_eq(jt_get_int(&r->result, "created"), 10);
    cr_assert_eq(jt_get_int(&r->result, "replaced"), 20);
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "vacancies"), 60);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), seq0 + 80);

    /* 50 new records, two of them (7 and 33) broken: nothing is written. */
    msgpack_sbuffer_clear(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    jt_pack_str(&pk, "vacancies");
    msgpack_pack_array(&pk, 50);
    for (int i = 0; i < 50; i++) {
        char id[32];
        snprintf(id, sizeof id, "x%02d", i);
        if (i == 7)
            jt_pack_vacancy(&pk, id, "1101", "6-05-02-03", NULL);       /* region */
        else if (i == 33)
            jt_pack_vacancy(&pk, id, "110105", "6-05-02-03", "a:7");    /* level */
        else
            jt_pack_vacancy(&pk, id, "110105", "6-05-02-03", NULL);
    }
    r = jt_call(c, "vacancy.put_many", &sb);
    jt_expect_error(r, "bad_request", "vacancies[7].region");
    const msgpack_object *errs = jt_need(&r->error, "errors");
    cr_assert_eq(errs->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(errs->via.array.size, 2);
    cr_assert_eq(jt_get_int(&errs->via.array.ptr[0], "index"), 7);
    cr_assert(strstr(jt_get_str(&errs->via.array.ptr[0], "message"), "region"));
    cr_assert_eq(jt_get_int(&errs->via.array.ptr[1], "index"), 33);
    cr_assert(strstr(jt_get_str(&errs->via.array.ptr[1], "message"), "vacancies[33].skills[0].level"),
              "%s", jt_get_str(&errs->via.array.ptr[1], "message"));
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "vacancies"), 60);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), seq0 + 80);
    expect_not_found(c, "vacancy", "x00");
    expect_not_found(c, "vacancy", "x49");

    /* Sizes: empty, not an array, and one more than 10,000. */
    r = jt_call_json(c, "vacancy.put_many", "{\"vacancies\": []}");
    jt_expect_error(r, "bad_request", "vacancies");
    jm_reply_free(r);
    r = jt_call_json(c, "vacancy.put_many", "{\"vacancies\": {}}");
    jt_expect_error(r, "bad_request", "vacancies");
    jm_reply_free(r);
    r = jt_call_json(c, "worker.put_many", "{}");
    jt_expect_error(r, "bad_request", "workers");
    jm_reply_free(r);
    msgpack_sbuffer_clear(&sb);
    pack_vacancy_batch(&sb, "vacancies", "b", 0, 10001);
    cr_assert_lt(sb.size, 4u << 20, "the batch does not fit the frame");
    r = jt_call(c, "vacancy.put_many", &sb);
    jt_expect_error(r, "bad_request", "vacancies");
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "vacancies"), 60);

    /* Exactly 10,000 is accepted. */
    msgpack_sbuffer_clear(&sb);
    pack_vacancy_batch(&sb, "vacancies", "b", 0, 10000);
    r = jt_call(c, "vacancy.put_many", &sb);
    jt_expect_ok(r, "10,000 records");
    cr_assert_eq(jt_get_int(&r->result, "created"), 10000);
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "vacancies"), 10060);

    /* Workers: counts and a refused batch. */
    msgpack_sbuffer_clear(&sb);
    pack_vacancy_batch(&sb, "workers", "w", 0, 40);
    r = jt_call(c, "worker.put_many", &sb);
    jt_expect_ok(r, "worker.put_many");
    cr_assert_eq(jt_get_int(&r->result, "created"), 40);
    jm_reply_free(r);
    r = jt_call_json(c, "worker.put_many", "{\"workers\": [%s, {\"id\": \"bad\"}]}",
                     jt_worker_json("w-new"));
    jt_expect_error(r, "bad_request", "workers[1].birth_year");
    errs = jt_need(&r->error, "errors");
    cr_assert_eq(errs->via.array.size, 1);
    cr_assert_eq(jt_get_int(&errs->via.array.ptr[0], "index"), 1);
    jm_reply_free(r);
    expect_not_found(c, "worker", "w-new");
    cr_assert_eq(jt_admin_count(c, "workers"), 40);
    msgpack_sbuffer_destroy(&sb);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* ---- admin.info counters -------------------------------------------------- */

Test(records, admin_info_counts_follow_writes, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    struct {
        uint64_t vac, vac_open, wrk, wrk_avail, seq;
    } want = {0, 0, 0, 0, jt_admin_count(c, "changelog_seq")};
#define CHECK_COUNTS(step)                                                       \
    do {                                                                         \
        cr_assert_eq(jt_admin_count(c, "vacancies"), want.vac, "%s", step);      \
        cr_assert_eq(jt_admin_count(c, "vacancies_open"), want.vac_open, "%s", step); \
        cr_assert_eq(jt_admin_count(c, "workers"), want.wrk, "%s", step);        \
        cr_assert_eq(jt_admin_count(c, "workers_available"), want.wrk_avail, "%s", step); \
        cr_assert_eq(jt_admin_count(c, "changelog_seq"), want.seq, "%s", step);  \
    } while (0)

    CHECK_COUNTS("empty");
    jt_put_vacancy(c, "v1", "110105", "6-05-02-03", NULL);
    want.vac++, want.vac_open++, want.seq++;
    CHECK_COUNTS("put v1");
    jt_put_vacancy(c, "v2", "110105", "6-05-02-03", NULL);
    want.vac++, want.vac_open++, want.seq++;
    CHECK_COUNTS("put v2");
    jt_put_vacancy(c, "v1", "120101", "6-05-02-03", NULL);
    want.seq++;
    CHECK_COUNTS("replace v1");
    jm_reply_t *r = jt_call_json(c, "vacancy.close", "{\"id\": \"v2\"}");
    jt_expect_ok(r, "close");
    jm_reply_free(r);
    want.vac_open--, want.seq++;
    CHECK_COUNTS("close v2");
    /* Reopening by replace counts as open again. */
    jt_put_vacancy(c, "v2", "110105", "6-05-02-03", NULL);
    want.vac_open++, want.seq++;
    CHECK_COUNTS("reopen v2");
    jt_put_worker(c, "w1", "110105", NULL, NULL);
    want.wrk++, want.wrk_avail++, want.seq++;
    CHECK_COUNTS("put w1");
    r = jt_call_json(c, "worker.put", "{\"worker\": {\"id\": \"w2\", \"birth_year\": 1980,"
                     " \"region\": \"110105\", \"status\": \"employed\"}}");
    jt_expect_ok(r, "put w2");
    jm_reply_free(r);
    want.wrk++, want.seq++;
    CHECK_COUNTS("put w2 employed");
    r = jt_call_json(c, "worker.put", "{\"worker\": {\"id\": \"w1\", \"birth_year\": 1980,"
                     " \"region\": \"110105\", \"status\": \"inactive\"}}");
    jt_expect_ok(r, "w1 inactive");
    jm_reply_free(r);
    want.wrk_avail--, want.seq++;
    CHECK_COUNTS("w1 inactive");
    r = jt_call_json(c, "worker.delete", "{\"id\": \"w2\"}");
    jt_expect_ok(r, "delete w2");
    jm_reply_free(r);
    want.wrk--, want.seq++;
    CHECK_COUNTS("delete w2");
    r = jt_call_json(c, "vacancy.delete", "{\"id\": \"v1\"}");
    jt_expect_ok(r, "delete v1");
    jm_reply_free(r);
    want.vac--, want.vac_open--, want.seq++;
    CHECK_COUNTS("delete v1");
    /* Failures write nothing. */
    r = jt_call_json(c, "vacancy.delete", "{\"id\": \"v1\"}");
    jt_expect_error(r, "not_found", NULL);
    jm_reply_free(r);
    r = jt_call_json(c, "worker.put", "{\"worker\": {\"id\": \"w3\"}}");
    jt_expect_error(r, "bad_request", NULL);
    jm_reply_free(r);
    CHECK_COUNTS("after failures");
#undef CHECK_COUNTS

    /* The rest of admin.info is present and sane. */
    r = jt_call(c, "admin.info", NULL);
    jt_expect_ok(r, "admin.info");
    cr_assert_str_eq(jt_get_str(&r->result, "server"), "jobmatchd");
    cr_assert_str_eq(jt_get_str(&r->result, "node"), "local");
    cr_assert_geq(jt_get_int(&r->result, "connections"), 1);
    cr_assert_geq(jt_get_int(&r->result, "writes"), 10);
    cr_assert_geq(jt_get_int(&r->result, "commits"), 1);
    cr_assert_gt(jt_get_int(&r->result, "map_size"), 0);
    /* Exactly the keys of docs/protocol.md 5.9, each once. */
    static const char *const keys[] = {
        "server", "version", "node", "uptime", "started", "vacancies",
        "vacancies_open", "workers", "workers_available", "changelog_seq",
        "alerts_raised", "map_size", "map_used", "map_max", "connections",
        "threads", "commits", "writes", "peers", "secret_key_id",
    };
    cr_assert_eq(r->result.type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(r->result.via.map.size, sizeof keys / sizeof keys[0]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert_not_null(jt_get(&r->result, keys[i]), "admin.info lacks %s", keys[i]);
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "jobmatchd did not exit cleanly");
}

/* The record ids admin.stats says the daemon holds in memory for matching
 * (the id cache): each record created, from its commit; none of a deleted
 * one; after a restart, every record again (copied in the background);
 * none with --id-cache 0. */
static int64_t
cached_ids(jm_client_t *c, int64_t *bytes)
{
    jm_reply_t *r = jt_call_json(c, "admin.stats", NULL);
    jt_expect_ok(r, "admin.stats");
    const msgpack_object *rec = jt_need(&r->result, "records");
    int64_t n = jt_get_int(rec, "id_cache_ids");
    *bytes = jt_get_int(rec, "id_cache_bytes");
    jm_reply_free(r);
    return n;
}

/* match.vacancies of worker w-333, nationwide. */
#define W333_ALL "{\"worker\": \"w-333\", \"scope\": \"all\"}"

Test(records, the_id_cache_follows_writes_and_restarts, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    int64_t bytes;
    cr_assert_eq(cached_ids(c, &bytes), 0);
    jt_put_vacancy(c, "v-1", "110105", "6-05-02-03", "weld:3");
    jt_put_vacancy(c, "v-22", "110105", "6-05-02-03", "weld:3");
    jt_put_vacancy(c, "v-1", "120101", "6-05-02-03", "weld:3");
    jt_put_worker(c, "w-333", "110105", NULL, "weld:3");
    cr_assert_str_eq(jt_match_ids(c, "match.vacancies", W333_ALL), "v-22,v-1");
    cr_assert_eq(cached_ids(c, &bytes), 3, "a replace adds none");
    cr_assert_eq(bytes, 4 + 5 + 6);
    jm_reply_t *r = jt_call_json(c, "vacancy.delete", "{\"id\": \"v-22\"}");
    jt_expect_ok(r, "delete");
    jm_reply_free(r);
    cr_assert_eq(cached_ids(c, &bytes), 2);
    cr_assert_str_eq(jt_match_ids(c, "match.vacancies", W333_ALL), "v-1");
    jm_close(c);

    cr_assert_eq(jt_daemon_restart(d), 0);
    c = jt_connect_admin(d);
    int64_t n = 0;
    for (int i = 0; i < 200 && (n = cached_ids(c, &bytes)) != 2; i++)
        usleep(10000);
    cr_assert_eq(n, 2, "copied at start");
    cr_assert_eq(bytes, 4 + 6);
    cr_assert_str_eq(jt_match_ids(c, "match.vacancies", W333_ALL), "v-1");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);

    const char *off[] = {"--id-cache", "0", NULL};
    d = jt_daemon_start(off);
    c = jt_connect_admin(d);
    jt_put_vacancy(c, "v-1", "110105", "6-05-02-03", NULL);
    cr_assert_eq(cached_ids(c, &bytes), 0);
    cr_assert_eq(bytes, 0);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
