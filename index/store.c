/* store.c - records and their postings: ix_get, ix_put and ix_delete. A put
 * or delete changes the doc, the id map, the postings, the counters and the
 * changelog inside the caller's one write transaction, so either all of a
 * record's changes commit or none do.
 */
#include "internal.h"

static const MDB_val empty_val = {0, NULL};

static bool
valid_text(const char *s, uint32_t len, uint32_t max)
{
    return s && len >= 1 && len <= max && !memchr(s, 0, len);
}

/* Checks everything a put needs before anything is written, so that a bad
 * doc changes nothing and leaves the transaction usable. */
static int
validate(const ix_doc_t *d)
{
    if (ix_kind_index(d->kind) < 0 || !valid_text(d->id, d->id_len, IX_ID_MAX))
        return -EINVAL;
    for (int i = 0; i < 6; i++)
        if (d->region[i] < '0' || d->region[i] > '9')
            return -EINVAL;
    if (d->n_occupations > IX_OCCUPATIONS_MAX || d->n_skills > IX_SKILLS_MAX)
        return -EINVAL;
    if (d->n_occupations > 0 && (!d->occupations || !d->occupation_lens))
        return -EINVAL;
    if (d->n_skills > 0 && !d->skills)
        return -EINVAL;
    if (d->value_len > 0 && !d->value)
        return -EINVAL;
    if (d->origin_len > 0 && (d->kind != IX_VACANCY ||
                              !valid_text(d->origin, d->origin_len, IX_ID_MAX)))
        return -EINVAL;
    if (d->copy && d->kind != IX_VACANCY)
        return -EINVAL;
    /* Duplicates would share one posting key and count twice in df. */
    for (uint32_t i = 0; i < d->n_occupations; i++) {
        if (!valid_text(d->occupations[i], d->occupation_lens[i],
                        IX_OCCUPATION_MAX))
            return -EINVAL;
        for (uint32_t j = 0; j < i; j++)
            if (d->occupation_lens[i] == d->occupation_lens[j] &&
                memcmp(d->occupations[i], d->occupations[j],
                       d->occupation_lens[i]) == 0)
                return -EINVAL;
    }
    for (uint32_t i = 0; i < d->n_skills; i++) {
        const ix_skill_t *s = &d->skills[i];
        if (!valid_text(s->id, s->id_len, IX_SKILL_ID_MAX))
            return -EINVAL;
        for (uint32_t j = 0; j < i; j++)
            if (s->id_len == d->skills[j].id_len &&
                memcmp(s->id, d->skills[j].id, s->id_len) == 0)
                return -EINVAL;
    }
    return 0;
}

static int
check_write(ix_txn_t *t)
{
    if (!t || t->rdonly)
        return -EINVAL;
    return t->ret;
}

/* Looks up kind|id in the id map. */
static int
lookup_docno(ix_txn_t *t, uint8_t kind, const char *id, uint32_t id_len,
             uint64_t *docno)
{
    uint8_t kb[IXK_MAX];
    MDB_val k = {ixk_id(kb, kind, id, id_len), kb}, v;
    int rc = mdb_get(t->txn, t->env->ids, &k, &v);
    if (rc != 0)
        return ix_mdb_err(rc);
    if (v.mv_size != 8)
        return -EIO;
    *docno = ixk_get_be64(v.mv_data);
    return 0;
}

int
ix_get(ix_txn_t *t, uint8_t kind, const char *id, uint32_t id_len,
       ix_record_t *out)
{
    if (!t || !out || ix_kind_index(kind) < 0 ||
        !valid_text(id, id_len, IX_ID_MAX))
        return -EINVAL;
    uint64_t docno = 0;
    int rc = lookup_docno(t, kind, id, id_len, &docno);
    if (rc != 0)
        return rc;
    ix_docview_t v;
    if ((rc = ix_doc_fetch(t, kind, docno, &v)) != 0)
        return rc == -ENOENT ? -EIO : rc;
    ix_doc_record(&v, kind, docno, out);
    return 0;
}

int
ix_id_of_docno(ix_txn_t *t, uint8_t kind, uint64_t docno, const char **id,
               uint32_t *id_len)
{
    if (!t || !id || !id_len || ix_kind_index(kind) < 0)
        return -EINVAL;
    if (docno < t->id_below[ix_kind_index(kind)] &&
        ix_id_cache_get(t->env->id_cache, kind, docno, id, id_len))
        return 0;
    uint8_t kb[IXK_DOC_LEN];
    MDB_val k = {ixk_doc(kb, kind, docno), kb}, v;
    int rc = mdb_get(t->txn, t->env->names, &k, &v);
    if (rc != 0)
        return ix_mdb_err(rc);
    if (v.mv_size == 0 || v.mv_size > IX_ID_MAX)
        return -EIO;
    *id = v.mv_data;
    *id_len = (uint32_t)v.mv_size;
    return 0;
}

void
ix_id_warm(ix_txn_t *t, uint8_t kind, const uint64_t *docnos, uint32_t n)
{
    if (t && ix_kind_index(kind) >= 0)
        ix_id_cache_warm(t->env->id_cache, kind, docnos, n);
}

int
ix_get_docno(ix_txn_t *t, uint8_t kind, uint64_t docno, ix_record_t *out)
{
    if (!t || !out || ix_kind_index(kind) < 0)
        return -EINVAL;
    ix_docview_t v;
    int rc = ix_doc_fetch(t, kind, docno, &v);
    if (rc != 0)
        return rc;
    ix_doc_record(&v, kind, docno, out);
    return 0;
}

static int
post_put(ix_txn_t *t, const uint8_t *key, size_t klen, const MDB_val *val)
{
    return ix_post_put(t, key, klen, val->mv_data, val->mv_size);
}

static int
post_del(ix_txn_t *t, const uint8_t *key, size_t klen)
{
    return ix_post_del(t, key, klen);
}

static int
find_occ(const ix_docview_t *v, const char *p, uint32_t len)
{
    for (uint32_t i = 0; i < v->n_occ; i++)
        if (v->occ[i].len == len && memcmp(v->occ[i].p, p, len) == 0)
            return (int)i;
    return -1;
}

static int
find_skill(const ix_docview_t *v, const char *p, uint32_t len)
{
    for (uint32_t i = 0; i < v->n_skills; i++)
        if (v->skills[i].len == len && memcmp(v->skills[i].p, p, len) == 0)
            return (int)i;
    return -1;
}

int
ix_each_match_posting(uint8_t kind, uint64_t docno, const ix_docview_t *v,
                      const uint8_t *brief, ix_match_posting_fn fn, void *ctx)
{
    uint8_t key[IXK_MAX], val[IXK_VAL_MAX];
    ix_match_posting_t p = {.key = key, .val = val, .slot = IXK_MINOR_SLOT};
    int rc;
    for (uint32_t i = 0; i < v->n_occ; i++) {
        const ix_str_t *o = &v->occ[i];
        if (!ixk_has_minor(o->len))
            continue;
        p.term = i;
        p.klen = ixk_minor(key, kind, o->p, v->region);
        p.vlen = ixk_minor_val(val, kind, docno, o->p, o->len, brief);
        if ((rc = fn(ctx, &p)) != 0)
            return rc;
    }
    p.skill = true;
    p.slot = IXK_SKILL_SLOT;
    for (uint32_t i = 0; i < v->n_skills; i++) {
        const ix_dskill_t *sk = &v->skills[i];
        p.term = i;
        p.klen = ixk_skill(key, kind, sk->p, sk->len, v->region);
        p.vlen = ixk_skill_val(val, kind, docno, sk->level, brief);
        if ((rc = fn(ctx, &p)) != 0)
            return rc;
    }
    return 0;
}

/* One side of a replace's matching postings: the doc walked, and the doc
 * on the other side when a posting both hold may stay (same region, same
 * brief), else NULL. */
typedef struct match_side {
    ix_txn_t *t;
    const ix_docview_t *self, *other;
} match_side_t;

/* Does the other side hold this posting: the same code, or the same
 * skill at the same level? */
static bool
other_holds(const match_side_t *m, const ix_match_posting_t *p)
{
    if (!m->other)
        return false;
    if (!p->skill) {
        const ix_str_t *o = &m->self->occ[p->term];
        return find_occ(m->other, o->p, o->len) >= 0;
    }
    const ix_dskill_t *sk = &m->self->skills[p->term];
    int j = find_skill(m->other, sk->p, sk->len);
    return j >= 0 && m->other->skills[j].level == sk->level;
}

static int
drop_unless_kept(void *ctx, const ix_match_posting_t *p)
{
    const match_side_t *m = ctx;
    return other_holds(m, p) ? 0 : ix_dup_del(m->t, p->key, p->klen, p->val, p->vlen, p->slot);
}

static int
put_unless_kept(void *ctx, const ix_match_posting_t *p)
{
    const match_side_t *m = ctx;
    return other_holds(m, p) ? 0 : ix_dup_put(m->t, p->key, p->klen, p->val, p->vlen, p->slot);
}

/* Moves the postings of docno from what `old` holds to what `nw` holds;
 * either may be NULL (insert, delete). Postings both hold with the same
 * value stay untouched, which makes the common replace (a changed record
 * value, or a `filled` that leaves the vacancy open) cheap. Skill and
 * minor-group (matching) postings exist only while the brief is open: a
 * closed or filled vacancy, a worker not available, matches no one, and
 * their postings would only be read and refused by every query. Their
 * keys hold the region, so a region change moves all of them; their
 * values hold the brief (and a skill's level), so a change to any brief
 * field deletes each old value and puts the new one under the same key.
 * Old values are rebuilt from the old doc, as stored. */
static int
sync_postings(ix_txn_t *t, uint8_t kind, uint64_t docno,
              const ix_docview_t *old, const ix_docview_t *nw)
{
    uint8_t kb[IXK_MAX];
    int rc = 0;
#define TRY(x)                                                               \
    do {                                                                     \
        if ((rc = (x)) != 0)                                                 \
            return rc;                                                       \
    } while (0)
    bool moved = old && nw && memcmp(old->region, nw->region, 6) != 0;
    /* The encoded briefs of the old and the new doc, and the docs whose
     * matching postings are stored (mold, mnew). */
    uint8_t ob[IXK_BRIEF_VACANCY], nb[IXK_BRIEF_VACANCY];
    size_t blen = ixk_brief_len(kind);
    const ix_docview_t *mold = NULL, *mnew = NULL;
    ix_brief_t b;
    if (nw) {
        ix_brief_of(kind, nw, &b);
        ixk_brief_put(nb, kind, &b);
        mnew = b.open ? nw : NULL;
    }
    if (old) {
        ix_brief_of(kind, old, &b);
        ixk_brief_put(ob, kind, &b);
        mold = b.open ? old : NULL;
    }
    if (!old || !nw || moved) {
        if (old)
            TRY(post_del(t, kb, ixk_region(kb, kind, old->region, docno)));
        if (nw)
            TRY(post_put(t, kb, ixk_region(kb, kind, nw->region, docno),
                         &empty_val));
    }
    if (!old || !nw || old->status != nw->status) {
        if (old)
            TRY(post_del(t, kb, ixk_status(kb, kind, old->status, docno)));
        if (nw)
            TRY(post_put(t, kb, ixk_status(kb, kind, nw->status, docno),
                         &empty_val));
    }
    uint8_t ocat = old ? ix_list_categories(kind, old) : 0;
    uint8_t ncat = nw ? ix_list_categories(kind, nw) : 0;
    for (uint8_t c = 0; c < 8; c++) {
        uint8_t bit = (uint8_t)(1u << c);
        if ((ocat & bit) && !(ncat & bit))
            TRY(post_del(t, kb, ixk_category(kb, kind, c, docno)));
        else if ((ncat & bit) && !(ocat & bit))
            TRY(post_put(t, kb, ixk_category(kb, kind, c, docno), &empty_val));
    }
    for (uint32_t i = 0; old && i < old->n_occ; i++) {
        const ix_str_t *o = &old->occ[i];
        if (!nw || find_occ(nw, o->p, o->len) < 0)
            TRY(post_del(t, kb,
                         ixk_occupation(kb, kind, o->p, o->len, docno)));
    }
    for (uint32_t i = 0; nw && i < nw->n_occ; i++) {
        const ix_str_t *o = &nw->occ[i];
        if (!old || find_occ(old, o->p, o->len) < 0)
            TRY(post_put(t, kb,
                         ixk_occupation(kb, kind, o->p, o->len, docno),
                         &empty_val));
    }
    /* A matching posting stays when its code, or its skill with its level,
     * stays in the same region under the same brief. */
    bool keep = mold && mnew && !moved && memcmp(ob, nb, blen) == 0;
    if (mold) {
        match_side_t m = {t, mold, keep ? mnew : NULL};
        TRY(ix_each_match_posting(kind, docno, mold, ob, drop_unless_kept, &m));
    }
    if (mnew) {
        match_side_t m = {t, mnew, keep ? mold : NULL};
        TRY(ix_each_match_posting(kind, docno, mnew, nb, put_unless_kept, &m));
    }
#undef TRY
    return 0;
}

/* The terms of a doc about to be stored, in the form postings and
 * counters are derived from (the same form a stored doc decodes to). */
static void
doc_view(const ix_doc_t *d, ix_docview_t *v)
{
    v->match = d->match;
    v->status = d->status;
    v->category = d->category;
    v->matchable = d->matchable;
    v->filled = d->filled;
    memcpy(v->region, d->region, 6);
    v->n_occ = d->n_occupations;
    for (uint32_t i = 0; i < d->n_occupations; i++) {
        v->occ[i].p = d->occupations[i];
        v->occ[i].len = d->occupation_lens[i];
    }
    v->n_skills = d->n_skills;
    for (uint32_t i = 0; i < d->n_skills; i++) {
        v->skills[i].p = d->skills[i].id;
        v->skills[i].len = d->skills[i].id_len;
        v->skills[i].level = d->skills[i].level;
    }
    v->id = d->id;
    v->id_len = d->id_len;
    v->origin.p = d->origin_len ? d->origin : "";
    v->origin.len = d->origin_len;
    v->copy = d->copy;
    v->value = d->value;
    v->value_len = d->value_len;
    v->meta_len = 0;
}

/* Reads the stored doc of docno and copies its terms (not the value) into
 * buf, because the page it lives on may move at the next write. */
static int
load_old(ix_txn_t *t, uint8_t kind, uint64_t docno,
         uint8_t buf[IX_DOC_META_MAX], ix_docview_t *v)
{
    int rc = ix_doc_fetch(t, kind, docno, v);
    if (rc != 0)
        return rc == -ENOENT ? -EIO : rc;
    if (v->meta_len > IX_DOC_META_MAX)
        return -EIO;
    memcpy(buf, (const uint8_t *)v->value - v->meta_len, v->meta_len);
    return ix_doc_decode(buf, v->meta_len, v);
}

int
ix_put(ix_txn_t *t, const ix_doc_t *doc, int64_t now, bool *created)
{
    int rc = check_write(t);
    if (rc != 0)
        return rc;
    if (!doc)
        return -EINVAL;
    if ((rc = validate(doc)) != 0)
        return rc;
    if ((rc = ix_pending_load(t)) != 0)
        return rc;
    ix_env_t *e = t->env;
    uint8_t kind = doc->kind;
    uint64_t docno = 0;
    uint8_t oldbuf[IX_DOC_META_MAX];
    ix_docview_t oldv, newv;
    bool exists;

    rc = lookup_docno(t, kind, doc->id, doc->id_len, &docno);
    if (rc == 0) {
        exists = true;
        if ((rc = load_old(t, kind, docno, oldbuf, &oldv)) != 0)
            return ix_fail(t, rc);
    } else if (rc == -ENOENT) {
        exists = false;
        docno = e->pend.next_docno[ix_kind_index(kind)]++;
        e->pend.dirty = true;
    } else {
        return ix_fail(t, rc);
    }

    /* The doc is written straight into its page: no staging buffer. */
    size_t meta = ix_doc_meta_size(doc);
    uint8_t kb[IXK_MAX];
    MDB_val k = {ixk_doc(kb, kind, docno), kb};
    MDB_val v = {meta + doc->value_len, NULL};
    rc = mdb_put(t->txn, e->docs, &k, &v, MDB_RESERVE);
    if (rc != 0)
        return ix_fail(t, ix_mdb_err(rc));
    ix_doc_encode(v.mv_data, doc);
    doc_view(doc, &newv);

    if (!exists) {
        /* names shares the docs key (k), which kb holds until the ids key
         * takes its place. */
        MDB_val nv = {doc->id_len, (void *)doc->id};
        rc = mdb_put(t->txn, e->names, &k, &nv, 0);
        uint8_t db[8];
        ixk_put_be64(db, docno);
        MDB_val ik = {ixk_id(kb, kind, doc->id, doc->id_len), kb};
        MDB_val iv = {8, db};
        if (rc == 0)
            rc = mdb_put(t->txn, e->ids, &ik, &iv, 0);
        if (rc != 0)
            return ix_fail(t, ix_mdb_err(rc));
        ix_id_cache_note(e->id_cache, kind, docno, doc->id, doc->id_len);
    }
    if ((rc = sync_postings(t, kind, docno, exists ? &oldv : NULL, &newv)))
        return ix_fail(t, rc);
    if ((rc = ix_agg_doc(t, kind, docno, exists ? &oldv : NULL, &newv)))
        return rc;
    if (exists && (rc = ix_pending_doc(t, kind, &oldv, -1)) != 0)
        return rc;
    if ((rc = ix_pending_doc(t, kind, &newv, +1)) != 0)
        return rc;
    if ((rc = ix_log_append(t, IX_LOG_PUT, kind, doc->id, doc->id_len, now)))
        return rc;
    if (created)
        *created = !exists;
    const ix_hooks_t *h = &t->env->hooks;
    if (h->put) {
        ix_record_t rec;
        if ((rc = ix_get(t, kind, doc->id, doc->id_len, &rec)) != 0 ||
            (rc = h->put(h->ctx, t, &rec, !exists, doc->state_only, now)) != 0)
            return ix_fail(t, rc);
    }
    return 0;
}

int
ix_delete(ix_txn_t *t, uint8_t kind, const char *id, uint32_t id_len,
          int64_t now)
{
    int rc = check_write(t);
    if (rc != 0)
        return rc;
    if (ix_kind_index(kind) < 0 || !valid_text(id, id_len, IX_ID_MAX))
        return -EINVAL;
    if ((rc = ix_pending_load(t)) != 0)
        return rc;
    uint64_t docno = 0;
    rc = lookup_docno(t, kind, id, id_len, &docno);
    if (rc == -ENOENT)
        return rc;
    if (rc != 0)
        return ix_fail(t, rc);
    uint8_t oldbuf[IX_DOC_META_MAX];
    ix_docview_t oldv;
    if ((rc = load_old(t, kind, docno, oldbuf, &oldv)) != 0)
        return ix_fail(t, rc);
    if ((rc = sync_postings(t, kind, docno, &oldv, NULL)) != 0)
        return ix_fail(t, rc);
    if ((rc = ix_agg_doc(t, kind, docno, &oldv, NULL)) != 0)
        return rc;
    uint8_t kb[IXK_MAX];
    MDB_val k = {ixk_doc(kb, kind, docno), kb};
    if ((rc = mdb_del(t->txn, t->env->docs, &k, NULL)) != 0)
        return ix_fail(t, ix_mdb_err(rc));
    /* A name already missing is an inconsistency admin.check reports; it
     * does not keep the record from going. */
    if ((rc = mdb_del(t->txn, t->env->names, &k, NULL)) != 0 && rc != MDB_NOTFOUND)
        return ix_fail(t, ix_mdb_err(rc));
    ix_id_cache_forget(t->env->id_cache, kind, docno);
    k.mv_size = ixk_id(kb, kind, id, id_len);
    if ((rc = mdb_del(t->txn, t->env->ids, &k, NULL)) != 0)
        return ix_fail(t, ix_mdb_err(rc));
    if ((rc = ix_pending_doc(t, kind, &oldv, -1)) != 0)
        return rc;
    if ((rc = ix_log_append(t, IX_LOG_DELETE, kind, id, id_len, now)) != 0)
        return rc;
    const ix_hooks_t *h = &t->env->hooks;
    if (h->del && (rc = h->del(h->ctx, t, kind, id, id_len)) != 0)
        return ix_fail(t, rc);
    return 0;
}
