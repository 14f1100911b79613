/* test_labour.c - the labour-market aggregates and referrals in the index:
 * month numbers, counters that follow puts, replaces and deletes exactly,
 * wage postings walked by cell, referrals with their postings and hires,
 * and ix_check finding a damaged counter, posting or referral. */
#include <criterion/criterion.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"
#include "scratch.h"

static char dir[JT_SCRATCH_DIR_MAX];
static ix_env_t *env;

static void
setup(void)
{
    env = jt_scratch_new(dir, "ixlabour");
}

static void
teardown(void)
{
    jt_scratch_remove(env, dir);
    env = NULL;
}

TestSuite(labour, .init = setup, .fini = teardown);

Test(labour, month_numbers)
{
    cr_assert_eq(ix_month_of(0), 1970 * 12);
    cr_assert_eq(ix_month_of(1767225600), 2026 * 12);          /* 2026-01-01 00:00 */
    cr_assert_eq(ix_month_of(1767225599), 2025 * 12 + 11);     /* a second before */
    cr_assert_eq(ix_month_of(1772323200), 2026 * 12 + 2);      /* 2026-03-01 */
    cr_assert_eq(ix_month_of(1772323199), 2026 * 12 + 1);      /* 2026-02-28 23:59:59 */
    cr_assert_eq(ix_month_of(-1), 1969 * 12 + 11);
    cr_assert_eq(ix_month_of(-62135596800LL), 1 * 12);          /* 0001-01-01 */
    cr_assert_eq(ix_month_of(951782400), 2000 * 12 + 1);       /* 2000-02-29 */
}

/* A vacancy or worker doc with the fields the aggregates read. */
static int
put(const char *id, uint8_t kind, const char *region, const char *const *occ, uint32_t n_occ,
    int64_t since, uint32_t headcount, uint32_t wage_min, uint32_t wage_max, bool matchable,
    uint8_t category)
{
    uint32_t lens[4];
    for (uint32_t i = 0; i < n_occ; i++)
        lens[i] = (uint32_t)strlen(occ[i]);
    ix_doc_t d = {
        .kind = kind,
        .id = id,
        .id_len = (uint32_t)strlen(id),
        .occupations = occ,
        .occupation_lens = lens,
        .n_occupations = n_occ,
        .matchable = matchable,
        .category = category,
        .match = {.since = since, .headcount = headcount, .wage_min = wage_min,
                  .wage_max = wage_max},
        .value = "x",
        .value_len = 1,
    };
    memcpy(d.region, region, 6);
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    bool created;
    int rc = ix_put(t, &d, 0, &created);
    cr_assert_eq(ix_write_commit(t), 0);
    return rc;
}

typedef struct sum {
    uint64_t count, sum;
    uint32_t cells;
    char last_code[11];
} sum_t;

static int
add_cell(void *ctx, const ix_agg_cell_t *c)
{
    sum_t *s = ctx;
    s->count += c->count;
    s->sum += c->sum;
    s->cells++;
    snprintf(s->last_code, sizeof s->last_code, "%.*s", (int)c->code_len, c->code);
    return 0;
}

static sum_t
scan(uint8_t agg, int64_t from, int64_t to, uint8_t level, const char *region)
{
    sum_t s = {0};
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_agg_scan(t, agg, from, to, level, region, (uint32_t)strlen(region), add_cell,
                             &s),
                 0);
    ix_read_end(t);
    return s;
}

static void
expect_check(int want, const char *part)
{
    ix_txn_t *t;
    char rep[512];
    cr_assert_eq(ix_read_begin(env, &t), 0);
    int rc = ix_check(t, rep, sizeof rep);
    ix_read_end(t);
    cr_assert_eq(rc, want, "%s", rep);
    if (part)
        cr_assert_not_null(strstr(rep, part), "%s", rep);
}

#define JAN26 1767225600
#define M26 (2026 * 12)

Test(labour, counters_follow_puts_replaces_and_deletes)
{
    const char *weld[] = {"6-05-02-03"};
    const char *cook[] = {"4-03-02-01"};
    const char *wish[] = {"6-05", "6-05-02-03", "6-05-02-04"};
    cr_assert_eq(put("v1", IX_VACANCY, "440305", weld, 1, JAN26, 3, 6000, 9000, true, 0), 0);
    cr_assert_eq(put("v2", IX_VACANCY, "440306", cook, 1, JAN26, 2, 3000, 0, true, 0), 0);
    cr_assert_eq(put("w1", IX_WORKER, "440305", wish, 3, JAN26, 0, 5000, 0, true, 0), 0);
    cr_assert_eq(put("w2", IX_WORKER, "110105", NULL, 0, JAN26, 0, 0, 0, true, 2), 0);

    sum_t s = scan(IX_AGG_OPENINGS, M26, M26, 0, "44");
    cr_assert_eq(s.count, 2);
    cr_assert_eq(s.sum, 5);
    cr_assert_eq(scan(IX_AGG_OPENINGS, M26 + 1, M26 + 11, 0, "").count, 0);
    /* w1's codes reach the minor level in two groups, once each; w2 has
     * none and counts under the empty group. */
    cr_assert_eq(scan(IX_AGG_APPLICANTS, M26, M26, 7, "4403").count, 1);
    cr_assert_eq(scan(IX_AGG_APPLICANTS, M26, M26, 10, "4403").count, 2);
    cr_assert_eq(scan(IX_AGG_APPLICANTS, M26, M26, 4, "").count, 2);
    s = scan(IX_AGG_APPLICANTS, M26, M26, 1, "11");
    cr_assert_eq(s.count, 1);
    cr_assert_str_eq(s.last_code, "");
    cr_assert_eq(scan(IX_AGG_REGISTERED, M26, M26, 0, "").count, 2);
    /* Only v1 offers a wage (v2 is negotiable). */
    s = scan(IX_AGG_WAGES, 0, 0, 0, "");
    cr_assert_eq(s.count, 1);
    expect_check(0, NULL);

    /* Replace: v1 moves to another month and closes (no longer an offer);
     * a replace that changes nothing counted leaves every counter. */
    cr_assert_eq(put("v1", IX_VACANCY, "440305", weld, 1, JAN26 + 40 * 86400, 4, 6000, 9000,
                     false, 0),
                 0);
    cr_assert_eq(scan(IX_AGG_OPENINGS, M26, M26, 0, "").sum, 2);
    cr_assert_eq(scan(IX_AGG_OPENINGS, M26 + 1, M26 + 1, 0, "").sum, 4);
    cr_assert_eq(scan(IX_AGG_WAGES, 0, 0, 0, "").count, 0);
    cr_assert_eq(put("w2", IX_WORKER, "110105", NULL, 0, JAN26, 0, 0, 0, true, 2), 0);
    cr_assert_eq(scan(IX_AGG_REGISTERED, M26, M26, 0, "").count, 2);
    expect_check(0, NULL);

    /* Delete: everything the record counted goes. */
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_delete(t, IX_WORKER, "w1", 2, 0), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(scan(IX_AGG_APPLICANTS, M26, M26, 10, "").count, 1);
    cr_assert_eq(scan(IX_AGG_REGISTERED, M26, M26, 0, "44").count, 0);
    expect_check(0, NULL);

    ix_txn_t *r;
    cr_assert_eq(ix_read_begin(env, &r), 0);
    cr_assert_eq(ix_agg_scan(r, IX_AGG_APPLICANTS, M26, M26, 3, "", 0, add_cell, &s), -EINVAL);
    cr_assert_eq(ix_agg_scan(r, IX_AGG_OPENINGS, M26, M26, 0, "4x", 2, add_cell, &s), -EINVAL);
    ix_read_end(r);
}

typedef struct walk {
    uint32_t lo, hi;
    uint32_t cells, taken;
    uint32_t wages[16];
} walk_t;

static int
pick_all(void *ctx, const char region[6], const char *code, uint32_t len, uint32_t *lo,
         uint32_t *hi)
{
    walk_t *w = ctx;
    w->cells++;
    *lo = w->lo;
    *hi = w->hi;
    return 0;
}

static int
take(void *ctx, uint64_t docno, const char region[6], const char *code, uint32_t len,
     uint32_t wage2)
{
    walk_t *w = ctx;
    w->wages[w->taken++] = wage2;
    return 0;
}

Test(labour, wage_walk_visits_the_range_of_each_cell)
{
    const char *weld[] = {"6-05-02-03"};
    const char *cook[] = {"4-03-02-01"};
    char id[8];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "v%d", i);
        cr_assert_eq(put(id, IX_VACANCY, i % 2 ? "440305" : "440306", i < 3 ? weld : cook, 1,
                         JAN26, 1, 1000 * (uint32_t)i, 1000 * (uint32_t)i + 1000, true, 0),
                     0);
    }
    /* wage2 = min + max: 1000, 3000, 5000, ..., 11000. */
    walk_t w = {.lo = 3000, .hi = 9001};
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_wage_walk(t, IX_VACANCY, "44", 2, pick_all, take, &w), 0);
    ix_read_end(t);
    cr_assert_eq(w.cells, 4);   /* two codes in two counties */
    cr_assert_eq(w.taken, 4);   /* 3000, 5000, 7000, 9000 */
    uint32_t total = 0;
    for (uint32_t i = 0; i < w.taken; i++) {
        cr_assert(w.wages[i] >= 3000 && w.wages[i] < 9001);
        total += w.wages[i];
    }
    cr_assert_eq(total, 24000);
}

static int
put_referral(uint64_t refno, uint8_t status, bool hired, const char *worker, const char *vacancy)
{
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    ix_referral_t r = {.refno = refno, .status = status, .hired = hired, .hired_at = JAN26,
                       .category = 0, .worker = worker, .worker_len = (uint32_t)strlen(worker),
                       .vacancy = vacancy, .vacancy_len = (uint32_t)strlen(vacancy),
                       .value = "ref", .value_len = 3};
    memcpy(r.region, "440305", 6);
    int rc = 0;
    if (refno == 0) {
        cr_assert_eq(ix_referral_reserve(t, &r.refno), 0);
    }
    rc = ix_referral_put(t, &r);
    cr_assert_eq(ix_write_commit(t), 0);
    return rc;
}

typedef struct counter_edit {
    char tag;
    bool bump;
} counter_edit_t;

/* The first entry with the tag: its 16-byte value bumped, or deleted. */
static void
edit_first_tagged(MDB_txn *txn, MDB_dbi dbi, void *ctx)
{
    const counter_edit_t *ed = ctx;
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    uint8_t key = (uint8_t)ed->tag;
    k.mv_size = 1;
    k.mv_data = &key;
    cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), 0);
    cr_assert_eq(*(const uint8_t *)k.mv_data, (uint8_t)ed->tag);
    if (ed->bump) {
        uint8_t b[16];
        cr_assert_eq(v.mv_size, 16);
        memcpy(b, v.mv_data, 16);
        b[7]++;
        v.mv_data = b;
        cr_assert_eq(mdb_cursor_put(c, &k, &v, MDB_CURRENT), 0);
    } else {
        cr_assert_eq(mdb_cursor_del(c, 0), 0);
    }
    mdb_cursor_close(c);
}

static void
tamper(const char *dbname, char tag, bool bump)
{
    counter_edit_t ed = {tag, bump};
    jt_scratch_raw_edit(&env, dir, dbname, edit_first_tagged, &ed);
}

Test(labour, referrals_count_their_hires_and_keep_their_pair)
{
    cr_assert_eq(put_referral(0, 0, false, "w1", "v1"), 0);
    cr_assert_eq(scan(IX_AGG_HIRED, M26, M26, 0, "").count, 0);
    cr_assert_eq(put_referral(1, 2, true, "w1", "v1"), 0);
    cr_assert_eq(scan(IX_AGG_HIRED, M26, M26, 0, "4403").count, 1);
    /* Another pair under the same number, and a number never handed out. */
    cr_assert_eq(put_referral(1, 2, true, "w2", "v1"), -EINVAL);
    cr_assert_eq(put_referral(7, 0, false, "w1", "v1"), -EINVAL);
    ix_txn_t *t;
    ix_referral_t r;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_referral_get(t, 1, &r), 0);
    cr_assert_eq(r.status, 2);
    cr_assert(r.hired);
    cr_assert_eq(r.worker_len, 2);
    cr_assert_eq(memcmp(r.value, "ref", 3), 0);
    cr_assert_eq(ix_referral_get(t, 2, &r), -ENOENT);
    ix_read_end(t);
    expect_check(0, NULL);
}

Test(labour, check_finds_a_wrong_counter)
{
    const char *weld[] = {"6-05-02-03"};
    cr_assert_eq(put("v1", IX_VACANCY, "440305", weld, 1, JAN26, 3, 6000, 9000, true, 0), 0);
    expect_check(0, NULL);
    tamper("stats", 'O', true);
    expect_check(-EUCLEAN, "stats counter 'O'");
}

Test(labour, check_finds_a_missing_wage_posting)
{
    const char *weld[] = {"6-05-02-03"};
    cr_assert_eq(put("v1", IX_VACANCY, "440305", weld, 1, JAN26, 3, 6000, 9000, true, 0), 0);
    tamper("stats", 'v', false);
    expect_check(-EUCLEAN, "missing stats posting 'v'");
}

Test(labour, check_finds_a_missing_referral_posting)
{
    cr_assert_eq(put_referral(0, 0, false, "w1", "v1"), 0);
    tamper("referrals", 's', false);
    expect_check(-EUCLEAN, "missing status posting of referral 1");
}

/* Referral 1's record claims a worker id of 100 bytes (present: the
 * record grows by them), more than an id may have. The record is a
 * 20-byte header, with the worker's and the vacancy's id lengths at 18
 * and 19, then the ids and the value (index/referral.c). */
static void
lengthen_referral_worker(MDB_txn *txn, MDB_dbi dbi, void *ctx)
{
    (void)ctx;
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    uint8_t tag = 'r';
    k = (MDB_val){1, &tag};
    cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), 0);
    const uint8_t *old = v.mv_data;
    uint8_t rec[256];
    size_t wl = old[18], rest = v.mv_size - 20 - wl;
    memcpy(rec, old, 20);
    rec[18] = 100;
    memset(rec + 20, 'x', 100);
    memcpy(rec + 120, old + 20 + wl, rest);
    MDB_val nv = {120 + rest, rec};
    cr_assert_eq(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
    mdb_cursor_close(c);
}

Test(labour, check_finds_a_referral_whose_worker_id_is_too_long)
{
    /* Its postings' keys are rebuilt from the record's ids: one longer
     * than an id would not fit. */
    cr_assert_eq(put_referral(0, 0, false, "w1", "v1"), 0);
    jt_scratch_raw_edit(&env, dir, "referrals", lengthen_referral_worker, NULL);
    expect_check(-EUCLEAN, "malformed referral record");
    ix_txn_t *t;
    ix_referral_t r;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_referral_get(t, 1, &r), -EIO);
    ix_read_end(t);
}

/* One transaction of many records whose counters both repeat (few cells)
 * and overflow the pending table (more distinct cells than it holds
 * before it flushes early), with replaces and deletes inside it. */
Test(labour, one_big_transaction_counts_like_many_small_ones, .timeout = 60)
{
    const char *wish[] = {"6", "6-05-02", "2-02-01-05"};
    const char *weld[] = {"6-05-02-03"};
    enum { N = 20000 };
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    char id[16], region[8];
    for (int i = 0; i < N; i++) {
        uint32_t lens[3] = {1, 7, 10};
        snprintf(id, sizeof id, "w%d", i);
        snprintf(region, sizeof region, "%02d%04d", 11 + i / 10000, i % 10000);
        ix_doc_t d = {
            .kind = IX_WORKER, .id = id, .id_len = (uint32_t)strlen(id),
            .occupations = wish, .occupation_lens = lens, .n_occupations = 3,
            .matchable = true, .category = (uint8_t)(i % 5),
            .match = {.since = JAN26 + (int64_t)(i % 300) * 86400, .wage_min = 3000},
            .value = "x", .value_len = 1,
        };
        memcpy(d.region, region, 6);
        bool created;
        cr_assert_eq(ix_put(t, &d, 0, &created), 0);
        if (i % 4 == 0) {   /* replaced in the same transaction: another category */
            d.category = (uint8_t)((i + 1) % 5);
            cr_assert_eq(ix_put(t, &d, 0, &created), 0);
        }
        if (i % 7 == 0)
            cr_assert_eq(ix_delete(t, IX_WORKER, id, (uint32_t)strlen(id), 0), 0);
    }
    uint32_t lens1[1] = {10};
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof id, "v%d", i);
        ix_doc_t d = {
            .kind = IX_VACANCY, .id = id, .id_len = (uint32_t)strlen(id),
            .occupations = weld, .occupation_lens = lens1, .n_occupations = 1,
            .matchable = true, .match = {.since = JAN26, .headcount = 2, .wage_min = 4000,
                                         .wage_max = 5000 + (uint32_t)(i % 10) * 100},
            .value = "x", .value_len = 1,
        };
        memcpy(d.region, "440305", 6);
        bool created;
        cr_assert_eq(ix_put(t, &d, 0, &created), 0);
    }
    /* A read of the aggregates inside the transaction sees its writes. */
    sum_t s = {0};
    cr_assert_eq(ix_agg_scan(t, IX_AGG_OPENINGS, M26, M26, 0, "", 0, add_cell, &s), 0);
    cr_assert_eq(s.sum, 1000);
    cr_assert_eq(ix_write_commit(t), 0);

    uint64_t kept = 0;
    for (int i = 0; i < N; i++)
        kept += i % 7 != 0;
    uint64_t registered = 0;
    for (int64_t m = M26; m < M26 + 12; m++)
        registered += scan(IX_AGG_REGISTERED, m, m, 0, "").count;
    cr_assert_eq(registered, kept);
    /* Each kept worker is in two groups at the major, middle and minor
     * levels (6 and 2, ...) and one at the detail level (2-02-01-05). */
    cr_assert_eq(scan(IX_AGG_APPLICANTS, M26, M26 + 11, 1, "").count, 2 * kept);
    cr_assert_eq(scan(IX_AGG_APPLICANTS, M26, M26 + 11, 4, "").count, 2 * kept);
    cr_assert_eq(scan(IX_AGG_APPLICANTS, M26, M26 + 11, 7, "").count, 2 * kept);
    cr_assert_eq(scan(IX_AGG_APPLICANTS, M26, M26 + 11, 10, "").count, kept);
    cr_assert_eq(scan(IX_AGG_WAGES, 0, 0, 0, "").count, 500);
    expect_check(0, NULL);
}
