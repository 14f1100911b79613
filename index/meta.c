/* meta.c - small named values the engine keeps in the store, beside the
 * index's own meta entries ("version", "docno" K, "seq"). Their keys are
 * "x." + name, so the two never meet. */
#include <string.h>

#include "internal.h"

#define META_NAME_MAX 32

static int
meta_key(uint8_t *buf, const char *name, MDB_val *k)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > META_NAME_MAX)
        return -EINVAL;
    buf[0] = 'x';
    buf[1] = '.';
    memcpy(buf + 2, name, n);
    k->mv_size = n + 2;
    k->mv_data = buf;
    return 0;
}

int
ix_meta_get(ix_txn_t *t, const char *name, void *buf, size_t cap, size_t *len)
{
    uint8_t kb[2 + META_NAME_MAX];
    MDB_val k, v;
    if (!t || !buf || !len || meta_key(kb, name, &k) != 0)
        return -EINVAL;
    int rc = mdb_get(t->txn, t->env->meta, &k, &v);
    if (rc != 0)
        return ix_mdb_err(rc);
    if (v.mv_size > cap)
        return -EINVAL;
    memcpy(buf, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return 0;
}

int
ix_meta_put(ix_txn_t *t, const char *name, const void *val, size_t len)
{
    uint8_t kb[2 + META_NAME_MAX];
    MDB_val k, v = {len, (void *)val};
    if (!t || t->rdonly || (!val && len) || meta_key(kb, name, &k) != 0)
        return -EINVAL;
    if (t->ret != 0)
        return t->ret;
    int rc = mdb_put(t->txn, t->env->meta, &k, &v, 0);
    return rc ? ix_fail(t, ix_mdb_err(rc)) : 0;
}
