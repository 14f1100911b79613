/* rollup.h - the network roll-ups (federate.h): each node's own figures
 * added up into the network's. stats.supply_demand's "groups" and
 * "total" group label by group label; stats.reemployment's "categories"
 * and "total" category by category. The packers are also what a node
 * answers for itself with, so both answers have one shape.
 */
#ifndef JM_ENGINE_ROLLUP_H
#define JM_ENGINE_ROLLUP_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "record.h"

typedef struct en_rollup_group {
    char group[PR_OCCUPATION_LEN];
    uint32_t len;
    uint64_t v[3];                 /* openings, vacancies, applicants */
} en_rollup_group_t;

/* Zeroed to start. */
typedef struct en_rollup {
    en_rollup_group_t *groups;     /* malloc'd */
    uint32_t n, cap;
    uint64_t total[3];             /* openings, vacancies, applicants */
} en_rollup_t;

/* Adds one node's stats.supply_demand result; false when it does not
 * read as one, or out of memory. */
bool en_rollup_add(en_rollup_t *r, const msgpack_object *res);
/* Puts the groups in label order, equal labels added up. */
void en_rollup_fold(en_rollup_t *r);
/* One group's figures (openings, vacancies, applicants) and their ratio,
 * "group" first, as stats.supply_demand answers them; the total's when
 * group is NULL. */
void en_rollup_pack_figures(msgpack_packer *pk, const char *group, uint32_t len,
                            const uint64_t v[3]);
/* "groups" and "total" (two keys of the reply's map) as
 * stats.supply_demand packs them, each with its ratio. */
void en_rollup_pack(msgpack_packer *pk, const en_rollup_t *r);
void en_rollup_free(en_rollup_t *r);

/* stats.reemployment's figures: workers registered and hires, by worker
 * category. Zeroed to start. */
typedef struct en_reemp_sums {
    uint64_t registered[PR_CAT_COUNT], hired[PR_CAT_COUNT];
} en_reemp_sums_t;

/* Adds one node's stats.reemployment result; false when it does not read
 * as one (every category once, with its figures). */
bool en_reemp_add(en_reemp_sums_t *r, const msgpack_object *res);
/* "categories" (in the contract's order) and "total", each with its
 * rate: two keys of the reply's map. */
void en_reemp_pack(msgpack_packer *pk, const en_reemp_sums_t *r);

#endif
