/* labour.c - labour-market aggregates in the stats dbi: counters per
 * month, region and occupation (or category) and wage histograms, kept
 * exact by every put, delete and referral hire in the same write
 * transaction, plus the sorted wage postings the guideline overlay walks.
 *
 * Every aggregate is a function of the stored records alone: a record's
 * contribution is derived from its doc (or a referral's header) by one
 * function, subtracted when the old version goes and added when the new
 * one comes, so replaces and deletes leave the figures what a brute-force
 * count over the records gives. ix_check recomputes them the same way.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdlib.h>

/* The contributions of one record version: at most 4 levels x 16 groups
 * of applicants, a category count and 16 wish postings for a worker. */
#define AGG_DELTAS_MAX 96
/* Pending counter deltas are written once this many distinct counters
 * wait, which bounds the table's memory. */
#define AGG_FLUSH_AT 65536

typedef struct agg_delta {
    uint8_t key[IXA_KEY_MAX];
    uint8_t klen;
    bool posting;      /* an empty-valued posting rather than a counter */
    int64_t count, sum;
} agg_delta_t;

typedef struct agg_set {
    agg_delta_t d[2 * AGG_DELTAS_MAX];
    uint32_t n;
} agg_set_t;

static const uint8_t occ_levels[4] = {1, 4, 7, 10};

int64_t
ix_month_of(int64_t t)
{
    /* Days since 1970-01-01, floored, then the civil date of that day
     * (Howard Hinnant's days-to-civil, valid for any int64 day count). */
    int64_t days = t / 86400 - (t % 86400 < 0);
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    return y * 12 + (m - 1);
}

static void
put_month(uint8_t *p, int64_t month)
{
    /* Flipping the sign bit makes two's complement sort bytewise. */
    ixk_put_be64(p, (uint64_t)month ^ (1ULL << 63));
}

static void
pad_code(uint8_t *out, const char *code, uint32_t len)
{
    memset(out, 0, IXK_OCC_WIDTH);
    memcpy(out, code, len);
}

static uint32_t
code_len(const uint8_t *padded)
{
    uint32_t n = 0;
    while (n < IXK_OCC_WIDTH && padded[n])
        n++;
    return n;
}

static agg_delta_t *
add(agg_set_t *s, bool posting, int64_t count, int64_t sum)
{
    agg_delta_t *d = &s->d[s->n++];
    d->posting = posting;
    d->count = count;
    d->sum = sum;
    return d;
}

/* The aggregates one vacancy or worker version contributes, times sign. */
static void
doc_deltas(agg_set_t *s, uint8_t kind, uint64_t docno, const ix_docview_t *v,
           int sign)
{
    uint8_t *k;
    agg_delta_t *d;
    int64_t month = ix_month_of(v->match.since);
    if (kind == IX_VACANCY) {
        const ix_str_t *occ = v->n_occ ? &v->occ[0] : NULL;
        uint32_t olen = occ ? occ->len : 0;
        d = add(s, false, sign, sign * (int64_t)v->match.headcount);
        k = d->key;
        k[0] = IXA_OPENINGS;
        put_month(k + 1, month);
        memcpy(k + 9, v->region, 6);
        pad_code(k + 15, occ ? occ->p : "", olen);
        d->klen = IXA_OPENINGS_LEN;
        if (v->copy) {
            agg_delta_t *c = add(s, false, sign, sign * (int64_t)v->match.headcount);
            memcpy(c->key, d->key, IXA_OPENINGS_LEN);
            c->key[0] = IXA_COPY_OPENINGS;
            c->klen = IXA_OPENINGS_LEN;
        }
        if (!v->matchable || v->match.wage_max == 0)
            return;
        uint32_t wage2 = v->match.wage_min + v->match.wage_max;
        d = add(s, false, sign, 0);
        k = d->key;
        k[0] = IXA_WAGES;
        memcpy(k + 1, v->region, 6);
        pad_code(k + 7, occ ? occ->p : "", olen);
        ixk_put_be32(k + 17, wage2);
        d->klen = IXA_WAGES_LEN;
        d = add(s, true, sign, 0);
        memcpy(d->key, k, IXA_WAGES_LEN);
        d->key[0] = IXA_OFFER;
        ixk_put_be64(d->key + IXA_WAGES_LEN, docno);
        d->klen = IXA_POSTING_LEN;
        return;
    }
    d = add(s, false, sign, 0);
    k = d->key;
    k[0] = IXA_REGISTERED;
    put_month(k + 1, month);
    memcpy(k + 9, v->region, 6);
    k[15] = v->category;
    d->klen = IXA_CATEGORY_LEN;
    /* Applicants per occupation group at each level: once per distinct
     * group among the desired codes that reach the level, or once under
     * the empty group when none does. */
    for (int l = 0; l < 4; l++) {
        uint8_t lv = occ_levels[l];
        uint32_t first = s->n;
        for (uint32_t i = 0; i < v->n_occ; i++) {
            if (v->occ[i].len < lv)
                continue;
            bool seen = false;
            for (uint32_t j = first; j < s->n && !seen; j++)
                seen = memcmp(s->d[j].key + 16, v->occ[i].p, lv) == 0;
            if (seen)
                continue;
            d = add(s, false, sign, 0);
            k = d->key;
            k[0] = IXA_APPLICANTS;
            put_month(k + 1, month);
            k[9] = lv;
            memcpy(k + 10, v->region, 6);
            pad_code(k + 16, v->occ[i].p, lv);
            d->klen = IXA_APPLICANTS_LEN;
        }
        if (s->n == first) {
            d = add(s, false, sign, 0);
            k = d->key;
            k[0] = IXA_APPLICANTS;
            put_month(k + 1, month);
            k[9] = lv;
            memcpy(k + 10, v->region, 6);
            pad_code(k + 16, "", 0);
            d->klen = IXA_APPLICANTS_LEN;
        }
    }
    if (!v->matchable || v->match.wage_min == 0)
        return;
    uint32_t wage2 = 2 * v->match.wage_min;
    for (uint32_t i = 0; i <= v->n_occ; i++) {
        if (i == v->n_occ && v->n_occ > 0)
            break;
        d = add(s, true, sign, 0);
        k = d->key;
        k[0] = IXA_WISH;
        memcpy(k + 1, v->region, 6);
        if (i < v->n_occ)
            pad_code(k + 7, v->occ[i].p, v->occ[i].len);
        else
            pad_code(k + 7, "", 0);
        ixk_put_be32(k + 17, wage2);
        ixk_put_be64(k + 21, docno);
        d->klen = IXA_POSTING_LEN;
    }
}

static void
hire_delta(agg_set_t *s, const ix_referral_t *r, int sign)
{
    agg_delta_t *d = add(s, false, sign, 0);
    d->key[0] = IXA_HIRED;
    put_month(d->key + 1, ix_month_of(r->hired_at));
    memcpy(d->key + 9, r->region, 6);
    d->key[15] = r->category;
    d->klen = IXA_CATEGORY_LEN;
}

/* Folds entries with equal keys together, so a replace that changes
 * nothing an aggregate depends on writes nothing. */
static void
net(agg_set_t *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        agg_delta_t *a = &s->d[i];
        for (uint32_t j = i + 1; j < s->n; j++) {
            agg_delta_t *b = &s->d[j];
            if (b->klen == a->klen && memcmp(a->key, b->key, a->klen) == 0) {
                a->count += b->count;
                a->sum += b->sum;
                b->count = b->sum = 0;
                b->klen = 0;
            }
        }
    }
}

/* Adds a delta to one stored counter, deleting it at zero. */
static int
add_counter(ix_txn_t *t, const uint8_t *key, size_t klen, uint64_t dcount, uint64_t dsum)
{
    MDB_dbi dbi = t->env->stats;
    MDB_val k = {klen, (void *)key}, v;
    uint64_t count = 0, sum = 0;
    int rc = mdb_get(t->txn, dbi, &k, &v);
    if (rc == 0 && v.mv_size == 16) {
        count = ixk_get_be64(v.mv_data);
        sum = ixk_get_be64((const uint8_t *)v.mv_data + 8);
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        return ix_mdb_err(rc);
    }
    count += dcount;
    sum += dsum;
    /* A count that would go below zero means the store was already off;
     * admin.check reports it. Dropping the counter keeps writes going. */
    if (count == 0 || (int64_t)count < 0) {
        rc = mdb_del(t->txn, dbi, &k, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    } else {
        uint8_t vb[16];
        ixk_put_be64(vb, count);
        ixk_put_be64(vb + 8, sum);
        v.mv_size = 16;
        v.mv_data = vb;
        rc = mdb_put(t->txn, dbi, &k, &v, 0);
    }
    return ix_mdb_err(rc);
}

static int ledger_add(ix_agg_ledger_t *l, const agg_delta_t *d);
static ix_agg_ledger_t *ledger_new(void);
static agg_set_t *ledger_scratch(ix_agg_ledger_t *l);
static uint32_t ledger_used(const ix_agg_ledger_t *l);

/* Postings are written at once; counter deltas wait in the transaction's
 * pending table (ix_agg_flush). */
static int
apply(ix_txn_t *t, agg_set_t *s)
{
    net(s);
    ix_pending_t *p = &t->env->pend;
    int rc = ix_pending_load(t);
    if (rc != 0)
        return rc;
    if (!p->agg && !(p->agg = ledger_new()))
        return ix_fail(t, -ENOMEM);
    if (ledger_used(p->agg) > AGG_FLUSH_AT && (rc = ix_agg_flush(t)) != 0)
        return rc;
    MDB_dbi dbi = t->env->stats;
    for (uint32_t i = 0; i < s->n; i++) {
        agg_delta_t *d = &s->d[i];
        if (d->klen == 0 || (d->count == 0 && d->sum == 0))
            continue;
        if (!d->posting) {
            if (ledger_add(p->agg, d) != 0)
                return ix_fail(t, -ENOMEM);
            continue;
        }
        MDB_val k = {d->klen, d->key}, v = {0, NULL};
        if (d->count > 0) {
            rc = mdb_put(t->txn, dbi, &k, &v, 0);
        } else {
            rc = mdb_del(t->txn, dbi, &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        if (rc != 0)
            return ix_fail(t, ix_mdb_err(rc));
    }
    return 0;
}

int
ix_agg_doc(ix_txn_t *t, uint8_t kind, uint64_t docno, const ix_docview_t *old,
           const ix_docview_t *nw)
{
    ix_pending_t *p = &t->env->pend;
    if (!p->agg && !(p->agg = ledger_new()))
        return ix_fail(t, -ENOMEM);
    agg_set_t *s = ledger_scratch(p->agg);
    if (!s)
        return ix_fail(t, -ENOMEM);
    if (old)
        doc_deltas(s, kind, docno, old, -1);
    if (nw)
        doc_deltas(s, kind, docno, nw, +1);
    return apply(t, s);
}

int
ix_agg_referral(ix_txn_t *t, const ix_referral_t *old, const ix_referral_t *nw)
{
    agg_set_t s;
    s.n = 0;
    if (old && old->hired)
        hire_delta(&s, old, -1);
    if (nw && nw->hired)
        hire_delta(&s, nw, +1);
    return apply(t, &s);
}

/* ---- reading ---------------------------------------------------------- */

static bool
digits(const char *p, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

int
ix_agg_scan(ix_txn_t *t, uint8_t agg, int64_t month_from, int64_t month_to,
            uint8_t level, const char *region_prefix, uint32_t plen,
            ix_agg_cb cb, void *ctx)
{
    if (!t || !cb || plen > 6 || (plen && !region_prefix) ||
        !digits(region_prefix, plen))
        return -EINVAL;
    bool monthly = agg != IXA_WAGES;
    if (agg != IXA_OPENINGS && agg != IXA_COPY_OPENINGS && agg != IXA_APPLICANTS &&
        agg != IXA_REGISTERED && agg != IXA_HIRED && agg != IXA_WAGES)
        return -EINVAL;
    if (agg == IXA_APPLICANTS && level != 1 && level != 4 && level != 7 &&
        level != 10)
        return -EINVAL;
    if (!monthly)
        month_from = month_to = 0;
    if (month_from > month_to)
        return 0;
    int rc = t->rdonly ? 0 : ix_pending_flush(t);
    if (rc != 0)
        return rc;
    MDB_cursor *c;
    rc = mdb_cursor_open(t->txn, t->env->stats, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    int ret = 0;
    for (int64_t m = month_from; m <= month_to && ret == 0; m++) {
        uint8_t pre[IXA_KEY_MAX];
        size_t n = 0;
        pre[n++] = agg;
        if (monthly) {
            put_month(pre + n, m);
            n += 8;
        }
        if (agg == IXA_APPLICANTS)
            pre[n++] = level;
        size_t region_at = n;
        memcpy(pre + n, region_prefix, plen);
        n += plen;
        MDB_val k = {n, pre}, v;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            const uint8_t *kb = k.mv_data;
            if (!ixk_has_prefix(kb, k.mv_size, pre, n))
                break;
            if (v.mv_size != 16 || k.mv_size < region_at + 6) {
                ret = -EIO;
                break;
            }
            ix_agg_cell_t cell = {
                .month = m,
                .count = ixk_get_be64(v.mv_data),
                .sum = ixk_get_be64((const uint8_t *)v.mv_data + 8),
            };
            memcpy(cell.region, kb + region_at, 6);
            const uint8_t *rest = kb + region_at + 6;
            size_t rest_len = k.mv_size - region_at - 6;
            if (agg == IXA_REGISTERED || agg == IXA_HIRED) {
                if (rest_len != 1) {
                    ret = -EIO;
                    break;
                }
                cell.category = rest[0];
            } else {
                size_t want = IXK_OCC_WIDTH + (agg == IXA_WAGES ? 4 : 0);
                if (rest_len != want) {
                    ret = -EIO;
                    break;
                }
                memcpy(cell.code, rest, IXK_OCC_WIDTH);
                cell.code_len = code_len(rest);
                if (agg == IXA_WAGES)
                    cell.wage2 = ixk_get_be32(rest + IXK_OCC_WIDTH);
            }
            int r = cb(ctx, &cell);
            if (r != 0) {
                ret = r < 0 ? r : 1;
                break;
            }
        }
        if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
            ret = ix_mdb_err(rc);
    }
    mdb_cursor_close(c);
    return ret < 0 ? ret : 0;
}

int
ix_wage_walk(ix_txn_t *t, uint8_t kind, const char *region_prefix,
             uint32_t plen, ix_wage_pick_cb pick, ix_wage_cb take, void *ctx)
{
    if (!t || !pick || !take || plen > 6 || (plen && !region_prefix) ||
        !digits(region_prefix, plen) || ix_kind_index(kind) < 0)
        return -EINVAL;
    uint8_t tag = kind == IX_VACANCY ? IXA_OFFER : IXA_WISH;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->stats, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    uint8_t pre[8], kb[IXA_POSTING_LEN];
    pre[0] = tag;
    memcpy(pre + 1, region_prefix, plen);
    size_t n = 1 + plen;
    MDB_val k = {n, pre}, v;
    int ret = 0;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && ret == 0) {
        if (!ixk_has_prefix(k.mv_data, k.mv_size, pre, n))
            break;
        if (k.mv_size != IXA_POSTING_LEN) {
            ret = -EIO;
            break;
        }
        /* One cell: a region and a code. */
        uint8_t cell[1 + 6 + IXK_OCC_WIDTH];
        memcpy(cell, k.mv_data, sizeof cell);
        char region[6];
        memcpy(region, cell + 1, 6);
        uint32_t lo = 0, hi = 0;
        int p = pick(ctx, region, (const char *)cell + 7, code_len(cell + 7),
                     &lo, &hi);
        if (p < 0) {
            ret = p;
            break;
        }
        if (p == 0 && lo < hi) {
            memcpy(kb, cell, sizeof cell);
            ixk_put_be32(kb + sizeof cell, lo);
            memset(kb + sizeof cell + 4, 0, 8);
            k.mv_size = sizeof kb;
            k.mv_data = kb;
            rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
            for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
                const uint8_t *b = k.mv_data;
                if (k.mv_size != IXA_POSTING_LEN ||
                    memcmp(b, cell, sizeof cell) != 0)
                    break;
                uint32_t w = ixk_get_be32(b + sizeof cell);
                if (w >= hi)
                    break;
                int r = take(ctx, ixk_get_be64(b + sizeof cell + 4), region,
                             (const char *)cell + 7, code_len(cell + 7), w);
                if (r != 0) {
                    ret = r < 0 ? r : 1;
                    break;
                }
            }
            if (ret != 0 || (rc != 0 && rc != MDB_NOTFOUND))
                break;
        }
        /* Past every posting of the cell: the largest wage and docno. */
        memcpy(kb, cell, sizeof cell);
        memset(kb + sizeof cell, 0xff, 12);
        k.mv_size = sizeof kb;
        k.mv_data = kb;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    }
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = ix_mdb_err(rc);
    mdb_cursor_close(c);
    return ret < 0 ? ret : 0;
}

/* ---- checking --------------------------------------------------------- */

/* Expected counters, aggregated in an open-addressing table; expected
 * postings are looked up at once and only counted. */
typedef struct ledger_ent {
    uint8_t key[IXA_KEY_MAX];
    uint8_t klen;   /* 0 = empty */
    uint64_t count, sum;
} ledger_ent_t;

struct ix_agg_ledger {
    agg_set_t *scratch;  /* one record's deltas, reused record after record */
    ledger_ent_t *tab;
    uint32_t *order;     /* slots in use, so a reset touches only them */
    uint32_t cap, used;
    uint64_t postings;
    uint64_t missing;
    uint8_t first_missing[IXA_KEY_MAX];
};

static ix_agg_ledger_t *
ledger_new(void)
{
    ix_agg_ledger_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->cap = 1024;
    l->tab = calloc(l->cap, sizeof *l->tab);
    l->order = malloc(l->cap / 2 * sizeof *l->order);
    if (!l->tab || !l->order) {
        free(l->tab);
        free(l->order);
        free(l);
        return NULL;
    }
    return l;
}

/* An empty delta set, allocated once per table. */
static agg_set_t *
ledger_scratch(ix_agg_ledger_t *l)
{
    if (!l->scratch && !(l->scratch = malloc(sizeof *l->scratch)))
        return NULL;
    l->scratch->n = 0;
    return l->scratch;
}

static uint32_t
ledger_used(const ix_agg_ledger_t *l)
{
    return l->used;
}

static void
ledger_reset(ix_agg_ledger_t *l)
{
    for (uint32_t i = 0; i < l->used; i++)
        l->tab[l->order[i]].klen = 0;
    l->used = 0;
}

ix_agg_ledger_t *
ix_agg_ledger_new(void)
{
    return ledger_new();
}

void
ix_agg_ledger_free(ix_agg_ledger_t *l)
{
    if (!l)
        return;
    free(l->tab);
    free(l->order);
    free(l->scratch);
    free(l);
}

void
ix_agg_discard(ix_pending_t *p)
{
    if (p->agg)
        ledger_reset(p->agg);
}

static uint32_t
hash_key(const uint8_t *k, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 16777619u;
    return h;
}

static int
ledger_add(ix_agg_ledger_t *l, const agg_delta_t *d)
{
    if ((l->used + 1) * 2 > l->cap) {
        uint32_t ncap = l->cap * 2;
        ledger_ent_t *nt = calloc(ncap, sizeof *nt);
        uint32_t *no = malloc(ncap / 2 * sizeof *no);
        if (!nt || !no) {
            free(nt);
            free(no);
            return -ENOMEM;
        }
        for (uint32_t i = 0; i < l->used; i++) {
            const ledger_ent_t *e = &l->tab[l->order[i]];
            uint32_t j = hash_key(e->key, e->klen) & (ncap - 1);
            while (nt[j].klen)
                j = (j + 1) & (ncap - 1);
            nt[j] = *e;
            no[i] = j;
        }
        free(l->tab);
        free(l->order);
        l->tab = nt;
        l->order = no;
        l->cap = ncap;
    }
    uint32_t j = hash_key(d->key, d->klen) & (l->cap - 1);
    while (l->tab[j].klen &&
           (l->tab[j].klen != d->klen ||
            memcmp(l->tab[j].key, d->key, d->klen) != 0))
        j = (j + 1) & (l->cap - 1);
    ledger_ent_t *e = &l->tab[j];
    if (!e->klen) {
        memcpy(e->key, d->key, d->klen);
        e->klen = d->klen;
        e->count = e->sum = 0;
        l->order[l->used++] = j;
    }
    e->count += (uint64_t)d->count;
    e->sum += (uint64_t)d->sum;
    return 0;
}

static int
ledger_set(ix_txn_t *t, ix_agg_ledger_t *l, agg_set_t *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const agg_delta_t *d = &s->d[i];
        if (!d->posting) {
            if (ledger_add(l, d) != 0)
                return -ENOMEM;
            continue;
        }
        l->postings++;
        MDB_val k = {d->klen, (void *)d->key}, v;
        int rc = mdb_get(t->txn, t->env->stats, &k, &v);
        if (rc == MDB_NOTFOUND) {
            if (l->missing++ == 0)
                memcpy(l->first_missing, d->key, d->klen);
        } else if (rc != 0) {
            return ix_mdb_err(rc);
        }
    }
    return 0;
}

int
ix_agg_expect_doc(ix_txn_t *t, ix_agg_ledger_t *l, uint8_t kind,
                  uint64_t docno, const ix_docview_t *v)
{
    agg_set_t *s = ledger_scratch(l);
    if (!s)
        return -ENOMEM;
    doc_deltas(s, kind, docno, v, +1);
    return ledger_set(t, l, s);
}

int
ix_agg_expect_referral(ix_txn_t *t, ix_agg_ledger_t *l, const ix_referral_t *r)
{
    agg_set_t s;
    s.n = 0;
    if (r->hired)
        hire_delta(&s, r, +1);
    return ledger_set(t, l, &s);
}

static int
cmp_ent(const void *a, const void *b)
{
    const ledger_ent_t *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (int)x->klen - (int)y->klen;
}

int
ix_agg_flush(ix_txn_t *t)
{
    ix_agg_ledger_t *l = t->env->pend.agg;
    if (!l || l->used == 0)
        return 0;
    /* In key order, so consecutive counters share their leaf pages. */
    ledger_ent_t *sorted = malloc((size_t)l->used * sizeof *sorted);
    if (!sorted)
        return ix_fail(t, -ENOMEM);
    for (uint32_t i = 0; i < l->used; i++)
        sorted[i] = l->tab[l->order[i]];
    qsort(sorted, l->used, sizeof *sorted, cmp_ent);
    int rc = 0;
    for (uint32_t i = 0; i < l->used && rc == 0; i++)
        if (sorted[i].count || sorted[i].sum)
            rc = add_counter(t, sorted[i].key, sorted[i].klen, sorted[i].count, sorted[i].sum);
    free(sorted);
    ledger_reset(l);
    return ix_fail(t, rc);
}

int
ix_agg_compare(ix_txn_t *t, ix_agg_ledger_t *l, ix_agg_problem_cb problem,
               void *ctx)
{
    if (l->missing)
        problem(ctx, "missing stats posting '%c' (%" PRIu64 " in all)",
                l->first_missing[0], l->missing);
    /* Compact the table into a sorted array and walk it beside the dbi. */
    uint32_t n = 0;
    for (uint32_t i = 0; i < l->cap; i++)
        if (l->tab[i].klen && (l->tab[i].count || l->tab[i].sum))
            l->tab[n++] = l->tab[i];
    qsort(l->tab, n, sizeof *l->tab, cmp_ent);
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->stats, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    MDB_val k, v;
    uint32_t i = 0;
    uint64_t postings = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *kb = k.mv_data;
        if (kb[0] == IXA_OFFER || kb[0] == IXA_WISH) {
            postings++;
            continue;
        }
        ledger_ent_t probe;
        memcpy(probe.key, kb, k.mv_size < IXA_KEY_MAX ? k.mv_size : IXA_KEY_MAX);
        probe.klen = (uint8_t)(k.mv_size < IXA_KEY_MAX ? k.mv_size : IXA_KEY_MAX);
        while (i < n && cmp_ent(&l->tab[i], &probe) < 0) {
            problem(ctx, "missing stats counter '%c'", l->tab[i].key[0]);
            i++;
        }
        if (i < n && cmp_ent(&l->tab[i], &probe) == 0) {
            if (v.mv_size != 16 || ixk_get_be64(v.mv_data) != l->tab[i].count ||
                ixk_get_be64((const uint8_t *)v.mv_data + 8) != l->tab[i].sum)
                problem(ctx, "stats counter '%c' is %" PRIu64 ", expected %" PRIu64,
                        kb[0], v.mv_size == 16 ? ixk_get_be64(v.mv_data) : 0,
                        l->tab[i].count);
            i++;
        } else {
            problem(ctx, "stats counter '%c' no record calls for", kb[0]);
        }
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return ix_mdb_err(rc);
    for (; i < n; i++)
        problem(ctx, "missing stats counter '%c'", l->tab[i].key[0]);
    if (postings != l->postings)
        problem(ctx, "stats holds %" PRIu64 " wage postings, records call for %" PRIu64,
                postings, l->postings);
    return 0;
}
