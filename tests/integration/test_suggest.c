/* test_suggest.c - occupation.suggest through a live daemon: the shape
 * the kiosk relies on, the same ranking as the matcher in process, bad
 * input, and the occupations_file setting (none, missing). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "occupation.h"
#include "wire.h"

static void
source_path(char *buf, size_t len, const char *rel)
{
    const char *src = getenv("JOBMATCH_SOURCE");
    snprintf(buf, len, "%s/%s", src ? src : ".", rel);
}

/* The suggestions array of a successful reply, checked for its shape:
 * maps of exactly code (10 chars), name and score, best first. */
static const msgpack_object *
suggestions(const jm_reply_t *r)
{
    jt_expect_ok(r, "occupation.suggest");
    const msgpack_object *list = jt_need(&r->result, "suggestions");
    cr_assert_eq(list->type, MSGPACK_OBJECT_ARRAY);
    double last = 1e9;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *s = &list->via.array.ptr[i];
        cr_assert_eq(s->type, MSGPACK_OBJECT_MAP);
        cr_assert_eq(s->via.map.size, 3);
        cr_assert_eq(strlen(jt_get_str(s, "code")), 10);
        cr_assert_gt(strlen(jt_get_str(s, "name")), 0);
        double score = jt_get_double(s, "score");
        cr_assert_gt(score, 0);
        cr_assert_leq(score, last, "ranked best first");
        last = score;
    }
    return list;
}

Test(suggest, a_kiosk_gets_ranked_codes_with_names)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect(d);   /* anonymous: the kiosk role */
    jm_reply_t *r = jt_call_json(c, "occupation.suggest",
                                 "{\"text\": \"抖音客服专员\", \"limit\": 3}");
    const msgpack_object *list = suggestions(r);
    cr_assert_eq(list->via.array.size, 3);
    cr_assert_str_eq(jt_get_str(&list->via.array.ptr[0], "code"), "4-04-05-03");
    cr_assert_str_eq(jt_get_str(&list->via.array.ptr[0], "name"), "呼叫中心服务员");
    jm_reply_free(r);

    /* Without a limit: ten. */
    r = jt_call_json(c, "occupation.suggest", "{\"text\": \"工程师\"}");
    cr_assert_eq(suggestions(r)->via.array.size, 10);
    jm_reply_free(r);

    /* Nothing to match is an empty list, not an error. */
    r = jt_call_json(c, "occupation.suggest", "{\"text\": \"?!\"}");
    cr_assert_eq(suggestions(r)->via.array.size, 0);
    jm_reply_free(r);
    jm_close(c);
    jt_daemon_stop(d);
}

/* The daemon answers what the matcher answers in process, for titles of
 * the shipped learned-alias file and for text no alias holds. */
Test(suggest, the_daemon_ranks_as_the_matcher_does)
{
    char csv[1024], aliases[1024], why[256];
    source_path(csv, sizeof csv, "data/cn_occupation_classification_2022.csv");
    source_path(aliases, sizeof aliases, "data/cn_occupation_jobtitle_aliases_2022.csv");
    en_occupations_t *occ = en_occupations_load(csv, why, sizeof why);
    cr_assert_not_null(occ, "%s", why);
    cr_assert_eq(en_occupations_add_aliases(occ, aliases, why, sizeof why), 0, "%s", why);

    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect(d);
    static const char *const titles[] = {
        "焊工", "java开发工程师", "招聘专员", "外卖骑手", "幼儿园老师", "会计",
        "仓库管理员", "叉车司机", "UI设计师", "护士", "挖掘机司机", "电商运营",
    };
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++) {
        en_suggestion_t want[5];
        size_t n = en_occupations_suggest(occ, titles[i], strlen(titles[i]), want, 5);
        cr_assert_gt(n, 0, "%s", titles[i]);
        jm_reply_t *r = jt_call_json(c, "occupation.suggest",
                                     "{\"text\": \"%s\", \"limit\": 5}", titles[i]);
        const msgpack_object *list = suggestions(r);
        cr_assert_eq(list->via.array.size, n, "%s", titles[i]);
        for (size_t k = 0; k < n; k++) {
            const msgpack_object *s = &list->via.array.ptr[k];
            cr_assert_str_eq(jt_get_str(s, "code"), want[k].code, "%s #%zu", titles[i], k);
            cr_assert_str_eq(jt_get_str(s, "name"), want[k].name);
            cr_assert_float_eq(jt_get_double(s, "score"), want[k].score, 1e-9);
        }
        jm_reply_free(r);
    }
    jm_close(c);
    jt_daemon_stop(d);
    en_occupations_free(occ);
}

Test(suggest, bad_arguments_name_the_field_and_the_connection_goes_on)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect(d);
    static const struct {
        const char *args, *says;
    } bad[] = {
        {"{}", "text"},
        {"{\"text\": \"\"}", "text"},
        {"{\"text\": 5}", "text"},
        {"{\"text\": \"焊工\", \"limit\": 0}", "limit"},
        {"{\"text\": \"焊工\", \"limit\": 51}", "limit"},
        {"{\"text\": \"焊工\", \"limit\": \"3\"}", "limit"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jm_reply_t *r = jt_call_json(c, "occupation.suggest", "%s", bad[i].args);
        jt_expect_error(r, "bad_request", bad[i].says);
        jm_reply_free(r);
    }
    char longtext[600];
    memset(longtext, 'a', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    jm_reply_t *r = jt_call_json(c, "occupation.suggest", "{\"text\": \"%s\"}", longtext);
    jt_expect_error(r, "bad_request", "text");
    jm_reply_free(r);
    r = jt_call_json(c, "occupation.suggest", "{\"text\": \"焊工\", \"limit\": 1}");
    cr_assert_eq(suggestions(r)->via.array.size, 1);
    jm_reply_free(r);
    jm_close(c);
    jt_daemon_stop(d);
}

Test(suggest, occupations_file_none_runs_without_the_operation)
{
    static const char *const args[] = {"--occupations-file", "none", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    jm_client_t *c = jt_connect(d);
    jm_reply_t *r = jt_call_json(c, "occupation.suggest", "{\"text\": \"焊工\"}");
    jt_expect_error(r, "not_found", "occupations_file = none");
    jm_reply_free(r);
    r = jt_call_json(c, "ping", "{}");
    jt_expect_ok(r, "ping");
    jm_reply_free(r);
    jm_close(c);
    jt_daemon_stop(d);
}

Test(suggest, a_missing_or_broken_classification_stops_the_start)
{
    char src[1024], copy[] = "/tmp/jm-occ-XXXXXX", cmd[2200], err[4096];
    source_path(src, sizeof src, "data/cn_occupation_classification_2022.csv");
    int fd = mkstemp(copy);
    cr_assert(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, copy);
    cr_assert_eq(system(cmd), 0);
    const char *const args[] = {"--occupations-file", copy, "--occupation-aliases-file",
                                "none", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    cr_assert_eq(jt_daemon_term(d), 0);

    cr_assert_eq(unlink(copy), 0);
    cr_assert_neq(jt_daemon_start_fails(d, err, sizeof err), 0);
    cr_assert_not_null(strstr(err, "occupations_file: cannot open"), "stderr: %s", err);
    cr_assert_not_null(strstr(err, copy), "stderr: %s", err);

    FILE *f = fopen(copy, "w");
    cr_assert_not_null(f);
    fputs("level,code,name,alias\n4,6-05-02,焊工,焊工\n", f);
    fclose(f);
    cr_assert_neq(jt_daemon_start_fails(d, err, sizeof err), 0);
    cr_assert_not_null(strstr(err, ":2: expected level"), "stderr: %s", err);

    unlink(copy);
    jt_daemon_stop(d);
}
