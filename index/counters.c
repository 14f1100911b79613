/* counters.c - per-kind totals, matchable counts and per-skill document
 * frequencies, plus the write transaction's pending state (next docnos,
 * last log seq). A write transaction buffers counter deltas in memory and
 * applies them once per distinct key: at commit, before anything in the
 * same transaction reads a counter, or when the buffer is large.
 */
#include "internal.h"

#include <stdlib.h>

static const uint8_t seq_key[] = "seq";
static const uint8_t aseq_key[] = "aseq";

void
ix_pending_reset(ix_pending_t *p)
{
    for (uint32_t i = 0; i < p->df_used; i++)
        p->df[p->df_order[i]].len = 0;
    p->df_used = 0;
    p->n_ops = 0;
    ix_agg_discard(p);
    p->loaded = false;
    p->dirty = false;
    memset(p->total, 0, sizeof p->total);
    memset(p->matchable, 0, sizeof p->matchable);
}

void
ix_pending_free(ix_pending_t *p)
{
    free(p->df);
    free(p->df_order);
    free(p->ops);
    free(p->op_sort);
    ix_agg_ledger_free(p->agg);
    memset(p, 0, sizeof *p);
}

/* A be64 value of dbi, 0 when absent. */
static int
get_u64(ix_txn_t *t, MDB_dbi dbi, const void *key, size_t klen, uint64_t *out)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, dbi, &k, &v);
    *out = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return ix_mdb_err(rc);
    if (v.mv_size != 8)
        return -EIO;
    *out = ixk_get_be64(v.mv_data);
    return 0;
}

static int
meta_put_u64(ix_txn_t *t, const void *key, size_t klen, uint64_t val)
{
    uint8_t b[8];
    ixk_put_be64(b, val);
    MDB_val k = {klen, (void *)key}, v = {8, b};
    return ix_mdb_err(mdb_put(t->txn, t->env->meta, &k, &v, 0));
}

int
ix_pending_load(ix_txn_t *t)
{
    ix_pending_t *p = &t->env->pend;
    if (p->loaded)
        return 0;
    uint8_t kb[IXK_MAX];
    int rc;
    for (int i = 0; i < 2; i++) {
        size_t n = ixk_meta_docno(kb, i == 0 ? IX_VACANCY : IX_WORKER);
        if ((rc = get_u64(t, t->env->meta, kb, n, &p->next_docno[i])) != 0)
            return ix_fail(t, rc);
        /* docno 0 is never handed out, so a stored docno is always > 0. */
        if (p->next_docno[i] == 0)
            p->next_docno[i] = 1;
    }
    if ((rc = get_u64(t, t->env->meta, seq_key, 3, &p->seq)) != 0 ||
        (rc = get_u64(t, t->env->meta, aseq_key, 4, &p->aseq)) != 0)
        return ix_fail(t, rc);
    p->loaded = true;
    return 0;
}

int
ix_counter_get(ix_txn_t *t, const uint8_t *key, size_t klen, uint64_t *out)
{
    return get_u64(t, t->env->counts, key, klen, out);
}

/* Applies delta to a stored counter, deleting it at zero. A counter that
 * would go below zero means the store is inconsistent. */
static int
counter_add(ix_txn_t *t, const uint8_t *key, size_t klen, int64_t delta)
{
    if (delta == 0)
        return 0;
    uint64_t cur;
    int rc = ix_counter_get(t, key, klen, &cur);
    if (rc != 0)
        return rc;
    if (delta < 0 && cur < (uint64_t)-delta)
        return -EIO;
    uint64_t nv = cur + (uint64_t)delta;
    MDB_val k = {klen, (void *)key};
    if (nv == 0)
        return ix_mdb_err(mdb_del(t->txn, t->env->counts, &k, NULL));
    uint8_t b[8];
    ixk_put_be64(b, nv);
    MDB_val v = {8, b};
    return ix_mdb_err(mdb_put(t->txn, t->env->counts, &k, &v, 0));
}

/* FNV-1a over the kind and the skill id. */
static uint32_t
df_hash(uint8_t kind, const char *s, uint32_t len)
{
    uint32_t h = 2166136261u ^ kind;
    h *= 16777619u;
    for (uint32_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

static int
df_grow(ix_pending_t *p)
{
    uint32_t ncap = p->df_cap ? p->df_cap * 2 : 1024;
    ix_dfent_t *nt = calloc(ncap, sizeof *nt);
    uint32_t *no = malloc((size_t)ncap / 2 * sizeof *no);
    if (!nt || !no) {
        free(nt);
        free(no);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < p->df_used; i++) {
        const ix_dfent_t *e = &p->df[p->df_order[i]];
        uint32_t j = e->hash & (ncap - 1);
        while (nt[j].len != 0)
            j = (j + 1) & (ncap - 1);
        nt[j] = *e;
        no[i] = j;
    }
    free(p->df);
    free(p->df_order);
    p->df = nt;
    p->df_order = no;
    p->df_cap = ncap;
    return 0;
}

/* The counts key of a df table entry. */
static size_t
dfent_key(uint8_t kb[2 + IX_DF_BYTES_MAX], const ix_dfent_t *e)
{
    if (e->kind != IX_DF_ORIGIN_OPEN && e->kind != IX_DF_ORIGIN_DF)
        return ixk_df(kb, e->kind, e->skill, e->len);
    kb[0] = e->kind;
    kb[1] = IX_VACANCY;
    memcpy(kb + 2, e->skill, e->len);
    return 2 + (size_t)e->len;
}

static int
flush_df(ix_txn_t *t)
{
    ix_pending_t *p = &t->env->pend;
    uint8_t kb[2 + IX_DF_BYTES_MAX];
    int rc = 0;
    for (uint32_t i = 0; i < p->df_used; i++) {
        ix_dfent_t *e = &p->df[p->df_order[i]];
        if (rc == 0 && e->delta != 0)
            rc = counter_add(t, kb, dfent_key(kb, e), e->delta);
        e->len = 0;
    }
    p->df_used = 0;
    return rc;
}

int
ix_dftab_add(ix_pending_t *p, uint8_t kind, const char *s, uint32_t len,
             int64_t d)
{
    int rc;
    if ((p->df_used + 1) * 2 > p->df_cap && (rc = df_grow(p)) != 0)
        return rc;
    uint32_t h = df_hash(kind, s, len);
    uint32_t j = h & (p->df_cap - 1);
    for (;;) {
        ix_dfent_t *e = &p->df[j];
        if (e->len == 0) {
            e->hash = h;
            e->kind = kind;
            e->len = (uint8_t)len;
            memcpy(e->skill, s, len);
            e->delta = d;
            p->df_order[p->df_used++] = j;
            return 0;
        }
        if (e->hash == h && e->kind == kind && e->len == len &&
            memcmp(e->skill, s, len) == 0) {
            e->delta += d;
            return 0;
        }
        j = (j + 1) & (p->df_cap - 1);
    }
}

ix_dfent_t *
ix_dftab_find(ix_pending_t *p, uint8_t kind, const char *s, uint32_t len)
{
    if (p->df_cap == 0)
        return NULL;
    uint32_t h = df_hash(kind, s, len);
    for (uint32_t j = h & (p->df_cap - 1);; j = (j + 1) & (p->df_cap - 1)) {
        ix_dfent_t *e = &p->df[j];
        if (e->len == 0)
            return NULL;
        if (e->hash == h && e->kind == kind && e->len == len &&
            memcmp(e->skill, s, len) == 0)
            return e;
    }
}

int
ix_origin_counts_add(ix_pending_t *p, const ix_docview_t *v, int64_t d)
{
    char b[IX_DF_BYTES_MAX];
    uint32_t ol = v->origin.len;
    b[0] = (char)ol;
    memcpy(b + 1, v->origin.p, ol);
    int rc = ix_dftab_add(p, IX_DF_ORIGIN_OPEN, b, 1 + ol, d);
    for (uint32_t i = 0; i < v->n_skills && rc == 0; i++) {
        memcpy(b + 1 + ol, v->skills[i].p, v->skills[i].len);
        rc = ix_dftab_add(p, IX_DF_ORIGIN_DF, b, 1 + ol + v->skills[i].len, d);
    }
    return rc;
}

int
ix_pending_doc(ix_txn_t *t, uint8_t kind, const ix_docview_t *v, int sign)
{
    ix_pending_t *p = &t->env->pend;
    int ki = ix_kind_index(kind);
    p->dirty = true;
    p->total[ki] += sign;
    if (!v->matchable)
        return 0;
    p->matchable[ki] += sign;
    int rc;
    /* A vacancy adds as many counters again per origin, plus its count. */
    if (p->df_used + 2 * v->n_skills + 1 > IX_DF_FLUSH_AT && (rc = flush_df(t)) != 0)
        return ix_fail(t, rc);
    for (uint32_t i = 0; i < v->n_skills; i++) {
        rc = ix_dftab_add(p, kind, v->skills[i].p, v->skills[i].len, sign);
        if (rc != 0)
            return ix_fail(t, rc);
    }
    if (kind == IX_VACANCY && (rc = ix_origin_counts_add(p, v, sign)) != 0)
        return ix_fail(t, rc);
    return 0;
}

int
ix_pending_flush(ix_txn_t *t)
{
    ix_pending_t *p = &t->env->pend;
    if (t->rdonly || !p->loaded)
        return 0;
    if (t->ret != 0)
        return t->ret;
    uint8_t kb[IXK_MAX];
    int rc = ix_post_flush(t);
    if (rc == 0)
        rc = flush_df(t);
    if (rc == 0)
        rc = ix_agg_flush(t);
    for (int i = 0; i < 2 && rc == 0; i++) {
        uint8_t kind = i == 0 ? IX_VACANCY : IX_WORKER;
        rc = counter_add(t, kb, ixk_counter(kb, IXK_TOTAL, kind), p->total[i]);
        if (rc == 0)
            rc = counter_add(t, kb, ixk_counter(kb, IXK_MATCHABLE, kind),
                             p->matchable[i]);
        p->total[i] = p->matchable[i] = 0;
        if (rc == 0 && p->dirty)
            rc = meta_put_u64(t, kb, ixk_meta_docno(kb, kind),
                              p->next_docno[i]);
    }
    if (rc == 0 && p->dirty)
        rc = meta_put_u64(t, seq_key, 3, p->seq);
    if (rc == 0 && p->dirty)
        rc = meta_put_u64(t, aseq_key, 4, p->aseq);
    p->dirty = false;
    return ix_fail(t, rc);
}

/* Makes a write transaction's stored counters current before reading. */
static int
settle(ix_txn_t *t)
{
    if (t->rdonly)
        return 0;
    if (t->ret != 0)
        return t->ret;
    return ix_pending_flush(t);
}

int
ix_stats(ix_txn_t *t, ix_stats_t *out)
{
    if (!t || !out)
        return -EINVAL;
    int rc = settle(t);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof *out);
    uint8_t kb[IXK_MAX];
    uint64_t *dst[4] = {&out->vacancies, &out->vacancies_open, &out->workers,
                        &out->workers_available};
    for (int i = 0; i < 4; i++) {
        uint8_t kind = i < 2 ? IX_VACANCY : IX_WORKER;
        uint8_t tag = i % 2 == 0 ? IXK_TOTAL : IXK_MATCHABLE;
        if ((rc = ix_counter_get(t, kb, ixk_counter(kb, tag, kind), dst[i])))
            return rc;
    }
    MDB_val k = {3, (void *)seq_key}, v;
    rc = mdb_get(t->txn, t->env->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        out->last_seq = ixk_get_be64(v.mv_data);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return ix_mdb_err(rc);
    MDB_val ak = {4, (void *)aseq_key};
    rc = mdb_get(t->txn, t->env->meta, &ak, &v);
    if (rc == 0 && v.mv_size == 8)
        out->audit_seq = ixk_get_be64(v.mv_data);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return ix_mdb_err(rc);
    MDB_val qk = {1, "Q"};
    rc = mdb_get(t->txn, t->env->alerts, &qk, &v);
    if (rc == 0 && v.mv_size == 8)
        out->alert_seq = ixk_get_be64(v.mv_data);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return ix_mdb_err(rc);
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(t->env->env, &info);
    mdb_env_stat(t->env->env, &st);
    out->map_size = info.me_mapsize;
    out->map_used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    ix_id_cache_usage(t->env->id_cache, &out->id_cache_ids, &out->id_cache_bytes);
    return 0;
}

int
ix_skill_df(ix_txn_t *t, uint8_t kind, const char *skill, uint32_t skill_len,
            uint64_t *df)
{
    if (!t || !df || ix_kind_index(kind) < 0 || !skill || skill_len == 0 ||
        skill_len > IX_SKILL_ID_MAX || memchr(skill, 0, skill_len))
        return -EINVAL;
    int rc = settle(t);
    if (rc != 0)
        return rc;
    uint8_t kb[IXK_MAX];
    return ix_counter_get(t, kb, ixk_df(kb, kind, skill, skill_len), df);
}

int
ix_origins(ix_txn_t *t, ix_origin_cb cb, void *ctx)
{
    if (!t || !cb)
        return -EINVAL;
    int rc = settle(t);
    if (rc != 0)
        return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, t->env->counts, &c)) != 0)
        return ix_mdb_err(rc);
    const uint8_t pre[2] = {IXK_ORIGIN_OPEN, IX_VACANCY};
    MDB_val k = {2, (void *)pre}, v;
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *kb = k.mv_data;
        if (!ixk_has_prefix(kb, k.mv_size, pre, 2))
            break;
        if (k.mv_size < 3 || k.mv_size != 3 + (size_t)kb[2] || v.mv_size != 8) {
            ret = -EIO;
            break;
        }
        int r = cb(ctx, (const char *)kb + 3, kb[2], ixk_get_be64(v.mv_data));
        if (r != 0) {
            ret = r < 0 ? r : 0;
            break;
        }
    }
    mdb_cursor_close(c);
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = ix_mdb_err(rc);
    return ret;
}

int
ix_origin_df(ix_txn_t *t, const char *origin, uint32_t origin_len,
             const char *skill, uint32_t skill_len, uint64_t *df)
{
    if (!t || !df || (origin_len && !origin) || origin_len > IX_ID_MAX || !skill ||
        skill_len == 0 || skill_len > IX_SKILL_ID_MAX || memchr(skill, 0, skill_len))
        return -EINVAL;
    int rc = settle(t);
    if (rc != 0)
        return rc;
    uint8_t kb[2 + IX_DF_BYTES_MAX];
    kb[0] = IXK_ORIGIN_DF;
    kb[1] = IX_VACANCY;
    kb[2] = (uint8_t)origin_len;
    if (origin_len)
        memcpy(kb + 3, origin, origin_len);
    memcpy(kb + 3 + origin_len, skill, skill_len);
    return ix_counter_get(t, kb, 3 + origin_len + skill_len, df);
}
