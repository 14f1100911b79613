/* hit_merge.h - the second round of a federated match (federate.h): every
 * node's best matches, ranked with the union's N and df, made one list.
 */
#ifndef JM_ENGINE_HIT_MERGE_H
#define JM_ENGINE_HIT_MERGE_H

#include <stdint.h>

#include <msgpack.h>

#include "record.h"

typedef struct en_fed_hit {
    double score;
    int from;                      /* participant: 0 = this node, 1 + peer */
    char id[PR_ID_MAX + 1];
    char origin[PR_ID_MAX + 1];
} en_fed_hit_t;

/* Reads a peer's match.vacancies answer (its "matches", each with its
 * origin) as participant from's hits: *out (malloc'd, the caller frees
 * it) and *n. 0, or -1 when it does not read as one or out of memory. */
int en_fed_hits_decode(const msgpack_object *res, int from, en_fed_hit_t **out, uint32_t *n);

/* Merges the np participants' hits in place: a match whose origin node
 * answered (answered[i]: participant i's node id, NULL when it did not
 * answer) is taken from that node's answer only (a copy elsewhere may lag
 * behind it); the rest are told apart by id. Then ranked as ranking
 * version 1 orders. Returns how many lead the array, at most limit. */
uint32_t en_fed_hits_merge(en_fed_hit_t *hits, uint32_t n_hits, uint32_t limit,
                           const char *const *answered, uint32_t np);

/* How deep participant `who` (which ranked its store depth deep for
 * hits) must rank it again; 0 when its part of the merge is whole. Its
 * copies of a match whose origin node answered, which that answer neither
 * holds at that score nor ranks below limit of the origin's own matches,
 * lag behind their origin (a vacancy filled or changed there): the merge
 * drops them, and each may have kept one of its other matches out of its
 * answer. Ranking limit plus that many deep brings those back
 * (docs/network.md); a participant asked again already goes at least
 * twice as deep; never beyond EN_MATCH_DEPTH_MAX. */
uint32_t en_fed_hits_deeper(const en_fed_hit_t *hits, uint32_t n_hits, uint32_t limit,
                            uint32_t depth, const char *const *answered, uint32_t np,
                            int who);

/* "matches": [{"id", "score", "node"}], as match.vacancies answers. */
void en_fed_hits_pack(msgpack_packer *pk, const en_fed_hit_t *hits, uint32_t n);

#endif
