/* check.c - ix_check: recomputes every posting, counter and id-map entry
 * from the stored docs and compares them with what is stored. The docs are
 * the truth; everything else is derived from them, so a store passes when
 * each derived entry that should exist does, with the right value, and the
 * derived dbis hold nothing more.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

typedef struct report {
    char *buf;
    size_t len, used;
    unsigned problems;
} report_t;

static void
vproblem(report_t *r, const char *fmt, va_list ap)
{
    r->problems++;
    if (r->problems > 8 || r->len == 0 || r->used + 1 >= r->len)
        return;
    int n = vsnprintf(r->buf + r->used, r->len - r->used, fmt, ap);
    if (n > 0)
        r->used += (size_t)n < r->len - r->used ? (size_t)n
                                                 : r->len - r->used - 1;
    if (r->used + 2 < r->len) {
        memcpy(r->buf + r->used, "; ", 3);
        r->used += 2;
    }
}

static void
problem(report_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vproblem(r, fmt, ap);
    va_end(ap);
}

/* The same, for the aggregate and referral checks' callback. */
static void
problem_cb(void *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vproblem(ctx, fmt, ap);
    va_end(ap);
}

typedef struct expect {
    uint64_t total[2], matchable[2], max_docno[2];
    uint64_t postings;     /* expected in post */
    uint64_t dups;         /* expected in match */
    MDB_cursor *mc;        /* on match, for the look-ups */
    uint64_t docs;
    ix_pending_t df;       /* expected df per (kind, skill) */
    ix_agg_ledger_t *agg;  /* expected labour aggregates */
} expect_t;

/* Checks that one posting exists with the value it should have. */
static int
want_posting(ix_txn_t *t, report_t *r, expect_t *x, const uint8_t *key,
             size_t klen, const uint8_t *val, size_t vlen, const char *what,
             uint64_t docno)
{
    MDB_val k = {klen, (void *)key}, v;
    x->postings++;
    int rc = mdb_get(t->txn, t->env->post, &k, &v);
    if (rc == MDB_NOTFOUND) {
        problem(r, "missing %s posting of docno %" PRIu64, what, docno);
        return 0;
    }
    if (rc != 0)
        return ix_mdb_err(rc);
    if (v.mv_size != vlen || (vlen && memcmp(v.mv_data, val, vlen) != 0))
        problem(r, "wrong value in %s posting of docno %" PRIu64, what,
                docno);
    return 0;
}

/* Checks that one match posting (key, and a value whose first slen bytes
 * are its slot) exists with the value it should have. */
static int
want_dup(report_t *r, expect_t *x, const uint8_t *key, size_t klen,
         const uint8_t *val, size_t vlen, size_t slen, const char *what,
         uint64_t docno)
{
    MDB_val k = {klen, (void *)key}, v = {slen, (void *)val};
    x->dups++;
    int rc = mdb_cursor_get(x->mc, &k, &v, MDB_GET_BOTH_RANGE);
    if (rc == MDB_NOTFOUND ||
        (rc == 0 && (v.mv_size < slen || memcmp(v.mv_data, val, slen) != 0))) {
        problem(r, "missing %s posting of docno %" PRIu64, what, docno);
        return 0;
    }
    if (rc != 0)
        return ix_mdb_err(rc);
    if (v.mv_size != vlen || memcmp(v.mv_data, val, vlen) != 0)
        problem(r, "wrong value in %s posting of docno %" PRIu64, what,
                docno);
    return 0;
}

/* ix_each_match_posting's callback for check_doc: want_dup on each. */
typedef struct want_match {
    report_t *r;
    expect_t *x;
    uint64_t docno;
} want_match_t;

static int
want_match(void *ctx, const ix_match_posting_t *p)
{
    const want_match_t *w = ctx;
    return want_dup(w->r, w->x, p->key, p->klen, p->val, p->vlen, p->slot,
                    p->skill ? "skill" : "minor-group", w->docno);
}

static int
check_doc(ix_txn_t *t, report_t *r, expect_t *x, const MDB_val *k,
          const MDB_val *d)
{
    const uint8_t *kb = k->mv_data;
    int ki = k->mv_size == IXK_DOC_LEN ? ix_kind_index(kb[0]) : -1;
    if (ki < 0) {
        problem(r, "malformed doc key");
        return 0;
    }
    uint8_t kind = kb[0];
    uint64_t docno = ixk_get_be64(kb + 1);
    ix_docview_t v;
    if (ix_doc_decode(d->mv_data, d->mv_size, &v) != 0 || v.id_len == 0 ||
        v.id_len > IX_ID_MAX) {
        problem(r, "malformed doc %c%" PRIu64, kind, docno);
        return 0;
    }
    x->docs++;
    x->total[ki]++;
    if (docno > x->max_docno[ki])
        x->max_docno[ki] = docno;

    uint8_t key[IXK_MAX];
    MDB_val ik = {ixk_id(key, kind, v.id, v.id_len), key}, iv;
    int rc = mdb_get(t->txn, t->env->ids, &ik, &iv);
    if (rc == MDB_NOTFOUND)
        problem(r, "doc %c%" PRIu64 " (%.*s) missing from ids", kind, docno,
                (int)v.id_len, v.id);
    else if (rc != 0)
        return ix_mdb_err(rc);
    else if (iv.mv_size != 8 || ixk_get_be64(iv.mv_data) != docno)
        problem(r, "ids maps %.*s to another docno than %" PRIu64,
                (int)v.id_len, v.id, docno);
    rc = mdb_get(t->txn, t->env->names, (MDB_val *)k, &iv);
    if (rc == MDB_NOTFOUND)
        problem(r, "doc %c%" PRIu64 " (%.*s) missing from names", kind, docno,
                (int)v.id_len, v.id);
    else if (rc != 0)
        return ix_mdb_err(rc);
    else if (iv.mv_size != v.id_len || memcmp(iv.mv_data, v.id, v.id_len) != 0)
        problem(r, "names gives doc %c%" PRIu64 " another id than %.*s", kind, docno,
                (int)v.id_len, v.id);

#define WANT(klen, val, vlen, what)                                          \
    do {                                                                     \
        if ((rc = want_posting(t, r, x, key, (klen), (val), (vlen), (what),  \
                               docno)) != 0)                                 \
            return rc;                                                       \
    } while (0)
    /* Skill and minor-group postings exist while the brief derived from
     * this doc is open, and carry it. (The doc's terms are within their
     * lengths: ix_doc_decode refuses a doc whose are not.) */
    uint8_t bb[IXK_BRIEF_VACANCY];
    ix_brief_t brief;
    ix_brief_of(kind, &v, &brief);
    ixk_brief_put(bb, kind, &brief);
    WANT(ixk_region(key, kind, v.region, docno), NULL, 0, "region");
    WANT(ixk_status(key, kind, v.status, docno), NULL, 0, "status");
    uint8_t cats = ix_list_categories(kind, &v);
    for (uint8_t c = 0; c < 8; c++)
        if (cats & (1u << c))
            WANT(ixk_category(key, kind, c, docno), NULL, 0, "category");
    for (uint32_t i = 0; i < v.n_occ; i++)
        WANT(ixk_occupation(key, kind, v.occ[i].p, v.occ[i].len, docno),
             NULL, 0, "occupation");
    for (uint32_t i = 0; i < v.n_skills && v.matchable; i++)
        if ((rc = ix_dftab_add(&x->df, kind, v.skills[i].p, v.skills[i].len, 1)) != 0)
            return rc;
#undef WANT
    if (brief.open) {
        want_match_t w = {r, x, docno};
        if ((rc = ix_each_match_posting(kind, docno, &v, bb, want_match, &w)) != 0)
            return rc;
    }
    if ((rc = ix_agg_expect_doc(t, x->agg, kind, docno, &v)) != 0)
        return rc;
    if (v.matchable && kind == IX_VACANCY &&
        (rc = ix_origin_counts_add(&x->df, &v, 1)) != 0)
        return rc;
    if (v.matchable)
        x->matchable[ki]++;
    return 0;
}

/* Compares the counts dbi with the expected counters, entry by entry. */
static int
check_counts(ix_txn_t *t, report_t *r, expect_t *x)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->counts, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    bool seen_t[2] = {false, false}, seen_n[2] = {false, false};
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *kb = k.mv_data;
        int ki = k.mv_size >= 2 ? ix_kind_index(kb[1]) : -1;
        if (ki < 0 || v.mv_size != 8) {
            problem(r, "malformed counter");
            continue;
        }
        uint64_t got = ixk_get_be64(v.mv_data), want;
        if (got == 0)
            problem(r, "zero counter kept");
        if (kb[0] == IXK_TOTAL && k.mv_size == 2) {
            want = x->total[ki];
            seen_t[ki] = true;
        } else if (kb[0] == IXK_MATCHABLE && k.mv_size == 2) {
            want = x->matchable[ki];
            seen_n[ki] = true;
        } else if (kb[0] == IXK_DF && k.mv_size >= 4 &&
                   kb[k.mv_size - 1] == 0) {
            ix_dfent_t *e = ix_dftab_find(&x->df, kb[1], (const char *)kb + 2,
                                          (uint32_t)k.mv_size - 3);
            want = e ? (uint64_t)e->delta : 0;
            if (e)
                e->delta = -1;   /* marks it compared */
        } else if ((kb[0] == IXK_ORIGIN_OPEN || kb[0] == IXK_ORIGIN_DF) &&
                   kb[1] == IX_VACANCY && k.mv_size >= 3 &&
                   k.mv_size <= 2 + IX_DF_BYTES_MAX) {
            ix_dfent_t *e = ix_dftab_find(&x->df, kb[0], (const char *)kb + 2,
                                          (uint32_t)k.mv_size - 2);
            want = e ? (uint64_t)e->delta : 0;
            if (e)
                e->delta = -1;
        } else {
            problem(r, "unknown counter key");
            continue;
        }
        if (got != want)
            problem(r, "counter %c%c%.*s is %" PRIu64 ", expected %" PRIu64,
                    kb[0], kb[1], kb[0] == IXK_DF ? (int)k.mv_size - 3 : 0,
                    (const char *)kb + 2, got, want);
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return ix_mdb_err(rc);
    for (int i = 0; i < 2; i++) {
        char kc = i == 0 ? IX_VACANCY : IX_WORKER;
        if (!seen_t[i] && x->total[i])
            problem(r, "missing total counter of %c", kc);
        if (!seen_n[i] && x->matchable[i])
            problem(r, "missing matchable counter of %c", kc);
    }
    for (uint32_t i = 0; i < x->df.df_used; i++) {
        const ix_dfent_t *e = &x->df.df[x->df.df_order[i]];
        if (e->delta > 0)
            problem(r, "missing df counter %c%.*s", e->kind, (int)e->len,
                    e->skill);
    }
    return 0;
}

/* When the post (dup false) or match dbi holds more entries than the docs
 * call for, finds the extras for the report: postings whose doc is gone.
 * A post key ends with its docno, a match value holds it after the rank. */
static int
find_extra_postings(ix_txn_t *t, report_t *r, bool dup)
{
    MDB_cursor *c;
    const char *name = dup ? "match" : "post";
    int rc = mdb_cursor_open(t->txn, dup ? t->env->match : t->env->post, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    MDB_val k, v;
    unsigned found = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && found < 8;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *kb = k.mv_data;
        if (k.mv_size < (dup ? 4 + IXK_SKILL_TAIL : 11) ||
            ix_kind_index(kb[1]) < 0 || (dup && v.mv_size < IXK_SKILL_SLOT)) {
            problem(r, "malformed %s posting", name);
            found++;
            continue;
        }
        uint64_t docno = dup ? ixk_match_docno(v.mv_data)
                             : ixk_docno_of(kb, k.mv_size);
        ix_docview_t dv;
        int drc = ix_doc_fetch(t, kb[1], docno, &dv);
        if (drc == -ENOENT) {
            problem(r, "posting '%c' for missing docno %" PRIu64, kb[0],
                    docno);
            found++;
        } else if (drc != 0 && drc != -EIO) {
            rc = drc;
            break;
        }
    }
    mdb_cursor_close(c);
    if (found == 0)
        problem(r, "%s holds postings no doc calls for", name);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc < 0 ? rc : ix_mdb_err(rc);
}

static int
check_meta(ix_txn_t *t, report_t *r, expect_t *x)
{
    uint8_t key[IXK_MAX];
    for (int i = 0; i < 2; i++) {
        uint8_t kind = i == 0 ? IX_VACANCY : IX_WORKER;
        MDB_val k = {ixk_meta_docno(key, kind), key}, v;
        int rc = mdb_get(t->txn, t->env->meta, &k, &v);
        uint64_t next = 0;
        if (rc == 0 && v.mv_size == 8)
            next = ixk_get_be64(v.mv_data);
        else if (rc != 0 && rc != MDB_NOTFOUND)
            return ix_mdb_err(rc);
        if (x->max_docno[i] && next <= x->max_docno[i])
            problem(r, "next docno of %c (%" PRIu64 ") not above %" PRIu64,
                    kind, next, x->max_docno[i]);
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->log, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    uint64_t last = 0;
    if (rc == 0 && k.mv_size == 8)
        last = ixk_get_be64(k.mv_data);
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return ix_mdb_err(rc);
    MDB_val sk = {3, "seq"};
    uint64_t seq = 0;
    rc = mdb_get(t->txn, t->env->meta, &sk, &v);
    if (rc == 0 && v.mv_size == 8)
        seq = ixk_get_be64(v.mv_data);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return ix_mdb_err(rc);
    if (seq < last)
        problem(r, "meta seq %" PRIu64 " below last log entry %" PRIu64, seq,
                last);
    return 0;
}

static int
run_check(ix_txn_t *t, report_t *r, expect_t *x)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->docs, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    if ((rc = mdb_cursor_open(t->txn, t->env->match, &x->mc)) != 0) {
        mdb_cursor_close(c);
        return ix_mdb_err(rc);
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        int crc = check_doc(t, r, x, &k, &v);
        if (crc != 0) {
            mdb_cursor_close(x->mc);
            mdb_cursor_close(c);
            return crc;
        }
    }
    mdb_cursor_close(x->mc);
    x->mc = NULL;
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return ix_mdb_err(rc);

    MDB_stat st;
    if ((rc = mdb_stat(t->txn, t->env->ids, &st)) != 0)
        return ix_mdb_err(rc);
    if (st.ms_entries != x->docs)
        problem(r, "ids holds %zu entries for %" PRIu64 " docs",
                st.ms_entries, x->docs);
    if ((rc = mdb_stat(t->txn, t->env->names, &st)) != 0)
        return ix_mdb_err(rc);
    if (st.ms_entries != x->docs)
        problem(r, "names holds %zu entries for %" PRIu64 " docs",
                st.ms_entries, x->docs);
    if ((rc = mdb_stat(t->txn, t->env->post, &st)) != 0)
        return ix_mdb_err(rc);
    /* Every expected posting was found and keys are unique, so equal
     * counts mean there is nothing extra. */
    if (st.ms_entries != x->postings) {
        problem(r, "post holds %zu entries, docs call for %" PRIu64,
                st.ms_entries, x->postings);
        if (st.ms_entries > x->postings &&
            (rc = find_extra_postings(t, r, false)))
            return rc;
    }
    /* The same for match, where ms_entries counts every duplicate and no
     * two expected values are equal (a doc's skills and codes are
     * distinct). */
    if ((rc = mdb_stat(t->txn, t->env->match, &st)) != 0)
        return ix_mdb_err(rc);
    if (st.ms_entries != x->dups) {
        problem(r, "match holds %zu entries, docs call for %" PRIu64,
                st.ms_entries, x->dups);
        if (st.ms_entries > x->dups && (rc = find_extra_postings(t, r, true)))
            return rc;
    }
    if ((rc = check_counts(t, r, x)) != 0)
        return rc;
    char why[160];
    uint64_t audit_entries;
    if ((rc = ix_audit_verify(t, &audit_entries, why, sizeof why)) < 0)
        return rc;
    if (rc == 1)
        problem(r, "%s", why);
    if ((rc = ix_referral_check(t, x->agg, problem_cb, r)) != 0)
        return rc;
    if ((rc = ix_agg_compare(t, x->agg, problem_cb, r)) != 0)
        return rc;
    return check_meta(t, r, x);
}

int
ix_check(ix_txn_t *t, char *report, size_t len)
{
    if (!t || (!report && len > 0))
        return -EINVAL;
    if (len > 0)
        report[0] = '\0';
    if (!t->rdonly) {
        if (t->ret != 0)
            return t->ret;
        int rc = ix_pending_flush(t);
        if (rc != 0)
            return rc;
    }
    report_t r = {report, len, 0, 0};
    expect_t x;
    memset(&x, 0, sizeof x);
    if (!(x.agg = ix_agg_ledger_new()))
        return -ENOMEM;
    ix_long_read_begin(t->env);
    int rc = run_check(t, &r, &x);
    ix_long_read_end(t->env);
    ix_pending_free(&x.df);
    ix_agg_ledger_free(x.agg);
    if (rc != 0)
        return rc;
    if (r.problems == 0) {
        if (len > 0)
            snprintf(report, len,
                     "ok: %" PRIu64 " docs, %" PRIu64 " postings", x.docs,
                     x.postings + x.dups);
        return 0;
    }
    if (len > 0 && r.used >= 2 && r.used < len) {
        report[r.used - 2] = '\0';   /* drop the last separator */
        if (r.problems > 8)
            snprintf(report + r.used - 2, len - (r.used - 2),
                     "; %u problems in all", r.problems);
    }
    return -EUCLEAN;
}
