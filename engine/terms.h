/* terms.h - the terms of a set of parties (their skills and the minor
 * occupation groups of their codes), sorted so that the parties sharing a
 * term with another party are found by binary search.
 *
 * Rule 6 of ranking version 1 needs a shared skill or an occupation bonus
 * of at least 1.2 (agreement on the minor group), so the parties sharing
 * a term with a probe are the only ones that can match it: job fairs and
 * match alerts score those and nothing else.
 */
#ifndef JM_ENGINE_TERMS_H
#define JM_ENGINE_TERMS_H

#include <stdint.h>

#include "match.h"

typedef struct en_term en_term_t;

typedef struct en_terms {
    en_term_t *t;
    size_t n, cap;
} en_terms_t;

/* Adds the terms of party p under number `index`; strings must outlive
 * the table. Returns 0 or -ENOMEM. */
int en_terms_add(en_terms_t *ts, const en_party_t *p, uint32_t index);
/* Sorts the table; call after the last add and before looking up. */
void en_terms_sort(en_terms_t *ts);
void en_terms_free(en_terms_t *ts);

/* Writes to out the distinct numbers of the parties sharing a term with p
 * and returns how many. mark (one slot per number, kept by the caller
 * across calls) and a stamp different on every call tell which were seen;
 * out must have room for every number. */
uint32_t en_terms_candidates(const en_terms_t *ts, const en_party_t *p,
                             uint32_t *mark, uint32_t stamp, uint32_t *out);

#endif
