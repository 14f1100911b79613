/* fair.h - job-fair allocation: a many-to-one stable matching of workers
 * to vacancies by worker-proposing deferred acceptance, with preferences
 * from ranking version 1 in each direction (docs/fairs.md).
 *
 * en_fair_build turns the parties taking part into preference lists: a
 * pair is acceptable to both sides exactly when it is a match by the
 * contract's rules (both directions agree on that); the worker ranks its
 * acceptable vacancies by the score match.vacancies would give, the
 * vacancy its workers by the score match.workers would give, ties broken
 * by id as the contract orders matches. en_fair_allocate then runs
 * deferred acceptance on the lists; it knows nothing of records, so the
 * tests can give it any preferences.
 */
#ifndef JM_ENGINE_FAIR_H
#define JM_ENGINE_FAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "index.h"
#include "match.h"

#define EN_FAIR_NONE UINT32_MAX

/* One acceptable pair, in the worker's list. */
typedef struct en_fair_pref {
    uint32_t worker;          /* index into the workers */
    uint32_t vacancy;         /* index into the vacancies */
    double worker_score;      /* how much the worker wants it */
    double vacancy_score;     /* how much the vacancy wants the worker */
} en_fair_pref_t;

/* Preference lists. Workers and vacancies are numbered in id order, so an
 * index comparison is the contract's id tie-break. */
typedef struct en_fair_prefs {
    uint32_t n_workers, n_vacancies;
    uint32_t *capacity;       /* per vacancy: open places */
    uint32_t *start;          /* n_workers + 1 offsets into prefs */
    en_fair_pref_t *prefs;    /* each worker's list, most wanted first */
    uint64_t pairs_scored;    /* candidate pairs the builder looked at */
} en_fair_prefs_t;

/* Builds the lists for workers[] and vacancies[] (each in id order) in
 * txn, which supplies idf. scope and as_of apply as in match.*. Returns 0,
 * -ENOMEM, or a negative errno from the index. */
int en_fair_build(ix_txn_t *txn, const en_party_t *workers, uint32_t n_workers,
                  const en_party_t *vacancies, uint32_t n_vacancies,
                  int scope, int64_t as_of, en_fair_prefs_t *out);
void en_fair_prefs_free(en_fair_prefs_t *p);

/* True when vacancy-side score a for worker wa beats b for worker wb. */
bool en_fair_vacancy_prefers(double a, uint32_t wa, double b, uint32_t wb);

/* Worker-proposing deferred acceptance: assigned[w] is the index in p of
 * the pair worker w holds (EN_FAIR_NONE when unassigned). The result is
 * the worker-optimal stable matching. Returns 0 or -ENOMEM. */
int en_fair_allocate(const en_fair_prefs_t *p, uint32_t *assigned);

#endif
