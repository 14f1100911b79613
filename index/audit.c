/* audit.c - the audit trail: entries in time order under 'T', and a key
 * per subject under 'S' pointing at them, both in the audit dbi and both
 * written in the caller's transaction. The last seq handed out is kept
 * with the transaction's pending counters and written to meta "aseq" at
 * commit, so seqs keep growing across reopen. Value of an entry:
 * kind | role | op | actor | subject, each string as a length byte and
 * its bytes.
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
    k.mv_size = ixk_audit_subject(key, e->kind, e->subject, e->subject_len, at);
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
 * malformed: a subject key always has its entry. */
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
        off != v->mv_size)
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
    /* The scan's range: prefix | at, from `since` (or just after the
     * cursor) to `until`. */
    uint8_t key[IXK_MAX], from[IXK_AUDIT_AT], last[IXK_AUDIT_AT] = {0};
    size_t plen;
    if (q->subject)
        plen = ixk_audit_subject(key, q->kind, q->subject, q->subject_len, NULL);
    else {
        key[0] = 'T';
        plen = 1;
    }
    ixk_audit_at(from, q->since, 0);
    if (q->cursor && memcmp(q->cursor, from, IXK_AUDIT_AT) >= 0) {
        memcpy(from, q->cursor, IXK_AUDIT_AT);
        /* Strictly after: the next seq at the same time (a cursor never
         * holds the largest seq). */
        ixk_put_be64(from + 8, ixk_get_be64(from + 8) + 1);
    }
    memcpy(key + plen, from, IXK_AUDIT_AT);

    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->audit, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    MDB_val k = {plen + IXK_AUDIT_AT, key}, v;
    uint32_t found = 0, scanned = 0;
    int ret = 0;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != plen + IXK_AUDIT_AT || memcmp(k.mv_data, key, plen) != 0)
            break;
        const uint8_t *at = (const uint8_t *)k.mv_data + plen;
        if (ixk_audit_time(at) > q->until)
            break;
        if (found == q->limit || (q->max_scan && scanned == q->max_scan)) {
            /* More in range: the page ends at the last entry examined. */
            memcpy(next_cursor, last, IXK_AUDIT_AT);
            *next_len = IX_AUDIT_CURSOR_LEN;
            break;
        }
        scanned++;
        memcpy(last, at, IXK_AUDIT_AT);
        ix_audit_t e;
        int drc = q->subject ? fetch_entry(t, at, &e) : decode_entry(at, &v, &e);
        if (drc != 0) {
            ret = drc;
            break;
        }
        if (q->actor && (e.actor_len != q->actor_len ||
                         memcmp(e.actor, q->actor, q->actor_len) != 0))
            continue;
        found++;
        int r = cb(ctx, &e);
        if (r != 0) {
            ret = r < 0 ? r : 0;
            if (r > 0) {
                memcpy(next_cursor, last, IXK_AUDIT_AT);
                *next_len = IX_AUDIT_CURSOR_LEN;
            }
            break;
        }
    }
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = ix_mdb_err(rc);
    mdb_cursor_close(c);
    if (ret < 0)
        *next_len = 0;
    return ret;
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
        } else if (p[0] == 'S' && k.mv_size > 3 + IXK_AUDIT_AT) {
            n_subjects++;
            const uint8_t *at = p + k.mv_size - IXK_AUDIT_AT;
            int frc = fetch_entry(t, at, &e);
            size_t sublen = k.mv_size - 3 - IXK_AUDIT_AT;
            if (frc == -EIO || (frc == 0 && (e.kind != p[1] || e.subject_len != sublen ||
                                             memcmp(e.subject, p + 2, sublen) != 0))) {
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
