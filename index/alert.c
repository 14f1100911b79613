/* alert.c - match-alert subscriptions and their alerts (keys.h). */
#include "internal.h"

/* Reads and bumps one of the dbi's counters ('N' or 'Q'). */
static int
next_number(ix_txn_t *t, char tag, uint64_t *out)
{
    MDB_val k = {1, &tag}, v;
    uint64_t n = 0;
    int rc = mdb_get(t->txn, t->env->alerts, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        n = ixk_get_be64(v.mv_data);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return ix_fail(t, ix_mdb_err(rc));
    uint8_t b[8];
    ixk_put_be64(b, ++n);
    v.mv_size = 8;
    v.mv_data = b;
    if ((rc = mdb_put(t->txn, t->env->alerts, &k, &v, 0)) != 0)
        return ix_fail(t, ix_mdb_err(rc));
    *out = n;
    return 0;
}

int
ix_sub_next(ix_txn_t *t, uint64_t *id)
{
    return next_number(t, 'N', id);
}

int
ix_sub_put(ix_txn_t *t, uint64_t id, const void *value, size_t len)
{
    uint8_t kb[IXK_SUB_LEN];
    MDB_val k = {ixk_sub(kb, id), kb}, v = {len, (void *)value};
    return ix_fail(t, ix_mdb_err(mdb_put(t->txn, t->env->alerts, &k, &v, 0)));
}

int
ix_sub_get(ix_txn_t *t, uint64_t id, const void **value, size_t *len)
{
    uint8_t kb[IXK_SUB_LEN];
    MDB_val k = {ixk_sub(kb, id), kb}, v;
    int rc = mdb_get(t->txn, t->env->alerts, &k, &v);
    if (rc == MDB_NOTFOUND)
        return -ENOENT;
    if (rc != 0)
        return ix_mdb_err(rc);
    *value = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int
ix_sub_delete(ix_txn_t *t, uint64_t id)
{
    uint8_t kb[IXK_ALERT_LEN];
    MDB_val k = {ixk_sub(kb, id), kb};
    int rc = mdb_del(t->txn, t->env->alerts, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return -ENOENT;
    if (rc != 0)
        return ix_fail(t, ix_mdb_err(rc));
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, t->env->alerts, &c)) != 0)
        return ix_fail(t, ix_mdb_err(rc));
    uint8_t first[IXK_ALERT_LEN];
    ixk_alert(first, id, 0);
    k.mv_size = IXK_ALERT_LEN;
    k.mv_data = first;
    MDB_val v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && ixk_has_prefix(k.mv_data, k.mv_size, first, 9);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return ix_fail(t, ix_mdb_err(rc));
    return 0;
}

int
ix_sub_each(ix_txn_t *t, ix_sub_cb cb, void *ctx)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->alerts, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    uint8_t first[IXK_SUB_LEN];
    MDB_val k = {ixk_sub(first, 0), first}, v;
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size == IXK_SUB_LEN && ((const uint8_t *)k.mv_data)[0] == 'S';
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        int r = cb(ctx, ixk_get_be64((const uint8_t *)k.mv_data + 1), v.mv_data, v.mv_size);
        if (r != 0) {
            ret = r < 0 ? r : 0;
            break;
        }
    }
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = ix_mdb_err(rc);
    mdb_cursor_close(c);
    return ret;
}

int
ix_alert_next(ix_txn_t *t, uint64_t *seq)
{
    return next_number(t, 'Q', seq);
}

int
ix_alert_put(ix_txn_t *t, uint64_t sub, uint64_t seq, const void *value, size_t len)
{
    uint8_t kb[IXK_ALERT_LEN];
    MDB_val k = {ixk_alert(kb, sub, seq), kb}, v = {len, (void *)value};
    return ix_fail(t, ix_mdb_err(mdb_put(t->txn, t->env->alerts, &k, &v, 0)));
}

int
ix_alert_list(ix_txn_t *t, uint64_t sub, uint64_t after, uint32_t limit,
              ix_alert_cb cb, void *ctx)
{
    if (after == UINT64_MAX)
        return 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->alerts, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    uint8_t first[IXK_ALERT_LEN];
    MDB_val k = {ixk_alert(first, sub, after + 1), first}, v;
    uint32_t n = 0;
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && n < limit && k.mv_size == IXK_ALERT_LEN &&
         ixk_has_prefix(k.mv_data, k.mv_size, first, 9);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
        int r = cb(ctx, ixk_get_be64((const uint8_t *)k.mv_data + 9), v.mv_data, v.mv_size);
        if (r != 0) {
            ret = r < 0 ? r : 0;
            break;
        }
    }
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = ix_mdb_err(rc);
    mdb_cursor_close(c);
    return ret;
}
