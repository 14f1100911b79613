/* list.c - paged listing with filters. One scan is chosen per filter set:
 * the region postings when a region prefix is given, else the occupation
 * postings, else category, else status, else the id map (id order). The
 * other filters are checked on each record's stored header.
 *
 * Cursor (opaque to callers, at most IX_CURSOR_MAX bytes):
 *   scan tag (1) | fingerprint of the filter set (be32) | last key visited
 * A page resumes strictly after the last key visited, so records deleted or
 * added between pages do not make it repeat or skip the others.
 */
#include "internal.h"

#define CUR_HEAD 5

enum scan {
    SCAN_REGION = 'R',
    SCAN_OCCUPATION = 'O',
    SCAN_CATEGORY = 'C',
    SCAN_STATUS = 'S',
    SCAN_IDS = 'I',
};

typedef struct plan {
    enum scan scan;
    MDB_dbi dbi;
    uint8_t prefix[IXK_MAX];  /* every key of the scan starts with this */
    size_t prefix_len;
    size_t min_key, max_key;  /* key lengths a cursor may carry */
    uint32_t fingerprint;
} plan_t;

static uint32_t
fnv(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}

static int
make_plan(ix_txn_t *t, const ix_list_query_t *q, plan_t *pl)
{
    uint8_t kind = q->kind;
    uint32_t rl = q->region_prefix ? q->region_prefix_len : 0;
    uint32_t ol = q->occupation_prefix ? q->occupation_prefix_len : 0;
    if (rl > 6 || ol > IX_OCCUPATION_MAX)
        return -EINVAL;
    if (rl && memchr(q->region_prefix, 0, rl))
        return -EINVAL;
    if (ol && memchr(q->occupation_prefix, 0, ol))
        return -EINVAL;
    if (q->status < -1 || q->status > 255 || q->category < -1 ||
        q->category > 255)
        return -EINVAL;
    if (rl) {
        pl->scan = SCAN_REGION;
        pl->prefix_len = ixk_region_prefix(pl->prefix, kind, q->region_prefix,
                                           rl);
        pl->min_key = pl->max_key = IXK_REGION_LEN;
    } else if (ol) {
        pl->scan = SCAN_OCCUPATION;
        pl->prefix_len = ixk_occupation_prefix(pl->prefix, kind,
                                               q->occupation_prefix, ol);
        pl->min_key = pl->max_key = IXK_OCC_LEN;
    } else if (q->category >= 0) {
        pl->scan = SCAN_CATEGORY;
        pl->prefix_len = ixk_byte_prefix(pl->prefix, IXK_CATEGORY, kind,
                                         (uint8_t)q->category);
        pl->min_key = pl->max_key = IXK_CATEGORY_LEN;
    } else if (q->status >= 0) {
        pl->scan = SCAN_STATUS;
        pl->prefix_len = ixk_byte_prefix(pl->prefix, IXK_STATUS, kind,
                                         (uint8_t)q->status);
        pl->min_key = pl->max_key = IXK_STATUS_LEN;
    } else {
        pl->scan = SCAN_IDS;
        pl->prefix[0] = kind;
        pl->prefix_len = 1;
        pl->min_key = 2;
        pl->max_key = 1 + IX_ID_MAX;
    }
    pl->dbi = pl->scan == SCAN_IDS ? t->env->ids : t->env->post;
    int32_t st = q->status, cat = q->category;
    uint32_t h = 2166136261u;
    h = fnv(h, &kind, 1);
    h = fnv(h, &rl, sizeof rl);
    h = fnv(h, q->region_prefix ? q->region_prefix : "", rl);
    h = fnv(h, &ol, sizeof ol);
    h = fnv(h, q->occupation_prefix ? q->occupation_prefix : "", ol);
    h = fnv(h, &st, sizeof st);
    h = fnv(h, &cat, sizeof cat);
    pl->fingerprint = h;
    return 0;
}

static bool
starts_with(const char *s, uint32_t slen, const char *p, uint32_t plen)
{
    return slen >= plen && memcmp(s, p, plen) == 0;
}

/* Index of the first of the record's occupation codes that starts with the
 * prefix, or -1. */
static int
first_occ_match(const ix_docview_t *v, const char *p, uint32_t plen)
{
    for (uint32_t i = 0; i < v->n_occ; i++)
        if (starts_with(v->occ[i].p, v->occ[i].len, p, plen))
            return (int)i;
    return -1;
}

/* Applies every filter to one record. In the occupation scan a worker with
 * several codes under the prefix has one posting per code; only the posting
 * of its first such code yields the record, so it appears once. */
static bool
keep(const plan_t *pl, const ix_list_query_t *q, const ix_docview_t *v,
     const uint8_t *key)
{
    uint32_t rl = q->region_prefix ? q->region_prefix_len : 0;
    uint32_t ol = q->occupation_prefix ? q->occupation_prefix_len : 0;
    if (rl && memcmp(v->region, q->region_prefix, rl) != 0)
        return false;
    if (q->status >= 0 && v->status != q->status)
        return false;
    if (q->category >= 0 &&
        !(ix_list_categories(q->kind, v) & (1u << (q->category & 7))))
        return false;
    if (ol) {
        int i = first_occ_match(v, q->occupation_prefix, ol);
        if (i < 0)
            return false;
        if (pl->scan == SCAN_OCCUPATION) {
            const char *code = (const char *)key + 2;
            const ix_str_t *o = &v->occ[i];
            if (memcmp(code, o->p, o->len) != 0 ||
                (o->len < IXK_OCC_WIDTH && code[o->len] != 0))
                return false;
        }
    }
    return true;
}

static void
write_cursor(const plan_t *pl, const uint8_t *key, size_t klen, uint8_t *out,
             size_t *out_len)
{
    out[0] = (uint8_t)pl->scan;
    ixk_put_be32(out + 1, pl->fingerprint);
    memcpy(out + CUR_HEAD, key, klen);
    *out_len = CUR_HEAD + klen;
}

int
ix_list(ix_txn_t *t, const ix_list_query_t *q, ix_list_cb cb, void *ctx,
        uint8_t *next_cursor, size_t *next_len)
{
    if (!t || !q || !cb || !next_cursor || !next_len || q->limit == 0 ||
        ix_kind_index(q->kind) < 0)
        return -EINVAL;
    *next_len = 0;
    plan_t pl;
    int rc = make_plan(t, q, &pl);
    if (rc != 0)
        return rc;
    /* A write transaction's queued posting changes must land first. */
    if (!t->rdonly && (rc = ix_pending_flush(t)) != 0)
        return rc;
    uint8_t last[IXK_MAX];
    size_t last_len = 0;
    if (q->cursor && q->cursor_len > 0) {
        const uint8_t *c = q->cursor;
        size_t klen = q->cursor_len - (q->cursor_len >= CUR_HEAD ? CUR_HEAD : 0);
        if (q->cursor_len < CUR_HEAD || q->cursor_len > IX_CURSOR_MAX ||
            c[0] != pl.scan || ixk_get_be32(c + 1) != pl.fingerprint ||
            klen < pl.min_key || klen > pl.max_key ||
            !ixk_has_prefix(c + CUR_HEAD, klen, pl.prefix, pl.prefix_len))
            return -EINVAL;
        memcpy(last, c + CUR_HEAD, klen);
        last_len = klen;
    }

    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(t->txn, pl.dbi, &cur)) != 0)
        return ix_mdb_err(rc);
    MDB_val k, v;
    if (last_len) {
        k.mv_size = last_len;
        k.mv_data = last;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == last_len &&
            memcmp(k.mv_data, last, last_len) == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    } else {
        k.mv_size = pl.prefix_len;
        k.mv_data = pl.prefix;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }

    uint32_t scanned = 0, emitted = 0;
    int ret = 0;
    bool more = false;
    for (;;) {
        if (rc != 0 || !ixk_has_prefix(k.mv_data, k.mv_size, pl.prefix,
                                       pl.prefix_len))
            break;
        if (q->max_scan && scanned == q->max_scan) {
            more = true;   /* an unexamined entry remains */
            break;
        }
        scanned++;
        if (k.mv_size < pl.min_key || k.mv_size > pl.max_key) {
            ret = -EIO;
            break;
        }
        memcpy(last, k.mv_data, k.mv_size);
        last_len = k.mv_size;
        uint64_t docno;
        if (pl.scan == SCAN_IDS) {
            if (v.mv_size != 8) {
                ret = -EIO;
                break;
            }
            docno = ixk_get_be64(v.mv_data);
        } else {
            docno = ixk_docno_of(k.mv_data, k.mv_size);
        }
        ix_docview_t dv;
        if ((ret = ix_doc_fetch(t, q->kind, docno, &dv)) != 0) {
            if (ret == -ENOENT)
                ret = -EIO;   /* a posting without its doc */
            break;
        }
        if (keep(&pl, q, &dv, last)) {
            ix_record_t r;
            ix_doc_record(&dv, q->kind, docno, &r);
            emitted++;
            int r2 = cb(ctx, &r);
            if (r2 != 0) {
                ret = r2 < 0 ? r2 : 0;
                more = r2 > 0;
                break;
            }
            if (emitted == q->limit) {
                /* Peek, so that a page ending exactly at the last record
                 * reports the listing complete. */
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
                more = rc == 0 && ixk_has_prefix(k.mv_data, k.mv_size,
                                                 pl.prefix, pl.prefix_len);
                if (rc == MDB_NOTFOUND)
                    rc = 0;
                break;
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = ix_mdb_err(rc);
    mdb_cursor_close(cur);
    if (ret == 0 && more && last_len > 0)
        write_cursor(&pl, last, last_len, next_cursor, next_len);
    return ret;
}
