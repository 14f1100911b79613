/* match_rules.h - private to the matching files (match.c, match_search.c,
 * ops_match.c, fair.c, ops_fair.c, alerts.c, ops_alerts.c): ranking
 * version 1's rules and score, shared by the search, the explanations,
 * job-fair preferences and match alerts, so that there is one statement
 * of the contract. */
#ifndef JM_ENGINE_MATCH_RULES_H
#define JM_ENGINE_MATCH_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "match.h"

#define BONUS_FULL 2.0
#define BONUS_MINOR 1.2
#define BONUS_MIDDLE 0.6
#define BONUS_MAJOR 0.2
#define BONUS_COUNTY 0.5
#define BONUS_PRIORITY 0.5

/* Score comparisons allow for the rounding of sums taken in another order. */
#define EPS 1e-9

/* The calendar year (UTC) of a Unix time. */
int en_utc_year(int64_t t);

/* The occupation bonus of desired code d against a vacancy's code; *level
 * names it ("full", "minor", "middle", "major", "none"). */
double en_code_bonus(const char *d, uint32_t dlen, const char *vocc,
                     uint32_t vlen, const char **level);

/* Rules 1-5 of the contract (rule 6 comes with the score). */
bool en_rules_hold(const en_party_t *w, const en_party_t *v,
                   bool worker_available, int scope, int64_t as_of);

/* The score of a pair; idf[i] belongs to the probe's skill i. Sets *rule6
 * (a shared skill, or an occupation bonus of at least 1.2) and fills b
 * when it is not NULL. */
double en_score_pair(const en_party_t *w, const en_party_t *v,
                     const en_party_t *probe, const double *idf,
                     en_breakdown_t *b, bool *rule6);

/* idf of each probe skill, over the searched kind's matchable records. */
int en_probe_idf(ix_txn_t *txn, const en_party_t *probe, uint8_t searched,
                 double *idf);

/* Reads args.scope into *scope, which keeps its value when absent. Returns
 * 0, or -1 with req->err set. */
struct en_req;
int en_match_read_scope(struct en_req *req, int *scope);

/* Reads the project's match filters from req's args: occupation, employer
 * and min_wage when searching vacancies, else category. Returns 0, or -1
 * with req->err set. */
int en_match_read_filters(struct en_req *req, bool searching_vacancies,
                          en_match_filters_t *f);

#endif
