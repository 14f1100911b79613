/* referral.c - referrals in the referrals dbi: the record under 'r' and
 * its postings by worker, vacancy and status, all changed together, plus
 * the referral's share of the hired aggregate (labour.c).
 *
 * Stored record: | version (1) | status (1) | flags (1, bit 0 = hired) |
 * category (1) | region (6) | hired_at (8, be) | worker id length (1) |
 * vacancy id length (1) | worker id | vacancy id | value |.
 */
#include "internal.h"

#include <inttypes.h>

#define REF_VERSION 1
#define REF_HEADER 20
#define REF_KEY_LEN 9
#define REF_CURSOR_LEN 13

static const uint8_t refno_key[] = "refno";

static size_t
record_key(uint8_t *k, uint64_t refno)
{
    k[0] = 'r';
    ixk_put_be64(k + 1, refno);
    return REF_KEY_LEN;
}

/* 'w' worker id NUL, 'v' vacancy id NUL, or 's' status: the prefix of
 * one posting list; the refno follows. */
static size_t
id_prefix(uint8_t *k, uint8_t tag, const char *id, uint32_t len)
{
    k[0] = tag;
    memcpy(k + 1, id, len);
    k[1 + len] = 0;
    return 2 + len;
}

static size_t
status_prefix(uint8_t *k, uint8_t status)
{
    k[0] = 's';
    k[1] = status;
    return 2;
}

static bool
valid_id(const char *s, uint32_t len)
{
    return s && len >= 1 && len <= IX_ID_MAX && !memchr(s, 0, len);
}

static int
decode(const MDB_val *v, uint64_t refno, ix_referral_t *out)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < REF_HEADER || p[0] != REF_VERSION)
        return -EIO;
    uint32_t wl = p[18], vl = p[19];
    /* Posting keys are rebuilt from the ids: no longer than an id may be. */
    if (v->mv_size < REF_HEADER + (size_t)wl + vl || wl == 0 || vl == 0 || wl > IX_ID_MAX ||
        vl > IX_ID_MAX)
        return -EIO;
    out->refno = refno;
    out->status = p[1];
    out->hired = p[2] & 1;
    out->category = p[3];
    memcpy(out->region, p + 4, 6);
    out->hired_at = (int64_t)ixk_get_be64(p + 10);
    out->worker = (const char *)p + REF_HEADER;
    out->worker_len = wl;
    out->vacancy = out->worker + wl;
    out->vacancy_len = vl;
    out->value = out->vacancy + vl;
    out->value_len = v->mv_size - REF_HEADER - wl - vl;
    return 0;
}

int
ix_referral_get(ix_txn_t *t, uint64_t refno, ix_referral_t *out)
{
    if (!t || !out)
        return -EINVAL;
    uint8_t kb[REF_KEY_LEN];
    MDB_val k = {record_key(kb, refno), kb}, v;
    int rc = mdb_get(t->txn, t->env->referrals, &k, &v);
    if (rc != 0)
        return ix_mdb_err(rc);
    return decode(&v, refno, out);
}

static int
posting(ix_txn_t *t, const uint8_t *pre, size_t n, uint64_t refno, bool put)
{
    uint8_t kb[IXK_MAX];
    memcpy(kb, pre, n);
    ixk_put_be64(kb + n, refno);
    MDB_val k = {n + 8, kb}, v = {0, NULL};
    int rc = put ? mdb_put(t->txn, t->env->referrals, &k, &v, 0)
                 : mdb_del(t->txn, t->env->referrals, &k, NULL);
    return ix_mdb_err(rc);
}

static int
next_refno(ix_txn_t *t, uint64_t *next)
{
    MDB_val mk = {5, (void *)refno_key}, mv;
    int rc = mdb_get(t->txn, t->env->meta, &mk, &mv);
    *next = 1;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return ix_mdb_err(rc);
    if (mv.mv_size != 8)
        return -EIO;
    *next = ixk_get_be64(mv.mv_data);
    return 0;
}

int
ix_referral_reserve(ix_txn_t *t, uint64_t *refno)
{
    if (!t || t->rdonly || !refno)
        return -EINVAL;
    if (t->ret != 0)
        return t->ret;
    uint64_t next;
    int rc = next_refno(t, &next);
    if (rc != 0)
        return ix_fail(t, rc);
    uint8_t nb[8];
    ixk_put_be64(nb, next + 1);
    MDB_val mk = {5, (void *)refno_key}, mv = {8, nb};
    if ((rc = mdb_put(t->txn, t->env->meta, &mk, &mv, 0)) != 0)
        return ix_fail(t, ix_mdb_err(rc));
    *refno = next;
    return 0;
}

int
ix_referral_put(ix_txn_t *t, const ix_referral_t *r)
{
    if (!t || t->rdonly || !r)
        return -EINVAL;
    if (t->ret != 0)
        return t->ret;
    if (!valid_id(r->worker, r->worker_len) ||
        !valid_id(r->vacancy, r->vacancy_len) ||
        (r->value_len && !r->value))
        return -EINVAL;
    ix_env_t *e = t->env;
    uint8_t kb[IXK_MAX];
    ix_referral_t old;
    bool exists = false;
    uint8_t old_status = 0;
    int rc;
    if (r->refno == 0)
        return -EINVAL;
    rc = ix_referral_get(t, r->refno, &old);
    if (rc == 0) {
        /* The worker and vacancy of a referral never change. */
        if (old.worker_len != r->worker_len || old.vacancy_len != r->vacancy_len ||
            memcmp(old.worker, r->worker, r->worker_len) != 0 ||
            memcmp(old.vacancy, r->vacancy, r->vacancy_len) != 0)
            return -EINVAL;
        exists = true;
        old_status = old.status;
        /* old points into the map; only its hire fields (copies) are used
         * below, after the put may have moved the page. */
        old.worker = old.vacancy = NULL;
        old.value = NULL;
    } else if (rc != -ENOENT) {
        return ix_fail(t, rc);
    } else {
        uint64_t next;
        if ((rc = next_refno(t, &next)) != 0)
            return ix_fail(t, rc);
        if (r->refno >= next)
            return -EINVAL;   /* not a number ix_referral_reserve gave */
    }
    MDB_val k = {record_key(kb, r->refno), kb};
    MDB_val v = {REF_HEADER + r->worker_len + r->vacancy_len + r->value_len, NULL};
    if ((rc = mdb_put(t->txn, e->referrals, &k, &v, MDB_RESERVE)) != 0)
        return ix_fail(t, ix_mdb_err(rc));
    uint8_t *p = v.mv_data;
    p[0] = REF_VERSION;
    p[1] = r->status;
    p[2] = r->hired ? 1 : 0;
    p[3] = r->category;
    memcpy(p + 4, r->region, 6);
    ixk_put_be64(p + 10, (uint64_t)r->hired_at);
    p[18] = (uint8_t)r->worker_len;
    p[19] = (uint8_t)r->vacancy_len;
    memcpy(p + REF_HEADER, r->worker, r->worker_len);
    memcpy(p + REF_HEADER + r->worker_len, r->vacancy, r->vacancy_len);
    if (r->value_len)
        memcpy(p + REF_HEADER + r->worker_len + r->vacancy_len, r->value,
               r->value_len);
    size_t n;
    if (!exists) {
        n = id_prefix(kb, 'w', r->worker, r->worker_len);
        if ((rc = posting(t, kb, n, r->refno, true)) != 0)
            return ix_fail(t, rc);
        n = id_prefix(kb, 'v', r->vacancy, r->vacancy_len);
        if ((rc = posting(t, kb, n, r->refno, true)) != 0)
            return ix_fail(t, rc);
    }
    if (!exists || old_status != r->status) {
        if (exists && (rc = posting(t, kb, status_prefix(kb, old_status),
                                    r->refno, false)) != 0)
            return ix_fail(t, rc);
        if ((rc = posting(t, kb, status_prefix(kb, r->status), r->refno,
                          true)) != 0)
            return ix_fail(t, rc);
    }
    return ix_agg_referral(t, exists ? &old : NULL, r);
}

/* ---- listing ---------------------------------------------------------- */

static uint32_t
fingerprint(const ix_referral_query_t *q)
{
    uint32_t h = 2166136261u;
#define MIX(b) (h = (h ^ (uint8_t)(b)) * 16777619u)
    for (uint32_t i = 0; q->worker && i < q->worker_len; i++)
        MIX(q->worker[i]);
    MIX(0xfe);
    for (uint32_t i = 0; q->vacancy && i < q->vacancy_len; i++)
        MIX(q->vacancy[i]);
    MIX(0xfd);
    MIX(q->status + 1);
#undef MIX
    return h;
}

static bool
wanted(const ix_referral_query_t *q, const ix_referral_t *r)
{
    if (q->worker && (r->worker_len != q->worker_len ||
                      memcmp(r->worker, q->worker, q->worker_len) != 0))
        return false;
    if (q->vacancy && (r->vacancy_len != q->vacancy_len ||
                       memcmp(r->vacancy, q->vacancy, q->vacancy_len) != 0))
        return false;
    return q->status < 0 || r->status == (uint8_t)q->status;
}

int
ix_referral_list(ix_txn_t *t, const ix_referral_query_t *q, ix_referral_cb cb,
                 void *ctx, uint8_t *next_cursor, size_t *next_len)
{
    if (!t || !q || !cb || !next_cursor || !next_len || q->limit == 0)
        return -EINVAL;
    *next_len = 0;
    if ((q->worker && !valid_id(q->worker, q->worker_len)) ||
        (q->vacancy && !valid_id(q->vacancy, q->vacancy_len)) ||
        q->status > 255)
        return -EINVAL;
    uint8_t pre[IXK_MAX];
    size_t n;
    if (q->worker)
        n = id_prefix(pre, 'w', q->worker, q->worker_len);
    else if (q->vacancy)
        n = id_prefix(pre, 'v', q->vacancy, q->vacancy_len);
    else if (q->status >= 0)
        n = status_prefix(pre, (uint8_t)q->status);
    else
        n = (pre[0] = 'r', 1);
    uint32_t fp = fingerprint(q);
    uint64_t after = 0;
    if (q->cursor) {
        if (q->cursor_len != REF_CURSOR_LEN || q->cursor[0] != pre[0] ||
            ixk_get_be32(q->cursor + 1) != fp)
            return -EINVAL;
        after = ixk_get_be64(q->cursor + 5);
        if (after == UINT64_MAX)
            return 0;
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->referrals, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    uint8_t kb[IXK_MAX];
    memcpy(kb, pre, n);
    ixk_put_be64(kb + n, after + 1);
    MDB_val k = {n + 8, kb}, v;
    uint32_t got = 0, scanned = 0;
    uint64_t last = 0;
    bool more = false;
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != n + 8 || !ixk_has_prefix(k.mv_data, k.mv_size, pre, n))
            break;
        if (got == q->limit || (q->max_scan && scanned == q->max_scan)) {
            more = true;
            break;
        }
        scanned++;
        uint64_t refno = ixk_get_be64((const uint8_t *)k.mv_data + n);
        last = refno;
        ix_referral_t r;
        if (pre[0] == 'r') {
            ret = decode(&v, refno, &r);
        } else {
            uint8_t rk[REF_KEY_LEN];
            MDB_val k2 = {record_key(rk, refno), rk}, v2;
            int grc = mdb_get(t->txn, t->env->referrals, &k2, &v2);
            ret = grc == 0 ? decode(&v2, refno, &r) : grc == MDB_NOTFOUND ? -EIO
                                                                        : ix_mdb_err(grc);
        }
        if (ret != 0)
            break;
        if (!wanted(q, &r))
            continue;
        got++;
        int cr = cb(ctx, &r);
        if (cr != 0) {
            ret = cr < 0 ? cr : 0;
            more = true;
            break;
        }
    }
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = ix_mdb_err(rc);
    mdb_cursor_close(c);
    if (ret != 0)
        return ret;
    if (more) {
        next_cursor[0] = pre[0];
        ixk_put_be32(next_cursor + 1, fp);
        ixk_put_be64(next_cursor + 5, last);
        *next_len = REF_CURSOR_LEN;
    }
    return 0;
}

/* ---- checking --------------------------------------------------------- */

int
ix_referral_check(ix_txn_t *t, ix_agg_ledger_t *l, ix_agg_problem_cb problem,
                  void *ctx)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->env->referrals, &c);
    if (rc != 0)
        return ix_mdb_err(rc);
    uint8_t pre[1] = {'r'};
    MDB_val k = {1, pre}, v;
    uint64_t records = 0, max_refno = 0;
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *kb = k.mv_data;
        if (kb[0] != 'r')
            break;
        uint64_t refno = k.mv_size == REF_KEY_LEN ? ixk_get_be64(kb + 1) : 0;
        ix_referral_t r;
        if (refno == 0 || decode(&v, refno, &r) != 0) {
            problem(ctx, "malformed referral record");
            continue;
        }
        records++;
        if (refno > max_refno)
            max_refno = refno;
        uint8_t pk[IXK_MAX];
        size_t n;
        struct {
            size_t n;
            const char *what;
        } want[3];
        uint8_t keys[3][IXK_MAX];
        n = id_prefix(keys[0], 'w', r.worker, r.worker_len);
        want[0].n = n;
        want[0].what = "worker";
        n = id_prefix(keys[1], 'v', r.vacancy, r.vacancy_len);
        want[1].n = n;
        want[1].what = "vacancy";
        want[2].n = status_prefix(keys[2], r.status);
        want[2].what = "status";
        if ((ret = ix_agg_expect_referral(t, l, &r)) != 0)
            break;
        for (int i = 0; i < 3; i++) {
            memcpy(pk, keys[i], want[i].n);
            ixk_put_be64(pk + want[i].n, refno);
            MDB_val k2 = {want[i].n + 8, pk}, v2;
            int grc = mdb_get(t->txn, t->env->referrals, &k2, &v2);
            if (grc == MDB_NOTFOUND)
                problem(ctx, "missing %s posting of referral %" PRIu64,
                        want[i].what, refno);
            else if (grc != 0) {
                ret = ix_mdb_err(grc);
                break;
            }
        }
        if (ret != 0)
            break;
    }
    mdb_cursor_close(c);
    if (ret != 0)
        return ret;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return ix_mdb_err(rc);
    MDB_stat st;
    if ((rc = mdb_stat(t->txn, t->env->referrals, &st)) != 0)
        return ix_mdb_err(rc);
    if (st.ms_entries != records * 4)
        problem(ctx, "referrals holds %zu entries for %" PRIu64 " referrals",
                st.ms_entries, records);
    MDB_val mk = {5, (void *)refno_key}, mv;
    rc = mdb_get(t->txn, t->env->meta, &mk, &mv);
    uint64_t next = rc == 0 && mv.mv_size == 8 ? ixk_get_be64(mv.mv_data) : 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return ix_mdb_err(rc);
    if (max_refno && next <= max_refno)
        problem(ctx, "next referral number %" PRIu64 " not above %" PRIu64,
                next, max_refno);
    return 0;
}
