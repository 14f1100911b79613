/* test_record.c - vacancy and worker validation (every field rule,
 * accepted and rejected), defaults, profiles, the personal-field rules and
 * the canonical encoding. Inputs are written as JSON for readability and
 * converted to msgpack with msgpack_packer. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "record.h"
#include "wire.h"

#define NOW INT64_C(1717000000)

/* Unpacked trees and the bytes they point into live until fini(). */
#define KEEP 64
static msgpack_unpacked unpacked[KEEP];
static msgpack_sbuffer sbufs[KEEP];
static int n_kept;

static void fini(void)
{
    for (int i = 0; i < n_kept; i++) {
        msgpack_unpacked_destroy(&unpacked[i]);
        msgpack_sbuffer_destroy(&sbufs[i]);
    }
    n_kept = 0;
}

TestSuite(record, .fini = fini);

/* Unpacks sb into a tree kept until fini(); takes over sb. */
static const msgpack_object *keep(msgpack_sbuffer *sb)
{
    cr_assert_lt(n_kept, KEEP);
    sbufs[n_kept] = *sb;
    msgpack_unpacked *u = &unpacked[n_kept++];
    msgpack_unpacked_init(u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(u, sb->data, sb->size, &off),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, sb->size);
    return &u->data;
}

/* Converts a JSON value to a msgpack tree; consumes the reference. */
static const msgpack_object *to_obj(json_t *j)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    jt_pack_json(&pk, j);
    json_decref(j);
    return keep(&sb);
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    cr_assert_not_null(j, "bad test JSON: %s: %s", text, e.text);
    return j;
}

/* A test value: JSON text, or "@N" for a string of N 'a', or "!bad" for a
 * string holding invalid UTF-8. */
static json_t *value(const char *spec)
{
    if (spec[0] == '@') {
        size_t n = (size_t)atoi(spec + 1);
        char *s = malloc(n + 1);
        memset(s, 'a', n);
        s[n] = '\0';
        json_t *j = json_string(s);
        free(s);
        return j;
    }
    if (strcmp(spec, "!bad") == 0)
        return json_string_nocheck("ok\xc3\x28");
    return parse(spec);
}

static const char *VACANCY =
    "{\"id\": \"v-1\", \"employer\": \"Acme Works\", \"title\": \"Electrician\","
    " \"occupation\": \"6-05-02-03\", \"region\": \"110105\","
    " \"skills\": [{\"id\": \"elec\", \"level\": 3},"
    "              {\"id\": \"weld/arc\", \"level\": 5}],"
    " \"education_min\": 3, \"age_min\": 18, \"age_max\": 55,"
    " \"wage_min\": 4000, \"wage_max\": 8000, \"headcount\": 3,"
    " \"filled\": 1, \"priority_categories\": [\"migrant\", \"laid_off\"],"
    " \"posted\": 1700000000, \"expires\": 1800000000, \"status\": \"open\","
    " \"unknown_key\": {\"x\": [1, 2.5, null]}}";

static const char *WORKER =
    "{\"id\": \"w-1\", \"name\": \"Zhang San\","
    " \"national_id\": \"110105199001011234\","
    " \"phone\": \"+86 138 0000 0000\", \"birth_year\": 1990,"
    " \"region\": \"110105\", \"education\": 4,"
    " \"skills\": [{\"id\": \"elec\", \"level\": 4}],"
    " \"desired_occupations\": [\"6-05\", \"6-05-02-03\"],"
    " \"wage_min\": 5000, \"category\": \"laid_off\", \"center\": \"c-01\","
    " \"registered\": 1600000000, \"status\": \"available\","
    " \"hobby\": \"chess\"}";

/* The base record with key set to spec (or removed when spec is NULL). */
static const msgpack_object *with(const char *base, const char *key,
                                  const char *spec)
{
    json_t *j = parse(base);
    if (key != NULL) {
        if (spec == NULL)
            json_object_del(j, key);
        else
            json_object_set_new(j, key, value(spec));
    }
    return to_obj(j);
}

static bool str_is(pr_str_t s, const char *c)
{
    return pr_str_eq(s, c);
}

/* ---- syntax checks and names ---- */

Test(record, id_syntax)
{
    cr_assert(pr_id_valid("a", 1));
    cr_assert(pr_id_valid("AZaz09._:-", 10));
    char s[65];
    memset(s, 'x', sizeof s);
    cr_assert(pr_id_valid(s, 64));
    cr_assert_not(pr_id_valid(s, 65));
    cr_assert_not(pr_id_valid("", 0));
    cr_assert_not(pr_id_valid("a/b", 3));
    cr_assert_not(pr_id_valid("a b", 3));
    cr_assert_not(pr_id_valid("\xc3\xa9", 2));
    cr_assert_not(pr_id_valid("a\0", 2));
    cr_assert(pr_skill_id_valid("a/b", 3));
    cr_assert(pr_skill_id_valid("AZaz09._:/-", 11));
    cr_assert(pr_skill_id_valid(s, 64));
    cr_assert_not(pr_skill_id_valid(s, 65));
    cr_assert_not(pr_skill_id_valid("", 0));
    cr_assert_not(pr_skill_id_valid("a+b", 3));
}

Test(record, code_syntax)
{
    cr_assert(pr_region_valid("110105", 6));
    cr_assert_not(pr_region_valid("11010", 5));
    cr_assert_not(pr_region_valid("1101050", 7));
    cr_assert_not(pr_region_valid("11010a", 6));
    cr_assert_not(pr_region_valid("11 105", 6));

    cr_assert(pr_occupation_valid("6-05-02-03", 10));
    cr_assert(pr_occupation_valid("0-00-00-00", 10));
    cr_assert_not(pr_occupation_valid("6-05-02", 7));
    cr_assert_not(pr_occupation_valid("6-05-02-0a", 10));
    cr_assert_not(pr_occupation_valid("6.05.02.03", 10));
    cr_assert_not(pr_occupation_valid("60-5-02-03", 10));
    cr_assert_not(pr_occupation_valid("6-05-02-033", 11));

    const char *good[] = {"6", "6-05", "6-05-02", "6-05-02-03"};
    for (int i = 0; i < 4; i++)
        cr_assert(pr_occupation_prefix_valid(good[i], strlen(good[i])));
    const char *bad[] = {"", "6-", "6-0", "6-05-", "6-05-0", "6-05-02-",
                         "6-05-02-0", "60", "x", "6-05-02-03-", "6-0a"};
    for (int i = 0; i < 11; i++)
        cr_assert_not(pr_occupation_prefix_valid(bad[i], strlen(bad[i])),
                      "%s", bad[i]);
}

Test(record, enum_names)
{
    const char *cats[] = {"laid_off", "unemployed", "graduate", "migrant",
                          "other"};
    for (int i = 0; i < PR_CAT_COUNT; i++) {
        cr_assert_str_eq(pr_category_name(i), cats[i]);
        cr_assert_eq(pr_category_parse((pr_str_t){cats[i],
                                                  (uint32_t)strlen(cats[i])}),
                     i);
    }
    cr_assert_null(pr_category_name(PR_CAT_COUNT));
    cr_assert_null(pr_category_name(-1));
    cr_assert_eq(pr_category_parse((pr_str_t){"laid", 4}), -1);
    cr_assert_eq(pr_category_parse((pr_str_t){NULL, 0}), -1);

    cr_assert_str_eq(pr_vacancy_status_name(PR_VACANCY_OPEN), "open");
    cr_assert_str_eq(pr_vacancy_status_name(PR_VACANCY_CLOSED), "closed");
    cr_assert_null(pr_vacancy_status_name(2));
    cr_assert_eq(pr_vacancy_status_parse((pr_str_t){"closed", 6}),
                 PR_VACANCY_CLOSED);
    cr_assert_eq(pr_vacancy_status_parse((pr_str_t){"Open", 4}), -1);

    cr_assert_str_eq(pr_worker_status_name(PR_WORKER_AVAILABLE),
                     "available");
    cr_assert_str_eq(pr_worker_status_name(PR_WORKER_EMPLOYED), "employed");
    cr_assert_str_eq(pr_worker_status_name(PR_WORKER_INACTIVE), "inactive");
    cr_assert_null(pr_worker_status_name(3));
    cr_assert_eq(pr_worker_status_parse((pr_str_t){"inactive", 8}),
                 PR_WORKER_INACTIVE);
    cr_assert_eq(pr_worker_status_parse((pr_str_t){"", 0}), -1);
}

/* ---- vacancies ---- */

Test(record, vacancy_full)
{
    pr_vacancy_t v;
    pr_error_t err = {0};
    cr_assert_eq(pr_vacancy_decode(with(VACANCY, NULL, NULL), "vacancy", 0,
                                   NOW, &v, &err), 0, "%s", err.message);
    cr_assert(str_is(v.id, "v-1"));
    cr_assert(str_is(v.employer, "Acme Works"));
    cr_assert(str_is(v.title, "Electrician"));
    cr_assert(str_is(v.occupation, "6-05-02-03"));
    cr_assert(str_is(v.region, "110105"));
    cr_assert_eq(v.n_skills, 2);
    cr_assert(str_is(v.skills[0].id, "elec"));
    cr_assert_eq(v.skills[0].level, 3);
    cr_assert(str_is(v.skills[1].id, "weld/arc"));
    cr_assert_eq(v.skills[1].level, 5);
    cr_assert_eq(v.education_min, 3);
    cr_assert_eq(v.age_min, 18);
    cr_assert_eq(v.age_max, 55);
    cr_assert_eq(v.wage_min, 4000);
    cr_assert_eq(v.wage_max, 8000);
    cr_assert_eq(v.headcount, 3);
    cr_assert_eq(v.filled, 0, "a client's filled is ignored");
    cr_assert_eq(v.priority_mask,
                 (1u << PR_CAT_MIGRANT) | (1u << PR_CAT_LAID_OFF));
    cr_assert_eq(v.posted, 1700000000);
    cr_assert_eq(v.expires, 1800000000);
    cr_assert_eq(v.status, PR_VACANCY_OPEN);
}

Test(record, vacancy_defaults)
{
    const msgpack_object *o = to_obj(parse(
        "{\"id\": \"v\", \"employer\": \"E\", \"title\": \"T\","
        " \"occupation\": \"1-01-01-01\", \"region\": \"000000\"}"));
    pr_vacancy_t v;
    pr_error_t err = {0};
    cr_assert_eq(pr_vacancy_decode(o, "vacancy", 0, NOW, &v, &err), 0, "%s",
                 err.message);
    cr_assert_eq(v.n_skills, 0);
    cr_assert_eq(v.education_min, 0);
    cr_assert_eq(v.age_min, 0);
    cr_assert_eq(v.age_max, 0);
    cr_assert_eq(v.wage_min, 0);
    cr_assert_eq(v.wage_max, 0);
    cr_assert_eq(v.headcount, 1);
    cr_assert_eq(v.filled, 0);
    cr_assert_eq(v.priority_mask, 0);
    cr_assert_eq(v.posted, NOW);
    cr_assert_eq(v.expires, 0);
    cr_assert_eq(v.status, PR_VACANCY_OPEN);
}

/* nil counts as absent for every optional field. */
Test(record, vacancy_nil_is_default)
{
    const char *keys[] = {"skills", "education_min", "age_min", "age_max",
                          "wage_min", "wage_max", "headcount", "filled",
                          "priority_categories", "posted", "expires",
                          "status"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        pr_vacancy_t v;
        pr_error_t err = {0};
        cr_assert_eq(pr_vacancy_decode(with(VACANCY, keys[i], "null"),
                                       "vacancy", 0, NOW, &v, &err), 0,
                     "%s: %s", keys[i], err.message);
    }
    pr_vacancy_t v;
    pr_vacancy_decode(with(VACANCY, "headcount", "null"), "vacancy", 0, NOW,
                      &v, NULL);
    cr_assert_eq(v.headcount, 1);
}

typedef struct {
    const char *key;
    const char *spec;   /* NULL: remove the key */
    const char *msg;    /* NULL: accepted */
} case_t;

static const case_t vacancy_cases[] = {
    {"id", NULL, "vacancy.id: required"},
    {"id", "null", "vacancy.id: required"},
    {"id", "\"\"", "vacancy.id: must be 1..64 bytes"},
    {"id", "@64", NULL},
    {"id", "@65", "vacancy.id: must be 1..64 bytes"},
    {"id", "\"a b\"", "vacancy.id: must be 1..64 bytes of [A-Za-z0-9._:-]"},
    {"id", "\"a/b\"", "vacancy.id: must be 1..64 bytes of [A-Za-z0-9._:-]"},
    {"id", "\"A.z_0:9-\"", NULL},
    {"id", "7", "vacancy.id: must be a string"},
    {"id", "!bad", "vacancy.id: invalid UTF-8"},
    {"employer", NULL, "vacancy.employer: required"},
    {"employer", "\"\"", "vacancy.employer: must be 1..128 bytes"},
    {"employer", "@128", NULL},
    {"employer", "@129", "vacancy.employer: must be 1..128 bytes"},
    {"employer", "!bad", "vacancy.employer: invalid UTF-8"},
    {"employer", "\"北京电力公司\"", NULL},
    {"title", NULL, "vacancy.title: required"},
    {"title", "\"\"", "vacancy.title: must be 1..256 bytes"},
    {"title", "@256", NULL},
    {"title", "@257", "vacancy.title: must be 1..256 bytes"},
    {"title", "!bad", "vacancy.title: invalid UTF-8"},
    {"title", "[]", "vacancy.title: must be a string"},
    {"occupation", NULL, "vacancy.occupation: required"},
    {"occupation", "\"6-05-02\"", "vacancy.occupation: must be a code D-DD-DD-DD"},
    {"occupation", "\"6-05-02-0a\"", "vacancy.occupation: must be a code D-DD-DD-DD"},
    {"occupation", "\"6_05-02-03\"", "vacancy.occupation: must be a code D-DD-DD-DD"},
    {"occupation", "\"16-05-02-03\"", "vacancy.occupation: must be a code D-DD-DD-DD"},
    {"occupation", "\"\"", "vacancy.occupation: must be a code D-DD-DD-DD"},
    {"occupation", "60502", "vacancy.occupation: must be a string"},
    {"region", NULL, "vacancy.region: required"},
    {"region", "\"11010\"", "vacancy.region: must be a 6-digit code"},
    {"region", "\"1101050\"", "vacancy.region: must be a 6-digit code"},
    {"region", "\"11010a\"", "vacancy.region: must be a 6-digit code"},
    {"region", "110105", "vacancy.region: must be a string"},
    {"skills", "[]", NULL},
    {"skills", "{}", "vacancy.skills: must be an array"},
    {"skills", "\"elec\"", "vacancy.skills: must be an array"},
    {"skills", "[1]", "vacancy.skills[0]: must be a map"},
    {"skills", "[{\"level\": 1}]", "vacancy.skills[0].id: required"},
    {"skills", "[{\"id\": \"\", \"level\": 1}]",
     "vacancy.skills[0].id: must be 1..64 bytes"},
    {"skills", "[{\"id\": \"a\", \"level\": 1}, {\"id\": \"a b\", \"level\": 1}]",
     "vacancy.skills[1].id: must be 1..64 bytes of [A-Za-z0-9._:/-]"},
    {"skills", "[{\"id\": 5, \"level\": 1}]",
     "vacancy.skills[0].id: must be a string"},
    {"skills", "[{\"id\": \"a\"}]", "vacancy.skills[0].level: required"},
    {"skills", "[{\"id\": \"a\", \"level\": 0}]",
     "vacancy.skills[0].level: must be an integer 1..5"},
    {"skills", "[{\"id\": \"a\", \"level\": 6}]",
     "vacancy.skills[0].level: must be an integer 1..5"},
    {"skills", "[{\"id\": \"a\", \"level\": \"3\"}]",
     "vacancy.skills[0].level: must be an integer 1..5"},
    {"skills", "[{\"id\": \"a\", \"level\": 2.0}]",
     "vacancy.skills[0].level: must be an integer 1..5"},
    {"skills", "[{\"id\": \"a\", \"level\": 1}, {\"id\": \"b\", \"level\": 1},"
               " {\"id\": \"c\", \"level\": 1}, {\"id\": \"b\", \"level\": 2}]",
     "vacancy.skills[3].id: duplicate skill id"},
    {"skills", "[{\"id\": \"a\", \"level\": 1}, {\"id\": \"A\", \"level\": 1}]",
     NULL},
    {"education_min", "0", NULL},
    {"education_min", "7", NULL},
    {"education_min", "8", "vacancy.education_min: must be an integer 0..7"},
    {"education_min", "-1", "vacancy.education_min: must be an integer 0..7"},
    {"education_min", "\"3\"", "vacancy.education_min: must be an integer 0..7"},
    {"age_min", "150", NULL},
    {"age_min", "151", "vacancy.age_min: must be an integer 0..150"},
    {"age_min", "-1", "vacancy.age_min: must be an integer 0..150"},
    {"age_max", "151", "vacancy.age_max: must be an integer 0..150"},
    {"age_min", "60", NULL}, /* above age_max: the contract allows it */
    {"wage_min", "100000000", NULL},
    {"wage_min", "100000001", "vacancy.wage_min: must be an integer 0..100000000"},
    {"wage_min", "9000", NULL}, /* above wage_max: allowed too */
    {"wage_max", "-1", "vacancy.wage_max: must be an integer 0..100000000"},
    {"wage_max", "1.5", "vacancy.wage_max: must be an integer 0..100000000"},
    {"headcount", "1", NULL},
    {"headcount", "1000000", NULL},
    {"headcount", "0", "vacancy.headcount: must be an integer 1..1000000"},
    {"headcount", "1000001", "vacancy.headcount: must be an integer 1..1000000"},
    {"headcount", "1.0", "vacancy.headcount: must be an integer 1..1000000"},
    {"filled", "-5", NULL},  /* ignored from clients */
    {"filled", "\"x\"", NULL},
    {"priority_categories", "[]", NULL},
    {"priority_categories",
     "[\"other\", \"migrant\", \"graduate\", \"unemployed\", \"laid_off\"]", NULL},
    {"priority_categories", "\"migrant\"",
     "vacancy.priority_categories: must be an array"},
    {"priority_categories", "[\"vip\"]",
     "vacancy.priority_categories[0]: must be one of laid_off, unemployed, "
     "graduate, migrant, other"},
    {"priority_categories", "[\"migrant\", \"migrant\"]",
     "vacancy.priority_categories[1]: duplicate category"},
    {"priority_categories",
     "[\"migrant\", \"other\", \"graduate\", \"unemployed\", \"laid_off\", \"x\"]",
     "vacancy.priority_categories: at most 5 entries"},
    {"priority_categories", "[1]",
     "vacancy.priority_categories[0]: must be a string"},
    {"posted", "-100", NULL},
    {"posted", "0", NULL},
    {"posted", "\"now\"", "vacancy.posted: must be an integer"},
    {"expires", "0", NULL},
    {"expires", "-1", "vacancy.expires: must be an integer >= 0"},
    {"expires", "true", "vacancy.expires: must be an integer >= 0"},
    {"status", "\"closed\"", NULL},
    {"status", "\"pending\"", "vacancy.status: must be one of open, closed"},
    {"status", "\"OPEN\"", "vacancy.status: must be one of open, closed"},
    {"status", "1", "vacancy.status: must be a string"},
};

Test(record, vacancy_rules)
{
    for (size_t i = 0; i < sizeof vacancy_cases / sizeof vacancy_cases[0];
         i++) {
        const case_t *c = &vacancy_cases[i];
        pr_vacancy_t v;
        pr_error_t err = {0};
        int rc = pr_vacancy_decode(with(VACANCY, c->key, c->spec), "vacancy",
                                   0, NOW, &v, &err);
        if (c->msg == NULL) {
            cr_assert_eq(rc, 0, "%s=%s: %s", c->key, c->spec, err.message);
        } else {
            cr_assert_eq(rc, -1, "%s=%s accepted", c->key,
                         c->spec ? c->spec : "(absent)");
            cr_assert_eq(err.code, PR_BAD_REQUEST);
            cr_assert_str_eq(err.message, c->msg, "%s=%s", c->key,
                             c->spec ? c->spec : "(absent)");
        }
        fini();
    }
}

Test(record, vacancy_skill_count_limit)
{
    for (int n = 63; n <= 65; n++) {
        json_t *j = parse(VACANCY);
        json_t *arr = json_array();
        for (int i = 0; i < n; i++) {
            char id[16];
            snprintf(id, sizeof id, "s%d", i);
            json_array_append_new(arr, json_pack("{s:s,s:i}", "id", id,
                                                 "level", 1 + i % 5));
        }
        json_object_set_new(j, "skills", arr);
        pr_vacancy_t v;
        pr_error_t err = {0};
        int rc = pr_vacancy_decode(to_obj(j), "vacancy", 0, NOW, &v, &err);
        if (n <= 64) {
            cr_assert_eq(rc, 0, "%d: %s", n, err.message);
            cr_assert_eq(v.n_skills, (uint32_t)n);
            cr_assert_eq(v.skills[n - 1].level, 1 + (n - 1) % 5);
        } else {
            cr_assert_eq(rc, -1);
            cr_assert_str_eq(err.message,
                             "vacancy.skills: at most 64 entries");
        }
        fini();
    }
}

Test(record, vacancy_stored_flag)
{
    pr_vacancy_t v;
    pr_error_t err = {0};
    cr_assert_eq(pr_vacancy_decode(with(VACANCY, "filled", "2"), "vacancy",
                                   PR_REC_STORED, NOW, &v, &err), 0);
    cr_assert_eq(v.filled, 2);
    cr_assert_eq(pr_vacancy_decode(with(VACANCY, "filled", NULL), "vacancy",
                                   PR_REC_STORED, NOW, &v, &err), 0);
    cr_assert_eq(v.filled, 0);
    cr_assert_eq(pr_vacancy_decode(with(VACANCY, "filled", "-1"), "vacancy",
                                   PR_REC_STORED, NOW, &v, &err), -1);
    cr_assert_str_eq(err.message, "vacancy.filled: must be an integer >= 0");
    cr_assert_eq(pr_vacancy_decode(with(VACANCY, "posted", NULL), "vacancy",
                                   PR_REC_STORED, NOW, &v, &err), -1);
    cr_assert_str_eq(err.message, "vacancy.posted: required");
    /* Without the flag, posted falls back to now. */
    cr_assert_eq(pr_vacancy_decode(with(VACANCY, "posted", NULL), "vacancy",
                                   0, NOW, &v, &err), 0);
    cr_assert_eq(v.posted, NOW);
}

Test(record, vacancy_not_a_map)
{
    pr_vacancy_t v;
    pr_error_t err = {0};
    cr_assert_eq(pr_vacancy_decode(to_obj(parse("[1]")), "args.vacancy", 0,
                                   NOW, &v, &err), -1);
    cr_assert_eq(err.code, PR_BAD_REQUEST);
    cr_assert_str_eq(err.message, "args.vacancy: must be a map");
    cr_assert_eq(pr_vacancy_decode(NULL, "vacancy", 0, NOW, &v, &err), -1);
}

Test(record, path_prefix_is_used)
{
    pr_vacancy_t v;
    pr_error_t err = {0};
    cr_assert_eq(pr_vacancy_decode(with(VACANCY, "title", NULL),
                                   "args.vacancy", 0, NOW, &v, &err), -1);
    cr_assert_str_eq(err.message, "args.vacancy.title: required");
}

/* ---- workers ---- */

Test(record, worker_full)
{
    pr_worker_t w;
    pr_error_t err = {0};
    cr_assert_eq(pr_worker_decode(with(WORKER, NULL, NULL), "worker", 0, NOW,
                                  &w, &err), 0, "%s", err.message);
    cr_assert(str_is(w.id, "w-1"));
    cr_assert(str_is(w.name, "Zhang San"));
    cr_assert(str_is(w.national_id, "110105199001011234"));
    cr_assert(str_is(w.phone, "+86 138 0000 0000"));
    cr_assert_eq(w.birth_year, 1990);
    cr_assert(str_is(w.region, "110105"));
    cr_assert_eq(w.education, 4);
    cr_assert_eq(w.n_skills, 1);
    cr_assert(str_is(w.skills[0].id, "elec"));
    cr_assert_eq(w.skills[0].level, 4);
    cr_assert_eq(w.n_desired, 2);
    cr_assert(str_is(w.desired[0], "6-05"));
    cr_assert(str_is(w.desired[1], "6-05-02-03"));
    cr_assert_eq(w.wage_min, 5000);
    cr_assert_eq(w.category, PR_CAT_LAID_OFF);
    cr_assert(str_is(w.center, "c-01"));
    cr_assert_eq(w.registered, 1600000000);
    cr_assert_eq(w.status, PR_WORKER_AVAILABLE);
}

Test(record, worker_defaults)
{
    const msgpack_object *o = to_obj(parse(
        "{\"id\": \"w\", \"birth_year\": 2000, \"region\": \"310101\"}"));
    pr_worker_t w;
    pr_error_t err = {0};
    cr_assert_eq(pr_worker_decode(o, "worker", 0, NOW, &w, &err), 0, "%s",
                 err.message);
    cr_assert_null(w.name.ptr);
    cr_assert_null(w.national_id.ptr);
    cr_assert_null(w.phone.ptr);
    cr_assert_null(w.center.ptr);
    cr_assert_eq(w.education, 0);
    cr_assert_eq(w.n_skills, 0);
    cr_assert_eq(w.n_desired, 0);
    cr_assert_eq(w.wage_min, 0);
    cr_assert_eq(w.category, PR_CAT_OTHER);
    cr_assert_eq(w.registered, NOW);
    cr_assert_eq(w.status, PR_WORKER_AVAILABLE);
}

static const case_t worker_cases[] = {
    {"id", NULL, "worker.id: required"},
    {"id", "\"w 1\"", "worker.id: must be 1..64 bytes of [A-Za-z0-9._:-]"},
    {"name", NULL, NULL},
    {"name", "null", NULL},
    {"name", "\"\"", "worker.name: must be 1..256 bytes"},
    {"name", "@256", NULL},
    {"name", "@257", "worker.name: must be 1..256 bytes"},
    {"name", "!bad", "worker.name: invalid UTF-8"},
    {"name", "\"张三\"", NULL},
    {"national_id", "\"\"", "worker.national_id: must be 1..256 bytes"},
    {"national_id", "!bad", "worker.national_id: invalid UTF-8"},
    {"national_id", "110105199001011234", "worker.national_id: must be a string"},
    {"phone", "@257", "worker.phone: must be 1..256 bytes"},
    {"phone", "13800000000", "worker.phone: must be a string"},
    {"birth_year", NULL, "worker.birth_year: required"},
    {"birth_year", "1900", NULL},
    {"birth_year", "2100", NULL},
    {"birth_year", "1899", "worker.birth_year: must be an integer 1900..2100"},
    {"birth_year", "2101", "worker.birth_year: must be an integer 1900..2100"},
    {"birth_year", "\"1990\"", "worker.birth_year: must be an integer 1900..2100"},
    {"region", NULL, "worker.region: required"},
    {"region", "\"1101\"", "worker.region: must be a 6-digit code"},
    {"education", "7", NULL},
    {"education", "8", "worker.education: must be an integer 0..7"},
    {"education", "-1", "worker.education: must be an integer 0..7"},
    {"skills", "[{\"id\": \"a\", \"level\": 5}, {\"id\": \"a\", \"level\": 1}]",
     "worker.skills[1].id: duplicate skill id"},
    {"skills", "[{\"id\": \"a\", \"level\": 9}]",
     "worker.skills[0].level: must be an integer 1..5"},
    {"desired_occupations", "[]", NULL},
    {"desired_occupations", "[\"6\", \"6-05\", \"6-05-02\", \"6-05-02-03\"]", NULL},
    {"desired_occupations", "\"6\"", "worker.desired_occupations: must be an array"},
    {"desired_occupations", "[\"6-0\"]",
     "worker.desired_occupations[0]: must be an occupation code D-DD-DD-DD or "
     "a prefix of one (D, D-DD, D-DD-DD)"},
    {"desired_occupations", "[\"6\", \"60\"]",
     "worker.desired_occupations[1]: must be an occupation code D-DD-DD-DD or "
     "a prefix of one (D, D-DD, D-DD-DD)"},
    {"desired_occupations", "[\"6-05-\"]",
     "worker.desired_occupations[0]: must be an occupation code D-DD-DD-DD or "
     "a prefix of one (D, D-DD, D-DD-DD)"},
    {"desired_occupations", "[\"\"]",
     "worker.desired_occupations[0]: must be an occupation code D-DD-DD-DD or "
     "a prefix of one (D, D-DD, D-DD-DD)"},
    {"desired_occupations", "[\"6-05-02-03-1\"]",
     "worker.desired_occupations[0]: must be an occupation code D-DD-DD-DD or "
     "a prefix of one (D, D-DD, D-DD-DD)"},
    {"desired_occupations", "[5]",
     "worker.desired_occupations[0]: must be a string"},
    {"desired_occupations",
     "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"0\",\"1-01\","
     "\"1-02\",\"1-03\",\"1-04\",\"1-05\",\"1-06\"]", NULL},
    {"desired_occupations",
     "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"0\",\"1-01\","
     "\"1-02\",\"1-03\",\"1-04\",\"1-05\",\"1-06\",\"1-07\"]",
     "worker.desired_occupations: at most 16 entries"},
    {"wage_min", "0", NULL},
    {"wage_min", "-1", "worker.wage_min: must be an integer 0..100000000"},
    {"wage_min", "100000001", "worker.wage_min: must be an integer 0..100000000"},
    {"category", "\"graduate\"", NULL},
    {"category", "\"retired\"",
     "worker.category: must be one of laid_off, unemployed, graduate, migrant, "
     "other"},
    {"category", "[]", "worker.category: must be a string"},
    {"center", NULL, NULL},
    {"center", "\"\"", "worker.center: must be 1..64 bytes"},
    {"center", "@64", NULL},
    {"center", "@65", "worker.center: must be 1..64 bytes"},
    {"center", "!bad", "worker.center: invalid UTF-8"},
    {"registered", "-1", NULL},
    {"registered", "\"x\"", "worker.registered: must be an integer"},
    {"status", "\"employed\"", NULL},
    {"status", "\"inactive\"", NULL},
    {"status", "\"hired\"",
     "worker.status: must be one of available, employed, inactive"},
};

Test(record, worker_rules)
{
    for (size_t i = 0; i < sizeof worker_cases / sizeof worker_cases[0];
         i++) {
        const case_t *c = &worker_cases[i];
        pr_worker_t w;
        pr_error_t err = {0};
        int rc = pr_worker_decode(with(WORKER, c->key, c->spec), "worker", 0,
                                  NOW, &w, &err);
        if (c->msg == NULL) {
            cr_assert_eq(rc, 0, "%s=%s: %s", c->key, c->spec, err.message);
        } else {
            cr_assert_eq(rc, -1, "%s=%s accepted", c->key,
                         c->spec ? c->spec : "(absent)");
            cr_assert_eq(err.code, PR_BAD_REQUEST);
            cr_assert_str_eq(err.message, c->msg, "%s=%s", c->key,
                             c->spec ? c->spec : "(absent)");
        }
        fini();
    }
}

/* No failure message ever carries a personal value. */
Test(record, personal_values_never_echoed)
{
    const char *bad_specs[] = {"\"\"", "!bad", "7", "[]"};
    const char *keys[] = {"name", "national_id", "phone"};
    for (int k = 0; k < 3; k++) {
        for (int s = 0; s < 4; s++) {
            pr_worker_t w;
            pr_error_t err = {0};
            cr_assert_eq(pr_worker_decode(with(WORKER, keys[k],
                                               bad_specs[s]),
                                          "worker", 0, NOW, &w, &err), -1);
            cr_assert(strstr(err.message, keys[k]) != NULL);
            fini();
        }
        /* A long personal value: the message stays free of it. */
        json_t *j = parse(WORKER);
        char secret[300];
        memset(secret, 'Q', sizeof secret - 1);
        secret[sizeof secret - 1] = '\0';
        json_object_set_new(j, keys[k], json_string(secret));
        pr_worker_t w;
        pr_error_t err = {0};
        cr_assert_eq(pr_worker_decode(to_obj(j), "worker", 0, NOW, &w, &err),
                     -1);
        cr_assert_null(strstr(err.message, "QQ"), "%s", err.message);
        fini();
    }
    for (size_t i = 0; i < sizeof worker_cases / sizeof worker_cases[0];
         i++) {
        pr_worker_t w;
        pr_error_t err = {0};
        if (pr_worker_decode(with(WORKER, worker_cases[i].key,
                                  worker_cases[i].spec),
                             "worker", 0, NOW, &w, &err) < 0) {
            cr_assert_null(strstr(err.message, "Zhang"));
            cr_assert_null(strstr(err.message, "19900101"));
            cr_assert_null(strstr(err.message, "138"));
        }
        fini();
    }
}

Test(record, worker_stored_flag)
{
    pr_worker_t w;
    pr_error_t err = {0};
    cr_assert_eq(pr_worker_decode(with(WORKER, "registered", NULL), "worker",
                                  PR_REC_STORED, NOW, &w, &err), -1);
    cr_assert_str_eq(err.message, "worker.registered: required");
    cr_assert_eq(pr_worker_decode(with(WORKER, "registered", NULL), "worker",
                                  0, NOW, &w, &err), 0);
    cr_assert_eq(w.registered, NOW);
}

/* ---- profiles ---- */

static const char *PROFILE =
    "{\"birth_year\": 1985, \"region\": \"110105\", \"education\": 3,"
    " \"skills\": [{\"id\": \"weld/arc\", \"level\": 2}],"
    " \"desired_occupations\": [\"6\"], \"category\": \"migrant\"}";

Test(record, profile_accepted_without_id)
{
    pr_worker_t w;
    pr_error_t err = {0};
    cr_assert_eq(pr_worker_decode(with(PROFILE, NULL, NULL), "profile",
                                  PR_REC_PROFILE, NOW, &w, &err), 0, "%s",
                 err.message);
    cr_assert_null(w.id.ptr);
    cr_assert_eq(w.birth_year, 1985);
    cr_assert_eq(w.category, PR_CAT_MIGRANT);
    cr_assert_eq(w.n_skills, 1);
    /* Explicit nils count as absent. */
    cr_assert_eq(pr_worker_decode(with(PROFILE, "name", "null"), "profile",
                                  PR_REC_PROFILE, NOW, &w, &err), 0);
}

Test(record, profile_refuses_identity)
{
    const char *keys[] = {"id", "name", "national_id", "phone"};
    for (int i = 0; i < 4; i++) {
        pr_worker_t w;
        pr_error_t err = {0};
        cr_assert_eq(pr_worker_decode(with(PROFILE, keys[i], "\"x1\""),
                                      "profile", PR_REC_PROFILE, NOW, &w,
                                      &err), -1);
        cr_assert_eq(err.code, PR_BAD_REQUEST);
        char want[80];
        snprintf(want, sizeof want, "profile.%s: not allowed in a profile",
                 keys[i]);
        cr_assert_str_eq(err.message, want);
        fini();
    }
}

Test(record, profile_rules_still_apply)
{
    pr_worker_t w;
    pr_error_t err = {0};
    cr_assert_eq(pr_worker_decode(with(PROFILE, "birth_year", NULL),
                                  "profile", PR_REC_PROFILE, NOW, &w, &err),
                 -1);
    cr_assert_str_eq(err.message, "profile.birth_year: required");
    cr_assert_eq(pr_worker_decode(with(PROFILE, "region", "\"12\""),
                                  "profile", PR_REC_PROFILE, NOW, &w, &err),
                 -1);
    cr_assert_str_eq(err.message, "profile.region: must be a 6-digit code");
}

/* ---- canonical encoding ---- */

/* Packs with fn into a kept tree. */
static const msgpack_object *packed_vacancy(const pr_vacancy_t *v)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pr_pack_vacancy(&pk, v);
    return keep(&sb);
}

static const msgpack_object *packed_worker(const pr_worker_t *w, bool pers)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pr_pack_worker(&pk, w, pers);
    return keep(&sb);
}

static bool str_same(pr_str_t a, pr_str_t b)
{
    if ((a.ptr == NULL) != (b.ptr == NULL))
        return false;
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void assert_skills_same(const pr_skill_t *a, const pr_skill_t *b,
                               uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        cr_assert(str_same(a[i].id, b[i].id));
        cr_assert_eq(a[i].level, b[i].level);
    }
}

static void assert_vacancy_same(const pr_vacancy_t *a, const pr_vacancy_t *b)
{
    cr_assert(str_same(a->id, b->id));
    cr_assert(str_same(a->employer, b->employer));
    cr_assert(str_same(a->title, b->title));
    cr_assert(str_same(a->occupation, b->occupation));
    cr_assert(str_same(a->region, b->region));
    cr_assert_eq(a->n_skills, b->n_skills);
    assert_skills_same(a->skills, b->skills, a->n_skills);
    cr_assert_eq(a->education_min, b->education_min);
    cr_assert_eq(a->age_min, b->age_min);
    cr_assert_eq(a->age_max, b->age_max);
    cr_assert_eq(a->wage_min, b->wage_min);
    cr_assert_eq(a->wage_max, b->wage_max);
    cr_assert_eq(a->headcount, b->headcount);
    cr_assert_eq(a->filled, b->filled);
    cr_assert_eq(a->priority_mask, b->priority_mask);
    cr_assert_eq(a->posted, b->posted);
    cr_assert_eq(a->expires, b->expires);
    cr_assert_eq(a->status, b->status);
}

static void assert_worker_same(const pr_worker_t *a, const pr_worker_t *b,
                               bool personal)
{
    cr_assert(str_same(a->id, b->id));
    if (personal) {
        cr_assert(str_same(a->name, b->name));
        cr_assert(str_same(a->national_id, b->national_id));
        cr_assert(str_same(a->phone, b->phone));
    }
    cr_assert_eq(a->birth_year, b->birth_year);
    cr_assert(str_same(a->region, b->region));
    cr_assert_eq(a->education, b->education);
    cr_assert_eq(a->n_skills, b->n_skills);
    assert_skills_same(a->skills, b->skills, a->n_skills);
    cr_assert_eq(a->n_desired, b->n_desired);
    for (uint32_t i = 0; i < a->n_desired; i++)
        cr_assert(str_same(a->desired[i], b->desired[i]));
    cr_assert_eq(a->wage_min, b->wage_min);
    cr_assert_eq(a->category, b->category);
    cr_assert(str_same(a->center, b->center));
    cr_assert_eq(a->registered, b->registered);
    cr_assert_eq(a->status, b->status);
}

/* The keys of a packed map, in order, joined with spaces. */
static void keys_of(const msgpack_object *o, char *out, size_t size)
{
    cr_assert_eq(o->type, MSGPACK_OBJECT_MAP);
    out[0] = '\0';
    size_t used = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        cr_assert_eq(k->type, MSGPACK_OBJECT_STR);
        used += (size_t)snprintf(out + used, size - used, "%s%.*s",
                                 i ? " " : "", (int)k->via.str.size,
                                 k->via.str.ptr);
        cr_assert_lt(used, size);
    }
}

Test(record, vacancy_round_trip)
{
    const char *variants[][2] = {
        {NULL, NULL},
        {"priority_categories", "[]"},
        {"skills", "[]"},
        {"status", "\"closed\""},
        {"posted", "-5"},
        {"expires", "0"},
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        pr_vacancy_t a, b;
        pr_error_t err = {0};
        cr_assert_eq(pr_vacancy_decode(with(VACANCY, variants[i][0],
                                            variants[i][1]),
                                       "vacancy", 0, NOW, &a, &err), 0);
        a.filled = 2; /* as the server would keep it */
        const msgpack_object *o = packed_vacancy(&a);
        cr_assert_eq(pr_vacancy_decode(o, "vacancy", PR_REC_STORED, 0, &b,
                                       &err), 0, "%s", err.message);
        assert_vacancy_same(&a, &b);
        fini();
    }
}

Test(record, vacancy_canonical_form)
{
    pr_vacancy_t v;
    cr_assert_eq(pr_vacancy_decode(with(VACANCY, NULL, NULL), "vacancy", 0,
                                   NOW, &v, NULL), 0);
    const msgpack_object *o = packed_vacancy(&v);
    char keys[512];
    keys_of(o, keys, sizeof keys);
    cr_assert_str_eq(keys,
                     "id employer title occupation region skills "
                     "education_min age_min age_max wage_min wage_max "
                     "headcount filled priority_categories posted expires "
                     "status");
    /* Categories come in enum order, whatever order they were sent in. */
    const msgpack_object *pc = pr_map_get(o, "priority_categories");
    cr_assert_eq(pc->via.array.size, 2);
    cr_assert_eq(memcmp(pc->via.array.ptr[0].via.str.ptr, "laid_off", 8), 0);
    cr_assert_eq(memcmp(pc->via.array.ptr[1].via.str.ptr, "migrant", 7), 0);
    const msgpack_object *sk = pr_map_get(o, "skills");
    cr_assert_eq(sk->via.array.size, 2);
    char skeys[64];
    keys_of(&sk->via.array.ptr[0], skeys, sizeof skeys);
    cr_assert_str_eq(skeys, "id level");
    const msgpack_object *st = pr_map_get(o, "status");
    cr_assert_eq(st->via.str.size, 4);
    cr_assert_eq(memcmp(st->via.str.ptr, "open", 4), 0);
    /* The unknown key of the input is gone. */
    cr_assert_null(pr_map_get(o, "unknown_key"));
}

/* pack(decode(pack(x))) gives the very same bytes as pack(x). */
Test(record, canonical_bytes_are_stable)
{
    pr_vacancy_t a, b;
    cr_assert_eq(pr_vacancy_decode(with(VACANCY, NULL, NULL), "vacancy", 0,
                                   NOW, &a, NULL), 0);
    msgpack_sbuffer s1, s2;
    msgpack_sbuffer_init(&s1);
    msgpack_sbuffer_init(&s2);
    msgpack_packer p1, p2;
    msgpack_packer_init(&p1, &s1, msgpack_sbuffer_write);
    msgpack_packer_init(&p2, &s2, msgpack_sbuffer_write);
    pr_pack_vacancy(&p1, &a);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, s1.data, s1.size, &off),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(pr_vacancy_decode(&u.data, "vacancy", PR_REC_STORED, 0, &b,
                                   NULL), 0);
    pr_pack_vacancy(&p2, &b);
    cr_assert_eq(s1.size, s2.size);
    cr_assert_eq(memcmp(s1.data, s2.data, s1.size), 0);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&s1);
    msgpack_sbuffer_destroy(&s2);
}

Test(record, worker_round_trip_with_personal)
{
    pr_worker_t a, b;
    pr_error_t err = {0};
    cr_assert_eq(pr_worker_decode(with(WORKER, NULL, NULL), "worker", 0, NOW,
                                  &a, &err), 0);
    const msgpack_object *o = packed_worker(&a, true);
    char keys[512];
    keys_of(o, keys, sizeof keys);
    cr_assert_str_eq(keys,
                     "id name national_id phone birth_year region education "
                     "skills desired_occupations wage_min category center "
                     "registered status");
    cr_assert_eq(pr_worker_decode(o, "worker", PR_REC_STORED, 0, &b, &err), 0,
                 "%s", err.message);
    assert_worker_same(&a, &b, true);
}

Test(record, worker_personal_omitted)
{
    pr_worker_t a, b;
    cr_assert_eq(pr_worker_decode(with(WORKER, NULL, NULL), "worker", 0, NOW,
                                  &a, NULL), 0);
    const msgpack_object *o = packed_worker(&a, false);
    cr_assert_null(pr_map_get(o, "name"));
    cr_assert_null(pr_map_get(o, "national_id"));
    cr_assert_null(pr_map_get(o, "phone"));
    cr_assert_not_null(pr_map_get(o, "center"));
    cr_assert_eq(pr_worker_decode(o, "worker", PR_REC_STORED, 0, &b, NULL),
                 0);
    assert_worker_same(&a, &b, false);
    cr_assert_null(b.name.ptr);
    cr_assert_null(b.national_id.ptr);
    cr_assert_null(b.phone.ptr);
}

Test(record, worker_optional_fields_omitted_when_unset)
{
    const msgpack_object *in = to_obj(parse(
        "{\"id\": \"w\", \"birth_year\": 2000, \"region\": \"310101\","
        " \"phone\": \"1\"}"));
    pr_worker_t a, b;
    cr_assert_eq(pr_worker_decode(in, "worker", 0, NOW, &a, NULL), 0);
    const msgpack_object *o = packed_worker(&a, true);
    char keys[512];
    keys_of(o, keys, sizeof keys);
    cr_assert_str_eq(keys,
                     "id phone birth_year region education skills "
                     "desired_occupations wage_min category registered "
                     "status");
    cr_assert_eq(pr_worker_decode(o, "worker", PR_REC_STORED, 0, &b, NULL),
                 0);
    assert_worker_same(&a, &b, true);
    const msgpack_object *cat = pr_map_get(o, "category");
    cr_assert_eq(cat->via.str.size, 5);
    cr_assert_eq(memcmp(cat->via.str.ptr, "other", 5), 0);
    cr_assert_eq(pr_map_get(o, "registered")->via.u64, (uint64_t)NOW);
}

Test(record, profile_round_trip)
{
    pr_worker_t a, b;
    cr_assert_eq(pr_worker_decode(with(PROFILE, NULL, NULL), "profile",
                                  PR_REC_PROFILE, NOW, &a, NULL), 0);
    const msgpack_object *o = packed_worker(&a, true);
    cr_assert_null(pr_map_get(o, "id"));
    cr_assert_eq(pr_worker_decode(o, "profile", PR_REC_PROFILE, 0, &b, NULL),
                 0);
    assert_worker_same(&a, &b, true);
}
