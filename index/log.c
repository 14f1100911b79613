/* log.c - the changelog: one entry per put or delete, keyed by a sequence
 * number that only grows (the last one is kept in meta "seq", so it keeps
 * growing across reopen). Value: time (i64, big-endian) | op | kind | id.
 */
#include "internal.h"

#define LOG_FIXED 10

int
ix_log_append(ix_txn_t *t, uint8_t op, uint8_t kind, const char *id,
              uint32_t id_len, int64_t now)
{
    ix_pending_t *p = &t->env->pend;
    int rc = ix_pending_load(t);
    if (rc != 0)
        return rc;
    uint8_t kb[8], vb[LOG_FIXED + IX_ID_MAX];
    vb[8] = op;
    vb[9] = kind;
    ixk_put_be64(vb, (uint64_t)now);
    memcpy(vb + LOG_FIXED, id, id_len);
    MDB_val k = {ixk_seq(kb, p->seq + 1), kb}, v = {LOG_FIXED + id_len, vb};
    /* Sequence numbers only grow, so every entry appends at the end. */
    rc = mdb_put(t->txn, t->env->log, &k, &v, MDB_APPEND);
    if (rc != 0)
        return ix_fail(t, ix_mdb_err(rc));
    p->seq++;
    p->dirty = true;
    return 0;
}

int
ix_log_read(ix_txn_t *t, uint64_t after, uint32_t max, ix_log_cb cb,
            void *ctx)
{
    if (!t || !cb)
        return -EINVAL;
    if (after == UINT64_MAX)
        return 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->log, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    uint8_t kb[8];
    MDB_val k = {ixk_seq(kb, after + 1), kb}, v;
    uint32_t n = 0;
    int ret = 0;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && (max == 0 || n < max)) {
        if (k.mv_size != 8 || v.mv_size < LOG_FIXED ||
            v.mv_size > LOG_FIXED + IX_ID_MAX) {
            ret = -EIO;
            break;
        }
        const uint8_t *d = v.mv_data;
        ix_log_entry_t e = {
            .seq = ixk_get_be64(k.mv_data),
            .time = (int64_t)ixk_get_be64(d),
            .op = d[8],
            .kind = d[9],
            .id = (const char *)d + LOG_FIXED,
            .id_len = (uint32_t)(v.mv_size - LOG_FIXED),
        };
        n++;
        int r = cb(ctx, &e);
        if (r != 0) {
            ret = r < 0 ? r : 0;
            break;
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = ix_mdb_err(rc);
    mdb_cursor_close(c);
    return ret;
}
