/* fair.c - job fairs: each fair's value and its members (keys.h). */
#include "internal.h"

int
ix_fair_create(ix_txn_t *t, const char *id, uint32_t id_len,
               const void *value, size_t len)
{
    uint8_t kb[IXK_FAIR_MAX];
    MDB_val k = {ixk_fair(kb, id, id_len), kb}, v = {len, (void *)value};
    int rc = mdb_put(t->txn, t->env->fairs, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        return -EEXIST;
    return ix_fail(t, ix_mdb_err(rc));
}

int
ix_fair_get(ix_txn_t *t, const char *id, uint32_t id_len, const void **value,
            size_t *len)
{
    uint8_t kb[IXK_FAIR_MAX];
    MDB_val k = {ixk_fair(kb, id, id_len), kb}, v;
    int rc = mdb_get(t->txn, t->env->fairs, &k, &v);
    if (rc == MDB_NOTFOUND)
        return -ENOENT;
    if (rc != 0)
        return ix_mdb_err(rc);
    *value = v.mv_data;
    *len = v.mv_size;
    return 0;
}

static int
fair_exists(ix_txn_t *t, const char *fair, uint32_t fair_len)
{
    const void *v;
    size_t len;
    return ix_fair_get(t, fair, fair_len, &v, &len);
}

int
ix_fair_join(ix_txn_t *t, const char *fair, uint32_t fair_len, uint8_t kind,
             const char *id, uint32_t id_len, bool *changed)
{
    int rc = fair_exists(t, fair, fair_len);
    if (rc != 0)
        return rc;
    uint8_t kb[IXK_FAIR_MAX];
    MDB_val k = {ixk_fair_member(kb, fair, fair_len, kind, id, id_len), kb};
    MDB_val v = {0, ""};
    rc = mdb_put(t->txn, t->env->fairs, &k, &v, MDB_NOOVERWRITE);
    *changed = rc == 0;
    if (rc == MDB_KEYEXIST)
        return 0;
    return ix_fail(t, ix_mdb_err(rc));
}

int
ix_fair_leave(ix_txn_t *t, const char *fair, uint32_t fair_len, uint8_t kind,
              const char *id, uint32_t id_len, bool *changed)
{
    int rc = fair_exists(t, fair, fair_len);
    if (rc != 0)
        return rc;
    uint8_t kb[IXK_FAIR_MAX];
    MDB_val k = {ixk_fair_member(kb, fair, fair_len, kind, id, id_len), kb};
    rc = mdb_del(t->txn, t->env->fairs, &k, NULL);
    *changed = rc == 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    return ix_fail(t, ix_mdb_err(rc));
}

int
ix_fair_members(ix_txn_t *t, const char *fair, uint32_t fair_len,
                ix_member_cb cb, void *ctx)
{
    int rc = fair_exists(t, fair, fair_len);
    if (rc != 0)
        return rc;
    uint8_t pb[IXK_FAIR_MAX];
    size_t plen = ixk_fair_member(pb, fair, fair_len, 0, NULL, 0);
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, t->env->fairs, &c)) != 0)
        return ix_mdb_err(rc);
    MDB_val k = {plen, pb}, v;
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (!ixk_has_prefix(k.mv_data, k.mv_size, pb, plen))
            break;
        const uint8_t *key = k.mv_data;
        if (k.mv_size < plen + 2 || k.mv_size > plen + 1 + IX_ID_MAX) {
            ret = -EIO;
            break;
        }
        int r = cb(ctx, key[plen], (const char *)key + plen + 1,
                   (uint32_t)(k.mv_size - plen - 1));
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
