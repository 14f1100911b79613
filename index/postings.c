/* postings.c - the queue of posting changes a write transaction makes.
 * Postings of one record scatter over the whole post dbi (one per region,
 * status, occupation and skill), so applying them as they come costs a
 * cold B-tree descent each. Queued and applied in key order, consecutive
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
queue(ix_txn_t *t, uint8_t put, const uint8_t *key, size_t klen,
      const uint8_t *val, size_t vlen)
{
    ix_pending_t *p = &t->env->pend;
    int rc;
    if (klen > IXK_MAX || vlen > IXK_VAL_MAX)
        return ix_fail(t, -EINVAL);
    if (p->n_ops >= IX_POST_FLUSH_AT && (rc = ix_post_flush(t)) != 0)
        return rc;
    if (p->n_ops == p->ops_cap && (rc = grow(p)) != 0)
        return ix_fail(t, rc);
    ix_postop_t *op = &p->ops[p->n_ops++];
    op->klen = (uint8_t)klen;
    op->put = put;
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
    return queue(t, 1, key, klen, val, vlen);
}

int
ix_post_del(ix_txn_t *t, const uint8_t *key, size_t klen)
{
    return queue(t, 0, key, klen, NULL, 0);
}

/* qsort has no context argument; the queue being sorted is the writer's,
 * and there is one writer per environment, but several environments may
 * flush on different threads, hence thread-local. */
static _Thread_local const ix_postop_t *sort_ops;

/* Key order, then queue order, so the last change to a key sorts last. */
static int
cmp_ops(const void *a, const void *b)
{
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
    const ix_postop_t *x = &sort_ops[ia], *y = &sort_ops[ib];
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    return ia < ib ? -1 : ia > ib;
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
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->post, &c);
    if (rc != 0)
        return ix_fail(t, ix_mdb_err(rc));
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const ix_postop_t *op = &p->ops[p->op_order[i]];
        if (i + 1 < n) {
            /* A later change to the same key supersedes this one. */
            const ix_postop_t *nx = &p->ops[p->op_order[i + 1]];
            if (nx->klen == op->klen && memcmp(nx->key, op->key, op->klen) == 0)
                continue;
        }
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
    mdb_cursor_close(c);
    p->n_ops = 0;
    return ix_fail(t, ix_mdb_err(rc));
}
