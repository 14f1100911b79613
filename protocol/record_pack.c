/* record_pack.c - the canonical msgpack encoding of vacancy and worker
 * records.
 *
 * The canonical form is what the daemon stores and returns: every field
 * present with defaults filled in, keys in the order of the contract's
 * tables, priority categories in enum order. Packing a decoded record and
 * decoding the result gives back the same record, which is what lets the
 * store keep exactly the bytes it answers with.
 */
#include <assert.h>

#include "record.h"

/* Packs "key": value pairs; short helpers keep the field lists readable. */
static void pack_key(msgpack_packer *pk, const char *key)
{
    pr_pack_cstr(pk, key);
}

static void pack_str_field(msgpack_packer *pk, const char *key, pr_str_t v)
{
    pack_key(pk, key);
    pr_pack_str(pk, v);
}

static void pack_int_field(msgpack_packer *pk, const char *key, int64_t v)
{
    pack_key(pk, key);
    msgpack_pack_int64(pk, v);
}

static void pack_name_field(msgpack_packer *pk, const char *key,
                            const char *name)
{
    /* Decoded records only hold values from the enums; anything else is a
     * bug in the caller, not bad input. */
    assert(name != NULL);
    pack_key(pk, key);
    pr_pack_cstr(pk, name != NULL ? name : "");
}

static void pack_skills(msgpack_packer *pk, const pr_skill_t *skills,
                        uint32_t n)
{
    pack_key(pk, "skills");
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, 2);
        pack_str_field(pk, "id", skills[i].id);
        pack_int_field(pk, "level", skills[i].level);
    }
}

/* The number of fields pr_pack_vacancy always writes (origin comes on top
 * when known). */
#define VACANCY_FIELDS 17

void pr_pack_vacancy(msgpack_packer *pk, const pr_vacancy_t *v)
{
    msgpack_pack_map(pk, VACANCY_FIELDS + (v->origin.ptr != NULL));
    pack_str_field(pk, "id", v->id);
    pack_str_field(pk, "employer", v->employer);
    pack_str_field(pk, "title", v->title);
    pack_str_field(pk, "occupation", v->occupation);
    pack_str_field(pk, "region", v->region);
    pack_skills(pk, v->skills, v->n_skills);
    pack_int_field(pk, "education_min", v->education_min);
    pack_int_field(pk, "age_min", v->age_min);
    pack_int_field(pk, "age_max", v->age_max);
    pack_int_field(pk, "wage_min", v->wage_min);
    pack_int_field(pk, "wage_max", v->wage_max);
    pack_int_field(pk, "headcount", v->headcount);
    pack_int_field(pk, "filled", v->filled);

    unsigned n = 0;
    for (int c = 0; c < PR_CAT_COUNT; c++)
        if (v->priority_mask & (1u << c))
            n++;
    pack_key(pk, "priority_categories");
    msgpack_pack_array(pk, n);
    for (int c = 0; c < PR_CAT_COUNT; c++)
        if (v->priority_mask & (1u << c))
            pr_pack_cstr(pk, pr_category_name(c));

    pack_int_field(pk, "posted", v->posted);
    pack_int_field(pk, "expires", v->expires);
    pack_name_field(pk, "status", pr_vacancy_status_name(v->status));
    if (v->origin.ptr != NULL)
        pack_str_field(pk, "origin", v->origin);
}

/* Fields a worker always has: birth_year, region, education, skills,
 * desired_occupations, wage_min, category, registered, status. */
#define WORKER_FIXED_FIELDS 9

void pr_pack_worker(msgpack_packer *pk, const pr_worker_t *w,
                    bool with_personal)
{
    const pr_str_t *personal[] = {&w->name, &w->national_id, &w->phone};
    static const char *const personal_keys[] = {"name", "national_id",
                                                "phone"};
    /* A profile has no id; it is written only when set so that the same
     * function serves both. */
    uint32_t n = WORKER_FIXED_FIELDS + (w->id.ptr != NULL) +
                 (w->center.ptr != NULL);
    if (with_personal)
        for (int i = 0; i < 3; i++)
            n += personal[i]->ptr != NULL;

    msgpack_pack_map(pk, n);
    if (w->id.ptr != NULL)
        pack_str_field(pk, "id", w->id);
    if (with_personal)
        for (int i = 0; i < 3; i++)
            if (personal[i]->ptr != NULL)
                pack_str_field(pk, personal_keys[i], *personal[i]);
    pack_int_field(pk, "birth_year", w->birth_year);
    pack_str_field(pk, "region", w->region);
    pack_int_field(pk, "education", w->education);
    pack_skills(pk, w->skills, w->n_skills);
    pack_key(pk, "desired_occupations");
    msgpack_pack_array(pk, w->n_desired);
    for (uint32_t i = 0; i < w->n_desired; i++)
        pr_pack_str(pk, w->desired[i]);
    pack_int_field(pk, "wage_min", w->wage_min);
    pack_name_field(pk, "category", pr_category_name(w->category));
    if (w->center.ptr != NULL)
        pack_str_field(pk, "center", w->center);
    pack_int_field(pk, "registered", w->registered);
    pack_name_field(pk, "status", pr_worker_status_name(w->status));
}
