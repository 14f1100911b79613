/* records.c - test records: building, generating and loading them
 * (records.h). */
#include "records.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* ---- small helpers ------------------------------------------------------ */

void
jt_set_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
}


void
jt_add_skill(jo_skill_t *skills, unsigned *n, const char *id, int level)
{
    JT_SET(skills[*n].id, id);
    skills[*n].level = level;
    (*n)++;
}

/* A vacancy with the defaults of the contract and the given core fields. */
jo_vacancy_t
jt_vacancy(const char *id, const char *occupation, const char *region)
{
    jo_vacancy_t v;
    memset(&v, 0, sizeof v);
    JT_SET(v.id, id);
    JT_SET(v.employer, "Acme Works");
    JT_SET(v.occupation, occupation);
    JT_SET(v.region, region);
    v.headcount = 1;
    JT_SET(v.status, "open");
    return v;
}

/* A worker with the defaults of the contract and the given core fields. */
jo_worker_t
jt_worker(const char *id, int birth_year, const char *region)
{
    jo_worker_t w;
    memset(&w, 0, sizeof w);
    JT_SET(w.id, id);
    w.birth_year = birth_year;
    JT_SET(w.region, region);
    JT_SET(w.category, "other");
    JT_SET(w.status, "available");
    return w;
}

/* ---- packing records and queries ---------------------------------------- */

void
jt_pack_jo_skills(msgpack_packer *pk, const jo_skill_t *skills, unsigned n)
{
    msgpack_pack_array(pk, n);
    for (unsigned i = 0; i < n; i++) {
        msgpack_pack_map(pk, 2);
        jt_pack_kv_str(pk, "id", skills[i].id);
        jt_pack_kv_int(pk, "level", skills[i].level);
    }
}

void
jt_pack_jo_vacancy(msgpack_packer *pk, const jo_vacancy_t *v)
{
    msgpack_pack_map(pk, 15);
    jt_pack_kv_str(pk, "id", v->id);
    jt_pack_kv_str(pk, "employer", v->employer);
    jt_pack_kv_str(pk, "title", "Opening");
    jt_pack_kv_str(pk, "occupation", v->occupation);
    jt_pack_kv_str(pk, "region", v->region);
    jt_pack_str(pk, "skills");
    jt_pack_jo_skills(pk, v->skills, v->n_skills);
    jt_pack_kv_int(pk, "education_min", v->education_min);
    jt_pack_kv_int(pk, "age_min", v->age_min);
    jt_pack_kv_int(pk, "age_max", v->age_max);
    jt_pack_kv_int(pk, "wage_min", v->wage_min);
    jt_pack_kv_int(pk, "wage_max", v->wage_max);
    jt_pack_kv_int(pk, "headcount", v->headcount);
    jt_pack_str(pk, "priority_categories");
    msgpack_pack_array(pk, v->n_priority);
    for (unsigned i = 0; i < v->n_priority; i++)
        jt_pack_str(pk, v->priority[i]);
    jt_pack_kv_int(pk, "expires", v->expires);
    jt_pack_kv_str(pk, "status", v->status);
}

/* A worker record, or (as_profile) the same map without id and status, as
 * the profile argument of match.vacancies. */
void
jt_pack_jo_worker(msgpack_packer *pk, const jo_worker_t *w, bool as_profile)
{
    msgpack_pack_map(pk, as_profile ? 7 : 9);
    if (!as_profile)
        jt_pack_kv_str(pk, "id", w->id);
    jt_pack_kv_int(pk, "birth_year", w->birth_year);
    jt_pack_kv_str(pk, "region", w->region);
    jt_pack_kv_int(pk, "education", w->education);
    jt_pack_str(pk, "skills");
    jt_pack_jo_skills(pk, w->skills, w->n_skills);
    jt_pack_str(pk, "desired_occupations");
    msgpack_pack_array(pk, w->n_desired);
    for (unsigned i = 0; i < w->n_desired; i++)
        jt_pack_str(pk, w->desired[i]);
    jt_pack_kv_int(pk, "wage_min", w->wage_min);
    jt_pack_kv_str(pk, "category", w->category);
    if (!as_profile)
        jt_pack_kv_str(pk, "status", w->status);
}

/* Loads the records in batches of put_many (each well under 1 MiB). */
void
jt_put_vacancies(jm_client_t *c, const jo_vacancy_t *const *v, size_t n)
{
    jt_put_vacancies_by(c, v, n, 400);
}

void
jt_put_vacancies_by(jm_client_t *c, const jo_vacancy_t *const *v, size_t n, size_t batch)
{
    for (size_t at = 0; at < n; at += batch) {
        size_t k = n - at < batch ? n - at : batch;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 1);
        jt_pack_str(&pk, "vacancies");
        msgpack_pack_array(&pk, k);
        for (size_t i = 0; i < k; i++)
            jt_pack_jo_vacancy(&pk, v[at + i]);
        jm_reply_t *r = jt_call(c, "vacancy.put_many", &sb);
        jt_expect_ok(r, "vacancy.put_many");
        cr_assert_eq(jt_get_int(&r->result, "count"), (int64_t)k);
        jm_reply_free(r);
        msgpack_sbuffer_destroy(&sb);
    }
}

void
jt_put_workers(jm_client_t *c, const jo_worker_t *const *w, size_t n)
{
    for (size_t at = 0; at < n; at += 400) {
        size_t k = n - at < 400 ? n - at : 400;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 1);
        jt_pack_str(&pk, "workers");
        msgpack_pack_array(&pk, k);
        for (size_t i = 0; i < k; i++)
            jt_pack_jo_worker(&pk, w[at + i], false);
        jm_reply_t *r = jt_call(c, "worker.put_many", &sb);
        jt_expect_ok(r, "worker.put_many");
        cr_assert_eq(jt_get_int(&r->result, "count"), (int64_t)k);
        jm_reply_free(r);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* Puts every record of the store. */
void
jt_put_store(jm_client_t *c, const jo_store_t *s)
{
    const jo_vacancy_t **vp = calloc(s->n_vacancies + 1, sizeof *vp);
    const jo_worker_t **wp = calloc(s->n_workers + 1, sizeof *wp);
    cr_assert(vp && wp);
    for (size_t i = 0; i < s->n_vacancies; i++)
        vp[i] = &s->vacancies[i];
    for (size_t i = 0; i < s->n_workers; i++)
        wp[i] = &s->workers[i];
    jt_put_vacancies(c, vp, s->n_vacancies);
    jt_put_workers(c, wp, s->n_workers);
    free(vp);
    free(wp);
}

/* ---- randomized stores -------------------------------------------------- */

uint64_t jt_rng_state;

/* splitmix64: small, seedable and good enough for test data. */
uint64_t
jt_rnd(void)
{
    uint64_t z = (jt_rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

unsigned
jt_rn(unsigned n)
{
    return (unsigned)(jt_rnd() % n);
}


/* 2 provinces x 2 cities x 3 counties: every scope keeps some and drops
 * some of the records. */
const char *const jt_regions[] = {
    "110101", "110102", "110103", "110201", "110202", "110203",
    "120101", "120102", "120103", "120201", "120202", "120203",
};
/* A small vocabulary so that records overlap often. */
const char *const jt_skill_ids[] = {
    "weld.arc", "weld.tig", "lathe", "cnc/mill", "forklift", "excel",
    "driving.c1", "cooking", "sewing", "elec:low", "plumbing", "carpentry",
    "python", "c", "sql", "nursing", "accounting", "english", "sales", "crane",
};
/* Codes sharing major, middle and minor groups. */
const char *const jt_occupations[] = {
    "6-05-02-03", "6-05-02-07", "6-05-01-01", "6-07-01-02", "2-02-01-01",
    "2-02-03-04", "4-02-02-01", "6-05-02-09",
};
/* Desired codes: full codes (one in no vacancy), and prefixes of every level. */
const char *const jt_desired_codes[] = {
    "6-05-02-03", "6-05-02-07", "6-05-01-01", "2-02-01-01", "4-02-02-01",
    "6-05-03-01", "6", "6-05", "6-05-02", "6-07", "2", "2-02", "2-02-03",
    "4-02-02", "3", "6-07-01",
};
const char *const jt_categories[] = {
    "laid_off", "unemployed", "graduate", "migrant", "other",
};
const char *const jt_employers[] = {
    "Acme Works", "Beta Foods", "Gamma Logistics", "Delta", "E5", "Foxtrot Ltd",
};
static const char *const id_prefixes[] = {"v-", "V-", "v.", "job:", "Z"};
static const char *const wid_prefixes[] = {"w-", "W-", "w.", "p:", "A"};

unsigned jt_next_serial;
/* How many of the jt_regions and common skills the generators use: fewer
 * makes a dense store full of exact ties. */
unsigned jt_n_regions_used = 12, jt_n_skills_used = 20;

/* Adds the skill at a random level unless the list holds it already. */
static void
add_new_skill(jo_skill_t *skills, unsigned *n, const char *id)
{
    for (unsigned i = 0; i < *n; i++)
        if (strcmp(skills[i].id, id) == 0)
            return;
    if (*n < JO_MAX_SKILLS)
        jt_add_skill(skills, n, id, 1 + (int)jt_rn(5));
}

/* Mostly a few common skills; sometimes rare ones too (df of 1 or 2, so
 * large idf values), and now and then a long list of 40. */
void
jt_random_skills(jo_skill_t *skills, unsigned *n, unsigned max)
{
    char rare[JO_ID_SIZE];
    *n = 0;
    if (jt_rn(100) == 0) {
        for (unsigned i = 0; i < 20; i++)
            add_new_skill(skills, n, jt_skill_ids[i]);
        for (unsigned i = 0; i < 20; i++) {
            snprintf(rare, sizeof rare, "r/%03u", jt_rn(60));
            add_new_skill(skills, n, rare);
        }
        return;
    }
    unsigned want = jt_rn(max + 1);
    for (unsigned tries = 0; *n < want && tries < 50; tries++)
        add_new_skill(skills, n, jt_skill_ids[jt_rn(jt_n_skills_used)]);
    if (jt_rn(10) == 0) {
        unsigned k = 1 + jt_rn(3);
        for (unsigned i = 0; i < k; i++) {
            snprintf(rare, sizeof rare, "r/%03u", jt_rn(60));
            add_new_skill(skills, n, rare);
        }
    }
}

void
jt_random_vacancy(jo_vacancy_t *v, const char *id)
{
    static const int age_mins[] = {0, 0, 0, 18, 25, 30, 36, 40};
    static const int age_maxs[] = {0, 0, 0, 35, 36, 45, 50, 60};
    static const int64_t wage_mins[] = {0, 2000, 4000};
    static const int64_t wage_maxs[] = {0, 0, 3000, 5000, 8000, 12000};
    static const int64_t expires[] = {0, 0, 0, JT_AS_OF - JT_DAY, JT_AS_OF, JT_AS_OF + 1,
                                      JT_AS_OF + 10 * JT_DAY, JT_AS_OF + 400 * JT_DAY};
    *v = jt_vacancy(id, JT_PICK(jt_occupations), jt_regions[jt_rn(jt_n_regions_used)]);
    JT_SET(v->employer, JT_PICK(jt_employers));
    jt_random_skills(v->skills, &v->n_skills, jt_rn(10) == 0 ? 0 : 5);
    v->education_min = jt_rn(2) ? 0 : 1 + (int)jt_rn(6);
    v->age_min = JT_PICK(age_mins);
    v->age_max = JT_PICK(age_maxs);
    v->wage_min = JT_PICK(wage_mins);
    v->wage_max = JT_PICK(wage_maxs);
    v->headcount = 1 + jt_rn(3);
    v->n_priority = 0;
    if (jt_rn(5) < 2) {
        unsigned k = 1 + jt_rn(2);
        unsigned first = jt_rn(5);
        for (unsigned i = 0; i < k; i++)
            JT_SET(v->priority[v->n_priority++], jt_categories[(first + 2 * i) % 5]);
    }
    v->expires = JT_PICK(expires);
    JT_SET(v->status, jt_rn(100) < 85 ? "open" : "closed");
}

void
jt_random_worker(jo_worker_t *w, const char *id)
{
    static const int64_t wage_mins[] = {0, 0, 2000, 3000, 5000, 6000, 9000, 15000};
    *w = jt_worker(id, 1955 + (int)jt_rn(56), jt_regions[jt_rn(jt_n_regions_used)]);
    w->education = (int)jt_rn(8);
    jt_random_skills(w->skills, &w->n_skills, 6);
    unsigned nd = jt_rn(4);
    for (unsigned i = 0; i < nd; i++)
        JT_SET(w->desired[w->n_desired++], JT_PICK(jt_desired_codes));
    w->wage_min = JT_PICK(wage_mins);
    JT_SET(w->category, JT_PICK(jt_categories));
    unsigned st = jt_rn(100);
    JT_SET(w->status, st < 75 ? "available" : st < 90 ? "employed" : "inactive");
}

void
jt_new_vacancy_id(char *id, size_t size)
{
    snprintf(id, size, "%s%05u", JT_PICK(id_prefixes), jt_next_serial++);
}

void
jt_new_worker_id(char *id, size_t size)
{
    snprintf(id, size, "%s%05u", JT_PICK(wid_prefixes), jt_next_serial++);
}
