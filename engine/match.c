/* match.c - ranking version 1: the parties, the contract's rules, the
 * score and its explanation. The search that decides which candidates to
 * score is in match_search.c.
 */
#include "match.h"
#include "match_rules.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- parties ---------------------------------------------------------- */

void
en_party_from_record(en_party_t *p, const ix_record_t *rec)
{
    p->kind = rec->kind;
    p->id = rec->id;
    p->id_len = rec->id_len;
    memcpy(p->region, rec->region, 6);
    p->status = rec->status;
    p->category = rec->category;
    p->filled = rec->filled;
    p->m = rec->match;
    p->n_occ = rec->n_occupations;
    for (uint32_t i = 0; i < p->n_occ; i++) {
        p->occ[i] = rec->occupations[i];
        p->occ_len[i] = rec->occupation_lens[i];
    }
    p->n_skills = rec->n_skills;
    memcpy(p->skills, rec->skills, rec->n_skills * sizeof rec->skills[0]);
}

static void
copy_skills(en_party_t *p, const pr_skill_t *skills, uint32_t n)
{
    p->n_skills = n;
    for (uint32_t i = 0; i < n; i++) {
        p->skills[i].id = skills[i].id.ptr;
        p->skills[i].id_len = skills[i].id.len;
        p->skills[i].level = skills[i].level;
    }
}

void
en_party_from_worker(en_party_t *p, const pr_worker_t *w)
{
    memset(p, 0, sizeof *p);
    p->kind = IX_WORKER;
    p->id = w->id.ptr;
    p->id_len = w->id.len;
    memcpy(p->region, w->region.ptr, 6);
    p->status = (uint8_t)w->status;
    p->category = (uint8_t)w->category;
    p->m.since = w->registered;
    p->m.wage_min = (uint32_t)w->wage_min;
    p->m.birth_year = (uint16_t)w->birth_year;
    p->m.education = (uint8_t)w->education;
    p->n_occ = w->n_desired;
    for (uint32_t i = 0; i < w->n_desired; i++) {
        p->occ[i] = w->desired[i].ptr;
        p->occ_len[i] = w->desired[i].len;
    }
    copy_skills(p, w->skills, w->n_skills);
}

void
en_party_from_vacancy(en_party_t *p, const pr_vacancy_t *v)
{
    memset(p, 0, sizeof *p);
    p->kind = IX_VACANCY;
    p->id = v->id.ptr;
    p->id_len = v->id.len;
    memcpy(p->region, v->region.ptr, 6);
    p->status = (uint8_t)v->status;
    p->filled = (uint32_t)v->filled;
    p->m.since = v->posted;
    p->m.expires = v->expires;
    p->m.headcount = (uint32_t)v->headcount;
    p->m.wage_min = (uint32_t)v->wage_min;
    p->m.wage_max = (uint32_t)v->wage_max;
    p->m.education = (uint8_t)v->education_min;
    p->m.age_min = (uint8_t)v->age_min;
    p->m.age_max = (uint8_t)v->age_max;
    p->m.priority_mask = v->priority_mask;
    p->n_occ = 1;
    p->occ[0] = v->occupation.ptr;
    p->occ_len[0] = v->occupation.len;
    copy_skills(p, v->skills, v->n_skills);
}

int
en_scope_parse(pr_str_t s)
{
    if (pr_str_eq(s, "county"))
        return EN_SCOPE_COUNTY;
    if (pr_str_eq(s, "city"))
        return EN_SCOPE_CITY;
    if (pr_str_eq(s, "province"))
        return EN_SCOPE_PROVINCE;
    if (pr_str_eq(s, "all"))
        return EN_SCOPE_ALL;
    return -1;
}

const char *
en_scope_name(int scope)
{
    switch (scope) {
    case EN_SCOPE_COUNTY: return "county";
    case EN_SCOPE_CITY: return "city";
    case EN_SCOPE_PROVINCE: return "province";
    default: return "all";
    }
}

/* ---- the rules and the score ------------------------------------------ */

int
en_utc_year(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return 1970;
    return tm.tm_year + 1900;
}

/* The occupation bonus of one desired code d against a vacancy's code: a
 * code counts only up to its own length. */
double
en_code_bonus(const char *d, uint32_t dlen, const char *vocc, uint32_t vlen,
              const char **level)
{
    if (dlen == vlen && memcmp(d, vocc, dlen) == 0 && dlen == PR_OCCUPATION_LEN) {
        *level = "full";
        return BONUS_FULL;
    }
    if (dlen >= 7 && vlen >= 7 && memcmp(d, vocc, 7) == 0) {
        *level = "minor";
        return BONUS_MINOR;
    }
    if (dlen >= 4 && vlen >= 4 && memcmp(d, vocc, 4) == 0) {
        *level = "middle";
        return BONUS_MIDDLE;
    }
    if (dlen >= 1 && vlen >= 1 && d[0] == vocc[0]) {
        *level = "major";
        return BONUS_MAJOR;
    }
    *level = "none";
    return 0;
}

static double
occupation_bonus(const en_party_t *w, const en_party_t *v, en_breakdown_t *b)
{
    double best = 0;
    const char *best_level = "none";
    uint32_t best_i = UINT32_MAX;
    for (uint32_t i = 0; i < w->n_occ; i++) {
        const char *level;
        double bonus = en_code_bonus(w->occ[i], w->occ_len[i], v->occ[0], v->occ_len[0], &level);
        if (bonus > best) {
            best = bonus;
            best_level = level;
            best_i = i;
        }
    }
    if (b) {
        b->occupation_bonus = best;
        b->occupation_level = best_level;
        b->desired = best_i == UINT32_MAX ? NULL : w->occ[best_i];
        b->desired_len = best_i == UINT32_MAX ? 0 : w->occ_len[best_i];
    }
    return best;
}

static int
find_skill(const en_party_t *p, const char *id, uint32_t len)
{
    for (uint32_t i = 0; i < p->n_skills; i++)
        if (p->skills[i].id_len == len && memcmp(p->skills[i].id, id, len) == 0)
            return (int)i;
    return -1;
}

/* The contract's rules 1-5 (rule 6 needs the score's parts). */
bool
en_rules_hold(const en_party_t *w, const en_party_t *v, bool worker_available,
              int scope, int64_t as_of)
{
    if (v->status != PR_VACANCY_OPEN)
        return false;
    if (v->m.expires != 0 && v->m.expires <= as_of)
        return false;
    if ((int64_t)v->m.headcount - (int64_t)v->filled <= 0)
        return false;
    if (worker_available && w->status != PR_WORKER_AVAILABLE)
        return false;
    if (memcmp(v->region, w->region, (size_t)scope) != 0)
        return false;
    if (v->m.wage_max != 0 && w->m.wage_min > v->m.wage_max)
        return false;
    if (v->m.education > w->m.education)
        return false;
    int age = en_utc_year(as_of) - (int)w->m.birth_year;
    if (v->m.age_min > 0 && age < v->m.age_min)
        return false;
    if (v->m.age_max > 0 && age > v->m.age_max)
        return false;
    return true;
}

/* Scores a pair whose probe-side idf values are known: idf[i] belongs to
 * the probe's skill i. The skill part is summed in the vacancy's skill
 * order, so every path that scores a pair gets the same bits. */
double
en_score_pair(const en_party_t *w, const en_party_t *v, const en_party_t *probe,
              const double *idf, en_breakdown_t *b, bool *rule6)
{
    double skill_part = 0;
    uint32_t shared = 0;
    for (uint32_t i = 0; i < v->n_skills; i++) {
        const ix_skill_t *vs = &v->skills[i];
        int wi = find_skill(w, vs->id, vs->id_len);
        if (wi < 0)
            continue;
        uint8_t lw = w->skills[wi].level, lv = vs->level;
        int pi = probe == w ? wi : (int)i;
        double c = idf[pi] * (double)(lw < lv ? lw : lv) / (double)lv;
        skill_part += c;
        if (b) {
            b->shared[shared].id = vs->id;
            b->shared[shared].id_len = vs->id_len;
            b->shared[shared].idf = idf[pi];
            b->shared[shared].worker_level = lw;
            b->shared[shared].vacancy_level = lv;
            b->shared[shared].contribution = c;
        }
        shared++;
    }
    double occ = occupation_bonus(w, v, b);
    double county = memcmp(v->region, w->region, 6) == 0 ? BONUS_COUNTY : 0;
    double priority = (v->m.priority_mask >> w->category) & 1 ? BONUS_PRIORITY : 0;
    double score = skill_part + occ + county + priority;
    if (b) {
        b->n_shared = shared;
        b->skill_part = skill_part;
        b->county_bonus = county;
        b->priority_bonus = priority;
        b->score = score;
    }
    *rule6 = shared > 0 || occ >= BONUS_MINOR;
    return score;
}

int
en_score_order(double a, double b)
{
    if (fabs(a - b) <= 1e-12 * (fabs(a) + fabs(b)))
        return 0;
    return a > b ? -1 : 1;
}

/* idf(s) = ln(1 + N / df(s)) over the searched kind's matchable records. */
int
en_probe_idf(ix_txn_t *txn, const en_party_t *probe, uint8_t searched,
             double *idf)
{
    ix_stats_t st;
    int rc = ix_stats(txn, &st);
    if (rc != 0)
        return rc;
    uint64_t n = searched == IX_VACANCY ? st.vacancies_open : st.workers_available;
    for (uint32_t i = 0; i < probe->n_skills; i++) {
        uint64_t df = 0;
        rc = ix_skill_df(txn, searched, probe->skills[i].id, probe->skills[i].id_len, &df);
        if (rc != 0 && rc != -ENOENT)
            return rc;
        idf[i] = en_idf(n, df);
    }
    return 0;
}

double
en_idf(uint64_t n, uint64_t df)
{
    /* Written as the contract writes it (not log1p), so that other
     * implementations of the formula get the same bits. A skill nobody
     * in the store holds can match nothing: 0 keeps the bounds tight. */
    return df ? log(1.0 + (double)n / (double)df) : 0;
}

bool
en_match_pair(ix_txn_t *txn, const en_party_t *worker,
              const en_party_t *vacancy, uint8_t searched_kind, int scope,
              int64_t as_of, en_breakdown_t *b)
{
    const en_party_t *probe = searched_kind == IX_VACANCY ? worker : vacancy;
    double idf[IX_SKILLS_MAX];
    if (en_probe_idf(txn, probe, searched_kind, idf) != 0)
        memset(idf, 0, sizeof idf);
    bool rule6;
    en_score_pair(worker, vacancy, probe, idf, b, &rule6);
    return rule6 && en_rules_hold(worker, vacancy, searched_kind == IX_WORKER, scope, as_of);
}

/* ---- explain ---------------------------------------------------------- */

void
en_pack_breakdown(msgpack_packer *pk, const en_breakdown_t *b)
{
    msgpack_pack_map(pk, 5);
    pr_pack_cstr(pk, "skills");
    msgpack_pack_array(pk, b->n_shared);
    for (uint32_t i = 0; i < b->n_shared; i++) {
        msgpack_pack_map(pk, 5);
        pr_pack_cstr(pk, "id");
        msgpack_pack_str_with_body(pk, b->shared[i].id, b->shared[i].id_len);
        pr_pack_cstr(pk, "idf");
        msgpack_pack_double(pk, b->shared[i].idf);
        pr_pack_cstr(pk, "worker_level");
        msgpack_pack_uint8(pk, b->shared[i].worker_level);
        pr_pack_cstr(pk, "vacancy_level");
        msgpack_pack_uint8(pk, b->shared[i].vacancy_level);
        pr_pack_cstr(pk, "contribution");
        msgpack_pack_double(pk, b->shared[i].contribution);
    }
    pr_pack_cstr(pk, "skill_part");
    msgpack_pack_double(pk, b->skill_part);
    pr_pack_cstr(pk, "occupation");
    msgpack_pack_map(pk, 3);
    pr_pack_cstr(pk, "bonus");
    msgpack_pack_double(pk, b->occupation_bonus);
    pr_pack_cstr(pk, "level");
    pr_pack_cstr(pk, b->occupation_level);
    pr_pack_cstr(pk, "desired");
    if (b->desired)
        msgpack_pack_str_with_body(pk, b->desired, b->desired_len);
    else
        msgpack_pack_nil(pk);
    pr_pack_cstr(pk, "county_bonus");
    msgpack_pack_double(pk, b->county_bonus);
    pr_pack_cstr(pk, "priority_bonus");
    msgpack_pack_double(pk, b->priority_bonus);
}
