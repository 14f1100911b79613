/* postings.c - the queue of posting changes a write transaction makes.
 * Postings of one record scatter over the post and match dbis (one per
 * region, status, occupation, minor group and skill), so applying them as
 * they come costs a cold B-tree descent each. Queued and applied in key order, consecutive
 * changes mostly land on the leaf page the cursor already holds.
 */
#include "internal.h"

#include <stdlib.h>

static int
grow(ix_pending_t *p)
{
    uint32_t ncap = p->ops_cap ? p->ops_cap * 2 : 1024;
    ix_postop_t *no = realloc(p->ops, (size_t)ncap * sizeof *no);
    if (!no)
        return -ENOMEM;
    p->ops = no;
    uint32_t *nord = realloc(p->op_order, (size_t)ncap * sizeof *nord);
    if (!nord)
        return -ENOMEM;
    p->op_order = nord;
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

/* qsort has no context argument; the queue being sorted is the writer's,
 * and there is one writer per environment, but several environments may
 * flush on different threads, hence thread-local. */
static _Thread_local const ix_postop_t *sort_ops;

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

/* Posting order, then queue order, so the last change to a posting sorts
 * last. */
static int
cmp_ops(const void *a, const void *b)
{
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
    int c = cmp_target(&sort_ops[ia], &sort_ops[ib]);
    if (c != 0)
        return c;
    return ia < ib ? -1 : ia > ib;
}

/* Applies the changes ops[order[i..j)] queued for one match posting: the
 * last one decides. When every change is a put the posting was absent
 * before them (store.c queues a delete before it rewrites a posting), so
 * the last value is put as it is. Otherwise the stored posting of that
 * slot, whatever its value, is found and removed first, unless it already
 * holds the value to put. */
static int
apply_dup(MDB_cursor *c, const ix_postop_t *ops, const uint32_t *order,
          uint32_t i, uint32_t j)
{
    const ix_postop_t *last = &ops[order[j - 1]];
    bool any_del = false;
    for (uint32_t x = i; x < j; x++)
        any_del |= !ops[order[x]].put;
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
    /* New records have the highest docnos, so bulk loads add at the end of
     * each group: try that first. LMDB then splits a full page at the end
     * rather than in the middle, leaving full pages behind instead of
     * half-empty ones. Out of order, it refuses without writing. */
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
        p->op_order[i] = i;
    sort_ops = p->ops;
    qsort(p->op_order, n, sizeof *p->op_order, cmp_ops);
    sort_ops = NULL;
    MDB_cursor *c, *dc;
    int rc = mdb_cursor_open(t->txn, t->env->post, &c);
    if (rc != 0)
        return ix_fail(t, ix_mdb_err(rc));
    if ((rc = mdb_cursor_open(t->txn, t->env->match, &dc)) != 0) {
        mdb_cursor_close(c);
        return ix_fail(t, ix_mdb_err(rc));
    }
    for (uint32_t i = 0; i < n && rc == 0;) {
        const ix_postop_t *op = &p->ops[p->op_order[i]];
        /* [i, j) are the changes to one posting. */
        uint32_t j = i + 1;
        while (j < n && cmp_target(&p->ops[p->op_order[j]], op) == 0)
            j++;
        if (op->dup) {
            rc = apply_dup(dc, p->ops, p->op_order, i, j);
            i = j;
            continue;
        }
        /* The last change to a post key supersedes the others. */
        op = &p->ops[p->op_order[j - 1]];
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
