/* scan.c - the matching scans: ix_scan_skill and ix_scan_minor walk the
 * postings of one term within a region prefix (the matcher then reads the
 * candidates they yield with ix_get_docno). Both scans are one
 * MDB_SET_RANGE and then MDB_NEXT over one contiguous key range: the
 * region sits between the term and the docno in these keys (keys.h), so a
 * province, city or county is a prefix of the range. They are the inner
 * loop of matching, run over tens of thousands of postings per query, so
 * the walk allocates nothing, checks each key with one length test and one
 * memcmp of the range prefix, decodes the docno with one be64 load and the
 * brief (the posting's value, keys.h) with a few unaligned loads into one
 * ix_brief_t on the stack that every posting reuses.
 */
#include "internal.h"

static bool
valid_prefix(const char *region, uint32_t len)
{
    if (len != 0 && len != 2 && len != 4 && len != 6)
        return false;
    if (len > 0 && !region)
        return false;
    for (uint32_t i = 0; i < len; i++)
        if (region[i] < '0' || region[i] > '9')
            return false;
    return true;
}

/* Common start of both scans: applies a write transaction's queued
 * posting changes (so it sees its own writes), opens a cursor on post and
 * positions it at the first key >= prefix. *rc is the MDB code of that
 * positioning. */
static int
start(ix_txn_t *t, const uint8_t *prefix, size_t plen, MDB_cursor **cur,
      MDB_val *k, MDB_val *v, int *rc)
{
    int err;
    if (!t->rdonly && (err = ix_pending_flush(t)) != 0)
        return err;
    if ((err = mdb_cursor_open(t->txn, t->env->post, cur)) != 0)
        return ix_mdb_err(err);
    k->mv_size = plen;
    k->mv_data = (void *)prefix;
    *rc = mdb_cursor_get(*cur, k, v, MDB_SET_RANGE);
    return 0;
}

/* The end of both scans: the callback's stop value, or the cursor's
 * error (running off the end of the dbi is the normal end). */
static int
finish(MDB_cursor *cur, int rc, int ret)
{
    mdb_cursor_close(cur);
    if (ret != 0)
        return ret < 0 ? ret : 0;
    return rc == MDB_NOTFOUND ? 0 : ix_mdb_err(rc);
}

int
ix_scan_skill(ix_txn_t *t, uint8_t kind, const char *skill,
              uint32_t skill_len, const char *region_prefix,
              uint32_t prefix_len, ix_skill_cb cb, void *ctx)
{
    if (!t || !cb || ix_kind_index(kind) < 0 || !skill || skill_len == 0 ||
        skill_len > IX_SKILL_ID_MAX || memchr(skill, 0, skill_len) ||
        !valid_prefix(region_prefix, prefix_len))
        return -EINVAL;
    uint8_t prefix[IXK_MAX];
    size_t plen = ixk_skill_prefix(prefix, kind, skill, skill_len,
                                   region_prefix, prefix_len);
    /* Every key of the range is 'K' K skill NUL region docno; every value
     * is level brief. */
    size_t roff = 3 + (size_t)skill_len, klen = roff + IXK_SKILL_TAIL;
    size_t vlen = 1 + ixk_brief_len(kind);
    ix_brief_t brief;
    memset(&brief, 0, sizeof brief);
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = MDB_NOTFOUND, ret = 0;
    if ((ret = start(t, prefix, plen, &cur, &k, &v, &rc)) != 0)
        return ret;
    while (rc == 0) {
        const uint8_t *kb = k.mv_data, *vb = v.mv_data;
        if (k.mv_size < plen || memcmp(kb, prefix, plen) != 0)
            break;
        if (k.mv_size != klen || v.mv_size != vlen) {
            ret = -EIO;
            break;
        }
        ixk_brief_get(vb + 1, kind, &brief);
        ret = cb(ctx, ixk_get_be64(kb + roff + 6), (const char *)kb + roff,
                 vb[0], &brief);
        if (ret != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    return finish(cur, rc, ret);
}

int
ix_scan_minor(ix_txn_t *t, uint8_t kind, const char minor[7],
              const char *region_prefix, uint32_t prefix_len,
              ix_minor_cb cb, void *ctx)
{
    if (!t || !cb || ix_kind_index(kind) < 0 || !minor ||
        memchr(minor, 0, IXK_MINOR_WIDTH) ||
        !valid_prefix(region_prefix, prefix_len))
        return -EINVAL;
    uint8_t prefix[IXK_MAX];
    size_t plen = ixk_minor_prefix(prefix, kind, minor, region_prefix,
                                   prefix_len);
    /* The code handed to cb: the group's 7 bytes, then each posting's
     * tail. */
    char code[IXK_MINOR_WIDTH + IXK_MINOR_TAIL];
    memcpy(code, minor, IXK_MINOR_WIDTH);
    size_t vlen = ixk_brief_len(kind);
    ix_brief_t brief;
    memset(&brief, 0, sizeof brief);
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = MDB_NOTFOUND, ret = 0;
    if ((ret = start(t, prefix, plen, &cur, &k, &v, &rc)) != 0)
        return ret;
    while (rc == 0) {
        const uint8_t *kb = k.mv_data;
        if (k.mv_size < plen || memcmp(kb, prefix, plen) != 0)
            break;
        size_t tail = k.mv_size - IXK_MINOR_LEN;
        if (k.mv_size < IXK_MINOR_LEN ||
            (tail != 0 && tail != IXK_MINOR_TAIL) || v.mv_size != vlen) {
            ret = -EIO;
            break;
        }
        memcpy(code + IXK_MINOR_WIDTH, kb + IXK_MINOR_LEN, tail);
        ixk_brief_get(v.mv_data, kind, &brief);
        ret = cb(ctx, ixk_get_be64(kb + IXK_MINOR_DOCNO),
                 (const char *)kb + IXK_MINOR_REGION, code,
                 (uint32_t)(IXK_MINOR_WIDTH + tail), &brief);
        if (ret != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    return finish(cur, rc, ret);
}

int
ix_skill_level(ix_txn_t *t, uint8_t kind, const char *skill,
               uint32_t skill_len, const char region[6], uint64_t docno,
               uint8_t *level)
{
    if (!t || !level || ix_kind_index(kind) < 0 || !skill || skill_len == 0 ||
        skill_len > IX_SKILL_ID_MAX || memchr(skill, 0, skill_len) ||
        !valid_prefix(region, 6))
        return -EINVAL;
    int err;
    if (!t->rdonly && (err = ix_pending_flush(t)) != 0)
        return err;
    uint8_t key[IXK_MAX];
    MDB_val k = {ixk_skill(key, kind, skill, skill_len, region, docno), key}, v;
    if ((err = mdb_get(t->txn, t->env->post, &k, &v)) != 0)
        return ix_mdb_err(err);
    if (v.mv_size != 1 + ixk_brief_len(kind))
        return -EIO;
    *level = ((const uint8_t *)v.mv_data)[0];
    return 0;
}
