/* test_occupation.c - the occupation matcher: loading the classification
 * (and refusing what is not one), ranking, limits and odd text. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "occupation.h"

static char source_csv[1024];

static const char *
classification(void)
{
    const char *src = getenv("JOBMATCH_SOURCE");
    snprintf(source_csv, sizeof source_csv, "%s/data/cn_occupation_classification_2022.csv",
             src ? src : ".");
    return source_csv;
}

/* Writes text to a new temporary file; returns its path (static). */
static const char *
temp_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/jm-occ-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static en_occupations_t *
load_small(void)
{
    const char *path = temp_file(
        "level,code,name,alias\n"
        "3,6-05-02-00,焊接人员,焊接人员\n"
        "4,6-05-02-03,焊工S,\"焊工,电焊工,氩弧焊工\"\n"
        "4,4-04-05-03,呼叫中心服务员,\"客服专员,电话客服,呼叫中心服务员\"\n"
        "4,2-02-10-03,计算机软件工程技术人员S,\"Java开发,软件工程师,C/C++\"\n");
    char why[256];
    en_occupations_t *occ = en_occupations_load(path, why, sizeof why);
    unlink(path);
    cr_assert_not_null(occ, "%s", why);
    return occ;
}

Test(occupation, the_shipped_classification_loads)
{
    char why[256];
    en_occupations_t *occ = en_occupations_load(classification(), why, sizeof why);
    cr_assert_not_null(occ, "%s", why);
    /* 2,051 rows, of which a few list a code twice. */
    cr_assert_gt(en_occupations_count(occ), 2000);
    cr_assert_lt(en_occupations_count(occ), 2051);
    cr_assert_str_eq(en_occupations_name(occ, "6-18-02-04"), "焊工");
    /* The S (digital) marker is display noise, not part of the name. */
    cr_assert_str_eq(en_occupations_name(occ, "2-02-10-03"), "计算机软件工程技术人员");
    cr_assert_null(en_occupations_name(occ, "9-99-99-99"));
    en_occupations_free(occ);
}

Test(occupation, an_alias_inside_a_title_ranks_its_code_first)
{
    en_occupations_t *occ = load_small();
    en_suggestion_t out[4];
    size_t n = en_occupations_suggest(occ, "抖音客服专员", strlen("抖音客服专员"), out, 4);
    cr_assert_geq(n, 1);
    cr_assert_str_eq(out[0].code, "4-04-05-03");
    cr_assert_str_eq(out[0].name, "呼叫中心服务员");
    for (size_t i = 1; i < n; i++)
        cr_assert_geq(out[i - 1].score, out[i].score, "ranked best first");
    en_occupations_free(occ);
}

Test(occupation, exact_names_win_and_markers_are_not_part_of_names)
{
    en_occupations_t *occ = load_small();
    en_suggestion_t out[4];
    size_t n = en_occupations_suggest(occ, "焊工", strlen("焊工"), out, 4);
    cr_assert_geq(n, 2);
    cr_assert_str_eq(out[0].code, "6-05-02-03");
    cr_assert_str_eq(out[0].name, "焊工", "no trailing S");
    cr_assert_gt(out[0].score, 1.0, "an exact match is boosted");
    /* The group shares characters, so it follows. */
    cr_assert_str_eq(out[1].code, "6-05-02-00");
    en_occupations_free(occ);
}

Test(occupation, ascii_words_match_whatever_their_case_and_width)
{
    en_occupations_t *occ = load_small();
    en_suggestion_t out[2];
    const char *text = "ＪＡＶＡ开发工程师";   /* full-width letters */
    size_t n = en_occupations_suggest(occ, text, strlen(text), out, 2);
    cr_assert_geq(n, 1);
    cr_assert_str_eq(out[0].code, "2-02-10-03");
    n = en_occupations_suggest(occ, "c/c++", 5, out, 2);
    cr_assert_geq(n, 1);
    cr_assert_str_eq(out[0].code, "2-02-10-03");
    en_occupations_free(occ);
}

Test(occupation, limit_and_nothing_to_match)
{
    en_occupations_t *occ = load_small();
    en_suggestion_t out[4];
    cr_assert_eq(en_occupations_suggest(occ, "焊工", 6, out, 1), 1);
    cr_assert_eq(en_occupations_suggest(occ, "焊工", 6, out, 0), 0);
    cr_assert_eq(en_occupations_suggest(occ, "", 0, out, 4), 0);
    cr_assert_eq(en_occupations_suggest(occ, " ,.!?。", strlen(" ,.!?。"), out, 4), 0);
    cr_assert_eq(en_occupations_suggest(occ, "xyz", 3, out, 4), 0);
    /* Stray bytes are taken as themselves, never read past the end. */
    cr_assert_eq(en_occupations_suggest(occ, "\xe7\x84", 2, out, 4), 0);
    en_occupations_free(occ);
}

Test(occupation, learned_aliases_are_added)
{
    en_occupations_t *occ = load_small();
    en_suggestion_t out[1];
    const char *title = "接线员";
    size_t n = en_occupations_suggest(occ, title, strlen(title), out, 1);
    cr_assert(n == 0 || strcmp(out[0].code, "4-04-05-03") != 0 || out[0].score < 1.0);
    char why[256];
    const char *path = temp_file("code,alias\n4-04-05-03,接线员\n");
    cr_assert_eq(en_occupations_add_aliases(occ, path, why, sizeof why), 0, "%s", why);
    unlink(path);
    n = en_occupations_suggest(occ, title, strlen(title), out, 1);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(out[0].code, "4-04-05-03");
    cr_assert_gt(out[0].score, 1.0);
    path = temp_file("code,alias\n9-99-99-99,无此职业\n");
    cr_assert_eq(en_occupations_add_aliases(occ, path, why, sizeof why), -1);
    unlink(path);
    cr_assert(strstr(why, ":2:") != NULL, "names the line: %s", why);
    en_occupations_free(occ);
}

Test(occupation, what_is_not_a_classification_is_refused_with_a_reason)
{
    char why[256];
    cr_assert_null(en_occupations_load("/nonexistent/occ.csv", why, sizeof why));
    cr_assert(strstr(why, "/nonexistent/occ.csv") != NULL, "%s", why);

    static const struct {
        const char *text, *says;
    } bad[] = {
        {"", "header"},
        {"code,name\n6-05-02-03,焊工\n", "header"},
        {"level,code,name,alias\n", "no occupations"},
        {"level,code,name,alias\n4,6-05-02,焊工,焊工\n", ":2:"},
        {"level,code,name,alias\n9,6-05-02-03,焊工,焊工\n", ":2:"},
        {"level,code,name,alias\n4,6-05-02-03,焊工\n", ":2:"},
        {"level,code,name,alias\n4,6-05-02-03,,焊工\n", ":2:"},
        {"level,code,name,alias\n4,6-05-02-03,\"焊工,焊工\n", ":2:"},
        {"level,code,name,alias\n4,6-05-02-03,\xff\xfe,x\n", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *path = temp_file(bad[i].text);
        en_occupations_t *occ = en_occupations_load(path, why, sizeof why);
        unlink(path);
        cr_assert_null(occ, "case %zu loaded", i);
        cr_assert(strstr(why, bad[i].says) != NULL, "case %zu: %s", i, why);
    }
}
