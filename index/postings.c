/* postings.c - the queue of posting changes a write transaction makes.
 * Postings of one record scatter over the post and match dbis (one per
 * region, status, occupation, minor group and skill), so applying them as
 * they come costs a cold B-tree descent each. Queued and applied in key order, consecutive
 * changes mostly land on the leaf page the cursor already holds.
 */
#include "internal.h"

#include <stdlib.h>

/* A change as the sort sees it. Comparing changes in the queue itself
 * costs a cache miss per side (each is over a hundred bytes, in queue
 * order), and a flush sorts up to IX_POST_FLUSH_AT of them: so the sort
 * moves these instead, whose words are the first 32 bytes of the dbi flag,
 * the key and the slot, zero-padded, as big-endian numbers. Changes with
 * different words are in LMDB's order (keys of one tag and kind have one
 * length, or end in a NUL-terminated id, so none is a prefix of another);
 * equal words go back to the changes themselves, so the changes of one
 * posting always end up together, in queue order, whatever the keys. */
struct ix_opsort {
    uint64_t w[4];
    uint32_t idx;
};

static int
grow(ix_pending_t *p)
{
    uint32_t ncap = p->ops_cap ? p->ops_cap * 2 : 1024;
    ix_postop_t *no = realloc(p->ops, (size_t)ncap * sizeof *no);
    if (!no)
        return -ENOMEM;
    p->ops = no;
    struct ix_opsort *ns = realloc(p->op_sort, 2 * (size_t)ncap * sizeof *ns);
    if (!ns)
        return -ENOMEM;
    p->op_sort = ns;
    p->ops_cap = ncap;
    return 0;
}

static int
queue(ix_txn_t *t, uint8_t put, uint8_t dup, const uint8_t *key, size_t klen,
      const uint8_t *val, size_t vlen, size_t slen)
{
    ix_pending_t *p = &t->env->pend;
    int rc;
    if (klen > IXK_MAX || vlen > IXK_VAL_MAX || slen > vlen)
        return ix_fail(t, -EINVAL);
    if (p->n_ops >= IX_POST_FLUSH_AT && (rc = ix_post_flush(t)) != 0)
        return rc;
    if (p->n_ops == p->ops_cap && (rc = grow(p)) != 0)
        return ix_fail(t, rc);
    ix_postop_t *op = &p->ops[p->n_ops++];
    op->klen = (uint8_t)klen;
    op->put = put;
    op->dup = dup;
    op->slen = (uint8_t)slen;
    op->vlen = (uint8_t)vlen;
    if (vlen > 0)
        memcpy(op->val, val, vlen);
    memcpy(op->key, key, klen);
    return 0;
}

int
ix_post_put(ix_txn_t *t, const uint8_t *key, size_t klen, const uint8_t *val,
            size_t vlen)
{
    return queue(t, 1, 0, key, klen, val, vlen, 0);
}

int
ix_post_del(ix_txn_t *t, const uint8_t *key, size_t klen)
{
    return queue(t, 0, 0, key, klen, NULL, 0, 0);
}

int
ix_dup_put(ix_txn_t *t, const uint8_t *key, size_t klen, const uint8_t *val,
           size_t vlen, size_t slen)
{
    return queue(t, 1, 1, key, klen, val, vlen, slen);
}

int
ix_dup_del(ix_txn_t *t, const uint8_t *key, size_t klen, const uint8_t *val,
           size_t vlen, size_t slen)
{
    return queue(t, 0, 1, key, klen, val, vlen, slen);
}

/* Compares two queued changes by what they change: dbi, key, then (match
 * dbi) slot. 0 means the same posting. */
static int
cmp_target(const ix_postop_t *x, const ix_postop_t *y)
{
    if (x->dup != y->dup)
        return x->dup < y->dup ? -1 : 1;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    /* One key's changes all have the same slot width (it follows from
     * the key's tag); compare defensively anyway. */
    n = x->slen < y->slen ? x->slen : y->slen;
    if ((c = memcmp(x->val, y->val, n)) != 0)
        return c;
    return x->slen < y->slen ? -1 : x->slen > y->slen;
}

_Static_assert(sizeof(((ix_postop_t *)0)->key) >= 32 && sizeof(((ix_postop_t *)0)->val) >= 32,
               "opsort_fill copies 32 bytes of a change's key and of its value");

static void
opsort_fill(struct ix_opsort *e, const ix_postop_t *op, uint32_t idx)
{
    /* The flag, then the first 31 bytes of key and slot, zero-padded.
     * Copies of a fixed size compile to a few moves (one of a variable
     * size to a slow string instruction); the bytes a fixed copy takes
     * past the key or slot are overwritten by the next one. */
    uint8_t b[1 + 31 + 32 + 32];
    size_t klen = op->klen < 31 ? op->klen : 31;
    size_t slen = op->slen < 31 - klen ? op->slen : 31 - klen;
    b[0] = op->dup;
    memcpy(b + 1, op->key, 32);
    memcpy(b + 1 + klen, op->val, 32);
    memset(b + 1 + klen + slen, 0, 32);
    for (int i = 0; i < 4; i++) {
        uint64_t w;
        memcpy(&w, b + i * 8, 8);
        e->w[i] = be64toh(w);
    }
    e->idx = idx;
}

/* Changes whose words differ change different postings. */
static inline bool
same_words(const struct ix_opsort *a, const struct ix_opsort *b)
{
    return a->w[0] == b->w[0] && a->w[1] == b->w[1] && a->w[2] == b->w[2] &&
           a->w[3] == b->w[3];
}

/* Posting order, then queue order, so the last change to a posting sorts
 * last. */
static inline int
opsort_cmp(const struct ix_opsort *a, const struct ix_opsort *b, const ix_postop_t *ops)
{
    for (int i = 0; i < 4; i++)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    int c = cmp_target(&ops[a->idx], &ops[b->idx]);
    if (c != 0)
        return c;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

#define OPSORT_RUN 16

/* Sorts a[0..n) with tmp[0..n) as scratch: insertion sort of short runs,
 * then merges of doubling width. Returns whichever of the two holds the
 * result. */
static struct ix_opsort *
opsort(struct ix_opsort *a, struct ix_opsort *tmp, uint32_t n, const ix_postop_t *ops)
{
    for (uint32_t lo = 0; lo < n; lo += OPSORT_RUN) {
        uint32_t hi = n - lo < OPSORT_RUN ? n : lo + OPSORT_RUN;
        for (uint32_t i = lo + 1; i < hi; i++) {
            struct ix_opsort e = a[i];
            uint32_t j = i;
            for (; j > lo && opsort_cmp(&e, &a[j - 1], ops) < 0; j--)
                a[j] = a[j - 1];
            a[j] = e;
        }
    }
    struct ix_opsort *src = a, *dst = tmp;
    for (uint32_t width = OPSORT_RUN; width < n; width *= 2) {
        for (uint32_t lo = 0; lo < n; lo += 2 * width) {
            uint32_t mid = n - lo < width ? n : lo + width;
            uint32_t hi = n - lo < 2 * width ? n : lo + 2 * width;
            uint32_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = opsort_cmp(&src[j], &src[i], ops) < 0 ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        struct ix_opsort *t = src;
        src = dst;
        dst = t;
    }
    return src;
}

/* Applies the changes ops[sorted[i..j).idx] queued for one match posting: the
 * last one decides. When every change is a put the posting was absent
 * before them (store.c queues a delete before it rewrites a posting), so
 * the last value is put as it is. Otherwise the stored posting of that
 * slot, whatever its value, is found and removed first, unless it already
 * holds the value to put. */
static int
apply_dup(MDB_cursor *c, const ix_postop_t *ops, const struct ix_opsort *sorted,
          uint32_t i, uint32_t j)
{
    const ix_postop_t *last = &ops[sorted[j - 1].idx];
    bool any_del = false;
    for (uint32_t x = i; x < j; x++)
        any_del |= !ops[sorted[x].idx].put;
    MDB_val k = {last->klen, (void *)last->key};
    MDB_val v = {last->vlen, (void *)last->val};
    int rc;
    if (any_del) {
        MDB_val s = {last->slen, (void *)last->val};
        rc = mdb_cursor_get(c, &k, &s, MDB_GET_BOTH_RANGE);
        if (rc == 0 && s.mv_size >= last->slen &&
            memcmp(s.mv_data, last->val, last->slen) == 0) {
            if (last->put && s.mv_size == v.mv_size &&
                memcmp(s.mv_data, v.mv_data, v.mv_size) == 0)
                return 0;
            if ((rc = mdb_cursor_del(c, 0)) != 0)
                return rc;
        } else if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }
        k.mv_size = last->klen;
        k.mv_data = (void *)last->key;
    }
    if (!last->put)
        return 0;
    /* New records have the highest docnos, so a bulk load adds at the end
     * of each group those of its highest rank (and at the end of each
     * rank's run the others): try the end first. LMDB then splits a full
     * page at the end rather than in the middle, leaving full pages behind
     * instead of half-empty ones. Out of order, it refuses without
     * writing. */
    if (!any_del) {
        int arc = mdb_cursor_put(c, &k, &v, MDB_APPENDDUP);
        if (arc != MDB_KEYEXIST)
            return arc;
        k.mv_size = last->klen;
        k.mv_data = (void *)last->key;
        v.mv_size = last->vlen;
        v.mv_data = (void *)last->val;
    }
    return mdb_cursor_put(c, &k, &v, 0);
}

/* How far ahead, in sorted changes, ix_post_flush fetches the queue. */
#define POSTOP_AHEAD 8

int
ix_post_flush(ix_txn_t *t)
{
    ix_pending_t *p = &t->env->pend;
    if (p->n_ops == 0)
        return 0;
    if (t->ret != 0)
        return t->ret;
    uint32_t n = p->n_ops;
    for (uint32_t i = 0; i < n; i++)
        opsort_fill(&p->op_sort[i], &p->ops[i], i);
    const struct ix_opsort *sorted = opsort(p->op_sort, p->op_sort + p->ops_cap, n, p->ops);
    MDB_cursor *c, *dc;
    int rc = mdb_cursor_open(t->txn, t->env->post, &c);
    if (rc != 0)
        return ix_fail(t, ix_mdb_err(rc));
    if ((rc = mdb_cursor_open(t->txn, t->env->match, &dc)) != 0) {
        mdb_cursor_close(c);
        return ix_fail(t, ix_mdb_err(rc));
    }
    for (uint32_t i = 0; i < n && rc == 0;) {
        /* The changes are read in key order, at random in the queue, each
         * a cache miss: fetching a few ahead overlaps the misses (they
         * took a sixth of a bulk load's daemon time). */
        if (i + POSTOP_AHEAD < n) {
            const char *ahead = (const char *)&p->ops[sorted[i + POSTOP_AHEAD].idx];
            for (size_t line = 0; line < sizeof(ix_postop_t); line += 64)
                __builtin_prefetch(ahead + line);
        }
        const ix_postop_t *op = &p->ops[sorted[i].idx];
        /* [i, j) are the changes to one posting. */
        uint32_t j = i + 1;
        while (j < n && same_words(&sorted[j], &sorted[i]) &&
               cmp_target(&p->ops[sorted[j].idx], op) == 0)
            j++;
        if (op->dup) {
            rc = apply_dup(dc, p->ops, sorted, i, j);
            i = j;
            continue;
        }
        /* The last change to a post key supersedes the others. */
        op = &p->ops[sorted[j - 1].idx];
        i = j;
        MDB_val k = {op->klen, (void *)op->key}, v;
        if (op->put) {
            v.mv_size = op->vlen;
            v.mv_data = (void *)op->val;
            rc = mdb_cursor_put(c, &k, &v, 0);
        } else {
            rc = mdb_cursor_get(c, &k, &v, MDB_SET);
            if (rc == 0)
                rc = mdb_cursor_del(c, 0);
            else if (rc == MDB_NOTFOUND)
                rc = 0;
        }
    }
    mdb_cursor_close(dc);
    mdb_cursor_close(c);
    p->n_ops = 0;
    return ix_fail(t, ix_mdb_err(rc));
}
