/* doc.c - the stored form of a record in the docs dbi: a small fixed header
 * and the terms the record is indexed under, then its id and its opaque
 * value. Keeping the terms beside the value lets replace and delete remove
 * the exact old postings and counter contributions without understanding
 * the value, and lets ix_get answer from one read. The match fields are
 * stored at full width, so every value of ix_match_t round-trips.
 *
 *   off  size  field
 *   0    1     doc format version (IX_DOC_VERSION)
 *   1    1     status
 *   2    1     category
 *   3    1     flags (bit 0: matchable, bit 1: copy)
 *   4    4     filled, big-endian
 *   8    6     region
 *   14   1     number of occupation codes (n_occ)
 *   15   1     number of skills (n_skills)
 *   16   1     id length
 *   17   1     origin length
 *   18   8     match.since, big-endian two's complement
 *   26   8     match.expires, big-endian two's complement
 *   34   4     match.headcount, big-endian
 *   38   4     match.wage_min, big-endian
 *   42   4     match.wage_max, big-endian
 *   46   2     match.birth_year, big-endian
 *   48   1     match.education
 *   49   1     match.age_min
 *   50   1     match.age_max
 *   51   1     match.priority_mask
 *   52   ...   n_occ x (len u8, code bytes)
 *              n_skills x (len u8, skill id bytes, level u8)
 *              id bytes
 *              origin bytes
 *              record value (the rest)
 */
#include "internal.h"

size_t
ix_doc_meta_size(const ix_doc_t *doc)
{
    size_t n = IX_DOC_HEADER + doc->id_len + doc->origin_len;
    for (uint32_t i = 0; i < doc->n_occupations; i++)
        n += 1 + doc->occupation_lens[i];
    for (uint32_t i = 0; i < doc->n_skills; i++)
        n += 2 + doc->skills[i].id_len;
    return n;
}

void
ix_doc_encode(uint8_t *out, const ix_doc_t *doc)
{
    uint8_t *p = out;
    p[0] = IX_DOC_VERSION;
    p[1] = doc->status;
    p[2] = doc->category;
    p[3] = (doc->matchable ? IX_DOC_MATCHABLE : 0) | (doc->copy ? IX_DOC_COPY : 0);
    ixk_put_be32(p + 4, doc->filled);
    memcpy(p + 8, doc->region, 6);
    p[14] = (uint8_t)doc->n_occupations;
    p[15] = (uint8_t)doc->n_skills;
    p[16] = (uint8_t)doc->id_len;
    p[17] = (uint8_t)doc->origin_len;
    const ix_match_t *m = &doc->match;
    ixk_put_be64(p + 18, (uint64_t)m->since);
    ixk_put_be64(p + 26, (uint64_t)m->expires);
    ixk_put_be32(p + 34, m->headcount);
    ixk_put_be32(p + 38, m->wage_min);
    ixk_put_be32(p + 42, m->wage_max);
    p[46] = (uint8_t)(m->birth_year >> 8);
    p[47] = (uint8_t)m->birth_year;
    p[48] = m->education;
    p[49] = m->age_min;
    p[50] = m->age_max;
    p[51] = m->priority_mask;
    p += IX_DOC_HEADER;
    for (uint32_t i = 0; i < doc->n_occupations; i++) {
        *p++ = (uint8_t)doc->occupation_lens[i];
        memcpy(p, doc->occupations[i], doc->occupation_lens[i]);
        p += doc->occupation_lens[i];
    }
    for (uint32_t i = 0; i < doc->n_skills; i++) {
        const ix_skill_t *s = &doc->skills[i];
        *p++ = (uint8_t)s->id_len;
        memcpy(p, s->id, s->id_len);
        p += s->id_len;
        *p++ = s->level;
    }
    memcpy(p, doc->id, doc->id_len);
    p += doc->id_len;
    if (doc->origin_len > 0)
        memcpy(p, doc->origin, doc->origin_len);
    p += doc->origin_len;
    if (doc->value_len > 0)
        memcpy(p, doc->value, doc->value_len);
}

int
ix_doc_decode(const void *data, size_t len, ix_docview_t *v)
{
    const uint8_t *p = data, *end = p + len;
    if (len < IX_DOC_HEADER || p[0] != IX_DOC_VERSION)
        return -EIO;
    v->status = p[1];
    v->category = p[2];
    v->matchable = (p[3] & IX_DOC_MATCHABLE) != 0;
    v->copy = (p[3] & IX_DOC_COPY) != 0;
    v->filled = ixk_get_be32(p + 4);
    memcpy(v->region, p + 8, 6);
    v->n_occ = p[14];
    v->n_skills = p[15];
    v->id_len = p[16];
    v->origin.len = p[17];
    if (v->n_occ > IX_OCCUPATIONS_MAX || v->n_skills > IX_SKILLS_MAX ||
        v->id_len > IX_ID_MAX || v->origin.len > IX_ID_MAX)
        return -EIO;
    ix_match_t *m = &v->match;
    m->since = (int64_t)ixk_get_be64(p + 18);
    m->expires = (int64_t)ixk_get_be64(p + 26);
    m->headcount = ixk_get_be32(p + 34);
    m->wage_min = ixk_get_be32(p + 38);
    m->wage_max = ixk_get_be32(p + 42);
    m->birth_year = (uint16_t)((p[46] << 8) | p[47]);
    m->education = p[48];
    m->age_min = p[49];
    m->age_max = p[50];
    m->priority_mask = p[51];
    p += IX_DOC_HEADER;
    /* Every length is checked against the bytes present before use, and
     * a term's against what a key can hold, since postings' keys are
     * built from decoded docs. */
    for (uint32_t i = 0; i < v->n_occ; i++) {
        if (end - p < 1 || end - p - 1 < p[0] || p[0] == 0 || p[0] > IX_OCCUPATION_MAX)
            return -EIO;
        v->occ[i].len = p[0];
        v->occ[i].p = (const char *)p + 1;
        p += 1 + p[0];
    }
    for (uint32_t i = 0; i < v->n_skills; i++) {
        if (end - p < 2 || end - p - 2 < p[0] || p[0] == 0 || p[0] > IX_SKILL_ID_MAX)
            return -EIO;
        v->skills[i].len = p[0];
        v->skills[i].p = (const char *)p + 1;
        v->skills[i].level = p[1 + p[0]];
        p += 2 + p[0];
    }
    if (end - p < (ptrdiff_t)v->id_len + (ptrdiff_t)v->origin.len)
        return -EIO;
    v->id = (const char *)p;
    p += v->id_len;
    v->origin.p = (const char *)p;
    p += v->origin.len;
    v->meta_len = (size_t)(p - (const uint8_t *)data);
    v->value = p;
    v->value_len = (size_t)(end - p);
    return 0;
}

int
ix_doc_fetch(ix_txn_t *t, uint8_t kind, uint64_t docno, ix_docview_t *v)
{
    uint8_t kb[IXK_DOC_LEN];
    MDB_val k = {ixk_doc(kb, kind, docno), kb}, d;
    int rc = mdb_get(t->txn, t->env->docs, &k, &d);
    if (rc != 0)
        return ix_mdb_err(rc);
    return ix_doc_decode(d.mv_data, d.mv_size, v);
}

void
ix_doc_record(const ix_docview_t *v, uint8_t kind, uint64_t docno,
              ix_record_t *out)
{
    out->kind = kind;
    out->id = v->id;
    out->id_len = v->id_len;
    out->docno = docno;
    out->status = v->status;
    out->category = v->category;
    out->filled = v->filled;
    memcpy(out->region, v->region, 6);
    out->match = v->match;
    out->n_occupations = v->n_occ;
    for (uint32_t i = 0; i < v->n_occ; i++) {
        out->occupations[i] = v->occ[i].p;
        out->occupation_lens[i] = v->occ[i].len;
    }
    out->n_skills = v->n_skills;
    for (uint32_t i = 0; i < v->n_skills; i++) {
        out->skills[i].id = v->skills[i].p;
        out->skills[i].id_len = v->skills[i].len;
        out->skills[i].level = v->skills[i].level;
    }
    out->origin = v->origin.p;
    out->origin_len = v->origin.len;
    out->copy = v->copy;
    out->value = v->value;
    out->value_len = v->value_len;
}

/* The digits of a code read as one decimal number (6-05-02-03 ->
 * 6050203): how matching compares a vacancy's code with a worker's codes
 * at each level without the strings. Unsigned arithmetic wraps, so a
 * malformed code of many digits gives some number, never undefined
 * behaviour; the contract's codes have 7. */
static uint32_t
code_digits(const char *p, uint32_t len)
{
    uint32_t v = 0;
    for (uint32_t i = 0; i < len; i++)
        if (p[i] >= '0' && p[i] <= '9')
            v = v * 10 + (uint32_t)(p[i] - '0');
    return v;
}

void
ix_brief_of(uint8_t kind, const ix_docview_t *v, ix_brief_t *b)
{
    memset(b, 0, sizeof *b);
    const ix_match_t *m = &v->match;
    b->education = m->education;
    if (kind == IX_VACANCY) {
        /* A vacancy with no place left cannot match, whatever its status. */
        b->open = v->matchable && m->headcount > v->filled;
        b->expires = m->expires;
        b->wage = m->wage_max;
        b->occupation = v->n_occ > 0 ? code_digits(v->occ[0].p, v->occ[0].len)
                                     : 0;
        b->age_min = m->age_min;
        b->age_max = m->age_max;
        b->priority_mask = m->priority_mask;
    } else {
        b->open = v->matchable;
        b->wage = m->wage_min;
        b->birth_year = m->birth_year;
        b->category = v->category;
    }
}

uint8_t
ix_list_categories(uint8_t kind, const ix_docview_t *v)
{
    return kind == IX_VACANCY ? v->match.priority_mask
                              : (uint8_t)(1u << (v->category & 7));
}
