/* scan.c - the matching scans: ix_scan_skill and ix_scan_minor walk the
 * postings of one term within a region prefix (the matcher then reads the
 * candidates they yield with ix_get_docno), and ix_skill_level looks one
 * posting up. The postings live in the match dbi as fixed-size duplicates
 * of one key per (term, county) (keys.h): the region follows the term in
 * the key, so a province, city or county is one contiguous run of keys
 * that MDB_SET_RANGE reaches and MDB_NEXT_NODUP steps through, and under
 * each key MDB_GET_MULTIPLE / MDB_NEXT_MULTIPLE return a page of values
 * at a time as one packed array. These are the inner loop of matching,
 * run over up to hundreds of thousands of postings per query, so the walk
 * allocates nothing, checks each key with one length test and one memcmp
 * of the range prefix and each value's width once per key, and decodes a
 * value with one be64 load for the docno and a few unaligned loads for the
 * brief, into one ix_brief_t on the stack that every posting reuses.
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

/* What one scan walks: the key range, each key's exact length, each
 * value's width, and how to hand a value to the caller. */
typedef struct walk {
    const uint8_t *prefix;
    size_t plen, klen, vlen;
    uint8_t kind;
    /* Skill scans. */
    ix_skill_cb skill_cb;
    /* Minor-group scans: code holds the group's 7 bytes, then each
     * posting's tail. */
    ix_minor_cb minor_cb;
    char *code;
    void *ctx;
} walk_t;

/* Hands every value of one packed array to the callback; returns the
 * callback's first nonzero value, or 0. */
static int
emit(const walk_t *w, const uint8_t *region, const uint8_t *vals,
     size_t n, ix_brief_t *brief)
{
    const char *rg = (const char *)region;
    if (w->skill_cb) {
        for (size_t i = 0; i < n; i++, vals += w->vlen) {
            ixk_brief_get(vals + IXK_SKILL_BRIEF, w->kind, brief);
            int ret = w->skill_cb(w->ctx, ixk_get_be64(vals), rg, vals[8],
                                  brief);
            if (ret != 0)
                return ret;
        }
        return 0;
    }
    for (size_t i = 0; i < n; i++, vals += w->vlen) {
        /* A 7-byte code's tail is NUL padding. */
        uint32_t clen = vals[8] ? IXK_MINOR_WIDTH + IXK_MINOR_TAIL
                                : IXK_MINOR_WIDTH;
        memcpy(w->code + IXK_MINOR_WIDTH, vals + 8, IXK_MINOR_TAIL);
        ixk_brief_get(vals + IXK_MINOR_BRIEF, w->kind, brief);
        int ret = w->minor_cb(w->ctx, ixk_get_be64(vals), rg, w->code, clen,
                              brief);
        if (ret != 0)
            return ret;
    }
    return 0;
}

/* The walk both scans share. A write transaction's queued posting
 * changes are applied first, so it sees its own writes. Returns the
 * callback's stop value (negative: an error to pass on), 0 at the end of
 * the range, -EIO on a key or value of the wrong width. */
static int
run(ix_txn_t *t, const walk_t *w)
{
    int err;
    if (!t->rdonly && (err = ix_pending_flush(t)) != 0)
        return err;
    MDB_cursor *cur;
    if ((err = mdb_cursor_open(t->txn, t->env->match, &cur)) != 0)
        return ix_mdb_err(err);
    ix_brief_t brief;
    memset(&brief, 0, sizeof brief);
    MDB_val k = {w->plen, (void *)w->prefix}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE), ret = 0;
    while (rc == 0) {
        const uint8_t *kb = k.mv_data;
        if (k.mv_size < w->plen || memcmp(kb, w->prefix, w->plen) != 0)
            break;
        /* DUPFIXED keeps one width per key, so the first value's width
         * is every value's. */
        if (k.mv_size != w->klen || v.mv_size != w->vlen) {
            ret = -EIO;
            break;
        }
        const uint8_t *region = kb + w->klen - 6;
        /* With a single value under the key, GET_MULTIPLE leaves v as the
         * positioning set it: that value, still one packed array. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_MULTIPLE);
        while (rc == 0) {
            if (v.mv_size % w->vlen != 0) {
                ret = -EIO;
                break;
            }
            if ((ret = emit(w, region, v.mv_data, v.mv_size / w->vlen,
                            &brief)) != 0)
                break;
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_MULTIPLE);
        }
        if (ret != 0)
            break;
        if (rc != MDB_NOTFOUND)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP);
    }
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
    walk_t w = {
        .prefix = prefix,
        .plen = ixk_skill_prefix(prefix, kind, skill, skill_len,
                                 region_prefix, prefix_len),
        .klen = 3 + (size_t)skill_len + IXK_SKILL_TAIL,
        .vlen = ixk_skill_val_len(kind),
        .kind = kind,
        .skill_cb = cb,
        .ctx = ctx,
    };
    return run(t, &w);
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
    char code[IXK_MINOR_WIDTH + IXK_MINOR_TAIL];
    memcpy(code, minor, IXK_MINOR_WIDTH);
    walk_t w = {
        .prefix = prefix,
        .plen = ixk_minor_prefix(prefix, kind, minor, region_prefix,
                                 prefix_len),
        .klen = IXK_MINOR_LEN,
        .vlen = ixk_minor_val_len(kind),
        .kind = kind,
        .minor_cb = cb,
        .code = code,
        .ctx = ctx,
    };
    return run(t, &w);
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
    MDB_cursor *cur;
    if ((err = mdb_cursor_open(t->txn, t->env->match, &cur)) != 0)
        return ix_mdb_err(err);
    /* The first value at or after the bare docno is this docno's posting
     * if there is one: every value starts with its docno. */
    uint8_t key[IXK_MAX], dn[8];
    ixk_put_be64(dn, docno);
    MDB_val k = {ixk_skill(key, kind, skill, skill_len, region), key};
    MDB_val v = {8, dn};
    int rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
    if (rc != 0)
        err = ix_mdb_err(rc);
    else if (v.mv_size < 8)
        err = -EIO;
    else if (memcmp(v.mv_data, dn, 8) != 0)
        err = -ENOENT;
    else if (v.mv_size != ixk_skill_val_len(kind))
        err = -EIO;
    else
        *level = ((const uint8_t *)v.mv_data)[8];
    mdb_cursor_close(cur);
    return err;
}
