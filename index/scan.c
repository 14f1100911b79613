/* scan.c - the matching scans: ix_scan_skill and ix_scan_minor walk the
 * postings of one term within a region prefix (the matcher then reads the
 * candidates they yield with ix_get_docno), and the ix_groups walks give
 * the same postings a county at a time, for merging several terms. The postings live in the match dbi as fixed-size duplicates
 * of one key per (term, county) (keys.h): the region follows the term in
 * the key, so a province, city or county is one contiguous run of keys
 * that MDB_SET_RANGE reaches and MDB_NEXT_NODUP steps through, and under
 * each key MDB_GET_MULTIPLE / MDB_NEXT_MULTIPLE return a page of values
 * at a time as one packed array. These are the inner loop of matching,
 * run over up to hundreds of thousands of postings per query, so the walk
 * allocates nothing, checks each key with one length test and one memcmp
 * of the range prefix and each value's width once per key, and decodes a
 * value with one be64 load for the docno and a few unaligned loads for the
 * brief: skill postings into a run on the stack handed over whole, minor
 * postings into one ix_brief_t that each reuses.
 */
#include <stdlib.h>

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
    uint8_t max_rank;     /* values of a higher rank are not read */
    /* Skill scans. */
    ix_skill_cb skill_cb;
    /* Minor-group scans: code holds the group's 7 bytes, then each
     * posting's tail. */
    ix_minor_cb minor_cb;
    char *code;
    void *ctx;
} walk_t;

/* Hands the values of one packed array of n to the callback, from the
 * first up to the first of a rank above the walk's max_rank (ranks lead
 * the values, in order); *used gets how many it handed. Returns the
 * callback's first nonzero value, or 0. */
static int
emit(const walk_t *w, const uint8_t *region, const uint8_t *vals, size_t n,
     ix_brief_t *brief, size_t *used)
{
    const char *rg = (const char *)region;
    uint8_t max_rank = w->max_rank;
    *used = 0;
    /* The array is a page of postings, most of it not in cache: asking
     * for all of its lines at once overlaps their misses. */
    for (size_t off = 0; off < n * w->vlen; off += 64)
        __builtin_prefetch(vals + off);
    if (w->skill_cb) {
        ix_skill_run_t run;
        run.kind = w->kind;
        bool more = true;
        while (n > 0 && more) {
            uint32_t m = n < IX_SKILL_RUN_MAX ? (uint32_t)n : IX_SKILL_RUN_MAX;
            uint32_t i = 0;
            for (; i < m; i++, vals += w->vlen) {
                if (vals[0] > max_rank) {
                    more = false;
                    break;
                }
                ix_brief_t b;
                ixk_brief_get(vals + IXK_SKILL_BRIEF, w->kind, &b);
                run.docno[i] = ixk_match_docno(vals);
                run.level[i] = vals[IXK_SKILL_LEVEL];
                run.open[i] = b.open;
                run.wage[i] = b.wage;
                run.education[i] = b.education;
                if (w->kind == IX_VACANCY) {
                    run.expires[i] = b.expires;
                    run.occupation[i] = b.occupation;
                    run.age_min[i] = b.age_min;
                    run.age_max[i] = b.age_max;
                    run.priority_mask[i] = b.priority_mask;
                } else {
                    run.birth_year[i] = b.birth_year;
                    run.category[i] = b.category;
                }
            }
            if (i == 0)
                break;
            run.n = i;
            *used += i;
            n -= i;
            int ret = w->skill_cb(w->ctx, rg, &run);
            if (ret != 0)
                return ret;
        }
        return 0;
    }
    for (size_t i = 0; i < n && vals[0] <= max_rank; i++, vals += w->vlen) {
        /* A 7-byte code's tail is NUL padding. */
        const uint8_t *tail = vals + IXK_MATCH_DOCNO + 8;
        uint32_t clen = tail[0] ? IXK_MINOR_WIDTH + IXK_MINOR_TAIL : IXK_MINOR_WIDTH;
        memcpy(w->code + IXK_MINOR_WIDTH, tail, IXK_MINOR_TAIL);
        ixk_brief_get(vals + IXK_MINOR_BRIEF, w->kind, brief);
        (*used)++;
        int ret = w->minor_cb(w->ctx, ixk_match_docno(vals), rg, w->code, clen, brief);
        if (ret != 0)
            return ret;
    }
    return 0;
}

void
ix_skill_run_brief(const ix_skill_run_t *run, uint32_t i, ix_brief_t *b)
{
    memset(b, 0, sizeof *b);
    b->open = run->open[i];
    b->wage = run->wage[i];
    b->education = run->education[i];
    if (run->kind == IX_VACANCY) {
        b->expires = run->expires[i];
        b->occupation = run->occupation[i];
        b->age_min = run->age_min[i];
        b->age_max = run->age_max[i];
        b->priority_mask = run->priority_mask[i];
    } else {
        b->birth_year = run->birth_year[i];
        b->category = run->category[i];
    }
}

/* A walk over one term's postings within a region prefix, a key (one
 * county's duplicate group) at a time. */
struct ix_groups {
    walk_t w;
    uint8_t prefix[IXK_MAX];
    char code[IXK_MINOR_WIDTH + IXK_MINOR_TAIL];
    MDB_cursor *cur;
    MDB_cursor *look;  /* for look-ups, opened at the first */
    char look_at[6];   /* it sits on the term's key of this county, */
    bool look_on;      /* when this is set */
    MDB_val look_k, look_v;  /* ix_groups_size left it on the first */
    bool look_set;           /* value of look_at's key, when set */
    uint8_t look_key[IXK_MAX];
    MDB_val k, v;
    int rc;            /* MDB code of the cursor's position */
    ix_brief_t brief;
};

/* Bytes of a group the walk asks for as it reaches its key (most groups
 * of a city or province walk are shorter; 256 and 1,024 measured no
 * better). */
#define GROUP_PREFETCH 512

/* Checks that the cursor sits on a key of the range; sets rc to
 * MDB_NOTFOUND past it. Returns -EIO on a key or value of the wrong width. */
static int
groups_settle(ix_groups_t *g)
{
    if (g->rc != 0)
        return 0;
    if (g->k.mv_size < g->w.plen || memcmp(g->k.mv_data, g->w.prefix, g->w.plen) != 0) {
        g->rc = MDB_NOTFOUND;
        return 0;
    }
    /* DUPFIXED keeps one width per key, so the first value's width is
     * every value's. */
    if (g->k.mv_size != g->w.klen || g->v.mv_size != g->w.vlen)
        return -EIO;
    /* The group is read when the walk reaches its county, after the
     * other terms' groups of the counties before: asking for its first
     * lines now has them in cache by then. */
    for (size_t off = 0; off < GROUP_PREFETCH; off += 64)
        __builtin_prefetch((const char *)g->v.mv_data + off);
    return 0;
}

/* Puts the cursor on the first key at or after the walk's prefix. */
static int
groups_seek(ix_groups_t *g)
{
    g->k.mv_size = g->w.plen;
    g->k.mv_data = (void *)g->w.prefix;
    g->rc = mdb_cursor_get(g->cur, &g->k, &g->v, MDB_SET_RANGE);
    if (g->rc != 0 && g->rc != MDB_NOTFOUND)
        return ix_mdb_err(g->rc);
    return groups_settle(g);
}

/* Opens the walk: a write transaction's queued posting changes are applied
 * first, so it sees its own writes. */
static int
groups_open(ix_txn_t *t, ix_groups_t *g)
{
    int err;
    if (!t->rdonly && (err = ix_pending_flush(t)) != 0)
        return err;
    if ((err = mdb_cursor_open(t->txn, t->env->match, &g->cur)) != 0)
        return ix_mdb_err(err);
    return groups_seek(g);
}

const char *
ix_groups_county(const ix_groups_t *g)
{
    return g->rc == 0 ? (const char *)g->k.mv_data + g->w.klen - 6 : NULL;
}

/* Hands every value of the key cursor c sits on (v being the value it was
 * positioned with) to the callback. A single value under the key is v as
 * it is: GET_MULTIPLE would answer from the duplicates of the cursor's
 * previous key when that one was not read to its end. */
static int
read_group(ix_groups_t *g, MDB_cursor *c, MDB_val *k, MDB_val *v, const uint8_t *region)
{
    size_t n, used;
    int rc = mdb_cursor_count(c, &n);
    if (rc == 0 && n == 1) {
        if (v->mv_size != g->w.vlen)
            return -EIO;
        return emit(&g->w, region, v->mv_data, 1, &g->brief, &used);
    }
    if (rc == 0)
        rc = mdb_cursor_get(c, k, v, MDB_GET_MULTIPLE);
    while (rc == 0) {
        if (v->mv_size % g->w.vlen != 0)
            return -EIO;
        size_t on_page = v->mv_size / g->w.vlen;
        int ret = emit(&g->w, region, v->mv_data, on_page, &g->brief, &used);
        if (ret != 0)
            return ret;
        /* The rest of the group is of higher ranks. */
        if (used < on_page)
            return 0;
        rc = mdb_cursor_get(c, k, v, MDB_NEXT_MULTIPLE);
    }
    return rc == MDB_NOTFOUND ? 0 : ix_mdb_err(rc);
}

int
ix_groups_take(ix_groups_t *g)
{
    if (g->rc != 0)
        return 0;
    const uint8_t *region = (const uint8_t *)g->k.mv_data + g->w.klen - 6;
    int rc = read_group(g, g->cur, &g->k, &g->v, region);
    if (rc != 0)
        return rc;
    g->rc = mdb_cursor_get(g->cur, &g->k, &g->v, MDB_NEXT_NODUP);
    if (g->rc != 0 && g->rc != MDB_NOTFOUND)
        return ix_mdb_err(g->rc);
    return groups_settle(g);
}

int
ix_groups_widen(ix_groups_t *g, uint32_t prefix_len)
{
    size_t term_len = g->w.klen - 6;
    if ((prefix_len != 0 && prefix_len != 2 && prefix_len != 4 && prefix_len != 6) ||
        term_len + prefix_len > g->w.plen)
        return -EINVAL;
    g->w.plen = term_len + prefix_len;
    /* From a cursor already near, LMDB finds the key without a descent
     * from the root when it lies on the leaf page the cursor holds. */
    return groups_seek(g);
}

int
ix_groups_skip(ix_groups_t *g)
{
    if (g->rc != 0)
        return 0;
    g->rc = mdb_cursor_get(g->cur, &g->k, &g->v, MDB_NEXT_NODUP);
    if (g->rc != 0 && g->rc != MDB_NOTFOUND)
        return ix_mdb_err(g->rc);
    return groups_settle(g);
}

/* Opens the look-up cursor at its first use and puts the term's key for
 * county (the term part of the walk's prefix, then the county) in key. */
static int
look_key(ix_groups_t *g, const char county[6], uint8_t *key)
{
    int rc;
    if (!g->look && (rc = mdb_cursor_open(mdb_cursor_txn(g->cur), mdb_cursor_dbi(g->cur), &g->look)) != 0)
        return ix_mdb_err(rc);
    size_t term_len = g->w.klen - 6;
    memcpy(key, g->w.prefix, term_len);
    memcpy(key + term_len, county, 6);
    return 0;
}

/* Look-ups go through the counties in ascending order, so the look
 * cursor mostly sits on the term's key of an earlier county, and the key
 * wanted is one of the next few or absent: stepping there costs no descent
 * from the root, which with small counties' groups (held in their node,
 * a few keys to a page) is most of a seek. Returns 0 with look_k and
 * look_v on the county's key and its first value, MDB_NOTFOUND when the
 * term has no key for county, or -1 when a seek must decide. */
#define LOOK_STEPS 4

static int
look_step(ix_groups_t *g, const char county[6])
{
    size_t term_len = g->w.klen - 6;
    for (int i = 0; i < LOOK_STEPS && g->look_on && memcmp(g->look_at, county, 6) < 0; i++) {
        MDB_val k, v;
        int rc = mdb_cursor_get(g->look, &k, &v, MDB_NEXT_NODUP);
        if (rc != 0 || k.mv_size != g->w.klen || memcmp(k.mv_data, g->look_key, term_len) != 0) {
            /* Past the term's last key. */
            g->look_on = false;
            return rc == 0 || rc == MDB_NOTFOUND ? MDB_NOTFOUND : -1;
        }
        memcpy(g->look_at, (const char *)k.mv_data + term_len, 6);
        int c = memcmp(g->look_at, county, 6);
        if (c > 0)
            return MDB_NOTFOUND;
        if (c == 0) {
            g->look_k = k;
            g->look_v = v;
            return 0;
        }
    }
    return -1;
}

int
ix_groups_size(ix_groups_t *g, const char county[6], size_t *n)
{
    *n = 0;
    g->look_set = false;
    int rc = look_key(g, county, g->look_key);
    if (rc != 0)
        return rc;
    rc = look_step(g, county);
    if (rc < 0) {
        g->look_k = (MDB_val){g->w.klen, g->look_key};
        rc = mdb_cursor_get(g->look, &g->look_k, &g->look_v, MDB_SET);
        g->look_on = rc == 0;
        memcpy(g->look_at, county, 6);
    }
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0)
        rc = mdb_cursor_count(g->look, n);
    g->look_set = rc == 0;
    return ix_mdb_err(rc);
}

int
ix_groups_read(ix_groups_t *g, const char county[6])
{
    /* Usually right after ix_groups_size for the same county. */
    if (!g->look_set || memcmp(g->look_at, county, 6) != 0) {
        size_t n;
        int rc = ix_groups_size(g, county, &n);
        if (rc != 0 || n == 0)
            return rc;
    }
    g->look_set = false;
    return read_group(g, g->look, &g->look_k, &g->look_v, g->look_key + g->w.klen - 6);
}

int
ix_groups_find(ix_groups_t *g, const char county[6], uint8_t rank, uint64_t docno)
{
    uint8_t key[IXK_MAX];
    int rc = look_key(g, county, key);
    if (rc != 0)
        return rc;
    g->look_set = false;
    if (rank > g->w.max_rank)
        return 0;
    uint8_t want[IXK_SKILL_SLOT];
    want[0] = rank;
    ixk_put_be64(want + IXK_MATCH_DOCNO, docno);
    /* Values start with the rank and the docno, and a shorter value sorts
     * before every longer one it begins: the first posting of docno, if
     * any. */
    MDB_val k = {g->w.klen, key}, v = {sizeof want, want};
    rc = mdb_cursor_get(g->look, &k, &v, MDB_GET_BOTH_RANGE);
    g->look_on = rc == 0;
    memcpy(g->look_at, county, 6);
    while (rc == 0) {
        if (v.mv_size != g->w.vlen)
            return -EIO;
        if (memcmp(v.mv_data, want, sizeof want) != 0)
            return 0;
        size_t used;
        int ret = emit(&g->w, key + g->w.klen - 6, v.mv_data, 1, &g->brief, &used);
        if (ret != 0)
            return ret;
        rc = mdb_cursor_get(g->look, &k, &v, MDB_NEXT_DUP);
    }
    return rc == MDB_NOTFOUND ? 0 : ix_mdb_err(rc);
}

void
ix_groups_close(ix_groups_t *g)
{
    if (!g)
        return;
    if (g->look)
        mdb_cursor_close(g->look);
    if (g->cur)
        mdb_cursor_close(g->cur);
    free(g);
}

int
ix_groups_skill(ix_txn_t *t, uint8_t kind, const char *skill,
                uint32_t skill_len, const char *region_prefix,
                uint32_t prefix_len, uint8_t max_rank, ix_skill_cb cb, void *ctx,
                ix_groups_t **out)
{
    *out = NULL;
    if (!t || !cb || ix_kind_index(kind) < 0 || !skill || skill_len == 0 ||
        skill_len > IX_SKILL_ID_MAX || memchr(skill, 0, skill_len) ||
        !valid_prefix(region_prefix, prefix_len))
        return -EINVAL;
    ix_groups_t *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->w = (walk_t){
        .prefix = g->prefix,
        .plen = ixk_skill_prefix(g->prefix, kind, skill, skill_len,
                                 region_prefix, prefix_len),
        .klen = 3 + (size_t)skill_len + IXK_SKILL_TAIL,
        .vlen = ixk_skill_val_len(kind),
        .kind = kind,
        .max_rank = max_rank,
        .skill_cb = cb,
        .ctx = ctx,
    };
    int rc = groups_open(t, g);
    if (rc != 0) {
        ix_groups_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int
ix_groups_minor(ix_txn_t *t, uint8_t kind, const char minor[7],
                const char *region_prefix, uint32_t prefix_len,
                uint8_t max_rank, ix_minor_cb cb, void *ctx, ix_groups_t **out)
{
    *out = NULL;
    if (!t || !cb || ix_kind_index(kind) < 0 || !minor ||
        memchr(minor, 0, IXK_MINOR_WIDTH) ||
        !valid_prefix(region_prefix, prefix_len))
        return -EINVAL;
    ix_groups_t *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    memcpy(g->code, minor, IXK_MINOR_WIDTH);
    g->w = (walk_t){
        .prefix = g->prefix,
        .plen = ixk_minor_prefix(g->prefix, kind, minor, region_prefix,
                                 prefix_len),
        .klen = IXK_MINOR_LEN,
        .vlen = ixk_minor_val_len(kind),
        .kind = kind,
        .max_rank = max_rank,
        .minor_cb = cb,
        .code = g->code,
        .ctx = ctx,
    };
    int rc = groups_open(t, g);
    if (rc != 0) {
        ix_groups_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

/* A whole scan: every group in turn. Returns the callback's stop value
 * when negative, 0 when it stopped the walk or at the end. */
static int
scan_all(ix_groups_t *g, int rc)
{
    while (rc == 0 && ix_groups_county(g))
        rc = ix_groups_take(g);
    ix_groups_close(g);
    return rc < 0 ? rc : 0;
}

int
ix_scan_skill(ix_txn_t *t, uint8_t kind, const char *skill,
              uint32_t skill_len, const char *region_prefix,
              uint32_t prefix_len, ix_skill_cb cb, void *ctx)
{
    ix_groups_t *g;
    int rc = ix_groups_skill(t, kind, skill, skill_len, region_prefix, prefix_len, IX_RANK_ANY,
                             cb, ctx, &g);
    return rc != 0 ? rc : scan_all(g, 0);
}

int
ix_scan_minor(ix_txn_t *t, uint8_t kind, const char minor[7],
              const char *region_prefix, uint32_t prefix_len,
              ix_minor_cb cb, void *ctx)
{
    ix_groups_t *g;
    int rc = ix_groups_minor(t, kind, minor, region_prefix, prefix_len, IX_RANK_ANY, cb, ctx,
                             &g);
    return rc != 0 ? rc : scan_all(g, 0);
}
