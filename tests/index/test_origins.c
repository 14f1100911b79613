/* test_origins.c - the counts per origin node and the copies' openings:
 * after random puts, replaces and deletes of vacancies from a few origins
 * (some of them copies), spread over several transactions, ix_origins,
 * ix_origin_df and the IX_AGG_COPY_OPENINGS cells equal a brute-force
 * count over the model, they add up to the whole store's counters, they
 * survive a reopen, and ix_check finds the store clean (and notices a
 * counter per origin that is wrong).
 */
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
    env = jt_scratch_new(dir, "ixorigin");
}

static void
teardown(void)
{
    jt_scratch_remove(env, dir);
}

#define NIDS 40
#define NSKILLS 6
#define NORIGINS 4

static const char *skills[NSKILLS] = {"weld", "cook", "drive", "sew", "c", "a.b/c"};
/* "" = no origin recorded (a node's own vacancy of old). */
static const char *origins[NORIGINS] = {"", "city-440300", "city-440100", "province-44"};

typedef struct mvac {
    bool live;
    bool open;
    bool copy;
    int origin;
    int headcount;
    int64_t posted;
    bool has[NSKILLS];
} mvac_t;

static mvac_t model[NIDS];

static void
put_random(ix_txn_t *t, int i)
{
    mvac_t *m = &model[i];
    m->live = true;
    m->open = rand() % 4 != 0;
    m->origin = rand() % NORIGINS;
    m->copy = m->origin >= 2 && rand() % 3 != 0;
    m->headcount = 1 + rand() % 5;
    m->posted = 1767225600 + (int64_t)(rand() % 3) * 31 * 86400; /* 2026-01..03 */
    ix_skill_t sk[NSKILLS];
    uint32_t n = 0;
    for (int s = 0; s < NSKILLS; s++) {
        m->has[s] = rand() % 2;
        if (m->has[s])
            sk[n++] = (ix_skill_t){skills[s], (uint32_t)strlen(skills[s]), 3};
    }
    char id[16];
    snprintf(id, sizeof id, "v-%02d", i);
    const char *occ = "6-05-02-03";
    uint32_t occ_len = 10;
    ix_doc_t d = {
        .kind = IX_VACANCY,
        .id = id,
        .id_len = (uint32_t)strlen(id),
        .region = {'4', '4', '0', '3', '0', '5'},
        .occupations = &occ,
        .occupation_lens = &occ_len,
        .n_occupations = 1,
        .status = m->open ? 1 : 2,
        .matchable = m->open,
        .skills = sk,
        .n_skills = n,
        .match = {.since = m->posted, .headcount = (uint32_t)m->headcount},
        .origin = origins[m->origin],
        .origin_len = (uint32_t)strlen(origins[m->origin]),
        .copy = m->copy,
        .value = "x",
        .value_len = 1,
    };
    cr_assert_eq(ix_put(t, &d, 0, NULL), 0);
}

static void
churn(int rounds)
{
    for (int r = 0; r < rounds; r++) {
        ix_txn_t *t;
        cr_assert_eq(ix_write_begin(env, &t), 0);
        for (int k = 0; k < 25; k++) {
            int i = rand() % NIDS;
            if (model[i].live && rand() % 4 == 0) {
                char id[16];
                snprintf(id, sizeof id, "v-%02d", i);
                cr_assert_eq(ix_delete(t, IX_VACANCY, id, (uint32_t)strlen(id), 0), 0);
                model[i].live = false;
            } else {
                put_random(t, i);
            }
        }
        cr_assert_eq(ix_write_commit(t), 0);
    }
}

typedef struct seen {
    uint64_t open[NORIGINS];
    int calls;
    bool unknown;
} seen_t;

static int
on_origin(void *ctx, const char *o, uint32_t len, uint64_t open)
{
    seen_t *s = ctx;
    s->calls++;
    for (int i = 0; i < NORIGINS; i++)
        if (strlen(origins[i]) == len && memcmp(origins[i], o, len) == 0) {
            s->open[i] = open;
            return 0;
        }
    s->unknown = true;
    return 0;
}

typedef struct copies {
    uint64_t count[3], sum[3];
} copies_t;

static int
on_copy_cell(void *ctx, const ix_agg_cell_t *c)
{
    copies_t *x = ctx;
    int m = (int)(c->month - (2026 * 12));
    cr_assert(m >= 0 && m < 3, "month %lld", (long long)c->month);
    x->count[m] += c->count;
    x->sum[m] += c->sum;
    return 0;
}

static void
verify(void)
{
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    uint64_t want_open[NORIGINS] = {0}, want_df[NORIGINS][NSKILLS] = {{0}};
    copies_t want_copies = {{0}, {0}};
    for (int i = 0; i < NIDS; i++) {
        const mvac_t *m = &model[i];
        if (!m->live)
            continue;
        if (m->copy) {
            int month = (int)((m->posted - 1767225600) / (31 * 86400));
            want_copies.count[month]++;
            want_copies.sum[month] += (uint64_t)m->headcount;
        }
        if (!m->open)
            continue;
        want_open[m->origin]++;
        for (int s = 0; s < NSKILLS; s++)
            want_df[m->origin][s] += m->has[s];
    }
    seen_t seen = {{0}, 0, false};
    cr_assert_eq(ix_origins(t, on_origin, &seen), 0);
    cr_assert(!seen.unknown);
    int nonzero = 0;
    uint64_t sum_open = 0;
    for (int o = 0; o < NORIGINS; o++) {
        nonzero += want_open[o] > 0;
        sum_open += seen.open[o];
        cr_assert_eq(seen.open[o], want_open[o], "origin '%s': %llu open, want %llu",
                     origins[o], (unsigned long long)seen.open[o],
                     (unsigned long long)want_open[o]);
    }
    cr_assert_eq(seen.calls, nonzero, "an origin with no open vacancy is listed");
    ix_stats_t st;
    cr_assert_eq(ix_stats(t, &st), 0);
    cr_assert_eq(sum_open, st.vacancies_open);
    for (int s = 0; s < NSKILLS; s++) {
        uint64_t sum = 0, all;
        for (int o = 0; o < NORIGINS; o++) {
            uint64_t df;
            cr_assert_eq(ix_origin_df(t, origins[o], (uint32_t)strlen(origins[o]), skills[s],
                                      (uint32_t)strlen(skills[s]), &df), 0);
            cr_assert_eq(df, want_df[o][s], "df of %s at '%s'", skills[s], origins[o]);
            sum += df;
        }
        cr_assert_eq(ix_skill_df(t, IX_VACANCY, skills[s], (uint32_t)strlen(skills[s]), &all), 0);
        cr_assert_eq(sum, all);
    }
    copies_t got = {{0}, {0}};
    cr_assert_eq(ix_agg_scan(t, IX_AGG_COPY_OPENINGS, 2026 * 12, 2026 * 12 + 2, 0, "44", 2,
                             on_copy_cell, &got), 0);
    for (int m = 0; m < 3; m++) {
        cr_assert_eq(got.count[m], want_copies.count[m], "copies in month %d", m);
        cr_assert_eq(got.sum[m], want_copies.sum[m], "copies' headcount in month %d", m);
    }
    char rep[512];
    cr_assert_eq(ix_check(t, rep, sizeof rep), 0, "ix_check: %s", rep);
    ix_read_end(t);
}

TestSuite(origins, .init = setup, .fini = teardown);

Test(origins, counts_per_origin_follow_every_change)
{
    srand(7);
    memset(model, 0, sizeof model);
    for (int step = 0; step < 8; step++) {
        churn(3);
        verify();
    }
    ix_close(env);
    env = jt_scratch_open(dir);
    verify();
}

Test(origins, a_stored_origin_reads_back_and_a_bad_one_is_refused)
{
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    ix_doc_t d = {
        .kind = IX_VACANCY, .id = "v-1", .id_len = 3,
        .region = {'4', '4', '0', '3', '0', '5'},
        .status = 1, .matchable = true,
        .origin = "city-440300", .origin_len = 11, .copy = true,
        .value = "x", .value_len = 1,
    };
    cr_assert_eq(ix_put(t, &d, 0, NULL), 0);
    ix_record_t rec;
    cr_assert_eq(ix_get(t, IX_VACANCY, "v-1", 3, &rec), 0);
    cr_assert_eq(rec.origin_len, 11);
    cr_assert(memcmp(rec.origin, "city-440300", 11) == 0);
    cr_assert(rec.copy);
    cr_assert_eq(rec.value_len, 1);
    cr_assert_eq(((const char *)rec.value)[0], 'x');
    ix_doc_t bad = d;
    bad.origin = "a\0b";
    bad.origin_len = 3;
    cr_assert_eq(ix_put(t, &bad, 0, NULL), -EINVAL);
    bad = d;
    bad.kind = IX_WORKER;
    cr_assert_eq(ix_put(t, &bad, 0, NULL), -EINVAL, "a worker has no origin");
    cr_assert_eq(ix_write_commit(t), 0);
}

/* Raises the df of weld among city-440300's vacancies to 2 behind the
 * index's back. */
static void
raise_weld_df(MDB_txn *txn, MDB_dbi dbi, void *ctx)
{
    (void)ctx;
    uint8_t key[3 + 11 + 4] = {'f', 'V', 11};
    memcpy(key + 3, "city-440300", 11);
    memcpy(key + 14, "weld", 4);
    uint8_t two[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    MDB_val k = {sizeof key, key}, v = {8, two};
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
}

Test(origins, check_notices_a_wrong_counter_per_origin)
{
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    ix_skill_t sk = {"weld", 4, 2};
    ix_doc_t d = {
        .kind = IX_VACANCY, .id = "v-1", .id_len = 3,
        .region = {'4', '4', '0', '3', '0', '5'},
        .status = 1, .matchable = true, .skills = &sk, .n_skills = 1,
        .origin = "city-440300", .origin_len = 11,
        .value = "x", .value_len = 1,
    };
    cr_assert_eq(ix_put(t, &d, 0, NULL), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    jt_scratch_raw_edit(&env, dir, "counts", raise_weld_df, NULL);
    cr_assert_eq(ix_read_begin(env, &t), 0);
    char rep[512];
    int rc = ix_check(t, rep, sizeof rep);
    ix_read_end(t);
    cr_assert_eq(rc, -EUCLEAN, "ix_check: %d %s", rc, rep);
    cr_assert(strstr(rep, "counter f") != NULL, "%s", rep);
}
