/* audit.c - the audit trail: entries in time order under 'T', and a key
 * per subject under 'S' pointing at them, grouped in blocks of seqs, both
 * in the audit dbi and both written in the caller's transaction. The last
 * seq handed out is kept with the transaction's pending counters and
 * written to meta "aseq" at commit, so seqs keep growing across reopen.
 * Value of an entry: kind | role | op | actor | subject, each string as a
 * length byte and its bytes.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>

#define AUDIT_VAL_MAX (1 + 4 * (1 + IX_AUDIT_STR_MAX))

static const MDB_val aseq_key = {4, "aseq"};

static size_t
put_str(uint8_t *out, const char *s, uint32_t len)
{
    out[0] = (uint8_t)len;
    memcpy(out + 1, s, len);
    return 1 + len;
}

static uint32_t
audit_block(uint64_t seq)
{
    return (uint32_t)(seq >> IXK_AUDIT_BLOCK_SHIFT);
}

static bool
str_ok(const char *s, uint32_t len, uint32_t min)
{
    return len >= min && len <= IX_AUDIT_STR_MAX && (len == 0 || s);
}

int
ix_audit_append(ix_txn_t *t, ix_audit_t *e)
{
    if (!t || t->rdonly || !e || ix_kind_index(e->kind) < 0 ||
        !str_ok(e->actor, e->actor_len, 0) || !str_ok(e->role, e->role_len, 1) ||
        !str_ok(e->op, e->op_len, 1) || !str_ok(e->subject, e->subject_len, 1) ||
        e->subject_len > IX_ID_MAX || memchr(e->subject, 0, e->subject_len))
        return -EINVAL;
    if (t->ret != 0)
        return t->ret;
    ix_pending_t *p = &t->env->pend;
    int rc = ix_pending_load(t);
    if (rc != 0)
        return rc;
    uint64_t seq = p->aseq + 1;

    uint8_t val[AUDIT_VAL_MAX], key[IXK_MAX], at[IXK_AUDIT_AT];
    size_t n = 0;
    val[n++] = e->kind;
    n += put_str(val + n, e->role, e->role_len);
    n += put_str(val + n, e->op, e->op_len);
    n += put_str(val + n, e->actor, e->actor_len);
    n += put_str(val + n, e->subject, e->subject_len);
    ixk_audit_at(at, e->time, seq);
    MDB_val k = {ixk_audit_entry(key, e->time, seq), key}, d = {n, val};
    /* Entries are the last keys of the dbi and come in time order unless
     * the clock stepped back: appending fills their pages. */
    rc = mdb_put(t->txn, t->env->audit, &k, &d, MDB_APPEND);
    if (rc == MDB_KEYEXIST)
        rc = mdb_put(t->txn, t->env->audit, &k, &d, 0);
    if (rc != 0)
        return ix_fail(t, ix_mdb_err(rc));
    k.mv_size = ixk_audit_subject(key, e->kind, audit_block(seq), e->subject,
                                  e->subject_len, at);
    d.mv_size = 0;
    if ((rc = mdb_put(t->txn, t->env->audit, &k, &d, 0)) != 0)
        return ix_fail(t, ix_mdb_err(rc));
    p->aseq = seq;
    p->dirty = true;
    e->seq = seq;
    return 0;
}

/* Reads one length-prefixed string at *off; false when it overruns. */
static bool
get_str(const uint8_t *p, size_t len, size_t *off, const char **s, uint32_t *n)
{
    if (*off >= len || *off + 1 + p[*off] > len)
        return false;
    *n = p[*off];
    *s = (const char *)p + *off + 1;
    *off += 1 + *n;
    return true;
}

/* Decodes the entry stored under `at` (time and seq). -EIO when absent or
 * malformed (strings longer than an entry may hold among them, since the
 * subject key is rebuilt from a decoded entry): a subject key always has
 * its entry. */
static int
decode_entry(const uint8_t *at, const MDB_val *v, ix_audit_t *e)
{
    const uint8_t *p = v->mv_data;
    size_t off = 1;
    if (v->mv_size < 1)
        return -EIO;
    e->kind = p[0];
    e->time = ixk_audit_time(at);
    e->seq = ixk_get_be64(at + 8);
    if (!get_str(p, v->mv_size, &off, &e->role, &e->role_len) ||
        !get_str(p, v->mv_size, &off, &e->op, &e->op_len) ||
        !get_str(p, v->mv_size, &off, &e->actor, &e->actor_len) ||
        !get_str(p, v->mv_size, &off, &e->subject, &e->subject_len) ||
        off != v->mv_size || e->role_len > IX_AUDIT_STR_MAX || e->op_len > IX_AUDIT_STR_MAX ||
        e->actor_len > IX_AUDIT_STR_MAX || e->subject_len > IX_ID_MAX)
        return -EIO;
    return 0;
}

static int
fetch_entry(ix_txn_t *t, const uint8_t *at, ix_audit_t *e)
{
    uint8_t key[1 + IXK_AUDIT_AT];
    key[0] = 'T';
    memcpy(key + 1, at, IXK_AUDIT_AT);
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_get(t->txn, t->env->audit, &k, &v);
    if (rc == MDB_NOTFOUND)
        return -EIO;
    if (rc != 0)
        return ix_mdb_err(rc);
    return decode_entry(at, &v, e);
}

/* One page being listed: what it found and examined so far. */
typedef struct page {
    ix_txn_t *t;
    const ix_audit_query_t *q;
    ix_audit_cb cb;
    void *ctx;
    uint32_t found, scanned;
    uint8_t last[IXK_AUDIT_AT];    /* the last entry examined */
    bool full;                     /* ended with more to come: cursor = last */
} page_t;

/* Lists the keys prefix | at from where the cursor c stands (rc: its
 * positioning) while time <= until. 0 at the range's end, 1 when the
 * page ended, or a negative errno. */
static int
walk_range(page_t *pg, MDB_cursor *c, int rc, MDB_val *k, MDB_val *v,
           const uint8_t *prefix, size_t plen)
{
    const ix_audit_query_t *q = pg->q;
    for (; rc == 0; rc = mdb_cursor_get(c, k, v, MDB_NEXT)) {
        if (k->mv_size != plen + IXK_AUDIT_AT || memcmp(k->mv_data, prefix, plen) != 0)
            return 0;
        const uint8_t *at = (const uint8_t *)k->mv_data + plen;
        if (ixk_audit_time(at) > q->until)
            return 0;
        if (pg->found == q->limit || (q->max_scan && pg->scanned == q->max_scan)) {
            pg->full = true;
            return 1;
        }
        pg->scanned++;
        memcpy(pg->last, at, IXK_AUDIT_AT);
        ix_audit_t e;
        int drc = q->subject ? fetch_entry(pg->t, at, &e) : decode_entry(at, v, &e);
        if (drc != 0)
            return drc;
        if (q->actor && (e.actor_len != q->actor_len ||
                         memcmp(e.actor, q->actor, q->actor_len) != 0))
            continue;
        pg->found++;
        int r = pg->cb(pg->ctx, &e);
        if (r != 0) {
            pg->full = r > 0;
            return r < 0 ? r : 1;
        }
    }
    return rc == MDB_NOTFOUND ? 0 : ix_mdb_err(rc);
}

/* A subject's entries, block after block from `block`: in each, one seek
 * to `from` (the cursor's position in its own block, `since` in the
 * next ones). A seek that lands in a later block skips the empty ones
 * between. */
static int
walk_subject(page_t *pg, MDB_cursor *c, uint32_t block, const uint8_t *from)
{
    const ix_audit_query_t *q = pg->q;
    uint8_t key[IXK_MAX], since[IXK_AUDIT_AT];
    ixk_audit_at(since, q->since, 0);
    for (;;) {
        size_t plen = ixk_audit_subject(key, q->kind, block, q->subject, q->subject_len,
                                        NULL);
        memcpy(key + plen, from, IXK_AUDIT_AT);
        MDB_val k = {plen + IXK_AUDIT_AT, key}, v;
        int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND)
            return 0;
        if (rc != 0)
            return ix_mdb_err(rc);
        const uint8_t *p = k.mv_data;
        if (k.mv_size < IXK_AUDIT_SUBJECT_FIXED || p[0] != 'S' || p[1] != q->kind)
            return 0;
        uint32_t found_block = ixk_get_be32(p + 2);
        if (found_block == block) {
            if (k.mv_size == plen + IXK_AUDIT_AT && memcmp(p, key, plen) == 0) {
                rc = walk_range(pg, c, 0, &k, &v, key, plen);
                if (rc != 0)
                    return rc;
            }
            if (block == UINT32_MAX)
                return 0;
            found_block = block + 1;
        }
        block = found_block;
        from = since;
    }
}

int
ix_audit_list(ix_txn_t *t, const ix_audit_query_t *q, ix_audit_cb cb,
              void *ctx, uint8_t *next_cursor, size_t *next_len)
{
    if (!t || !q || !cb || !next_cursor || !next_len || q->limit == 0 ||
        (q->subject && (ix_kind_index(q->kind) < 0 || q->subject_len == 0 ||
                        q->subject_len > IX_ID_MAX ||
                        memchr(q->subject, 0, q->subject_len))) ||
        (q->cursor && q->cursor_len != IX_AUDIT_CURSOR_LEN))
        return -EINVAL;
    *next_len = 0;
    if (q->since > q->until)
        return 0;
    /* Where the page starts: `since`, or just after the cursor. */
    uint8_t from[IXK_AUDIT_AT];
    ixk_audit_at(from, q->since, 0);
    uint32_t block = 0;
    if (q->cursor && memcmp(q->cursor, from, IXK_AUDIT_AT) >= 0) {
        memcpy(from, q->cursor, IXK_AUDIT_AT);
        /* Strictly after: the next seq at the same time (a cursor never
         * holds the largest seq). */
        uint64_t seq = ixk_get_be64(from + 8);
        ixk_put_be64(from + 8, seq + 1);
        block = audit_block(seq);
    }

    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->audit, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    page_t pg = {.t = t, .q = q, .cb = cb, .ctx = ctx};
    if (q->subject) {
        rc = walk_subject(&pg, c, block, from);
    } else {
        uint8_t key[1 + IXK_AUDIT_AT] = {'T'};
        memcpy(key + 1, from, IXK_AUDIT_AT);
        MDB_val k = {sizeof key, key}, v;
        rc = walk_range(&pg, c, mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), &k, &v, key, 1);
    }
    mdb_cursor_close(c);
    if (rc < 0)
        return rc;
    if (pg.full) {
        memcpy(next_cursor, pg.last, IXK_AUDIT_AT);
        *next_len = IX_AUDIT_CURSOR_LEN;
    }
    return 0;
}

int
ix_audit_prune(ix_txn_t *t, int64_t before, uint32_t max, uint32_t *removed)
{
    if (!t || t->rdonly || !removed || max == 0)
        return -EINVAL;
    *removed = 0;
    if (t->ret != 0)
        return t->ret;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->audit, &c);
    if (rc != 0)
        return ix_fail(t, ix_mdb_err(rc));
    uint8_t first = 'T';
    MDB_val k = {1, &first}, v;
    int ret = 0;
    /* The oldest entries are the first 'T' keys; each goes with its
     * subject key, rebuilt from the entry. */
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && *removed < max;
         rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) {
        const uint8_t *p = k.mv_data;
        if (k.mv_size != 1 + IXK_AUDIT_AT || p[0] != 'T' || ixk_audit_time(p + 1) >= before)
            break;
        uint8_t at[IXK_AUDIT_AT], skey[IXK_MAX];
        memcpy(at, p + 1, IXK_AUDIT_AT);
        ix_audit_t e;
        if ((ret = decode_entry(at, &v, &e)) != 0)
            break;
        MDB_val sk = {ixk_audit_subject(skey, e.kind, audit_block(e.seq), e.subject,
                                        e.subject_len, at),
                      skey};
        if ((rc = mdb_cursor_del(c, 0)) != 0 ||
            ((rc = mdb_del(t->txn, t->env->audit, &sk, NULL)) != 0 && rc != MDB_NOTFOUND))
            break;
        (*removed)++;
        /* The oldest left is sought afresh rather than taken from where
         * two deletes (this key's, and the subject key's through another
         * path) left the cursor: a descent per entry, max per call. */
        k.mv_size = 1;
        k.mv_data = &first;
    }
    mdb_cursor_close(c);
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = ix_mdb_err(rc);
    return ix_fail(t, ret);
}

int
ix_audit_verify(ix_txn_t *t, uint64_t *entries, char *why, size_t len)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->audit, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    uint64_t n_entries = 0, n_subjects = 0, max_seq = 0;
    int ret = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && ret == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *p = k.mv_data;
        ix_audit_t e;
        if (p[0] == 'T' && k.mv_size == 1 + IXK_AUDIT_AT) {
            n_entries++;
            if (decode_entry(p + 1, &v, &e) != 0) {
                snprintf(why, len, "audit entry %" PRIu64 " is malformed",
                         ixk_get_be64(p + 9));
                ret = 1;
            } else if (e.seq > max_seq) {
                max_seq = e.seq;
            }
        } else if (p[0] == 'S' && k.mv_size > IXK_AUDIT_SUBJECT_FIXED + IXK_AUDIT_AT) {
            n_subjects++;
            const uint8_t *at = p + k.mv_size - IXK_AUDIT_AT;
            int frc = fetch_entry(t, at, &e);
            size_t sublen = k.mv_size - IXK_AUDIT_SUBJECT_FIXED - IXK_AUDIT_AT;
            if (frc == -EIO ||
                (frc == 0 && (e.kind != p[1] || e.subject_len != sublen ||
                              ixk_get_be32(p + 2) != audit_block(e.seq) ||
                              memcmp(e.subject, p + 6, sublen) != 0))) {
                snprintf(why, len, "audit subject key of entry %" PRIu64
                         " has no matching entry", ixk_get_be64(at + 8));
                ret = 1;
            } else if (frc != 0) {
                ret = frc;
            }
        } else {
            snprintf(why, len, "audit holds a key of %zu bytes it does not know",
                     k.mv_size);
            ret = 1;
        }
    }
    mdb_cursor_close(c);
    if (ret != 0)
        return ret;
    if (rc != MDB_NOTFOUND)
        return ix_mdb_err(rc);
    if (n_entries != n_subjects) {
        snprintf(why, len, "audit holds %" PRIu64 " entries and %" PRIu64
                 " subject keys", n_entries, n_subjects);
        return 1;
    }
    uint64_t aseq = 0;
    rc = mdb_get(t->txn, t->env->meta, (MDB_val *)&aseq_key, &v);
    if (rc == 0 && v.mv_size == 8)
        aseq = ixk_get_be64(v.mv_data);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return ix_mdb_err(rc);
    if (aseq < max_seq) {
        snprintf(why, len, "meta aseq %" PRIu64 " below audit entry %" PRIu64,
                 aseq, max_seq);
        return 1;
    }
    *entries = n_entries;
    return 0;
}
