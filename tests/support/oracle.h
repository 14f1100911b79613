/* oracle.h - a plain reference implementation of matching, ranking
 * version 1 (CONTRACT.md, "Matching, ranking version 1"), for the tests.
 *
 * It works on in-memory arrays of simple structs and checks every rule by
 * brute force over every record, so that it can be read against the
 * contract line by line. It shares no code with the daemon: the tests
 * compare the daemon's answers with this one. Speed does not matter here.
 *
 * Strings are NUL-terminated char arrays inside the structs; nothing here
 * allocates except the store arrays and the result arrays documented below.
 */
#ifndef JM_TESTS_ORACLE_H
#define JM_TESTS_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JO_ID_SIZE 65        /* ids are 1..64 bytes, plus the NUL */
#define JO_MAX_SKILLS 64
#define JO_MAX_DESIRED 16
#define JO_MAX_PRIORITY 5
#define JO_OCC_SIZE 11       /* "D-DD-DD-DD" plus the NUL */
#define JO_REGION_SIZE 7     /* six digits plus the NUL */
#define JO_WORD_SIZE 16      /* enum words: statuses and categories */

typedef struct jo_skill {
    char id[JO_ID_SIZE];
    int level;               /* 1..5 */
} jo_skill_t;

typedef struct jo_vacancy {
    char id[JO_ID_SIZE];
    char employer[129];
    char occupation[JO_OCC_SIZE];
    char region[JO_REGION_SIZE];
    jo_skill_t skills[JO_MAX_SKILLS];
    unsigned n_skills;
    int education_min;
    int age_min, age_max;     /* 0 = no bound */
    int64_t wage_min, wage_max;   /* wage_max 0 = negotiable */
    int64_t headcount, filled;
    char priority[JO_MAX_PRIORITY][JO_WORD_SIZE];
    unsigned n_priority;
    int64_t expires;          /* 0 = never */
    char status[JO_WORD_SIZE];    /* "open" or "closed" */
} jo_vacancy_t;

typedef struct jo_worker {
    char id[JO_ID_SIZE];
    int birth_year;
    char region[JO_REGION_SIZE];
    int education;
    jo_skill_t skills[JO_MAX_SKILLS];
    unsigned n_skills;
    char desired[JO_MAX_DESIRED][JO_OCC_SIZE];
    unsigned n_desired;
    int64_t wage_min;
    char category[JO_WORD_SIZE];
    char status[JO_WORD_SIZE];    /* "available", "employed", "inactive" */
} jo_worker_t;

/* The whole store: every vacancy and every worker, whatever their status.
 * Ids are unique within each array (jo_put_* replaces). */
typedef struct jo_store {
    jo_vacancy_t *vacancies;
    size_t n_vacancies, cap_vacancies;
    jo_worker_t *workers;
    size_t n_workers, cap_workers;
} jo_store_t;

typedef enum jo_scope {
    JO_SCOPE_COUNTY,    /* first 6 digits agree */
    JO_SCOPE_CITY,      /* first 4 */
    JO_SCOPE_PROVINCE,  /* first 2 */
    JO_SCOPE_ALL,
} jo_scope_t;

/* One query's options. limit 0 means "no limit" (the whole ranked list,
 * which the tests need to judge near-ties at the boundary). The filters
 * are the project's additions: NULL / -1 mean "not given". */
typedef struct jo_query {
    jo_scope_t scope;
    unsigned limit;
    int64_t as_of;
    const char *occupation;   /* match.vacancies: vacancy occupation prefix */
    const char *employer;     /* match.vacancies: exact employer */
    int64_t min_wage;         /* match.vacancies: wage_max 0 or >= it; -1 none */
    const char *category;     /* match.workers: exact worker category */
} jo_query_t;

/* A query with the contract's defaults: scope city, limit 20, no filters. */
jo_query_t jo_query_default(int64_t as_of);

/* One ranked match and the parts of its score. */
typedef struct jo_match {
    char id[JO_ID_SIZE];      /* vacancy id (match.vacancies) or worker id */
    double score;
    double skill_part;
    double occ_bonus;
    const char *occ_level;    /* "full", "minor", "middle", "major", "none" */
    double county_bonus;
    double priority_bonus;
    size_t index;             /* index of the record in the store array */
} jo_match_t;

/* One shared skill as the explain map lists it. */
typedef struct jo_skill_part {
    char id[JO_ID_SIZE];
    double idf;
    int worker_level, vacancy_level;
    double contribution;
} jo_skill_part_t;

/* ---- the store ---------------------------------------------------------- */

/* Releases the arrays; the store is empty and reusable afterwards. */
void jo_store_free(jo_store_t *s);

/* Inserts or replaces (by id) a copy of v / w. Returns 0 or -ENOMEM. */
int jo_put_vacancy(jo_store_t *s, const jo_vacancy_t *v);
int jo_put_worker(jo_store_t *s, const jo_worker_t *w);

/* Removes the record with that id. Returns 0 or -ENOENT. The order of the
 * remaining records may change. */
int jo_delete_vacancy(jo_store_t *s, const char *id);
int jo_delete_worker(jo_store_t *s, const char *id);

/* The record with that id, or NULL. Valid until the store changes. */
jo_vacancy_t *jo_find_vacancy(const jo_store_t *s, const char *id);
jo_worker_t *jo_find_worker(const jo_store_t *s, const char *id);

/* ---- the ranking -------------------------------------------------------- */

/* The occupation bonus of one vacancy occupation against a worker's desired
 * list: the best over the list. *level_out (may be NULL) gets its level
 * name and *desired_out (may be NULL) the index of a desired code that
 * reaches it, or -1 when the bonus is 0. */
double jo_occupation_bonus(const jo_worker_t *w, const char *occupation,
                           const char **level_out, int *desired_out);

/* The calendar year (UTC) of t. */
int jo_year_utc(int64_t t);

/* Whether v and w match under rules 1-6 (and the query's filters) for the
 * direction given: for_workers adds "w is available" and the category
 * filter; otherwise the vacancy filters apply. */
bool jo_is_match(const jo_vacancy_t *v, const jo_worker_t *w,
                 const jo_query_t *q, bool for_workers);

/* idf of a skill for a direction, from counts over the whole store. */
double jo_idf_vacancies(const jo_store_t *s, const char *skill);
double jo_idf_workers(const jo_store_t *s, const char *skill);

/* Fills *m with the score and its parts for the pair (no rule check) and,
 * when parts is non-NULL, the shared skills in the vacancy's skill order
 * (at most JO_MAX_SKILLS entries) with their count in *n_parts. */
void jo_score(const jo_store_t *s, const jo_vacancy_t *v,
              const jo_worker_t *w, bool for_workers, jo_match_t *m,
              jo_skill_part_t *parts, unsigned *n_parts);

/* match.vacancies for worker or profile w: every matching vacancy of s,
 * ranked, at most q->limit (all when 0). Returns a malloc'd array the
 * caller frees (NULL with *n_out 0 when there is none). */
jo_match_t *jo_match_vacancies(const jo_store_t *s, const jo_worker_t *w,
                               const jo_query_t *q, size_t *n_out);

/* match.workers for vacancy v: every matching worker, ranked, as above. */
jo_match_t *jo_match_workers(const jo_store_t *s, const jo_vacancy_t *v,
                             const jo_query_t *q, size_t *n_out);

#endif
