/* test_list.c - ix_list: every filter alone and combined against a brute
 * force answer, paging with small limits (each record exactly once, in a
 * stable order), the occupation prefix rules for workers, cursor
 * rejection, max_scan and the end-of-listing signal.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"
#include "scratch.h"

static char dir[JT_SCRATCH_DIR_MAX];
static ix_env_t *env;

#define NDOCS 90

typedef struct rec {
    uint8_t kind;
    char id[16];
    char region[7];
    int nocc;
    const char *occ[4];
    uint8_t status, category;
    uint8_t priority;  /* vacancy: bit (1 << category) per category */
    bool live;
} rec_t;

static rec_t recs[NDOCS];

static const char *regions[] = {"110105", "110108", "110201", "120101",
                                "440305"};
static const char *codes[] = {"6",          "6-05",       "6-05-02",
                              "6-05-02-03", "6-05-02-04", "6-06-01-01",
                              "2-02-01-01", "2-02",       "4-01-02-04"};
#define NCODES (sizeof codes / sizeof codes[0])

static int
put_rec(ix_txn_t *t, rec_t *r)
{
    uint32_t ol[4];
    for (int i = 0; i < r->nocc; i++)
        ol[i] = (uint32_t)strlen(r->occ[i]);
    ix_doc_t d = {
        .kind = r->kind,
        .id = r->id,
        .id_len = (uint32_t)strlen(r->id),
        .occupations = r->occ,
        .occupation_lens = ol,
        .n_occupations = (uint32_t)r->nocc,
        .status = r->status,
        .matchable = r->status == 0,
        .category = r->category,
        .match = {.priority_mask = r->priority},
        .value = "v",
        .value_len = 1,
    };
    memcpy(d.region, r->region, 6);
    return ix_put(t, &d, 0, NULL);
}

static void
setup(void)
{
    env = jt_scratch_new(dir, "ixlist");
    srand(11);
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    for (int i = 0; i < NDOCS; i++) {
        rec_t *r = &recs[i];
        memset(r, 0, sizeof *r);
        r->live = true;
        r->kind = i % 3 == 0 ? IX_VACANCY : IX_WORKER;
        /* Ids are put in scrambled order so id order differs from docno
         * order. */
        snprintf(r->id, sizeof r->id, "%c%02d", r->kind == IX_VACANCY ? 'v'
                                                                      : 'w',
                 (i * 37) % NDOCS);
        strcpy(r->region, regions[rand() % 5]);
        r->status = (uint8_t)(rand() % 3);
        if (r->kind == IX_VACANCY) {
            r->nocc = 1;
            r->occ[0] = codes[3 + rand() % 6];
            while (strlen(r->occ[0]) != 10)
                r->occ[0] = codes[rand() % NCODES];
            r->priority = (uint8_t)(rand() % 32);
        } else {
            r->category = (uint8_t)(rand() % 5);
            r->nocc = rand() % 5;
            for (int j = 0; j < r->nocc; j++) {
                int dup;
                do {
                    r->occ[j] = codes[rand() % NCODES];
                    dup = 0;
                    for (int k = 0; k < j; k++)
                        dup |= r->occ[k] == r->occ[j];
                } while (dup);
            }
        }
        cr_assert_eq(put_rec(t, r), 0);
    }
    cr_assert_eq(ix_write_commit(t), 0);
}

static void
teardown(void)
{
    jt_scratch_remove(env, dir);
    env = NULL;
}

TestSuite(list, .init = setup, .fini = teardown);

typedef struct filt {
    uint8_t kind;
    const char *region;
    const char *occ;
    int status, category;
} filt_t;

static bool
matches(const rec_t *r, const filt_t *f)
{
    if (!r->live || r->kind != f->kind)
        return false;
    if (f->region && strncmp(r->region, f->region, strlen(f->region)) != 0)
        return false;
    if (f->status >= 0 && r->status != f->status)
        return false;
    if (f->category >= 0 &&
        (r->kind == IX_VACANCY ? !(r->priority & (1u << f->category))
                               : r->category != f->category))
        return false;
    if (f->occ) {
        bool any = false;
        for (int i = 0; i < r->nocc; i++)
            any |= strncmp(r->occ[i], f->occ, strlen(f->occ)) == 0;
        if (!any)
            return false;
    }
    return true;
}

typedef struct got {
    char ids[NDOCS * 2][16];
    int n;
    int pages;
    int max_page;
} got_t;

static int
collect_cb(void *ctx, const ix_record_t *r)
{
    got_t *g = ctx;
    cr_assert_lt(g->n, NDOCS * 2);
    snprintf(g->ids[g->n++], 16, "%.*s", (int)r->id_len, r->id);
    return 0;
}

static ix_list_query_t
to_query(const filt_t *f, uint32_t limit, uint32_t max_scan)
{
    ix_list_query_t q = {
        .kind = f->kind,
        .region_prefix = f->region,
        .region_prefix_len = f->region ? (uint32_t)strlen(f->region) : 0,
        .occupation_prefix = f->occ,
        .occupation_prefix_len = f->occ ? (uint32_t)strlen(f->occ) : 0,
        .status = f->status,
        .category = f->category,
        .limit = limit,
        .max_scan = max_scan,
    };
    return q;
}

/* Pages through a whole listing. */
static void
list_all(const filt_t *f, uint32_t limit, uint32_t max_scan, got_t *g)
{
    memset(g, 0, sizeof *g);
    uint8_t cur[IX_CURSOR_MAX];
    size_t cur_len = 0;
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    for (;;) {
        ix_list_query_t q = to_query(f, limit, max_scan);
        q.cursor = cur_len ? cur : NULL;
        q.cursor_len = cur_len;
        uint8_t next[IX_CURSOR_MAX];
        size_t next_len = 99;
        int before = g->n;
        cr_assert_eq(ix_list(t, &q, collect_cb, g, next, &next_len), 0);
        g->pages++;
        cr_assert_leq(g->n - before, (int)limit);
        if (g->n - before > g->max_page)
            g->max_page = g->n - before;
        cr_assert_lt(g->pages, 1000, "listing does not end");
        if (next_len == 0)
            break;
        cr_assert_leq(next_len, IX_CURSOR_MAX);
        memcpy(cur, next, next_len);
        cur_len = next_len;
    }
    ix_read_end(t);
}

static int
strp_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The listing holds exactly the matching records, each once. */
static void
assert_listing(const filt_t *f, uint32_t limit, uint32_t max_scan)
{
    got_t g;
    list_all(f, limit, max_scan, &g);
    char want[NDOCS][16];
    int nw = 0;
    for (int i = 0; i < NDOCS; i++)
        if (matches(&recs[i], f))
            strcpy(want[nw++], recs[i].id);
    static char sorted[NDOCS * 2][16];
    memcpy(sorted, g.ids, sizeof g.ids);
    qsort(sorted, (size_t)g.n, 16, strp_cmp);
    qsort(want, (size_t)nw, 16, strp_cmp);
    for (int i = 1; i < g.n; i++)
        cr_assert(strcmp(sorted[i - 1], sorted[i]) != 0,
                  "%s listed twice (region %s occ %s status %d cat %d)",
                  sorted[i], f->region ? f->region : "-",
                  f->occ ? f->occ : "-", f->status, f->category);
    cr_assert_eq(g.n, nw,
                 "listed %d, want %d (kind %c region %s occ %s status %d "
                 "cat %d limit %u)",
                 g.n, nw, f->kind, f->region ? f->region : "-",
                 f->occ ? f->occ : "-", f->status, f->category, limit);
    for (int i = 0; i < nw; i++)
        cr_assert_str_eq(sorted[i], want[i]);
}

Test(list, no_filter_is_id_order)
{
    for (uint32_t limit = 1; limit <= 8; limit++) {
        filt_t f = {IX_WORKER, NULL, NULL, -1, -1};
        got_t g;
        list_all(&f, limit, 0, &g);
        cr_assert_eq(g.n, NDOCS - NDOCS / 3);
        for (int i = 1; i < g.n; i++)
            cr_assert_lt(strcmp(g.ids[i - 1], g.ids[i]), 0, "id order");
        assert_listing(&f, limit, 0);
    }
    filt_t v = {IX_VACANCY, NULL, NULL, -1, -1};
    assert_listing(&v, 1000, 0);
}

Test(list, every_filter_alone_and_combined)
{
    const char *rp[] = {NULL, "1", "11", "1101", "110105", "44", "9"};
    const char *op[] = {NULL, "6", "6-05", "6-05-02", "6-05-02-03", "2-02",
                        "4", "7"};
    for (int k = 0; k < 2; k++)
        for (size_t r = 0; r < sizeof rp / sizeof rp[0]; r++)
            for (size_t o = 0; o < sizeof op / sizeof op[0]; o++)
                for (int s = -1; s < 3; s++)
                    for (int c = -1; c < 5; c += 2) {
                        filt_t f = {k ? IX_WORKER : IX_VACANCY, rp[r], op[o],
                                    s, c};
                        assert_listing(&f, 3, 0);
                    }
}

Test(list, paging_with_many_limits)
{
    filt_t fs[] = {
        {IX_WORKER, "11", NULL, -1, -1},  {IX_WORKER, NULL, "6", -1, -1},
        {IX_WORKER, NULL, NULL, 0, -1},   {IX_WORKER, NULL, NULL, -1, 2},
        {IX_VACANCY, NULL, "6-05", -1, -1}, {IX_VACANCY, NULL, NULL, -1, 0},
        {IX_VACANCY, NULL, NULL, 1, 3},
    };
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++)
        for (uint32_t limit = 1; limit <= 12; limit += 1) {
            assert_listing(&fs[i], limit, 0);
            /* Pages of one scanned entry each still cover everything. */
            assert_listing(&fs[i], limit, 1);
            assert_listing(&fs[i], limit, 3);
        }
}

Test(list, worker_occupation_prefix_rules)
{
    ix_txn_t *t;
    rec_t a = {.kind = IX_WORKER, .id = "zz-a", .region = "999999",
               .nocc = 1, .occ = {"6-05"}, .live = true};
    rec_t b = {.kind = IX_WORKER, .id = "zz-b", .region = "999999",
               .nocc = 3, .occ = {"6-05-02-03", "6-05", "6"}, .live = true};
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(put_rec(t, &a), 0);
    cr_assert_eq(put_rec(t, &b), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    struct {
        const char *occ;
        bool a, b;
    } cases[] = {
        {"6", true, true},        {"6-05", true, true},
        {"6-05-02", false, true}, {"6-05-02-03", false, true},
        {"6-05-02-04", false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        filt_t f = {IX_WORKER, "999999", cases[i].occ, -1, -1};
        got_t g;
        list_all(&f, 1, 0, &g);
        bool ga = false, gb = false;
        for (int j = 0; j < g.n; j++) {
            ga |= strcmp(g.ids[j], "zz-a") == 0;
            gb |= strcmp(g.ids[j], "zz-b") == 0;
        }
        cr_assert_eq(ga, cases[i].a, "%s vs 6-05", cases[i].occ);
        cr_assert_eq(gb, cases[i].b, "%s vs b", cases[i].occ);
        cr_assert_eq(g.n, (int)cases[i].a + (int)cases[i].b,
                     "once each for %s", cases[i].occ);
        /* The same through the occupation scan (no region filter). */
        filt_t fo = {IX_WORKER, NULL, cases[i].occ, -1, -1};
        list_all(&fo, 2, 0, &g);
        int na = 0, nb = 0;
        for (int j = 0; j < g.n; j++) {
            na += strcmp(g.ids[j], "zz-a") == 0;
            nb += strcmp(g.ids[j], "zz-b") == 0;
        }
        cr_assert_eq(na, cases[i].a);
        cr_assert_eq(nb, cases[i].b, "b appears once for %s", cases[i].occ);
    }
}

static int
count_cb(void *ctx, const ix_record_t *r)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

Test(list, rejects_foreign_and_malformed_cursors)
{
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    filt_t fr = {IX_WORKER, "11", NULL, -1, -1};
    ix_list_query_t q = to_query(&fr, 1, 0);
    uint8_t cur[IX_CURSOR_MAX], next[IX_CURSOR_MAX];
    size_t cl, nl;
    int n = 0;
    cr_assert_eq(ix_list(t, &q, count_cb, &n, cur, &cl), 0);
    cr_assert_gt(cl, 0);
    cr_assert_eq(n, 1);

    /* The same cursor resumes the same listing. */
    q.cursor = cur;
    q.cursor_len = cl;
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), 0);
    cr_assert_eq(n, 2);

    /* Another scan, another filter value, another kind: rejected. */
    filt_t others[] = {
        {IX_WORKER, NULL, NULL, 0, -1},
        {IX_WORKER, "12", NULL, -1, -1},
        {IX_WORKER, "11", NULL, 1, -1},
        {IX_WORKER, "11", "6", -1, -1},
        {IX_VACANCY, "11", NULL, -1, -1},
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        ix_list_query_t o = to_query(&others[i], 5, 0);
        o.cursor = cur;
        o.cursor_len = cl;
        cr_assert_eq(ix_list(t, &o, count_cb, &n, next, &nl), -EINVAL,
                     "foreign cursor %zu", i);
    }
    /* Truncated, extended, corrupted. */
    q.cursor_len = cl - 1;
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), -EINVAL);
    q.cursor_len = 3;
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), -EINVAL);
    uint8_t longer[IX_CURSOR_MAX + 1];
    memcpy(longer, cur, cl);
    longer[cl] = 0;
    q.cursor = longer;
    q.cursor_len = cl + 1;
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), -EINVAL);
    memcpy(longer, cur, cl);
    longer[0] ^= 1;
    q.cursor_len = cl;
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), -EINVAL);
    memcpy(longer, cur, cl);
    longer[6] = 'V';   /* key now names the other kind */
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), -EINVAL);
    q.cursor_len = IX_CURSOR_MAX + 10;
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), -EINVAL);
    /* Bad queries. */
    ix_list_query_t bad = to_query(&fr, 0, 0);
    cr_assert_eq(ix_list(t, &bad, count_cb, &n, next, &nl), -EINVAL);
    bad = to_query(&fr, 1, 0);
    bad.region_prefix_len = 7;
    cr_assert_eq(ix_list(t, &bad, count_cb, &n, next, &nl), -EINVAL);
    bad = to_query(&fr, 1, 0);
    bad.kind = 'Q';
    cr_assert_eq(ix_list(t, &bad, count_cb, &n, next, &nl), -EINVAL);
    ix_read_end(t);
}

Test(list, max_scan_bounds_a_page)
{
    /* Status 1 workers through the status scan, with a region filter
     * checked on headers: a page examines at most max_scan entries. */
    filt_t f = {IX_WORKER, NULL, NULL, 1, -1};
    got_t g;
    list_all(&f, 100, 2, &g);
    cr_assert_leq(g.max_page, 2);
    int nw = 0;
    for (int i = 0; i < NDOCS; i++)
        nw += matches(&recs[i], &f);
    cr_assert_eq(g.n, nw);
    cr_assert_geq(g.pages, (nw + 1) / 2);
    /* max_scan 1 stops a page after one entry even when limit allows
     * more, and leaves a cursor. */
    filt_t sel = {IX_WORKER, NULL, NULL, -1, -1};
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    ix_list_query_t q = to_query(&sel, 5, 1);
    uint8_t next[IX_CURSOR_MAX];
    size_t nl;
    int n = 0;
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), 0);
    cr_assert_eq(n, 1);
    cr_assert_gt(nl, 0);
    ix_read_end(t);
}

Test(list, end_is_signalled_exactly)
{
    filt_t f = {IX_VACANCY, NULL, NULL, -1, -1};
    int total = 0;
    for (int i = 0; i < NDOCS; i++)
        total += matches(&recs[i], &f);
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    uint8_t next[IX_CURSOR_MAX];
    size_t nl = 7;
    int n = 0;
    ix_list_query_t q = to_query(&f, (uint32_t)total, 0);
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), 0);
    cr_assert_eq(n, total);
    cr_assert_eq(nl, 0, "a page ending at the last record ends the listing");
    n = 0;
    q.limit = (uint32_t)total - 1;
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), 0);
    cr_assert_gt(nl, 0);
    /* An empty result. */
    filt_t none = {IX_VACANCY, "999", NULL, -1, -1};
    q = to_query(&none, 10, 0);
    n = 0;
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(nl, 0);
    ix_read_end(t);
}

static int
stop_cb(void *ctx, const ix_record_t *r)
{
    (void)r;
    return ++*(int *)ctx == 2 ? 1 : 0;
}

Test(list, resumes_after_changes_and_early_stop)
{
    filt_t f = {IX_WORKER, NULL, "6", -1, -1};
    ix_txn_t *t;
    uint8_t cur[IX_CURSOR_MAX];
    size_t cl;
    got_t g;
    memset(&g, 0, sizeof g);
    cr_assert_eq(ix_read_begin(env, &t), 0);
    ix_list_query_t q = to_query(&f, 3, 0);
    cr_assert_eq(ix_list(t, &q, collect_cb, &g, cur, &cl), 0);
    cr_assert_eq(g.n, 3);
    ix_read_end(t);
    /* Delete the last record listed; the cursor still resumes after it. */
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_delete(t, IX_WORKER, g.ids[2],
                           (uint32_t)strlen(g.ids[2]), 0), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    for (int i = 0; i < NDOCS; i++)
        if (strcmp(recs[i].id, g.ids[2]) == 0)
            recs[i].live = false;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    for (;;) {
        q.cursor = cur;
        q.cursor_len = cl;
        cr_assert_eq(ix_list(t, &q, collect_cb, &g, cur, &cl), 0);
        if (cl == 0)
            break;
    }
    int nw = 0;
    for (int i = 0; i < NDOCS; i++)
        nw += matches(&recs[i], &f);
    cr_assert_eq(g.n, nw + 1, "the deleted one was listed before");
    /* A callback that stops early leaves a cursor after its record. */
    int n = 0;
    q = to_query(&f, 10, 0);
    cr_assert_eq(ix_list(t, &q, stop_cb, &n, cur, &cl), 0);
    cr_assert_eq(n, 2);
    cr_assert_gt(cl, 0);
    memset(&g, 0, sizeof g);
    q.cursor = cur;
    q.cursor_len = cl;
    q.limit = 1;
    cr_assert_eq(ix_list(t, &q, collect_cb, &g, cur, &cl), 0);
    got_t all;
    ix_read_end(t);
    list_all(&f, 100, 0, &all);
    cr_assert_str_eq(g.ids[0], all.ids[2]);
}

Test(list, write_transaction_sees_its_own_changes)
{
    ix_txn_t *t;
    rec_t a = {.kind = IX_WORKER, .id = "zz-new", .region = "777777",
               .nocc = 1, .occ = {"6-05"}, .live = true};
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(put_rec(t, &a), 0);
    filt_t f = {IX_WORKER, "777", NULL, -1, -1};
    ix_list_query_t q = to_query(&f, 10, 0);
    uint8_t next[IX_CURSOR_MAX];
    size_t nl;
    int n = 0;
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), 0);
    cr_assert_eq(n, 1, "queued postings are applied before listing");
    /* Moved away and back within the same transaction. */
    strcpy(a.region, "888888");
    cr_assert_eq(put_rec(t, &a), 0);
    strcpy(a.region, "777777");
    cr_assert_eq(put_rec(t, &a), 0);
    cr_assert_eq(ix_delete(t, IX_WORKER, "w00", 3, 0) == 0 ||
                     ix_delete(t, IX_WORKER, "w01", 3, 0) == 0,
                 1);
    n = 0;
    cr_assert_eq(ix_list(t, &q, count_cb, &n, next, &nl), 0);
    cr_assert_eq(n, 1);
    char rep[256];
    cr_assert_eq(ix_check(t, rep, sizeof rep), 0, "%s", rep);
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_check(t, rep, sizeof rep), 0, "%s", rep);
    ix_read_end(t);
}
