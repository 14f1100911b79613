/* oracle.c - the reference ranking (version 1) the match tests compare the
 * daemon with. Each function follows one sentence of the contract and
 * loops over every record; nothing is indexed (only idf values are
 * remembered within one call), so that a reader can check it against
 * CONTRACT.md directly. */
#include "oracle.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the store ---------------------------------------------------------- */

void
jo_store_free(jo_store_t *s)
{
    free(s->vacancies);
    free(s->workers);
    memset(s, 0, sizeof *s);
}

jo_vacancy_t *
jo_find_vacancy(const jo_store_t *s, const char *id)
{
    for (size_t i = 0; i < s->n_vacancies; i++)
        if (strcmp(s->vacancies[i].id, id) == 0)
            return &s->vacancies[i];
    return NULL;
}

jo_worker_t *
jo_find_worker(const jo_store_t *s, const char *id)
{
    for (size_t i = 0; i < s->n_workers; i++)
        if (strcmp(s->workers[i].id, id) == 0)
            return &s->workers[i];
    return NULL;
}

int
jo_put_vacancy(jo_store_t *s, const jo_vacancy_t *v)
{
    jo_vacancy_t *old = jo_find_vacancy(s, v->id);
    if (old) {
        *old = *v;
        return 0;
    }
    if (s->n_vacancies == s->cap_vacancies) {
        size_t cap = s->cap_vacancies ? 2 * s->cap_vacancies : 64;
        jo_vacancy_t *p = realloc(s->vacancies, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        s->vacancies = p;
        s->cap_vacancies = cap;
    }
    s->vacancies[s->n_vacancies++] = *v;
    return 0;
}

int
jo_put_worker(jo_store_t *s, const jo_worker_t *w)
{
    jo_worker_t *old = jo_find_worker(s, w->id);
    if (old) {
        *old = *w;
        return 0;
    }
    if (s->n_workers == s->cap_workers) {
        size_t cap = s->cap_workers ? 2 * s->cap_workers : 64;
        jo_worker_t *p = realloc(s->workers, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        s->workers = p;
        s->cap_workers = cap;
    }
    s->workers[s->n_workers++] = *w;
    return 0;
}

int
jo_delete_vacancy(jo_store_t *s, const char *id)
{
    jo_vacancy_t *v = jo_find_vacancy(s, id);
    if (!v)
        return -ENOENT;
    *v = s->vacancies[--s->n_vacancies];
    return 0;
}

int
jo_delete_worker(jo_store_t *s, const char *id)
{
    jo_worker_t *w = jo_find_worker(s, id);
    if (!w)
        return -ENOENT;
    *w = s->workers[--s->n_workers];
    return 0;
}

/* ---- the ranking -------------------------------------------------------- */

jo_query_t
jo_query_default(int64_t as_of)
{
    jo_query_t q = {
        .scope = JO_SCOPE_CITY,
        .limit = 20,
        .as_of = as_of,
        .occupation = NULL,
        .employer = NULL,
        .min_wage = -1,
        .category = NULL,
    };
    return q;
}

int
jo_year_utc(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return 0;
    return tm.tm_year + 1900;
}

/* The bonus of one desired code d against a full occupation code. A prefix
 * counts only up to its own length: its length is 1, 4, 7 or 10, and only
 * the levels no longer than it can be reached. */
static double
desired_bonus(const char *d, const char *occupation, const char **level)
{
    size_t len = strlen(d);
    if (len == 10 && strcmp(d, occupation) == 0) {
        *level = "full";
        return 2.0;
    }
    if (len >= 7 && strncmp(d, occupation, 7) == 0) {
        *level = "minor";
        return 1.2;
    }
    if (len >= 4 && strncmp(d, occupation, 4) == 0) {
        *level = "middle";
        return 0.6;
    }
    if (len >= 1 && strncmp(d, occupation, 1) == 0) {
        *level = "major";
        return 0.2;
    }
    *level = "none";
    return 0.0;
}

double
jo_occupation_bonus(const jo_worker_t *w, const char *occupation,
                    const char **level_out, int *desired_out)
{
    double best = 0.0;
    const char *best_level = "none";
    int best_i = -1;
    for (unsigned i = 0; i < w->n_desired; i++) {
        const char *level;
        double b = desired_bonus(w->desired[i], occupation, &level);
        if (b > best) {
            best = b;
            best_level = level;
            best_i = (int)i;
        }
    }
    if (level_out)
        *level_out = best_level;
    if (desired_out)
        *desired_out = best_i;
    return best;
}

static const jo_skill_t *
find_skill(const jo_skill_t *skills, unsigned n, const char *id)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(skills[i].id, id) == 0)
            return &skills[i];
    return NULL;
}

static bool
share_a_skill(const jo_vacancy_t *v, const jo_worker_t *w)
{
    for (unsigned i = 0; i < v->n_skills; i++)
        if (find_skill(w->skills, w->n_skills, v->skills[i].id))
            return true;
    return false;
}

static size_t
scope_digits(jo_scope_t scope)
{
    switch (scope) {
    case JO_SCOPE_COUNTY:
        return 6;
    case JO_SCOPE_CITY:
        return 4;
    case JO_SCOPE_PROVINCE:
        return 2;
    case JO_SCOPE_ALL:
        break;
    }
    return 0;
}

static bool
has_priority(const jo_vacancy_t *v, const char *category)
{
    for (unsigned i = 0; i < v->n_priority; i++)
        if (strcmp(v->priority[i], category) == 0)
            return true;
    return false;
}

bool
jo_is_match(const jo_vacancy_t *v, const jo_worker_t *w, const jo_query_t *q,
            bool for_workers)
{
    /* Rule 1. */
    if (strcmp(v->status, "open") != 0)
        return false;
    if (v->expires != 0 && !(v->expires > q->as_of))
        return false;
    if (!(v->headcount - v->filled > 0))
        return false;
    if (for_workers && strcmp(w->status, "available") != 0)
        return false;
    /* Rule 2. */
    size_t digits = scope_digits(q->scope);
    if (digits && strncmp(v->region, w->region, digits) != 0)
        return false;
    /* Rule 3. */
    if (!(v->wage_max == 0 || w->wage_min <= v->wage_max))
        return false;
    /* Rule 4. */
    if (!(v->education_min <= w->education))
        return false;
    /* Rule 5. */
    int age = jo_year_utc(q->as_of) - w->birth_year;
    if (v->age_min > 0 && !(age >= v->age_min))
        return false;
    if (v->age_max > 0 && !(age <= v->age_max))
        return false;
    /* Rule 6. */
    if (!share_a_skill(v, w) &&
        !(jo_occupation_bonus(w, v->occupation, NULL, NULL) >= 1.2))
        return false;
    /* The project's extra filters. */
    if (for_workers) {
        if (q->category && strcmp(w->category, q->category) != 0)
            return false;
    } else {
        if (q->occupation &&
            strncmp(v->occupation, q->occupation, strlen(q->occupation)) != 0)
            return false;
        if (q->employer && strcmp(v->employer, q->employer) != 0)
            return false;
        if (q->min_wage >= 0 && !(v->wage_max == 0 || v->wage_max >= q->min_wage))
            return false;
    }
    return true;
}

double
jo_idf_vacancies(const jo_store_t *s, const char *skill)
{
    double n = 0, df = 0;
    for (size_t i = 0; i < s->n_vacancies; i++) {
        const jo_vacancy_t *v = &s->vacancies[i];
        if (strcmp(v->status, "open") != 0)
            continue;
        n++;
        if (find_skill(v->skills, v->n_skills, skill))
            df++;
    }
    return df > 0 ? log(1.0 + n / df) : 0.0;
}

double
jo_idf_workers(const jo_store_t *s, const char *skill)
{
    double n = 0, df = 0;
    for (size_t i = 0; i < s->n_workers; i++) {
        const jo_worker_t *w = &s->workers[i];
        if (strcmp(w->status, "available") != 0)
            continue;
        n++;
        if (find_skill(w->skills, w->n_skills, skill))
            df++;
    }
    return df > 0 ? log(1.0 + n / df) : 0.0;
}

/* idf values already computed during one ranking call. The counts do not
 * change within a call, so remembering them only saves time; a full cache
 * simply computes again. */
typedef struct idf_cache {
    char ids[256][JO_ID_SIZE];
    double idf[256];
    unsigned n;
} idf_cache_t;

static double
idf_of(const jo_store_t *s, const char *skill, bool for_workers,
       idf_cache_t *cache)
{
    if (cache)
        for (unsigned i = 0; i < cache->n; i++)
            if (strcmp(cache->ids[i], skill) == 0)
                return cache->idf[i];
    double idf = for_workers ? jo_idf_workers(s, skill)
                             : jo_idf_vacancies(s, skill);
    if (cache && cache->n < 256) {
        strcpy(cache->ids[cache->n], skill);
        cache->idf[cache->n++] = idf;
    }
    return idf;
}

static void
score_pair(const jo_store_t *s, const jo_vacancy_t *v, const jo_worker_t *w,
           bool for_workers, jo_match_t *m, jo_skill_part_t *parts,
           unsigned *n_parts, idf_cache_t *cache)
{
    memset(m, 0, sizeof *m);
    unsigned np = 0;
    for (unsigned i = 0; i < v->n_skills; i++) {
        const jo_skill_t *sv = &v->skills[i];
        const jo_skill_t *sw = find_skill(w->skills, w->n_skills, sv->id);
        if (!sw)
            continue;
        double idf = idf_of(s, sv->id, for_workers, cache);
        int lo = sw->level < sv->level ? sw->level : sv->level;
        double c = idf * (double)lo / (double)sv->level;
        m->skill_part += c;
        if (parts) {
            jo_skill_part_t *p = &parts[np];
            strcpy(p->id, sv->id);
            p->idf = idf;
            p->worker_level = sw->level;
            p->vacancy_level = sv->level;
            p->contribution = c;
        }
        np++;
    }
    if (n_parts)
        *n_parts = np;
    m->occ_bonus = jo_occupation_bonus(w, v->occupation, &m->occ_level, NULL);
    m->county_bonus = strcmp(v->region, w->region) == 0 ? 0.5 : 0.0;
    m->priority_bonus = has_priority(v, w->category) ? 0.5 : 0.0;
    m->score = m->skill_part + m->occ_bonus + m->county_bonus + m->priority_bonus;
}

void
jo_score(const jo_store_t *s, const jo_vacancy_t *v, const jo_worker_t *w,
         bool for_workers, jo_match_t *m, jo_skill_part_t *parts,
         unsigned *n_parts)
{
    score_pair(s, v, w, for_workers, m, parts, n_parts, NULL);
}

/* Score descending, then id ascending bytewise. Scores that are equal as
 * real numbers tie, whatever order their terms were summed in (it is the
 * vacancy's skill order here): within a relative 1e-12, the last bits of
 * a double summing up to 64 terms. */
static int
cmp_match(const void *a, const void *b)
{
    const jo_match_t *x = a, *y = b;
    if (fabs(x->score - y->score) > 1e-12 * (fabs(x->score) + fabs(y->score)))
        return x->score > y->score ? -1 : 1;
    return strcmp(x->id, y->id);
}

static jo_match_t *
finish(jo_match_t *out, size_t n, unsigned limit, size_t *n_out)
{
    qsort(out, n, sizeof *out, cmp_match);
    if (limit && n > limit)
        n = limit;
    *n_out = n;
    if (n == 0) {
        free(out);
        return NULL;
    }
    return out;
}

jo_match_t *
jo_match_vacancies(const jo_store_t *s, const jo_worker_t *w,
                   const jo_query_t *q, size_t *n_out)
{
    jo_match_t *out = calloc(s->n_vacancies ? s->n_vacancies : 1, sizeof *out);
    if (!out) {
        *n_out = 0;
        return NULL;
    }
    idf_cache_t *cache = calloc(1, sizeof *cache);  /* NULL just means slower */
    size_t n = 0;
    for (size_t i = 0; i < s->n_vacancies; i++) {
        const jo_vacancy_t *v = &s->vacancies[i];
        if (!jo_is_match(v, w, q, false))
            continue;
        score_pair(s, v, w, false, &out[n], NULL, NULL, cache);
        strcpy(out[n].id, v->id);
        out[n].index = i;
        n++;
    }
    free(cache);
    return finish(out, n, q->limit, n_out);
}

jo_match_t *
jo_match_workers(const jo_store_t *s, const jo_vacancy_t *v,
                 const jo_query_t *q, size_t *n_out)
{
    jo_match_t *out = calloc(s->n_workers ? s->n_workers : 1, sizeof *out);
    if (!out) {
        *n_out = 0;
        return NULL;
    }
    idf_cache_t *cache = calloc(1, sizeof *cache);  /* NULL just means slower */
    size_t n = 0;
    for (size_t i = 0; i < s->n_workers; i++) {
        const jo_worker_t *w = &s->workers[i];
        if (!jo_is_match(v, w, q, true))
            continue;
        score_pair(s, v, w, true, &out[n], NULL, NULL, cache);
        strcpy(out[n].id, w->id);
        out[n].index = i;
        n++;
    }
    free(cache);
    return finish(out, n, q->limit, n_out);
}
