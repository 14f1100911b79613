/* test_labour.c - stats.supply_demand, stats.wages (with the guideline
 * overlay) and stats.reemployment through a running jobmatchd, each
 * figure compared with a brute-force computation over the records the
 * daemon lists back, on generated data that was inserted, replaced,
 * deleted and partly hired through referrals. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "wire.h"

#define NV 240
#define NW 320
#define MAXG 64

static const char *regions[] = {"110105", "110108", "110201", "120101",
                                "440305", "440306", "440103"};
static const char *codes[] = {"6-05-02-03", "6-05-02-04", "6-05-01-01", "6-18-01-01",
                              "2-02-01-05", "4-02-02-01"};
static const char *desired[] = {"6", "6-05", "6-05-02", "6-05-02-03", "6-18-01-01",
                                "2-02", "4-02-02-01", "2-02-01-05"};
static const char *categories[] = {"laid_off", "unemployed", "graduate", "migrant", "other"};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* A Unix time in month m (0 = 2025-01) of 2025-2026, mid-month. */
static int64_t
time_in_month(int m)
{
    struct tm tm = {.tm_year = 125 + m / 12, .tm_mon = m % 12, .tm_mday = 1 + rnd(27),
                    .tm_hour = (int)rnd(24)};
    return (int64_t)timegm(&tm);
}

static int64_t
month_of(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    return (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

/* ---- the records as the daemon lists them ------------------------------ */

typedef struct vac {
    char id[16], region[7], occ[11];
    int64_t headcount, wage_min, wage_max, posted;
    bool open;
} vac_t;

typedef struct wrk {
    char id[16], region[7];
    char codes[16][11];
    int n_codes;
    int category;
    int64_t registered, wage_min;
    bool available;
} wrk_t;

typedef struct hire {
    char worker[16];
    int64_t at;
} hire_t;

static vac_t vacs[NV + 8];
static wrk_t wrks[NW + 8];
static hire_t hires[NW];
static int n_vacs, n_wrks, n_hires;

static int
category_index(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, categories[i]) == 0)
            return i;
    cr_assert_fail("category %s", s);
    return -1;
}

static void
copy_str(char *dst, size_t n, const msgpack_object *map, const char *key)
{
    snprintf(dst, n, "%s", jt_get_str(map, key));
}

/* Pages through op (limit 1000) calling take on each record. */
static void
list_all(jm_client_t *c, const char *op, const char *filter, const char *key,
         void (*take)(const msgpack_object *))
{
    char cursor[600] = "";
    do {
        jm_reply_t *r = cursor[0]
            ? jt_call_json(c, op, "{%s%s\"limit\": 1000, \"cursor\": \"%s\"}", filter,
                           filter[0] ? ", " : "", cursor)
            : jt_call_json(c, op, "{%s%s\"limit\": 1000}", filter, filter[0] ? ", " : "");
        jt_expect_ok(r, op);
        const msgpack_object *a = jt_need(&r->result, key);
        for (uint32_t i = 0; i < a->via.array.size; i++)
            take(&a->via.array.ptr[i]);
        const msgpack_object *cur = jt_need(&r->result, "cursor");
        if (cur->type == MSGPACK_OBJECT_STR)
            snprintf(cursor, sizeof cursor, "%.*s", (int)cur->via.str.size, cur->via.str.ptr);
        else
            cursor[0] = '\0';
        jm_reply_free(r);
    } while (cursor[0]);
}

static void
take_vacancy(const msgpack_object *o)
{
    vac_t *v = &vacs[n_vacs++];
    copy_str(v->id, sizeof v->id, o, "id");
    copy_str(v->region, sizeof v->region, o, "region");
    copy_str(v->occ, sizeof v->occ, o, "occupation");
    v->headcount = jt_get_int(o, "headcount");
    v->wage_min = jt_get_int(o, "wage_min");
    v->wage_max = jt_get_int(o, "wage_max");
    v->posted = jt_get_int(o, "posted");
    v->open = strcmp(jt_get_str(o, "status"), "open") == 0;
}

static void
take_worker(const msgpack_object *o)
{
    wrk_t *w = &wrks[n_wrks++];
    copy_str(w->id, sizeof w->id, o, "id");
    copy_str(w->region, sizeof w->region, o, "region");
    const msgpack_object *d = jt_need(o, "desired_occupations");
    w->n_codes = (int)d->via.array.size;
    for (int i = 0; i < w->n_codes; i++)
        snprintf(w->codes[i], sizeof w->codes[i], "%.*s", (int)d->via.array.ptr[i].via.str.size,
                 d->via.array.ptr[i].via.str.ptr);
    w->category = category_index(jt_get_str(o, "category"));
    w->registered = jt_get_int(o, "registered");
    w->wage_min = jt_get_int(o, "wage_min");
    w->available = strcmp(jt_get_str(o, "status"), "available") == 0;
}

static void
take_hire(const msgpack_object *o)
{
    hire_t *h = &hires[n_hires++];
    copy_str(h->worker, sizeof h->worker, o, "worker");
    h->at = jt_get_int(o, "hired_at");
}

static void
load_records(jm_client_t *c)
{
    n_vacs = n_wrks = n_hires = 0;
    list_all(c, "vacancy.list", "", "vacancies", take_vacancy);
    list_all(c, "worker.list", "", "workers", take_worker);
    list_all(c, "referral.list", "\"status\": \"hired\"", "referrals", take_hire);
}

static const wrk_t *
worker_by_id(const char *id)
{
    for (int i = 0; i < n_wrks; i++)
        if (strcmp(wrks[i].id, id) == 0)
            return &wrks[i];
    return NULL;
}

/* ---- generating -------------------------------------------------------- */

static void
vacancy_json(char *buf, size_t n, int i, int variant)
{
    int64_t wmin = 0, wmax = 0;
    if (rnd(3)) {
        wmin = 3000 + 500 * rnd(11);
        wmax = wmin + 500 * rnd(9);
    }
    snprintf(buf, n,
             "{\"id\": \"v%03d\", \"employer\": \"E%d\", \"title\": \"T\", "
             "\"occupation\": \"%s\", \"region\": \"%s\", \"headcount\": %u, "
             "\"wage_min\": %lld, \"wage_max\": %lld, \"posted\": %lld, \"status\": \"%s\", "
             "\"skills\": [{\"id\": \"s%u\", \"level\": 2}]}",
             i, variant, codes[rnd(6)], regions[rnd(7)], 1 + rnd(5), (long long)wmin,
             (long long)wmax, (long long)time_in_month((int)rnd(18)),
             rnd(5) ? "open" : "closed", rnd(4));
}

static void
worker_json(char *buf, size_t n, int i)
{
    char occ[200] = "";
    int k = (int)rnd(4);
    for (int j = 0; j < k; j++) {
        char one[24];
        snprintf(one, sizeof one, "%s\"%s\"", j ? ", " : "", desired[rnd(8)]);
        strcat(occ, one);
    }
    snprintf(buf, n,
             "{\"id\": \"w%03d\", \"birth_year\": 1990, \"region\": \"%s\", "
             "\"desired_occupations\": [%s], \"category\": \"%s\", \"wage_min\": %u, "
             "\"registered\": %lld, \"status\": \"%s\", "
             "\"skills\": [{\"id\": \"s%u\", \"level\": 3}]}",
             i, regions[rnd(7)], occ, categories[rnd(5)], rnd(3) ? 3000 + 500 * rnd(19) : 0,
             (long long)time_in_month((int)rnd(18)), rnd(5) ? "available" : "inactive", rnd(4));
}

static void
put_json(jm_client_t *c, const char *op, const char *key, const char *json)
{
    jm_reply_t *r = jt_call_json(c, op, "{\"%s\": %s}", key, json);
    jt_expect_ok(r, op);
    jm_reply_free(r);
}

static void
generate(jm_client_t *c)
{
    char buf[1024];
    for (int i = 0; i < NV; i++) {
        vacancy_json(buf, sizeof buf, i, 0);
        put_json(c, "vacancy.put", "vacancy", buf);
    }
    for (int i = 0; i < NW; i++) {
        worker_json(buf, sizeof buf, i);
        put_json(c, "worker.put", "worker", buf);
    }
    /* Replace some (new regions, codes, wages, months), delete others. */
    for (int i = 0; i < NV; i += 7) {
        vacancy_json(buf, sizeof buf, i, 1);
        put_json(c, "vacancy.put", "vacancy", buf);
    }
    for (int i = 0; i < NW; i += 5) {
        worker_json(buf, sizeof buf, i);
        put_json(c, "worker.put", "worker", buf);
    }
    for (int i = 3; i < NV; i += 11) {
        jm_reply_t *r = jt_call_json(c, "vacancy.delete", "{\"id\": \"v%03d\"}", i);
        jt_expect_ok(r, "vacancy.delete");
        jm_reply_free(r);
    }
    for (int i = 4; i < NW; i += 13) {
        jm_reply_t *r = jt_call_json(c, "worker.delete", "{\"id\": \"w%03d\"}", i);
        jt_expect_ok(r, "worker.delete");
        jm_reply_free(r);
    }
    /* Hires through referrals: available workers into open vacancies with
     * places left, some vacancies filled up. */
    load_records(c);
    int hired = 0;
    for (int i = 0, j = 0; i < n_wrks && hired < 60; i++) {
        if (!wrks[i].available || rnd(2))
            continue;
        for (int tries = 0; tries < n_vacs; tries++, j++) {
            vac_t *v = &vacs[j % n_vacs];
            if (!v->open)
                continue;
            jm_reply_t *r = jt_call_json(c, "referral.create",
                                         "{\"worker\": \"%s\", \"vacancy\": \"%s\"}",
                                         wrks[i].id, v->id);
            jt_expect_ok(r, "referral.create");
            char id[32];
            snprintf(id, sizeof id, "%s", jt_get_str(&r->result, "id"));
            jm_reply_free(r);
            r = jt_call_json(c, "referral.update", "{\"id\": \"%s\", \"status\": \"%s\"}", id,
                             rnd(4) ? "hired" : "rejected");
            jt_expect_ok(r, "referral.update");
            const char *st = jt_get_str(jt_need(&r->result, "referral"), "status");
            if (strcmp(st, "hired") == 0) {
                hired++;
                if (--v->headcount <= 0)
                    v->open = false;   /* headcount here is places left */
            }
            jm_reply_free(r);
            j++;
            break;
        }
    }
    cr_assert_gt(hired, 10);
}

/* ---- brute force ------------------------------------------------------- */

typedef struct bgroup {
    char key[11];
    uint64_t openings, vacancies, applicants;
    uint32_t wages[NV];
    uint32_t n_wages;
} bgroup_t;

static bgroup_t bg[MAXG];
static int n_bg;

static bgroup_t *
bgroup(const char *key, size_t len)
{
    for (int i = 0; i < n_bg; i++)
        if (strlen(bg[i].key) == len && memcmp(bg[i].key, key, len) == 0)
            return &bg[i];
    cr_assert_lt(n_bg, MAXG);
    bgroup_t *g = &bg[n_bg++];
    memset(g, 0, sizeof *g);
    memcpy(g->key, key, len);
    return g;
}

static bool
starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

typedef struct query {
    const char *region, *occupation, *by;
} query_t;

static size_t
level_len(const char *by, bool *by_region)
{
    static const struct {
        const char *name;
        size_t len;
        bool region;
    } t[] = {{"major", 1, false}, {"middle", 4, false}, {"minor", 7, false},
             {"detail", 10, false}, {"province", 2, true}, {"city", 4, true},
             {"county", 6, true}};
    for (size_t i = 0; i < 7; i++)
        if (strcmp(by, t[i].name) == 0) {
            *by_region = t[i].region;
            return t[i].len;
        }
    cr_assert_fail("by %s", by);
    return 0;
}

/* Whether a worker has a desired code under the occupation filter. */
static bool
worker_under(const wrk_t *w, const char *f)
{
    for (int i = 0; i < w->n_codes; i++)
        if (strlen(w->codes[i]) >= strlen(f) && starts(w->codes[i], f))
            return true;
    return false;
}

static const msgpack_object *
find_group(const msgpack_object *groups, const char *key)
{
    for (uint32_t i = 0; i < groups->via.array.size; i++)
        if (jt_str_is(jt_need(&groups->via.array.ptr[i], "group"), key))
            return &groups->via.array.ptr[i];
    return NULL;
}

static void
expect_ratio(const msgpack_object *m, uint64_t openings, uint64_t applicants, const char *what)
{
    const msgpack_object *r = jt_need(m, "ratio");
    if (!applicants) {
        cr_assert_eq(r->type, MSGPACK_OBJECT_NIL, "%s: ratio", what);
        return;
    }
    cr_assert(fabs(jt_get_double(m, "ratio") - (double)openings / (double)applicants) < 1e-9,
              "%s: ratio", what);
}

static void
check_supply_demand(jm_client_t *c, const char *period, int64_t from, int64_t to,
                    const query_t *q)
{
    bool by_region;
    size_t L = level_len(q->by, &by_region);
    const char *f = q->occupation ? q->occupation : "";
    n_bg = 0;
    uint64_t t_open = 0, t_vac = 0, t_app = 0;
    for (int i = 0; i < n_vacs; i++) {
        const vac_t *v = &vacs[i];
        int64_t m = month_of(v->posted);
        if (m < from || m > to || !starts(v->region, q->region) || !starts(v->occ, f))
            continue;
        bgroup_t *g = bgroup(by_region ? v->region : v->occ, L);
        g->openings += (uint64_t)v->headcount;
        g->vacancies++;
        t_open += (uint64_t)v->headcount;
        t_vac++;
    }
    for (int i = 0; i < n_wrks; i++) {
        const wrk_t *w = &wrks[i];
        int64_t m = month_of(w->registered);
        if (m < from || m > to || !starts(w->region, q->region))
            continue;
        if (f[0] && !worker_under(w, f))
            continue;
        t_app++;
        if (by_region) {
            bgroup(w->region, L)->applicants++;
            continue;
        }
        char seen[16][11];
        int n_seen = 0;
        for (int k = 0; k < w->n_codes; k++) {
            const char *code = w->codes[k];
            if (strlen(code) < L || !starts(code, f))
                continue;
            bool dup = false;
            for (int s = 0; s < n_seen; s++)
                dup = dup || strncmp(seen[s], code, L) == 0;
            if (dup)
                continue;
            snprintf(seen[n_seen++], 11, "%.*s", (int)L, code);
            bgroup(code, L)->applicants++;
        }
        if (n_seen == 0 && !f[0])
            bgroup("", 0)->applicants++;
    }

    jm_reply_t *r = jt_call_json(c, "stats.supply_demand",
                                 "{\"period\": \"%s\", \"region\": \"%s\", \"by\": \"%s\"%s%s%s}",
                                 period, q->region, q->by, f[0] ? ", \"occupation\": \"" : "",
                                 f, f[0] ? "\"" : "");
    if (!q->region[0]) {
        jm_reply_free(r);
        r = jt_call_json(c, "stats.supply_demand",
                         "{\"period\": \"%s\", \"by\": \"%s\"%s%s%s}", period, q->by,
                         f[0] ? ", \"occupation\": \"" : "", f, f[0] ? "\"" : "");
    }
    char what[128];
    snprintf(what, sizeof what, "supply_demand %s region '%s' occupation '%s' by %s", period,
             q->region, f, q->by);
    jt_expect_ok(r, what);
    const msgpack_object *groups = jt_need(&r->result, "groups");
    cr_assert_eq(groups->via.array.size, (uint32_t)n_bg, "%s: %u groups, want %d", what,
                 groups->via.array.size, n_bg);
    for (int i = 0; i < n_bg; i++) {
        const msgpack_object *g = find_group(groups, bg[i].key);
        cr_assert_not_null(g, "%s: group '%s' missing", what, bg[i].key);
        cr_assert_eq((uint64_t)jt_get_int(g, "openings"), bg[i].openings, "%s: '%s' openings",
                     what, bg[i].key);
        cr_assert_eq((uint64_t)jt_get_int(g, "vacancies"), bg[i].vacancies,
                     "%s: '%s' vacancies", what, bg[i].key);
        cr_assert_eq((uint64_t)jt_get_int(g, "applicants"), bg[i].applicants,
                     "%s: '%s' applicants", what, bg[i].key);
        expect_ratio(g, bg[i].openings, bg[i].applicants, what);
    }
    const msgpack_object *t = jt_need(&r->result, "total");
    cr_assert_eq((uint64_t)jt_get_int(t, "openings"), t_open, "%s: total openings", what);
    cr_assert_eq((uint64_t)jt_get_int(t, "vacancies"), t_vac, "%s: total vacancies", what);
    cr_assert_eq((uint64_t)jt_get_int(t, "applicants"), t_app, "%s: total applicants", what);
    expect_ratio(t, t_open, t_app, what);
    jm_reply_free(r);
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank, in twice-yuan units. */
static uint32_t
brute_percentile(uint32_t *v, uint32_t n, unsigned p)
{
    qsort(v, n, sizeof *v, cmp_u32);
    uint32_t rank = (uint32_t)ceil(p * (double)n / 100.0);
    return v[rank ? rank - 1 : 0];
}

static bool
flag_listed(const msgpack_object *arr, const char *id, const char *group)
{
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *f = &arr->via.array.ptr[i];
        if (jt_str_is(jt_need(f, "id"), id) && jt_str_is(jt_need(f, "group"), group))
            return true;
    }
    return false;
}

/* Flags seen over all queries, so the overlay is known to be exercised. */
static uint32_t flags_below, flags_above;

static void
check_wages(jm_client_t *c, const query_t *q)
{
    bool by_region;
    size_t L = level_len(q->by, &by_region);
    const char *f = q->occupation ? q->occupation : "";
    n_bg = 0;
    static uint32_t all[NV];
    uint32_t n_all = 0;
    for (int i = 0; i < n_vacs; i++) {
        const vac_t *v = &vacs[i];
        if (!v->open || v->wage_max == 0 || !starts(v->region, q->region) || !starts(v->occ, f))
            continue;
        bgroup_t *g = bgroup(by_region ? v->region : v->occ, L);
        uint32_t w2 = (uint32_t)(v->wage_min + v->wage_max);
        g->wages[g->n_wages++] = w2;
        all[n_all++] = w2;
    }
    char args[256];
    snprintf(args, sizeof args, "{\"by\": \"%s\", \"flag_limit\": 1000%s%s%s%s%s%s}", q->by,
             q->region[0] ? ", \"region\": \"" : "", q->region, q->region[0] ? "\"" : "",
             f[0] ? ", \"occupation\": \"" : "", f, f[0] ? "\"" : "");
    jm_reply_t *r = jt_call_json(c, "stats.wages", "%s", args);
    jt_expect_ok(r, args);
    const msgpack_object *groups = jt_need(&r->result, "groups");
    cr_assert_eq(groups->via.array.size, (uint32_t)n_bg, "%s: groups", args);
    uint32_t p10[MAXG], p90[MAXG];
    for (int i = 0; i < n_bg; i++) {
        const msgpack_object *g = find_group(groups, bg[i].key);
        cr_assert_not_null(g, "%s: group %s", args, bg[i].key);
        cr_assert_eq((uint32_t)jt_get_int(g, "count"), bg[i].n_wages, "%s: count", args);
        p10[i] = brute_percentile(bg[i].wages, bg[i].n_wages, 10);
        p90[i] = brute_percentile(bg[i].wages, bg[i].n_wages, 90);
        cr_assert_eq(jt_get_double(g, "p10"), p10[i] / 2.0, "%s: %s p10", args, bg[i].key);
        cr_assert_eq(jt_get_double(g, "p50"),
                     brute_percentile(bg[i].wages, bg[i].n_wages, 50) / 2.0, "%s: %s p50",
                     args, bg[i].key);
        cr_assert_eq(jt_get_double(g, "p90"), p90[i] / 2.0, "%s: %s p90", args, bg[i].key);
    }
    const msgpack_object *t = jt_need(&r->result, "total");
    cr_assert_eq((uint32_t)jt_get_int(t, "count"), n_all, "%s: total count", args);
    if (n_all)
        cr_assert_eq(jt_get_double(t, "p50"), brute_percentile(all, n_all, 50) / 2.0,
                     "%s: total p50", args);

    /* The overlay: every open vacancy below its group's P10, every
     * available worker wishing above its group's P90, nothing else. */
    const msgpack_object *below = jt_need(&r->result, "below_p10");
    const msgpack_object *above = jt_need(&r->result, "above_p90");
    cr_assert_not(jt_get_bool(&r->result, "truncated"));
    uint32_t n_below = 0, n_above = 0;
    for (int i = 0; i < n_vacs; i++) {
        const vac_t *v = &vacs[i];
        if (!v->open || v->wage_max == 0 || !starts(v->region, q->region) || !starts(v->occ, f))
            continue;
        const char *key = by_region ? v->region : v->occ;
        for (int gi = 0; gi < n_bg; gi++) {
            if (strlen(bg[gi].key) != L || strncmp(bg[gi].key, key, L) != 0)
                continue;
            if ((uint32_t)(v->wage_min + v->wage_max) < p10[gi]) {
                n_below++;
                cr_assert(flag_listed(below, v->id, bg[gi].key), "%s: %s not flagged", args,
                          v->id);
            }
        }
    }
    for (int i = 0; i < n_wrks; i++) {
        const wrk_t *w = &wrks[i];
        if (!w->available || w->wage_min == 0 || !starts(w->region, q->region))
            continue;
        for (int gi = 0; gi < n_bg; gi++) {
            bool in = false;
            if (by_region)
                in = strncmp(w->region, bg[gi].key, L) == 0 && (!f[0] || worker_under(w, f));
            else
                for (int k = 0; k < w->n_codes; k++)
                    in = in || (strlen(w->codes[k]) >= L && starts(w->codes[k], f) &&
                                strncmp(w->codes[k], bg[gi].key, L) == 0);
            if (in && (uint32_t)(2 * w->wage_min) > p90[gi]) {
                n_above++;
                cr_assert(flag_listed(above, w->id, bg[gi].key), "%s: %s not flagged above",
                          args, w->id);
            }
        }
    }
    cr_assert_eq(below->via.array.size, n_below, "%s: below_p10 has %u, want %u", args,
                 below->via.array.size, n_below);
    cr_assert_eq(above->via.array.size, n_above, "%s: above_p90 has %u, want %u", args,
                 above->via.array.size, n_above);
    flags_below += n_below;
    flags_above += n_above;
    jm_reply_free(r);
}

static void
check_reemployment(jm_client_t *c, const char *period, int64_t from, int64_t to,
                   const char *region)
{
    uint64_t reg[5] = {0}, hired[5] = {0};
    for (int i = 0; i < n_wrks; i++) {
        int64_t m = month_of(wrks[i].registered);
        if (m >= from && m <= to && starts(wrks[i].region, region))
            reg[wrks[i].category]++;
    }
    for (int i = 0; i < n_hires; i++) {
        const wrk_t *w = worker_by_id(hires[i].worker);
        cr_assert_not_null(w);
        int64_t m = month_of(hires[i].at);
        if (m >= from && m <= to && starts(w->region, region))
            hired[w->category]++;
    }
    jm_reply_t *r = jt_call_json(c, "stats.reemployment", "{\"period\": \"%s\"%s%s%s}", period,
                                 region[0] ? ", \"region\": \"" : "", region,
                                 region[0] ? "\"" : "");
    jt_expect_ok(r, "stats.reemployment");
    const msgpack_object *cats = jt_need(&r->result, "categories");
    cr_assert_eq(cats->via.array.size, 5);
    uint64_t treg = 0, thired = 0;
    for (int k = 0; k < 5; k++) {
        const msgpack_object *e = &cats->via.array.ptr[k];
        cr_assert_str_eq(jt_get_str(e, "category"), categories[k]);
        cr_assert_eq((uint64_t)jt_get_int(e, "registered"), reg[k], "%s %s %s registered",
                     period, region, categories[k]);
        cr_assert_eq((uint64_t)jt_get_int(e, "hired"), hired[k], "%s %s %s hired", period,
                     region, categories[k]);
        treg += reg[k];
        thired += hired[k];
    }
    const msgpack_object *t = jt_need(&r->result, "total");
    cr_assert_eq((uint64_t)jt_get_int(t, "registered"), treg);
    cr_assert_eq((uint64_t)jt_get_int(t, "hired"), thired);
    jm_reply_free(r);
}

static void
check_everything(jm_client_t *c)
{
    load_records(c);
    flags_below = flags_above = 0;
    const char *region_prefixes[] = {"", "11", "1101", "440305", "12"};
    const char *bys[] = {"major", "middle", "minor", "detail", "province", "city", "county"};
    const char *filters[] = {NULL, "6", "6-05", "6-05-02", "6-05-02-03"};
    struct {
        const char *label;
        int64_t from, to;
    } periods[] = {{"2025", 2025 * 12, 2025 * 12 + 11},
                   {"2025-Q3", 2025 * 12 + 6, 2025 * 12 + 8},
                   {"2026-02", 2026 * 12 + 1, 2026 * 12 + 1},
                   {"2026", 2026 * 12, 2026 * 12 + 11}};
    for (size_t p = 0; p < 4; p++)
        for (size_t ri = 0; ri < 5; ri++)
            for (size_t b = 0; b < 7; b++)
                for (size_t fi = 0; fi < 5; fi++) {
                    bool by_region;
                    size_t L = level_len(bys[b], &by_region);
                    if (filters[fi] && !by_region && L < strlen(filters[fi]))
                        continue;
                    query_t q = {region_prefixes[ri], filters[fi], bys[b]};
                    check_supply_demand(c, periods[p].label, periods[p].from, periods[p].to,
                                        &q);
                    if (p == 0)
                        check_wages(c, &q);
                }
    /* Hires happen now, so this month and year hold them. */
    int64_t now_m = month_of(time(NULL));
    char label[16];
    snprintf(label, sizeof label, "%04d-%02d", (int)(now_m / 12), (int)(now_m % 12) + 1);
    for (size_t ri = 0; ri < 5; ri++) {
        check_reemployment(c, label, now_m, now_m, region_prefixes[ri]);
        check_reemployment(c, "2025", 2025 * 12, 2025 * 12 + 11, region_prefixes[ri]);
        check_reemployment(c, "2026-Q1", 2026 * 12, 2026 * 12 + 2, region_prefixes[ri]);
    }
    uint64_t hires_now = 0;
    for (int i = 0; i < n_hires; i++)
        hires_now += month_of(hires[i].at) == now_m;
    cr_assert_gt(hires_now, 0);
    cr_assert_gt(flags_below, 0);
    cr_assert_gt(flags_above, 0);
}

Test(labour, every_figure_matches_a_brute_force_count, .timeout = 240)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    generate(c);
    check_everything(c);
    jt_expect_check_clean(c, "before the restart");
    /* The aggregates are stored, not rebuilt: the same after a restart. */
    cr_assert_eq(jt_daemon_restart(d), 0);
    jm_close(c);
    c = jt_connect_admin(d);
    check_everything(c);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* op answers args with one group, named group. */
static void
expect_one_group(jm_client_t *c, const char *op, const char *args, const char *group)
{
    jm_reply_t *r = jt_call_json(c, op, "%s", args);
    jt_expect_ok(r, op);
    const msgpack_object *groups = jt_need(&r->result, "groups");
    cr_assert_eq(groups->via.array.size, 1, "%s %s: %u groups", op, args, groups->via.array.size);
    cr_assert(jt_str_is(jt_need(&groups->via.array.ptr[0], "group"), group), "%s %s", op, args);
    jm_reply_free(r);
}

Test(labour, arguments_are_checked_and_kiosks_see_figures_only, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *admin = jt_connect_admin(d);
    put_json(admin, "vacancy.put", "vacancy",
             "{\"id\": \"v1\", \"employer\": \"E\", \"title\": \"T\", \"occupation\": "
             "\"6-05-02-03\", \"region\": \"110105\", \"wage_min\": 1000, \"wage_max\": 2000}");
    jm_client_t *kiosk = jt_connect(d);
    struct {
        const char *op, *args, *msg;
    } bad[] = {
        {"stats.supply_demand", "{}", "period: required"},
        {"stats.supply_demand", "{\"period\": \"2026-13\"}", "period: must be"},
        {"stats.supply_demand", "{\"period\": \"2026-Q5\"}", "period: must be"},
        {"stats.supply_demand", "{\"period\": \"0000\"}", "period: must be"},
        {"stats.supply_demand", "{\"period\": \"2026\", \"region\": \"11a\"}", "region"},
        {"stats.supply_demand", "{\"period\": \"2026\", \"by\": \"street\"}", "by: must be"},
        {"stats.supply_demand", "{\"period\": \"2026\", \"by\": \"major\", \"occupation\": \"6-05\"}",
         "by: must be an occupation level"},
        {"stats.wages", "{\"occupation\": \"6-5\"}", "occupation"},
        {"stats.wages", "{\"flag_limit\": 1001}", "flag_limit"},
        {"stats.reemployment", "{\"period\": 2026}", "period: must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jm_reply_t *r = jt_call_json(kiosk, bad[i].op, "%s", bad[i].args);
        jt_expect_error(r, "bad_request", bad[i].msg);
        jm_reply_free(r);
    }
    /* Without `by`, an occupation prefix groups at its own level. */
    expect_one_group(kiosk, "stats.supply_demand",
                     "{\"period\": \"2026\", \"occupation\": \"6-05\"}", "6-05");
    expect_one_group(kiosk, "stats.wages", "{\"occupation\": \"6-05-02\"}", "6-05-02");
    jm_reply_t *r = jt_call_json(kiosk, "stats.wages", "{}");
    jt_expect_ok(r, "kiosk wages");
    cr_assert_null(jt_get(&r->result, "below_p10"));
    cr_assert_null(jt_get(&r->result, "above_p90"));
    const msgpack_object *t = jt_need(&r->result, "total");
    cr_assert_eq(jt_get_int(t, "count"), 1);
    cr_assert_eq(jt_get_double(t, "p50"), 1500.0);
    jm_reply_free(r);
    r = jt_call_json(admin, "stats.wages", "{}");
    jt_expect_ok(r, "admin wages");
    cr_assert_not_null(jt_get(&r->result, "below_p10"));
    jm_reply_free(r);
    jm_close(kiosk);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(labour, hundreds_of_groups, .timeout = 60)
{
    /* More groups than the daemon's first group table holds, so the table
     * grows while wages and counts come in. */
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    enum { N = 300 };
    char buf[512];
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf,
                 "{\"id\": \"v%d\", \"employer\": \"E\", \"title\": \"T\", "
                 "\"occupation\": \"6-05-02-03\", \"region\": \"11%04d\", \"headcount\": %d, "
                 "\"wage_min\": %d, \"wage_max\": %d, \"posted\": 1767225600}",
                 i, i, 1 + i % 3, 1000 + 10 * i, 2000 + 10 * i);
        put_json(c, "vacancy.put", "vacancy", buf);
        snprintf(buf, sizeof buf,
                 "{\"id\": \"w%d\", \"birth_year\": 1990, \"region\": \"11%04d\", "
                 "\"wage_min\": %d, \"registered\": 1767225600}",
                 i, i, 3000 + 20 * i);
        put_json(c, "worker.put", "worker", buf);
    }
    jm_reply_t *r = jt_call_json(c, "stats.wages", "{\"by\": \"county\", \"flag_limit\": 1000}");
    jt_expect_ok(r, "stats.wages");
    const msgpack_object *g = jt_need(&r->result, "groups");
    cr_assert_eq(g->via.array.size, N);
    for (int i = 0; i < N; i++) {
        char key[8];
        snprintf(key, sizeof key, "11%04d", i);
        const msgpack_object *e = find_group(g, key);
        cr_assert_not_null(e, "group %s", key);
        cr_assert_eq(jt_get_int(e, "count"), 1);
        double mid = (3000 + 20 * i) / 2.0;
        cr_assert_eq(jt_get_double(e, "p10"), mid);
        cr_assert_eq(jt_get_double(e, "p90"), mid);
    }
    /* One wage per county: nothing below its own P10; a worker wishes
     * above its county's P90 when 3000 + 20i > 1500 + 10i, always. */
    cr_assert_eq(jt_need(&r->result, "below_p10")->via.array.size, 0);
    cr_assert_eq(jt_need(&r->result, "above_p90")->via.array.size, N);
    cr_assert_eq(jt_need(&r->result, "truncated")->via.boolean, false);
    jm_reply_free(r);
    /* Lists cut short say so, down to no entry at all. */
    for (int limit = 0; limit <= 1; limit++) {
        r = jt_call_json(c, "stats.wages", "{\"by\": \"county\", \"flag_limit\": %d}", limit);
        jt_expect_ok(r, "stats.wages");
        cr_assert_eq(jt_need(&r->result, "above_p90")->via.array.size, (uint32_t)limit);
        cr_assert_eq(jt_need(&r->result, "truncated")->via.boolean, true, "flag_limit %d", limit);
        jm_reply_free(r);
    }
    r = jt_call_json(c, "stats.supply_demand", "{\"period\": \"2026-01\", \"by\": \"county\"}");
    jt_expect_ok(r, "stats.supply_demand");
    g = jt_need(&r->result, "groups");
    cr_assert_eq(g->via.array.size, N);
    for (int i = 0; i < N; i += 37) {
        char key[8];
        snprintf(key, sizeof key, "11%04d", i);
        const msgpack_object *e = find_group(g, key);
        cr_assert_not_null(e);
        cr_assert_eq(jt_get_int(e, "openings"), 1 + i % 3);
        cr_assert_eq(jt_get_int(e, "applicants"), 1);
    }
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
