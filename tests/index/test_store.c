/* test_store.c - records in the index: put, get, replace and delete; that
 * postings and counters stay exactly what the stored records call for
 * (checked against an in-memory model, by reading the raw LMDB dbis, and by
 * ix_check); the changelog; persistence across reopen; a full map; and the
 * read transaction pool.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index.h"
#include "scratch.h"

static char dir[JT_SCRATCH_DIR_MAX];
static ix_env_t *env;

static void
setup(void)
{
    env = jt_scratch_new(dir, "ixstore");
}

static void
teardown(void)
{
    jt_scratch_remove(env, dir);
    env = NULL;
}

static void
reopen(void)
{
    ix_close(env);
    env = jt_scratch_open(dir);
}

/* ---- an in-memory model of what the store should hold ---- */

#define NIDS 24
#define NSKILLS 10

/* The last two share their first 40 bytes: a write transaction sorts its
 * posting changes by the first 31 bytes of their keys, then by the rest. */
static const char *skill_vocab[NSKILLS] = {
    "weld", "c", "cook", "drive", "lathe", "sew", "a.b/c", "x:1",
    "tech:computer-aided-design-software-long-name-a",
    "tech:computer-aided-design-software-long-name-b"};
static const char *occ_vocab[] = {"6-05-02-03", "6-05", "6", "2-02-01-01",
                                  "6-05-02", "4-01-02-04", "2-02"};
#define NOCC (sizeof occ_vocab / sizeof occ_vocab[0])
static const char *region_vocab[] = {"110105", "110108", "120101", "440305"};

typedef struct mdoc {
    bool live;
    uint8_t kind;
    char id[16];
    char region[7];
    int nocc;
    int occ[4];          /* indexes into occ_vocab */
    int nsk;
    int sk[8];           /* indexes into skill_vocab */
    uint8_t lvl[8];
    uint8_t status, category;
    bool matchable;
    uint32_t filled;
    char value[40];
    ix_match_t match;
    uint64_t docno;
} mdoc_t;

typedef struct model {
    mdoc_t d[2][NIDS];
} model_t;

static void
random_doc(mdoc_t *m, uint8_t kind, int n)
{
    m->live = true;
    m->kind = kind;
    snprintf(m->id, sizeof m->id, "%c-%03d", kind == IX_VACANCY ? 'v' : 'w',
             n);
    strcpy(m->region, region_vocab[rand() % 4]);
    /* A vacancy has its one code; a worker 0..4 distinct ones. */
    m->nocc = kind == IX_VACANCY ? 1 : rand() % 5;
    for (int i = 0; i < m->nocc; i++) {
        int o, dup;
        do {
            o = rand() % (int)NOCC;
            dup = 0;
            for (int j = 0; j < i; j++)
                dup |= m->occ[j] == o;
        } while (dup);
        m->occ[i] = o;
    }
    m->nsk = rand() % 9;
    for (int i = 0; i < m->nsk; i++) {
        int s, dup;
        do {
            s = rand() % NSKILLS;
            dup = 0;
            for (int j = 0; j < i; j++)
                dup |= m->sk[j] == s;
        } while (dup);
        m->sk[i] = s;
        m->lvl[i] = (uint8_t)(1 + rand() % 5);
    }
    m->status = (uint8_t)(rand() % 3);
    m->matchable = m->status == 0;
    m->category = kind == IX_WORKER ? (uint8_t)(rand() % 5) : 0;
    m->filled = (uint32_t)(rand() % 4);
    snprintf(m->value, sizeof m->value, "value of %s #%d", m->id, rand());
    /* Match fields span their whole range, signs included. */
    m->match.since = ((int64_t)rand() << 32 | rand()) * (rand() % 2 ? 1 : -1);
    m->match.expires = rand() % 3 ? (int64_t)rand() << 8 : 0;
    m->match.headcount = (uint32_t)rand();
    m->match.wage_min = (uint32_t)rand() * 2u;
    m->match.wage_max = (uint32_t)rand();
    m->match.birth_year = (uint16_t)rand();
    m->match.education = (uint8_t)rand();
    m->match.age_min = (uint8_t)rand();
    m->match.age_max = (uint8_t)rand();
    m->match.priority_mask = (uint8_t)rand();
}

static void
assert_match_eq(const ix_match_t *a, const ix_match_t *b)
{
    cr_assert_eq(a->since, b->since);
    cr_assert_eq(a->expires, b->expires);
    cr_assert_eq(a->headcount, b->headcount);
    cr_assert_eq(a->wage_min, b->wage_min);
    cr_assert_eq(a->wage_max, b->wage_max);
    cr_assert_eq(a->birth_year, b->birth_year);
    cr_assert_eq(a->education, b->education);
    cr_assert_eq(a->age_min, b->age_min);
    cr_assert_eq(a->age_max, b->age_max);
    cr_assert_eq(a->priority_mask, b->priority_mask);
}

/* Builds the ix_doc_t for a model doc; storage for the arrays is the
 * caller's. */
typedef struct docbuf {
    const char *occ[4];
    uint32_t occ_len[4];
    ix_skill_t sk[8];
} docbuf_t;

static ix_doc_t
to_doc(const mdoc_t *m, docbuf_t *b)
{
    for (int i = 0; i < m->nocc; i++) {
        b->occ[i] = occ_vocab[m->occ[i]];
        b->occ_len[i] = (uint32_t)strlen(b->occ[i]);
    }
    for (int i = 0; i < m->nsk; i++) {
        b->sk[i].id = skill_vocab[m->sk[i]];
        b->sk[i].id_len = (uint32_t)strlen(b->sk[i].id);
        b->sk[i].level = m->lvl[i];
    }
    ix_doc_t d = {
        .kind = m->kind,
        .id = m->id,
        .id_len = (uint32_t)strlen(m->id),
        .occupations = b->occ,
        .occupation_lens = b->occ_len,
        .n_occupations = (uint32_t)m->nocc,
        .status = m->status,
        .matchable = m->matchable,
        .category = m->category,
        .skills = b->sk,
        .n_skills = (uint32_t)m->nsk,
        .filled = m->filled,
        .match = m->match,
        .value = m->value,
        .value_len = strlen(m->value),
    };
    memcpy(d.region, m->region, 6);
    return d;
}

static int
put_model(ix_txn_t *t, mdoc_t *m, bool *created)
{
    docbuf_t b;
    ix_doc_t d = to_doc(m, &b);
    return ix_put(t, &d, 1000, created);
}

/* Checks every record, count and df through the public interface. */
static void
verify_api(model_t *md)
{
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    uint64_t tot[2] = {0}, open[2] = {0};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NIDS; i++) {
            mdoc_t *m = &md->d[k][i];
            uint8_t kind = k == 0 ? IX_VACANCY : IX_WORKER;
            char id[16];
            snprintf(id, sizeof id, "%c-%03d", k == 0 ? 'v' : 'w', i);
            ix_record_t r;
            int rc = ix_get(t, kind, id, (uint32_t)strlen(id), &r);
            if (!m->live) {
                cr_assert_eq(rc, -ENOENT, "%s should be absent", id);
                continue;
            }
            cr_assert_eq(rc, 0, "%s: %d", id, rc);
            tot[k]++;
            open[k] += m->matchable;
            cr_assert_eq(r.kind, kind);
            cr_assert_eq(r.id_len, strlen(id));
            cr_assert(memcmp(r.id, id, r.id_len) == 0);
            const char *name;
            uint32_t name_len;
            cr_assert_eq(ix_id_of_docno(t, kind, r.docno, &name, &name_len), 0, "%s", id);
            cr_assert(name_len == r.id_len && memcmp(name, id, name_len) == 0,
                      "names gives %.*s for %s", (int)name_len, name, id);
            cr_assert_eq(r.status, m->status);
            cr_assert_eq(r.category, m->category);
            cr_assert_eq(r.filled, m->filled);
            cr_assert(memcmp(r.region, m->region, 6) == 0);
            cr_assert_eq(r.value_len, strlen(m->value));
            cr_assert(memcmp(r.value, m->value, r.value_len) == 0);
            cr_assert_eq(r.docno, m->docno, "docno stable for %s", id);
            assert_match_eq(&r.match, &m->match);
            cr_assert_eq(r.n_occupations, (uint32_t)m->nocc);
            for (int j = 0; j < m->nocc; j++) {
                const char *o = occ_vocab[m->occ[j]];
                cr_assert_eq(r.occupation_lens[j], strlen(o));
                cr_assert(memcmp(r.occupations[j], o, strlen(o)) == 0);
            }
            cr_assert_eq(r.n_skills, (uint32_t)m->nsk);
            for (int j = 0; j < m->nsk; j++) {
                const char *sk = skill_vocab[m->sk[j]];
                cr_assert_eq(r.skills[j].id_len, strlen(sk));
                cr_assert(memcmp(r.skills[j].id, sk, strlen(sk)) == 0);
                cr_assert_eq(r.skills[j].level, m->lvl[j]);
            }
            /* The same record by docno, as the matcher reads it. */
            ix_record_t rd;
            cr_assert_eq(ix_get_docno(t, kind, r.docno, &rd), 0);
            cr_assert_eq(rd.id_len, r.id_len);
            cr_assert(memcmp(rd.id, r.id, r.id_len) == 0);
            cr_assert_eq(rd.value_len, r.value_len);
            cr_assert_eq(rd.n_skills, r.n_skills);
            assert_match_eq(&rd.match, &r.match);
        }
    ix_stats_t st;
    cr_assert_eq(ix_stats(t, &st), 0);
    cr_assert_eq(st.vacancies, tot[0]);
    cr_assert_eq(st.vacancies_open, open[0]);
    cr_assert_eq(st.workers, tot[1]);
    cr_assert_eq(st.workers_available, open[1]);
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < NSKILLS; s++) {
            uint64_t want = 0, got = 99;
            for (int i = 0; i < NIDS; i++) {
                mdoc_t *m = &md->d[k][i];
                if (!m->live || !m->matchable)
                    continue;
                for (int j = 0; j < m->nsk; j++)
                    want += m->sk[j] == s;
            }
            cr_assert_eq(ix_skill_df(t, k == 0 ? IX_VACANCY : IX_WORKER,
                                     skill_vocab[s],
                                     (uint32_t)strlen(skill_vocab[s]), &got),
                         0);
            cr_assert_eq(got, want, "df %c %s: %lu != %lu", k ? 'W' : 'V',
                         skill_vocab[s], (unsigned long)got,
                         (unsigned long)want);
        }
    char rep[512];
    int rc = ix_check(t, rep, sizeof rep);
    cr_assert_eq(rc, 0, "ix_check: %s", rep);
    cr_assert(strncmp(rep, "ok:", 3) == 0, "%s", rep);
    ix_read_end(t);
}

/* ---- raw LMDB view: the documented layout, written out independently ---- */

typedef struct kv {
    uint8_t k[96];
    size_t kl;
    uint8_t v[40];
    size_t vl;
} kv_t;

static int
kv_cmp(const void *a, const void *b)
{
    const kv_t *x = a, *y = b;
    int c = memcmp(x->k, y->k, x->kl < y->kl ? x->kl : y->kl);
    if (c)
        return c;
    if (x->kl != y->kl)
        return x->kl < y->kl ? -1 : 1;
    /* Duplicates of one key (the match dbi) sort by value. */
    c = memcmp(x->v, y->v, x->vl < y->vl ? x->vl : y->vl);
    if (c)
        return c;
    return x->vl < y->vl ? -1 : x->vl > y->vl;
}

static void
be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static kv_t *
add(kv_t *a, size_t *n, const void *k, size_t kl, const void *v, size_t vl)
{
    kv_t *e = &a[(*n)++];
    memcpy(e->k, k, kl);
    e->kl = kl;
    if (vl)
        memcpy(e->v, v, vl);
    e->vl = vl;
    return e;
}

/* The brief of a model doc as docs/storage.md lays it out (native byte
 * order); returns its length. */
static size_t
brief_bytes(const mdoc_t *m, uint8_t *out)
{
    const ix_match_t *x = &m->match;
    if (m->kind == IX_WORKER) {
        out[0] = m->matchable;
        memcpy(out + 1, &x->wage_min, 4);
        memcpy(out + 5, &x->birth_year, 2);
        out[7] = x->education;
        out[8] = m->category;
        return 9;
    }
    out[0] = m->matchable && x->headcount > m->filled;
    memcpy(out + 1, &x->expires, 8);
    memcpy(out + 9, &x->wage_max, 4);
    uint32_t digits = 0;
    for (const char *c = occ_vocab[m->occ[0]]; *c; c++)
        if (*c != '-')
            digits = digits * 10 + (uint32_t)(*c - '0');
    memcpy(out + 13, &digits, 4);
    out[17] = x->education;
    out[18] = x->age_min;
    out[19] = x->age_max;
    out[20] = x->priority_mask;
    return 21;
}

/* The skill and minor-group postings of a model doc as docs/storage.md
 * lays them out, whether or not its brief is open: in format 13 (ranked)
 * or as formats 11 and 12 did, without the rank. */
static void
layout_entries(const mdoc_t *m, bool ranked, kv_t *match, size_t *nm)
{
    uint8_t key[96], val[40];
    /* Values: the match rank (a vacancy's education_min, 255 minus a
     * worker's education; format 13 only), the docno, then the level
     * (skills) or the tail padded with NUL to 3 (minor groups), then the
     * brief. */
    size_t at = 0;
    if (ranked)
        val[at++] = m->kind == IX_VACANCY ? m->match.education
                                          : (uint8_t)(255 - m->match.education);
    be64(val + at, m->docno);
    at += 8;
    uint8_t brief[32];
    size_t bl = brief_bytes(m, brief);
    key[1] = m->kind;
    for (int j = 0; j < m->nocc; j++) {
        const char *o = occ_vocab[m->occ[j]];
        size_t ol = strlen(o);
        /* Minor group: codes of 7 or 10 bytes only. */
        if (ol != 7 && ol != 10)
            continue;
        key[0] = 'M';
        memcpy(key + 2, o, 7);
        memcpy(key + 9, m->region, 6);
        memset(val + at, 0, 3);
        memcpy(val + at, o + 7, ol - 7);
        memcpy(val + at + 3, brief, bl);
        add(match, nm, key, 15, val, at + 3 + bl);
    }
    for (int j = 0; j < m->nsk; j++) {
        size_t sl = strlen(skill_vocab[m->sk[j]]);
        key[0] = 'K';
        memcpy(key + 2, skill_vocab[m->sk[j]], sl);
        key[2 + sl] = 0;
        memcpy(key + 3 + sl, m->region, 6);
        val[at] = m->lvl[j];
        memcpy(val + at + 1, brief, bl);
        add(match, nm, key, 9 + sl, val, at + 1 + bl);
    }
}

static void
matching_entries(const mdoc_t *m, kv_t *match, size_t *nm)
{
    layout_entries(m, true, match, nm);
}

/* Whether a model doc's brief is open: only then has it matching
 * postings. */
static bool
brief_open(const mdoc_t *m)
{
    uint8_t b[40];
    brief_bytes(m, b);
    return b[0] != 0;
}

/* Every posting and counter the model calls for, built from the layout in
 * docs/storage.md without the index's own key builders. */
static void
expected(model_t *md, kv_t *post, size_t *np, kv_t *match, size_t *nm,
         kv_t *cnt, size_t *nc)
{
    *np = *nm = *nc = 0;
    uint64_t tot[2] = {0}, open[2] = {0}, df[2][NSKILLS] = {{0}};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NIDS; i++) {
            mdoc_t *m = &md->d[k][i];
            if (!m->live)
                continue;
            uint8_t key[96], dn[8];
            be64(dn, m->docno);
            key[1] = m->kind;
            key[0] = 'R';
            memcpy(key + 2, m->region, 6);
            memcpy(key + 8, dn, 8);
            add(post, np, key, 16, NULL, 0);
            key[0] = 'S';
            key[2] = m->status;
            memcpy(key + 3, dn, 8);
            add(post, np, key, 11, NULL, 0);
            /* Listed by category: a worker under its own, a vacancy
             * under each of its priority categories. */
            uint8_t cats = m->kind == IX_WORKER ? (uint8_t)(1u << m->category)
                                                : m->match.priority_mask;
            for (int c = 0; c < 8; c++) {
                if (!(cats & (1u << c)))
                    continue;
                key[0] = 'C';
                key[2] = (uint8_t)c;
                add(post, np, key, 11, NULL, 0);
            }
            for (int j = 0; j < m->nocc; j++) {
                const char *o = occ_vocab[m->occ[j]];
                key[0] = 'O';
                memset(key + 2, 0, 10);
                memcpy(key + 2, o, strlen(o));
                memcpy(key + 12, dn, 8);
                add(post, np, key, 20, NULL, 0);
            }
            if (brief_open(m))
                matching_entries(m, match, nm);
            for (int j = 0; j < m->nsk; j++)
                if (m->matchable)
                    df[k][m->sk[j]]++;
            tot[k]++;
            open[k] += m->matchable;
        }
    for (int k = 0; k < 2; k++) {
        uint8_t key[96], v[8];
        uint8_t kind = k == 0 ? IX_VACANCY : IX_WORKER;
        key[1] = kind;
        if (tot[k]) {
            key[0] = 'T';
            be64(v, tot[k]);
            add(cnt, nc, key, 2, v, 8);
        }
        if (open[k]) {
            key[0] = 'N';
            be64(v, open[k]);
            add(cnt, nc, key, 2, v, 8);
        }
        for (int s = 0; s < NSKILLS; s++) {
            if (!df[k][s])
                continue;
            size_t sl = strlen(skill_vocab[s]);
            key[0] = 'D';
            memcpy(key + 2, skill_vocab[s], sl);
            key[2 + sl] = 0;
            be64(v, df[k][s]);
            add(cnt, nc, key, 3 + sl, v, 8);
        }
        /* The model's vacancies have no origin: the counts per origin
         * hold them all under the empty one ('o' 'V' 0, 'f' 'V' 0 skill). */
        if (kind != IX_VACANCY)
            continue;
        key[2] = 0;
        if (open[k]) {
            key[0] = 'o';
            be64(v, open[k]);
            add(cnt, nc, key, 3, v, 8);
        }
        for (int s = 0; s < NSKILLS; s++) {
            if (!df[k][s])
                continue;
            size_t sl = strlen(skill_vocab[s]);
            key[0] = 'f';
            memcpy(key + 3, skill_vocab[s], sl);
            be64(v, df[k][s]);
            add(cnt, nc, key, 3 + sl, v, 8);
        }
    }
    qsort(post, *np, sizeof *post, kv_cmp);
    qsort(match, *nm, sizeof *match, kv_cmp);
    qsort(cnt, *nc, sizeof *cnt, kv_cmp);
}

static void
compare_dbi(MDB_txn *txn, const char *name, const kv_t *want, size_t n)
{
    MDB_dbi dbi;
    cr_assert_eq(mdb_dbi_open(txn, name, 0, &dbi), 0, "dbi %s", name);
    MDB_cursor *c;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    MDB_val k, v;
    size_t i = 0;
    int rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), i++) {
        cr_assert_lt(i, n, "%s holds more than %zu entries", name, n);
        cr_assert_eq(k.mv_size, want[i].kl, "%s entry %zu key length", name,
                     i);
        cr_assert(memcmp(k.mv_data, want[i].k, k.mv_size) == 0,
                  "%s entry %zu key differs (tag %c)", name, i, want[i].k[0]);
        cr_assert_eq(v.mv_size, want[i].vl, "%s entry %zu value", name, i);
        cr_assert(memcmp(v.mv_data, want[i].v, v.mv_size) == 0);
    }
    cr_assert_eq(rc, MDB_NOTFOUND);
    cr_assert_eq(i, n, "%s holds %zu entries, want %zu", name, i, n);
    mdb_cursor_close(c);
}

/* Closes the index, reads post, match and counts with plain LMDB, compares them
 * with what the model calls for, and reopens. */
static void
verify_raw(model_t *md)
{
    static kv_t post[2 * NIDS * 24], match[2 * NIDS * 24], cnt[64];
    size_t np, nm, nc;
    expected(md, post, &np, match, &nm, cnt, &nc);
    ix_close(env);
    env = NULL;
    MDB_env *e;
    cr_assert_eq(mdb_env_create(&e), 0);
    mdb_env_set_maxdbs(e, 8);
    cr_assert_eq(mdb_env_open(e, dir, MDB_RDONLY, 0664), 0);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(e, NULL, MDB_RDONLY, &txn), 0);
    compare_dbi(txn, "post", post, np);
    compare_dbi(txn, "match", match, nm);
    compare_dbi(txn, "counts", cnt, nc);
    mdb_txn_abort(txn);
    mdb_env_close(e);
    env = jt_scratch_open(dir);
}

static void
note_docno(mdoc_t *m)
{
    ix_txn_t *t;
    ix_record_t r;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_get(t, m->kind, m->id, (uint32_t)strlen(m->id), &r), 0);
    m->docno = r.docno;
    ix_read_end(t);
}

TestSuite(store, .init = setup, .fini = teardown);

Test(store, put_get_roundtrip)
{
    model_t md;
    memset(&md, 0, sizeof md);
    srand(1);
    mdoc_t *m = &md.d[0][3];
    random_doc(m, IX_VACANCY, 3);
    ix_txn_t *t;
    bool created = false;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(put_model(t, m, &created), 0);
    cr_assert(created);
    /* Visible to the write transaction itself before commit. */
    ix_record_t r;
    cr_assert_eq(ix_get(t, IX_VACANCY, "v-003", 5, &r), 0);
    cr_assert_eq(r.value_len, strlen(m->value));
    cr_assert_eq(ix_write_commit(t), 0);
    note_docno(m);
    cr_assert_gt(m->docno, 0);
    verify_api(&md);
    verify_raw(&md);
    verify_api(&md);
}

Test(store, replace_keeps_docno_and_moves_terms)
{
    model_t md;
    memset(&md, 0, sizeof md);
    srand(2);
    mdoc_t *m = &md.d[1][0];
    random_doc(m, IX_WORKER, 0);
    m->status = 0;
    m->matchable = true;
    m->nsk = 2;
    m->sk[0] = 0;
    m->sk[1] = 1;
    ix_txn_t *t;
    bool created;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(put_model(t, m, &created), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    note_docno(m);
    uint64_t docno = m->docno;

    /* Matchable -> not matchable, new region, one skill swapped, a level
     * changed: every posting and counter moves exactly. */
    m->status = 1;
    m->matchable = false;
    strcpy(m->region, "440305");
    m->sk[0] = 2;
    m->lvl[1] = (uint8_t)(m->lvl[1] % 5 + 1);
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(put_model(t, m, &created), 0);
    cr_assert_not(created);
    cr_assert_eq(ix_write_commit(t), 0);
    note_docno(m);
    cr_assert_eq(m->docno, docno, "a replace keeps the docno");
    verify_api(&md);
    verify_raw(&md);

    /* And back to matchable. */
    m->status = 0;
    m->matchable = true;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(put_model(t, m, &created), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    verify_api(&md);
    verify_raw(&md);
}

Test(store, delete_and_absent)
{
    model_t md;
    memset(&md, 0, sizeof md);
    srand(3);
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    for (int i = 0; i < 5; i++) {
        random_doc(&md.d[1][i], IX_WORKER, i);
        cr_assert_eq(put_model(t, &md.d[1][i], NULL), 0);
    }
    cr_assert_eq(ix_write_commit(t), 0);
    for (int i = 0; i < 5; i++)
        note_docno(&md.d[1][i]);

    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_delete(t, IX_WORKER, "w-002", 5, 2000), 0);
    md.d[1][2].live = false;
    cr_assert_eq(ix_delete(t, IX_WORKER, "w-002", 5, 2000), -ENOENT);
    cr_assert_eq(ix_delete(t, IX_VACANCY, "w-001", 5, 2000), -ENOENT,
                 "kinds are separate namespaces");
    cr_assert_eq(ix_delete(t, IX_WORKER, "nobody", 6, 2000), -ENOENT);
    /* -ENOENT leaves the transaction usable. */
    cr_assert_eq(ix_write_commit(t), 0);
    verify_api(&md);
    verify_raw(&md);

    /* A re-created id gets a new docno: docnos are never reused. */
    uint64_t old = md.d[1][2].docno;
    random_doc(&md.d[1][2], IX_WORKER, 2);
    bool created;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(put_model(t, &md.d[1][2], &created), 0);
    cr_assert(created);
    cr_assert_eq(ix_write_commit(t), 0);
    note_docno(&md.d[1][2]);
    cr_assert_gt(md.d[1][2].docno, old);
    verify_api(&md);
    /* The deleted docno names no one, in either kind. */
    const char *name;
    uint32_t name_len;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_id_of_docno(t, IX_WORKER, old, &name, &name_len), -ENOENT);
    cr_assert_eq(ix_id_of_docno(t, IX_VACANCY, md.d[1][0].docno, &name, &name_len), -ENOENT);
    cr_assert_eq(ix_id_of_docno(t, IX_WORKER, md.d[1][0].docno, &name, &name_len), 0);
    cr_assert_eq(name_len, 5);
    cr_assert_eq(memcmp(name, "w-000", 5), 0);
    cr_assert_eq(ix_id_of_docno(t, 'X', md.d[1][0].docno, &name, &name_len), -EINVAL);
    ix_read_end(t);
}

Test(store, rejects_bad_docs_without_changes)
{
    mdoc_t m;
    memset(&m, 0, sizeof m);
    srand(4);
    random_doc(&m, IX_WORKER, 1);
    docbuf_t b;
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    ix_doc_t d = to_doc(&m, &b);
    d.kind = 'X';
    cr_assert_eq(ix_put(t, &d, 0, NULL), -EINVAL);
    d = to_doc(&m, &b);
    d.region[2] = 'a';
    cr_assert_eq(ix_put(t, &d, 0, NULL), -EINVAL);
    d = to_doc(&m, &b);
    d.id_len = 0;
    cr_assert_eq(ix_put(t, &d, 0, NULL), -EINVAL);
    char longid[80];
    memset(longid, 'a', sizeof longid);
    d.id = longid;
    d.id_len = IX_ID_MAX + 1;
    cr_assert_eq(ix_put(t, &d, 0, NULL), -EINVAL);
    ix_skill_t dup[2] = {{"weld", 4, 1}, {"weld", 4, 2}};
    d = to_doc(&m, &b);
    d.skills = dup;
    d.n_skills = 2;
    cr_assert_eq(ix_put(t, &d, 0, NULL), -EINVAL);
    const char *occ[2] = {"6-05", "6-05"};
    uint32_t ol[2] = {4, 4};
    d = to_doc(&m, &b);
    d.occupations = occ;
    d.occupation_lens = ol;
    d.n_occupations = 2;
    cr_assert_eq(ix_put(t, &d, 0, NULL), -EINVAL);
    const char *longocc[1] = {"6-05-02-031"};
    uint32_t lol[1] = {11};
    d.occupations = longocc;
    d.occupation_lens = lol;
    d.n_occupations = 1;
    cr_assert_eq(ix_put(t, &d, 0, NULL), -EINVAL);
    /* The transaction is still good: a valid put and commit succeed. */
    d = to_doc(&m, &b);
    cr_assert_eq(ix_put(t, &d, 0, NULL), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    ix_stats_t st;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_stats(t, &st), 0);
    cr_assert_eq(st.workers, 1);
    cr_assert_eq(st.last_seq, 1, "rejected puts log nothing");
    /* Writes through a read transaction are refused. */
    cr_assert_eq(ix_put(t, &d, 0, NULL), -EINVAL);
    ix_read_end(t);
}

Test(store, random_sequences_stay_consistent)
{
    static model_t md, saved;
    memset(&md, 0, sizeof md);
    srand(42);
    for (int round = 0; round < 30; round++) {
        ix_txn_t *t;
        cr_assert_eq(ix_write_begin(env, &t), 0);
        saved = md;
        int nops = 1 + rand() % 12;
        for (int op = 0; op < nops; op++) {
            int k = rand() % 2, i = rand() % NIDS;
            uint8_t kind = k == 0 ? IX_VACANCY : IX_WORKER;
            mdoc_t *m = &md.d[k][i];
            if (rand() % 4 == 0) {
                int rc = ix_delete(t, kind, m->id[0] ? m->id : "none",
                                   m->id[0] ? (uint32_t)strlen(m->id) : 4,
                                   round);
                cr_assert_eq(rc, m->live ? 0 : -ENOENT);
                m->live = false;
            } else {
                bool was = m->live, created;
                uint64_t dn = m->docno;
                random_doc(m, kind, i);
                cr_assert_eq(put_model(t, m, &created), 0);
                cr_assert_eq(created, !was);
                m->docno = dn;
                /* Counters read inside the write transaction see its own
                 * changes. */
                if (op == nops / 2) {
                    ix_stats_t st;
                    cr_assert_eq(ix_stats(t, &st), 0);
                    uint64_t n = 0;
                    for (int j = 0; j < NIDS; j++)
                        n += md.d[0][j].live;
                    cr_assert_eq(st.vacancies, n);
                }
            }
        }
        if (rand() % 5 == 0) {
            ix_write_abort(t);
            md = saved;
        } else {
            cr_assert_eq(ix_write_commit(t), 0);
            for (int k = 0; k < 2; k++)
                for (int i = 0; i < NIDS; i++)
                    if (md.d[k][i].live)
                        note_docno(&md.d[k][i]);
        }
        verify_api(&md);
        if (round % 6 == 5)
            verify_raw(&md);
    }
    verify_raw(&md);
}

Test(store, persists_across_reopen)
{
    model_t md;
    memset(&md, 0, sizeof md);
    srand(5);
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    for (int i = 0; i < NIDS; i++) {
        random_doc(&md.d[0][i], IX_VACANCY, i);
        cr_assert_eq(put_model(t, &md.d[0][i], NULL), 0);
    }
    cr_assert_eq(ix_write_commit(t), 0);
    for (int i = 0; i < NIDS; i++)
        note_docno(&md.d[0][i]);
    reopen();
    verify_api(&md);
    /* New docnos continue after the old ones. */
    random_doc(&md.d[1][0], IX_WORKER, 0);
    random_doc(&md.d[0][NIDS - 1], IX_VACANCY, NIDS - 1);
    md.d[0][NIDS - 1].live = false;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_delete(t, IX_VACANCY, "v-023", 5, 9), 0);
    cr_assert_eq(put_model(t, &md.d[1][0], NULL), 0);
    mdoc_t extra;
    random_doc(&extra, IX_VACANCY, 99);
    cr_assert_eq(put_model(t, &extra, NULL), 0);
    cr_assert_eq(ix_delete(t, IX_VACANCY, "v-099", 5, 9), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    note_docno(&md.d[1][0]);
    reopen();
    verify_api(&md);
    verify_raw(&md);
}

typedef struct logs {
    uint64_t seq[64];
    int64_t time[64];
    uint8_t op[64], kind[64];
    char id[64][16];
    int n;
} logs_t;

static int
log_cb(void *ctx, const ix_log_entry_t *e)
{
    logs_t *l = ctx;
    l->seq[l->n] = e->seq;
    l->time[l->n] = e->time;
    l->op[l->n] = e->op;
    l->kind[l->n] = e->kind;
    snprintf(l->id[l->n], 16, "%.*s", (int)e->id_len, e->id);
    l->n++;
    return 0;
}

Test(store, changelog_monotonic_across_reopen)
{
    mdoc_t m;
    memset(&m, 0, sizeof m);
    srand(6);
    random_doc(&m, IX_WORKER, 7);
    ix_txn_t *t;
    docbuf_t b;
    ix_doc_t d = to_doc(&m, &b);
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_put(t, &d, -5, NULL), 0);
    cr_assert_eq(ix_put(t, &d, 100, NULL), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    /* An aborted transaction consumes no sequence numbers. */
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_put(t, &d, 150, NULL), 0);
    ix_write_abort(t);
    reopen();
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_delete(t, IX_WORKER, "w-007", 5, 200), 0);
    cr_assert_eq(ix_put(t, &d, 300, NULL), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    reopen();

    logs_t l = {.n = 0};
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_log_read(t, 0, 0, log_cb, &l), 0);
    cr_assert_eq(l.n, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(l.seq[i], (uint64_t)i + 1);
    cr_assert_eq(l.time[0], -5);
    cr_assert_eq(l.time[3], 300);
    cr_assert_eq(l.op[0], IX_LOG_PUT);
    cr_assert_eq(l.op[2], IX_LOG_DELETE);
    cr_assert_eq(l.kind[2], IX_WORKER);
    cr_assert_str_eq(l.id[2], "w-007");
    l.n = 0;
    cr_assert_eq(ix_log_read(t, 2, 1, log_cb, &l), 0);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.seq[0], 3);
    l.n = 0;
    cr_assert_eq(ix_log_read(t, 4, 10, log_cb, &l), 0);
    cr_assert_eq(l.n, 0);
    ix_stats_t st;
    cr_assert_eq(ix_stats(t, &st), 0);
    cr_assert_eq(st.last_seq, 4);
    ix_read_end(t);
}

Test(store, map_full_is_enospc_and_store_stays_readable)
{
    /* A new store: an existing one would keep the 64 MiB it was made with. */
    jt_scratch_remove(env, dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    ix_options_t o = {.map_size = 1 << 20, .sync = IX_SYNC_FULL};
    cr_assert_eq(ix_open(dir, &o, &env), 0);
    static char big[8192];
    memset(big, 'x', sizeof big);
    mdoc_t m;
    memset(&m, 0, sizeof m);
    srand(8);
    int committed = 0, rc = 0;
    /* Commit in small batches until one fails. */
    for (int batch = 0; batch < 1000 && rc == 0; batch++) {
        ix_txn_t *t;
        cr_assert_eq(ix_write_begin(env, &t), 0);
        for (int i = 0; i < 4 && rc == 0; i++) {
            random_doc(&m, IX_VACANCY, batch * 4 + i);
            docbuf_t b;
            ix_doc_t d = to_doc(&m, &b);
            d.value = big;
            d.value_len = sizeof big;
            rc = ix_put(t, &d, 0, NULL);
        }
        if (rc == 0) {
            rc = ix_write_commit(t);
            if (rc == 0)
                committed += 4;
        } else {
            /* The transaction is dead: further writes fail the same way. */
            cr_assert_eq(ix_delete(t, IX_VACANCY, "v-000", 5, 0), rc);
            cr_assert_eq(ix_write_commit(t), rc);
        }
    }
    cr_assert_eq(rc, -ENOSPC, "got %d (%s)", rc, ix_strerror(rc));
    cr_assert_gt(committed, 0);
    ix_txn_t *t;
    ix_stats_t st;
    char rep[256];
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_stats(t, &st), 0);
    cr_assert_eq(st.vacancies, (uint64_t)committed);
    cr_assert_eq(st.map_size, 1 << 20);
    cr_assert_gt(st.map_used, 0);
    ix_record_t r;
    cr_assert_eq(ix_get(t, IX_VACANCY, "v-000", 5, &r), 0);
    cr_assert_eq(r.value_len, sizeof big);
    cr_assert_eq(ix_check(t, rep, sizeof rep), 0, "%s", rep);
    ix_read_end(t);
    /* Deleting frees room for writes again. */
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_delete(t, IX_VACANCY, "v-000", 5, 0), 0);
    cr_assert_eq(ix_write_commit(t), 0);
}

typedef struct tamper_with {
    void (*fn)(MDB_txn *, MDB_dbi);
} tamper_with_t;

static void
apply_tamper(MDB_txn *txn, MDB_dbi dbi, void *ctx)
{
    ((const tamper_with_t *)ctx)->fn(txn, dbi);
}

/* Changes one dbi behind the index's back. */
static void
tamper(const char *dbname, void (*fn)(MDB_txn *, MDB_dbi))
{
    tamper_with_t w = {fn};
    jt_scratch_raw_edit(&env, dir, dbname, apply_tamper, &w);
}

static void
drop_first(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    cr_assert_eq(mdb_cursor_del(c, 0), 0);
    mdb_cursor_close(c);
}

static void
bump_last(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *c;
    MDB_val k, v;
    uint8_t b[8];
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_LAST), 0);
    memcpy(b, v.mv_data, 8);
    b[7]++;
    v.mv_data = b;
    cr_assert_eq(mdb_cursor_put(c, &k, &v, MDB_CURRENT), 0);
    mdb_cursor_close(c);
}

static void
add_stray(MDB_txn *txn, MDB_dbi dbi)
{
    uint8_t key[16] = {'R', 'V', '9', '9', '9', '9', '9', '9', 0, 0, 0, 0,
                       0,   0,   0x7f, 0x7f};
    MDB_val k = {16, key}, v = {0, NULL};
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
}

static void
fill_some(void)
{
    mdoc_t m;
    srand(9);
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    for (int i = 0; i < 6; i++) {
        memset(&m, 0, sizeof m);
        random_doc(&m, i % 2 ? IX_WORKER : IX_VACANCY, i);
        m.status = 0;
        m.matchable = true;
        m.nsk = 2;
        m.sk[0] = 0;
        m.sk[1] = 3;
        cr_assert_eq(put_model(t, &m, NULL), 0);
    }
    cr_assert_eq(ix_write_commit(t), 0);
}

static int
check_now(char *rep, size_t len)
{
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    int rc = ix_check(t, rep, len);
    ix_read_end(t);
    return rc;
}

Test(store, check_finds_missing_posting)
{
    fill_some();
    char rep[512];
    cr_assert_eq(check_now(rep, sizeof rep), 0, "%s", rep);
    tamper("post", drop_first);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "missing"), "%s", rep);
}

Test(store, check_finds_wrong_counter)
{
    fill_some();
    char rep[512];
    tamper("counts", bump_last);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "counter"), "%s", rep);
    /* A tiny report buffer is still NUL-terminated. */
    char small[8];
    cr_assert_eq(check_now(small, sizeof small), -EUCLEAN);
    cr_assert_lt(strlen(small), sizeof small);
}

Test(store, check_finds_stray_posting_and_id)
{
    fill_some();
    char rep[512];
    tamper("post", add_stray);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "missing docno"), "%s", rep);
    tamper("post", drop_first);
    tamper("ids", drop_first);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "ids"), "%s", rep);
}

static void *
reader_thread(void *arg)
{
    (void)arg;
    uintptr_t ok = 1;
    for (int i = 0; i < 200; i++) {
        ix_txn_t *t;
        ix_record_t r;
        if (ix_read_begin(env, &t) != 0)
            return NULL;
        ok &= ix_get(t, IX_VACANCY, "v-000", 5, &r) == 0;
        ix_read_end(t);
    }
    return (void *)ok;
}

Test(store, read_transactions_are_reused_and_isolated)
{
    fill_some();
    ix_txn_t *a, *b;
    cr_assert_eq(ix_read_begin(env, &a), 0);
    ix_read_end(a);
    cr_assert_eq(ix_read_begin(env, &b), 0);
    cr_assert_eq(a, b, "the handle is reused");
    /* Two at once on one thread are distinct snapshots. */
    cr_assert_eq(ix_read_begin(env, &a), 0);
    cr_assert_neq(a, b);
    ix_stats_t s1, s2;
    cr_assert_eq(ix_stats(b, &s1), 0);
    ix_txn_t *w;
    cr_assert_eq(ix_write_begin(env, &w), 0);
    cr_assert_eq(ix_delete(w, IX_VACANCY, "v-000", 5, 1), 0);
    cr_assert_eq(ix_write_commit(w), 0);
    /* b still sees its snapshot; a fresh one sees the delete. */
    cr_assert_eq(ix_stats(b, &s2), 0);
    cr_assert_eq(s1.vacancies, s2.vacancies);
    ix_read_end(b);
    ix_read_end(a);
    cr_assert_eq(ix_read_begin(env, &a), 0);
    cr_assert_eq(ix_stats(a, &s2), 0);
    cr_assert_eq(s2.vacancies + 1, s1.vacancies);
    ix_read_end(a);

    /* Readers on other threads share the pool. */
    fill_some();
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, reader_thread, NULL), 0);
    for (int i = 0; i < 2; i++) {
        void *res;
        pthread_join(th[i], &res);
        cr_assert_eq(res, (void *)1, "reader thread %d", i);
    }
}

Test(store, strerror_names_codes)
{
    cr_assert_str_eq(ix_strerror(-ENOENT), "no such record");
    cr_assert_str_eq(ix_strerror(-ENOSPC), "storage map is full");
    cr_assert_str_eq(ix_strerror(-EFBIG), "too many changes for one transaction");
    cr_assert_str_eq(ix_strerror(-EDQUOT), "no space left on the disk");
    cr_assert_str_eq(ix_strerror(-ESTALE), "the map was resized by another process");
    cr_assert_not_null(ix_strerror(-EIO));
    cr_assert_not_null(strstr(ix_strerror(-12345), "12345"));
}

/* Writes format version 2 into meta, as a store of the previous layout
 * (postings without briefs) would hold. */
static void
old_version(MDB_txn *txn, MDB_dbi dbi)
{
    uint8_t two = 2;
    MDB_val k = {7, "version"}, v = {1, &two};
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
}

Test(store, open_refuses_another_format_version)
{
    fill_some();
    ix_close(env);
    env = NULL;
    MDB_env *e;
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&e), 0);
    mdb_env_set_maxdbs(e, 8);
    cr_assert_eq(mdb_env_open(e, dir, 0, 0664), 0);
    cr_assert_eq(mdb_txn_begin(e, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    old_version(txn, dbi);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(e);
    ix_options_t o = {.map_size = 64 << 20, .sync = IX_SYNC_NONE};
    ix_env_t *e2 = (ix_env_t *)1;
    cr_assert_eq(ix_open(dir, &o, &e2), -EPROTO);
    cr_assert_null(e2);
    const char *msg = ix_strerror(-EPROTO);
    cr_assert_not_null(strstr(msg, "store format version 2"), "%s", msg);
    const char *reads = strstr(msg, "this build reads ");
    cr_assert_not_null(reads, "%s", msg);
    cr_assert_gt(atoi(reads + strlen("this build reads ")), 2, "%s", msg);
    /* Refusing changed nothing: the version is still 2, refused again. */
    cr_assert_eq(ix_open(dir, &o, &e2), -EPROTO);
    jt_scratch_remove(NULL, dir);
    env = jt_scratch_new(dir, "ixstore");
}

/* Closed vacancies enough for the upgrade to take several transactions. */
#define UPGRADE_CLOSED 4500

/* Stores of formats 11 to 14 have no listing postings of vacancies by
 * priority category, those of 11 to 13 no names dbi (ids by docno), and
 * those of 11 and 12 laid matching postings out without the rank, one of
 * format 11 holding the postings of closed records too: opening any
 * writes the category postings, fills names and, from 11 or 12, rebuilds
 * the match dbi (in several transactions) as format 15 lays them out,
 * keeps everything else, and writes version 15. A third of the format 11
 * store's closed records have lost their postings already, and a part of
 * the open records' postings are in the new layout, as an upgrade that
 * crashed halfway leaves a store. halfway_at 15 or 14: the store as an
 * upgrade by this build or by the build of format 14 that stopped halfway
 * left it (that version, the mark, names half filled when they were being
 * filled); 13: as the build of format 13 left a rebuild it did not finish
 * (version 13, the mark, no names dbi); 0: a store of `version` as it was
 * written. */
static void
upgrade_from(uint8_t version, uint8_t halfway_at)
{
    bool halfway = halfway_at != 0;
    static model_t md;
    static mdoc_t closed[UPGRADE_CLOSED];
    memset(&md, 0, sizeof md);
    srand(version);
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NIDS; i++) {
            random_doc(&md.d[k][i], k == 0 ? IX_VACANCY : IX_WORKER, i);
            cr_assert_eq(put_model(t, &md.d[k][i], NULL), 0);
        }
    for (int i = 0; i < UPGRADE_CLOSED; i++) {
        random_doc(&closed[i], IX_VACANCY, 1000 + i);
        closed[i].status = 1;
        closed[i].matchable = false;
        cr_assert_eq(put_model(t, &closed[i], NULL), 0);
    }
    cr_assert_eq(ix_write_commit(t), 0);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NIDS; i++)
            note_docno(&md.d[k][i]);
    for (int i = 0; i < UPGRADE_CLOSED; i++)
        note_docno(&closed[i]);

    /* What the old format held: every open record's matching postings
     * (format 11: every record's), without the rank; some already
     * rewritten. */
    static kv_t old[(2 * NIDS + UPGRADE_CLOSED) * 12];
    size_t n_old = 0, n_written = 0;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NIDS; i++)
            if (brief_open(&md.d[k][i]))
                layout_entries(&md.d[k][i], i % 5 == 0, old, &n_old);
    for (int i = 0; i < UPGRADE_CLOSED && version == 11; i++)
        if (i % 3 != 0)
            layout_entries(&closed[i], false, old, &n_old);
    ix_close(env);
    env = NULL;
    MDB_env *e;
    MDB_txn *txn;
    MDB_dbi match, meta, names, post_dbi;
    cr_assert_eq(mdb_env_create(&e), 0);
    mdb_env_set_maxdbs(e, 16);
    cr_assert_eq(mdb_env_open(e, dir, 0, 0664), 0);
    cr_assert_eq(mdb_txn_begin(e, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "match", 0, &match), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    cr_assert_eq(mdb_dbi_open(txn, "names", 0, &names), 0);
    cr_assert_eq(mdb_dbi_open(txn, "post", 0, &post_dbi), 0);
    size_t n_categories = 0;
    {
        MDB_cursor *c;
        uint8_t from[2] = {'C', IX_VACANCY};
        MDB_val k = {2, from}, v;
        cr_assert_eq(mdb_cursor_open(txn, post_dbi, &c), 0);
        while (mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) == 0 &&
               memcmp(k.mv_data, from, 2) == 0) {
            cr_assert_eq(mdb_cursor_del(c, 0), 0);
            n_categories++;
            k = (MDB_val){2, from};
        }
        mdb_cursor_close(c);
    }
    cr_assert_gt(n_categories, NIDS, "vacancies listed by category: %zu", n_categories);
    if (version == 14) {
        /* names as they were */
    } else if (halfway_at >= 14) {
        /* The first half of the names written. */
        MDB_cursor *c;
        MDB_val k, v;
        cr_assert_eq(mdb_cursor_open(txn, names, &c), 0);
        size_t n = 0;
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == 0 && n < UPGRADE_CLOSED / 2;
             rc = mdb_cursor_get(c, &k, &v, MDB_PREV), n++)
            cr_assert_eq(mdb_cursor_del(c, 0), 0);
        mdb_cursor_close(c);
    } else {
        cr_assert_eq(mdb_drop(txn, names, 1), 0);
    }
    if (version < 13)
        cr_assert_eq(mdb_drop(txn, match, 0), 0);
    for (size_t i = 0; i < n_old && version < 13; i++) {
        MDB_val k = {old[i].kl, old[i].k}, v = {old[i].vl, old[i].v};
        /* One key's values keep one width (DUPFIXED): the rewritten ones
         * go under keys of their own, as no width check catches. */
        int rc = mdb_put(txn, match, &k, &v, MDB_NODUPDATA);
        cr_assert(rc == 0 || rc == MDB_KEYEXIST || rc == MDB_BAD_VALSIZE, "%s", mdb_strerror(rc));
        n_written += rc == 0;
    }
    /* Halfway: version 15, 14 or 13 already, the format it came from
     * marked, the match dbi as the first transactions left it. */
    uint8_t ver = halfway ? halfway_at : version;
    MDB_val vk = {7, "version"}, vv = {1, &ver};
    cr_assert_eq(mdb_put(txn, meta, &vk, &vv, 0), 0);
    if (halfway) {
        MDB_val rk = {10, "rebuilding"}, rv = {1, &version};
        cr_assert_eq(mdb_put(txn, meta, &rk, &rv, 0), 0);
    }
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(e);
    if (version < 13)
        cr_assert_gt(n_written, version == 11 ? 2000u : 50u, "old postings written: %zu",
                     n_written);

    env = jt_scratch_open(dir);
    cr_assert_eq(ix_upgraded_from(env), version);
    char rep[512];
    cr_assert_eq(check_now(rep, sizeof rep), 0, "%s", rep);
    ix_stats_t st;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_stats(t, &st), 0);
    ix_read_end(t);
    cr_assert_eq(st.vacancies, NIDS + UPGRADE_CLOSED, "no record lost");

    /* What is in match is exactly the open records' postings, ranked. */
    static kv_t post[2 * NIDS * 24], want[2 * NIDS * 24], cnt[64];
    size_t np, nm, nc;
    expected(&md, post, &np, want, &nm, cnt, &nc);
    ix_close(env);
    env = NULL;
    cr_assert_eq(mdb_env_create(&e), 0);
    mdb_env_set_maxdbs(e, 16);
    cr_assert_eq(mdb_env_open(e, dir, MDB_RDONLY, 0664), 0);
    cr_assert_eq(mdb_txn_begin(e, NULL, MDB_RDONLY, &txn), 0);
    compare_dbi(txn, "match", want, nm);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    cr_assert_eq(mdb_get(txn, meta, &vk, &vv), 0);
    cr_assert_eq(vv.mv_size, 1);
    cr_assert_eq(*(const uint8_t *)vv.mv_data, 15);
    /* Each vacancy's category postings again, as before they were taken. */
    {
        MDB_cursor *c;
        uint8_t from[2] = {'C', IX_VACANCY};
        MDB_val k = {2, from}, v;
        cr_assert_eq(mdb_dbi_open(txn, "post", 0, &post_dbi), 0);
        cr_assert_eq(mdb_cursor_open(txn, post_dbi, &c), 0);
        size_t n = 0;
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
             rc == 0 && memcmp(k.mv_data, from, 2) == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            n++;
        mdb_cursor_close(c);
        cr_assert_eq(n, n_categories, "vacancies' category postings: %zu of %zu", n,
                     n_categories);
    }
    /* Every record's id by its docno, and nothing else. */
    cr_assert_eq(mdb_dbi_open(txn, "names", 0, &names), 0);
    MDB_stat nst;
    cr_assert_eq(mdb_stat(txn, names, &nst), 0);
    cr_assert_eq(nst.ms_entries, 2 * NIDS + UPGRADE_CLOSED);
    for (int i = 0; i < UPGRADE_CLOSED; i += 97) {
        uint8_t key[9] = {IX_VACANCY};
        for (int b = 0; b < 8; b++)
            key[1 + b] = (uint8_t)(closed[i].docno >> (56 - 8 * b));
        MDB_val nk = {9, key}, nv;
        cr_assert_eq(mdb_get(txn, names, &nk, &nv), 0);
        cr_assert_eq(nv.mv_size, strlen(closed[i].id));
        cr_assert_eq(memcmp(nv.mv_data, closed[i].id, nv.mv_size), 0);
    }
    MDB_val rk = {10, "rebuilding"}, rv;
    cr_assert_eq(mdb_get(txn, meta, &rk, &rv), MDB_NOTFOUND, "the rebuild's mark is gone");
    mdb_txn_abort(txn);
    mdb_env_close(e);
    env = jt_scratch_open(dir);
    cr_assert_eq(ix_upgraded_from(env), 0, "upgraded once");
}

Test(store, a_format_11_store_is_upgraded_in_place)
{
    upgrade_from(11, 0);
}

Test(store, a_format_12_store_is_upgraded_in_place)
{
    upgrade_from(12, 0);
}

Test(store, a_format_13_store_is_upgraded_in_place)
{
    upgrade_from(13, 0);
}

Test(store, a_format_14_store_is_upgraded_in_place)
{
    upgrade_from(14, 0);
}

/* A build of format 12 refuses such a store (its version is 15); this one
 * starts the upgrade over. */
Test(store, an_upgrade_left_halfway_starts_over)
{
    upgrade_from(12, 15);
}

Test(store, an_upgrade_from_14_left_halfway_starts_over)
{
    upgrade_from(14, 15);
}

/* The build of format 14 marked its upgrade from 13 and stopped halfway:
 * this build fills names whole and writes the category postings. */
Test(store, an_upgrade_the_format_14_build_left_halfway_is_done_whole)
{
    upgrade_from(13, 14);
}

/* The build of format 13 marked its rebuild from 12 and stopped halfway:
 * this build finishes the whole upgrade from 12, match dbi included. */
Test(store, a_rebuild_the_format_13_build_left_halfway_is_done_whole)
{
    upgrade_from(12, 13);
}

Test(store, open_errors)
{
    ix_env_t *e2;
    cr_assert_eq(ix_open("/nonexistent/ixdir", NULL, &e2), -ENOENT);
    ix_options_t o = {.sync = 9};
    cr_assert_eq(ix_open(dir, &o, &e2), -EINVAL);
}

static void
rename_first(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    v = (MDB_val){5, "other"};
    cr_assert_eq(mdb_cursor_put(c, &k, &v, MDB_CURRENT), 0);
    mdb_cursor_close(c);
}

Test(store, check_finds_a_missing_or_wrong_name)
{
    fill_some();
    char rep[512];
    cr_assert_eq(check_now(rep, sizeof rep), 0, "%s", rep);
    tamper("names", rename_first);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "names gives doc"), "%s", rep);
    tamper("names", drop_first);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "missing from names"), "%s", rep);
    cr_assert_not_null(strstr(rep, "names holds 5 entries for 6 docs"), "%s", rep);
}

Test(store, check_finds_missing_and_stray_match_posting)
{
    fill_some();
    char rep[512];
    cr_assert_eq(check_now(rep, sizeof rep), 0, "%s", rep);
    tamper("match", drop_first);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "missing skill posting"), "%s", rep);
    cr_assert_not_null(strstr(rep, "match holds"), "%s", rep);
}
