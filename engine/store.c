/* store.c - protocol records <-> indexed documents. */
#include "store.h"

#include <errno.h>
#include <string.h>

static void
fill_skills(ix_skill_t *dst, const pr_skill_t *src, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        dst[i].id = src[i].id.ptr;
        dst[i].id_len = src[i].id.len;
        dst[i].level = src[i].level;
    }
}

int
en_store_put_vacancy(ix_txn_t *txn, pr_vacancy_t *v, int64_t now,
                     msgpack_sbuffer *sbuf, bool *created)
{
    ix_record_t old;
    int rc = ix_get(txn, IX_VACANCY, v->id.ptr, v->id.len, &old);
    if (rc == 0)
        v->filled = old.filled;
    else if (rc == -ENOENT)
        v->filled = 0;
    else
        return rc;

    msgpack_packer pk;
    sbuf->size = 0;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    pr_pack_vacancy(&pk, v);

    ix_skill_t skills[PR_SKILLS_MAX];
    fill_skills(skills, v->skills, v->n_skills);
    const char *occ = v->occupation.ptr;
    uint32_t occ_len = v->occupation.len;
    ix_doc_t doc = {
        .kind = IX_VACANCY,
        .id = v->id.ptr,
        .id_len = v->id.len,
        .occupations = &occ,
        .occupation_lens = &occ_len,
        .n_occupations = 1,
        .status = (uint8_t)v->status,
        .matchable = v->status == PR_VACANCY_OPEN,
        .skills = skills,
        .n_skills = v->n_skills,
        .filled = (uint32_t)v->filled,
        .match = {
            .since = v->posted,
            .expires = v->expires,
            .headcount = (uint32_t)v->headcount,
            .wage_min = (uint32_t)v->wage_min,
            .wage_max = (uint32_t)v->wage_max,
            .education = (uint8_t)v->education_min,
            .age_min = (uint8_t)v->age_min,
            .age_max = (uint8_t)v->age_max,
            .priority_mask = v->priority_mask,
        },
        .value = sbuf->data,
        .value_len = sbuf->size,
    };
    memcpy(doc.region, v->region.ptr, sizeof doc.region);
    return ix_put(txn, &doc, now, created);
}

int
en_store_put_worker(ix_txn_t *txn, const pr_worker_t *w, int64_t now,
                    msgpack_sbuffer *sbuf, bool *created)
{
    msgpack_packer pk;
    sbuf->size = 0;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    pr_pack_worker(&pk, w, true);

    ix_skill_t skills[PR_SKILLS_MAX];
    fill_skills(skills, w->skills, w->n_skills);
    /* The contract lets a code repeat; the index wants each once. */
    const char *occ[PR_DESIRED_MAX];
    uint32_t occ_len[PR_DESIRED_MAX];
    uint32_t n_occ = 0;
    for (uint32_t i = 0; i < w->n_desired; i++) {
        pr_str_t d = w->desired[i];
        bool seen = false;
        for (uint32_t j = 0; j < n_occ && !seen; j++)
            seen = occ_len[j] == d.len && memcmp(occ[j], d.ptr, d.len) == 0;
        if (!seen) {
            occ[n_occ] = d.ptr;
            occ_len[n_occ++] = d.len;
        }
    }
    ix_doc_t doc = {
        .kind = IX_WORKER,
        .id = w->id.ptr,
        .id_len = w->id.len,
        .occupations = occ,
        .occupation_lens = occ_len,
        .n_occupations = n_occ,
        .status = (uint8_t)w->status,
        .matchable = w->status == PR_WORKER_AVAILABLE,
        .category = (uint8_t)w->category,
        .skills = skills,
        .n_skills = w->n_skills,
        .match = {
            .since = w->registered,
            .wage_min = (uint32_t)w->wage_min,
            .birth_year = (uint16_t)w->birth_year,
            .education = (uint8_t)w->education,
        },
        .value = sbuf->data,
        .value_len = sbuf->size,
    };
    memcpy(doc.region, w->region.ptr, sizeof doc.region);
    return ix_put(txn, &doc, now, created);
}

int
en_store_load_vacancy(ix_txn_t *txn, const char *id, uint32_t id_len,
                      msgpack_zone *zone, pr_vacancy_t *out)
{
    ix_record_t rec;
    int rc = ix_get(txn, IX_VACANCY, id, id_len, &rec);
    if (rc != 0)
        return rc;
    /* Copy first: the value lives in the map and the next write may move
     * it, while the decoded strings must outlive that. */
    char *copy = msgpack_zone_malloc(zone, rec.value_len);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, rec.value, rec.value_len);
    msgpack_object obj;
    size_t off = 0;
    if (msgpack_unpack(copy, rec.value_len, &off, zone, &obj) != MSGPACK_UNPACK_SUCCESS)
        return -EIO;
    pr_error_t err;
    if (pr_vacancy_decode(&obj, "stored", PR_REC_STORED, 0, out, &err) != 0)
        return -EIO;
    out->filled = rec.filled;
    return 0;
}
