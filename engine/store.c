/* store.c - protocol records <-> indexed documents. */
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "command.h"
#include "log.h"

/* The personal fields, in the order of the canonical encoding. */
#define PERSONAL_FIELDS 3
static const char *const personal_keys[PERSONAL_FIELDS] = {"name", "national_id",
                                                           "phone"};

/* Their msgpack map at most: the map header, then per field a key of up to
 * 12 bytes and a str16 of PR_PERSONAL_MAX bytes. */
#define PERSONAL_PACKED_MAX (1 + PERSONAL_FIELDS * (12 + 3 + PR_PERSONAL_MAX))
#define PERSONAL_SEALED_MAX                                                  \
    (1 + EN_SEAL_NONCE_LEN + (PERSONAL_PACKED_MAX / EN_SEAL_BLOCK + 1) * EN_SEAL_BLOCK + \
     EN_SEAL_TAG_LEN)

/* Associated data of a worker's sealed fields: | 'W' | id |. */
#define WORKER_AD_MAX (1 + PR_ID_MAX)

static size_t
worker_ad(uint8_t ad[WORKER_AD_MAX], const char *id, uint32_t id_len)
{
    ad[0] = IX_WORKER;
    memcpy(ad + 1, id, id_len);
    return 1 + (size_t)id_len;
}

/* A msgpack write target of fixed size on the stack. */
typedef struct fixed_buf {
    uint8_t *data;
    size_t len, cap;
    bool overflow;
} fixed_buf_t;

static int
fixed_buf_write(void *data, const char *buf, size_t len)
{
    fixed_buf_t *fb = data;
    if (len > fb->cap - fb->len) {
        fb->overflow = true;
        return -1;
    }
    memcpy(fb->data + fb->len, buf, len);
    fb->len += len;
    return 0;
}

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
en_store_rewrite_vacancy(ix_txn_t *txn, const pr_vacancy_t *v, en_vacancy_write_t why,
                         int64_t now, msgpack_sbuffer *sbuf, bool *created)
{
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
        .origin = v->origin.ptr,
        .origin_len = v->origin.ptr ? v->origin.len : 0,
        .copy = why == EN_VACANCY_COPY || why == EN_VACANCY_COPY_STATE,
        .state_only = why == EN_VACANCY_STATE || why == EN_VACANCY_COPY_STATE,
        .value = sbuf->data,
        .value_len = sbuf->size,
    };
    memcpy(doc.region, v->region.ptr, sizeof doc.region);
    return ix_put(txn, &doc, now, created);
}

/* Appends w's personal fields, sealed, as one msgpack bin (nothing when it
 * has none). */
static int
pack_sealed_personal(msgpack_packer *pk, const en_sealer_t *sealer,
                     const pr_worker_t *w)
{
    const pr_str_t *personal[PERSONAL_FIELDS] = {&w->name, &w->national_id, &w->phone};
    uint32_t n = 0;
    for (int i = 0; i < PERSONAL_FIELDS; i++)
        n += personal[i]->ptr != NULL;
    if (n == 0)
        return 0;
    if (!sealer)
        return -EPERM;
    uint8_t plain[PERSONAL_PACKED_MAX], sealed[PERSONAL_SEALED_MAX];
    fixed_buf_t fb = {plain, 0, sizeof plain, false};
    msgpack_packer ppk;
    msgpack_packer_init(&ppk, &fb, fixed_buf_write);
    msgpack_pack_map(&ppk, n);
    for (int i = 0; i < PERSONAL_FIELDS; i++) {
        if (personal[i]->ptr) {
            pr_pack_cstr(&ppk, personal_keys[i]);
            pr_pack_str(&ppk, *personal[i]);
        }
    }
    int rc = 0;
    if (fb.overflow) {
        rc = -EINVAL;  /* longer than a validated record can be */
    } else {
        uint8_t ad[WORKER_AD_MAX];
        size_t ad_len = worker_ad(ad, w->id.ptr, w->id.len);
        size_t sealed_len = en_seal_size(fb.len);
        en_seal(sealer, ad, ad_len, plain, fb.len, sealed);
        msgpack_pack_bin(pk, sealed_len);
        msgpack_pack_bin_body(pk, sealed, sealed_len);
    }
    sodium_memzero(plain, sizeof plain);
    return rc;
}

int
en_store_put_worker(ix_txn_t *txn, const en_sealer_t *sealer,
                    const pr_worker_t *w, int64_t now,
                    msgpack_sbuffer *sbuf, bool *created)
{
    msgpack_packer pk;
    sbuf->size = 0;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    pr_pack_worker(&pk, w, false);
    int rc = pack_sealed_personal(&pk, sealer, w);
    if (rc != 0)
        return rc;

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

int
en_store_vacancy_origin(ix_txn_t *txn, const char *id, uint32_t id_len,
                        char out[PR_ID_MAX + 1], int64_t *filled)
{
    ix_record_t rec;
    int rc = ix_get(txn, IX_VACANCY, id, id_len, &rec);
    if (rc != 0)
        return rc;
    /* The index keeps the origin beside the record (at most PR_ID_MAX). */
    memcpy(out, rec.origin, rec.origin_len);
    out[rec.origin_len] = '\0';
    if (filled)
        *filled = rec.filled;
    return 0;
}

/* ---- referral notes ----------------------------------------------------- */

/* Associated data of a sealed note: | 'R' | refno (8, be) | event index |. */
#define NOTE_AD_LEN 10
#define NOTE_SEALED_MAX                                                      \
    (1 + EN_SEAL_NONCE_LEN + (PR_REF_NOTE_MAX / EN_SEAL_BLOCK + 1) * EN_SEAL_BLOCK + \
     EN_SEAL_TAG_LEN)

static void
note_ad(uint8_t ad[NOTE_AD_LEN], uint64_t refno, uint32_t event)
{
    ad[0] = 'R';
    for (int i = 0; i < 8; i++)
        ad[1 + i] = (uint8_t)(refno >> (56 - 8 * i));
    ad[9] = (uint8_t)event;
}

int
en_store_pack_referral(msgpack_packer *pk, const en_sealer_t *sealer,
                       const pr_referral_t *r)
{
    pr_referral_t sealed_r = *r;
    uint8_t sealed[PR_REF_HISTORY_MAX][NOTE_SEALED_MAX];
    for (uint32_t i = 0; i < r->n_history; i++) {
        pr_referral_event_t *e = &sealed_r.history[i];
        if (e->note.len == 0 || e->note_sealed || !sealer)
            continue;
        if (en_seal_size(e->note.len) > sizeof sealed[i])
            return -EINVAL;  /* longer than a validated note can be */
        uint8_t ad[NOTE_AD_LEN];
        note_ad(ad, r->refno, i);
        en_seal(sealer, ad, sizeof ad, e->note.ptr, e->note.len, sealed[i]);
        e->note = (pr_str_t){(const char *)sealed[i], (uint32_t)en_seal_size(e->note.len)};
        e->note_sealed = true;
    }
    pr_pack_referral(pk, &sealed_r);
    return 0;
}

int
en_store_decode_referral(const en_sealer_t *sealer, const void *value, size_t len,
                         msgpack_zone *zone, pr_referral_t *out)
{
    char *copy = msgpack_zone_malloc(zone, len ? len : 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, value, len);
    msgpack_object obj;
    size_t off = 0;
    if (msgpack_unpack(copy, len, &off, zone, &obj) != MSGPACK_UNPACK_SUCCESS ||
        pr_referral_decode(&obj, out) != 0)
        return -EIO;
    for (uint32_t i = 0; i < out->n_history; i++) {
        pr_referral_event_t *e = &out->history[i];
        if (!e->note_sealed)
            continue;
        uint8_t *plain = msgpack_zone_malloc(zone, e->note.len);
        if (!plain)
            return -ENOMEM;
        uint8_t ad[NOTE_AD_LEN];
        note_ad(ad, out->refno, i);
        size_t plain_len;
        int rc = en_unseal(sealer, ad, sizeof ad, (const uint8_t *)e->note.ptr, e->note.len,
                           plain, &plain_len, NULL);
        if (rc != 0)
            return rc;
        e->note = (pr_str_t){(const char *)plain, (uint32_t)plain_len};
        e->note_sealed = false;
    }
    return 0;
}

/* ---- reading workers -------------------------------------------------- */

/* A stored worker value, split: the public map and the sealed bin. */
typedef struct worker_value {
    const char *bytes;          /* a copy in the zone */
    msgpack_object pub;
    size_t pub_len;
    const uint8_t *sealed;      /* NULL when the worker has no personal fields */
    size_t sealed_len;
} worker_value_t;

static int
split_worker(const ix_record_t *rec, msgpack_zone *zone, worker_value_t *v)
{
    /* Copy first: the value lives in the map and the next write may move
     * it, while the decoded strings must outlive that. */
    char *copy = msgpack_zone_malloc(zone, rec->value_len ? rec->value_len : 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, rec->value, rec->value_len);
    v->bytes = copy;
    v->sealed = NULL;
    v->sealed_len = 0;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack(copy, rec->value_len, &off, zone, &v->pub);
    if ((r != MSGPACK_UNPACK_SUCCESS && r != MSGPACK_UNPACK_EXTRA_BYTES) ||
        v->pub.type != MSGPACK_OBJECT_MAP)
        return -EIO;
    v->pub_len = off;
    if (r == MSGPACK_UNPACK_EXTRA_BYTES) {
        msgpack_object bin;
        if (msgpack_unpack(copy, rec->value_len, &off, zone, &bin) != MSGPACK_UNPACK_SUCCESS ||
            bin.type != MSGPACK_OBJECT_BIN)
            return -EIO;
        v->sealed = (const uint8_t *)bin.via.bin.ptr;
        v->sealed_len = bin.via.bin.size;
    }
    return 0;
}

/* Opens the sealed personal fields of v into w (whose id is set). */
static int
open_personal(const en_sealer_t *sealer, const worker_value_t *v,
              msgpack_zone *zone, pr_worker_t *w)
{
    uint8_t *plain = msgpack_zone_malloc(zone, v->sealed_len);
    if (!plain)
        return -ENOMEM;
    uint8_t ad[WORKER_AD_MAX];
    size_t ad_len = worker_ad(ad, w->id.ptr, w->id.len), plain_len;
    int rc = en_unseal(sealer, ad, ad_len, v->sealed, v->sealed_len, plain, &plain_len, NULL);
    if (rc != 0)
        return rc;
    msgpack_object m;
    size_t off = 0;
    if (msgpack_unpack((const char *)plain, plain_len, &off, zone, &m) != MSGPACK_UNPACK_SUCCESS ||
        m.type != MSGPACK_OBJECT_MAP)
        return -EIO;
    pr_str_t *personal[PERSONAL_FIELDS] = {&w->name, &w->national_id, &w->phone};
    for (int i = 0; i < PERSONAL_FIELDS; i++) {
        const msgpack_object *o = pr_map_get(&m, personal_keys[i]);
        if (!o)
            continue;
        if (o->type != MSGPACK_OBJECT_STR)
            return -EIO;
        personal[i]->ptr = o->via.str.ptr;
        personal[i]->len = o->via.str.size;
    }
    return 0;
}

/* Decodes the public map, which must be the record's own (so the sealed
 * fields open with the id the index holds them under), then the sealed
 * fields when asked. */
static int
decode_split(const en_sealer_t *sealer, const ix_record_t *rec,
             const worker_value_t *v, bool with_personal, msgpack_zone *zone,
             pr_worker_t *out)
{
    pr_error_t err;
    if (pr_worker_decode(&v->pub, "stored", PR_REC_STORED, 0, out, &err) != 0 ||
        out->id.len != rec->id_len || memcmp(out->id.ptr, rec->id, rec->id_len) != 0)
        return -EIO;
    if (with_personal && v->sealed)
        return open_personal(sealer, v, zone, out);
    return 0;
}

int
en_store_decode_worker(const en_sealer_t *sealer, const ix_record_t *rec,
                       bool with_personal, msgpack_zone *zone, pr_worker_t *out)
{
    worker_value_t v;
    int rc = split_worker(rec, zone, &v);
    return rc ? rc : decode_split(sealer, rec, &v, with_personal, zone, out);
}

int
en_store_load_worker(ix_txn_t *txn, const en_sealer_t *sealer, const char *id,
                     uint32_t id_len, msgpack_zone *zone, pr_worker_t *out)
{
    ix_record_t rec;
    int rc = ix_get(txn, IX_WORKER, id, id_len, &rec);
    return rc ? rc : en_store_decode_worker(sealer, &rec, true, zone, out);
}

int
en_store_pack_worker(msgpack_packer *pk, const en_sealer_t *sealer,
                     const ix_record_t *rec, bool with_personal, msgpack_zone *zone)
{
    worker_value_t v;
    int rc = split_worker(rec, zone, &v);
    if (rc != 0)
        return rc;
    if (!with_personal || !v.sealed) {
        /* The public map is the canonical encoding without personal
         * fields: sent as stored. */
        en_pack_raw(pk, v.bytes, v.pub_len);
        return 0;
    }
    pr_worker_t *w = msgpack_zone_malloc(zone, sizeof *w);
    if (!w)
        return -ENOMEM;
    if ((rc = decode_split(sealer, rec, &v, true, zone, w)) != 0)
        return rc;
    pr_pack_worker(pk, w, true);
    return 0;
}

/* ---- the key's binding ------------------------------------------------ */

#define BIND_META "seal"
#define BIND_AD "jobmatch meta seal"
#define BIND_PLAIN "jobmatch personal data key"

static int
bind_fail(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return -1;
}

int
en_store_bind_key(ix_env_t *ix, const en_sealer_t *sealer, char *why, size_t why_len)
{
    uint8_t stored[128], plain[128];
    size_t len = 0, plain_len;
    ix_txn_t *txn;
    int rc = ix_read_begin(ix, &txn);
    if (rc == 0) {
        rc = ix_meta_get(txn, BIND_META, stored, sizeof stored, &len);
        ix_read_end(txn);
    }
    if (rc == 0) {
        uint8_t id = stored[0];
        if (!sealer)
            return bind_fail(why, why_len,
                             "this store's personal data is sealed under secret key id %02x, "
                             "and no secret key is configured (secret_key_file = none)",
                             id);
        rc = en_unseal(sealer, BIND_AD, strlen(BIND_AD), stored, len, plain, &plain_len, &id);
        if (rc == -ENOKEY)
            return bind_fail(why, why_len,
                             "the secret key file holds no key with id %02x, the key this "
                             "store's personal data is sealed under",
                             id);
        if (rc != 0 || plain_len != strlen(BIND_PLAIN) ||
            memcmp(plain, BIND_PLAIN, plain_len) != 0)
            return bind_fail(why, why_len,
                             "the secret key with id %02x is not the key this store's "
                             "personal data is sealed under",
                             id);
        if (id == en_sealer_key_id(sealer))
            return 0;
    } else if (rc != -ENOENT) {
        return bind_fail(why, why_len, "cannot read the store: %s", ix_strerror(rc));
    } else if (!sealer) {
        return 0;
    }
    uint8_t sealed[sizeof stored];
    en_seal(sealer, BIND_AD, strlen(BIND_AD), BIND_PLAIN, strlen(BIND_PLAIN), sealed);
    if ((rc = ix_write_begin(ix, &txn)) == 0) {
        ix_meta_put(txn, BIND_META, sealed, en_seal_size(strlen(BIND_PLAIN)));
        rc = ix_write_commit(txn);
    }
    if (rc == -ENOSPC) {
        /* A full store still serves reads; the binding waits for a start
         * with room, as a safety net it is not worth refusing to start. */
        en_warn("secret key: the store is full, so its binding to key id %02x is left "
                "for a later start", en_sealer_key_id(sealer));
        return 0;
    }
    if (rc != 0)
        return bind_fail(why, why_len, "cannot write the store: %s", ix_strerror(rc));
    return 0;
}
