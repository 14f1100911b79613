/* node_counts.h - the counts round of federated matching (federate.h):
 * every node tells, per origin node, how many open vacancies it holds and
 * how many of them require each of the probe's skills (match.counts);
 * the coordinator adds these up origin by origin, so that a vacancy held
 * by several nodes counts once, and hands the sums to every node as
 * match.vacancies's network_counts.
 */
#ifndef JM_ENGINE_NODE_COUNTS_H
#define JM_ENGINE_NODE_COUNTS_H

#include <stdint.h>

#include <msgpack.h>

#include "index.h"
#include "match.h"
#include "record.h"

/* What one node holds of each origin: open vacancies and, per skill of a
 * probe (in the probe's order), how many of them require it. */
typedef struct en_origin_count {
    char origin[PR_ID_MAX + 1];
    uint64_t open;
    uint64_t df[IX_SKILLS_MAX];
} en_origin_count_t;

typedef struct en_node_counts {
    uint32_t n;
    en_origin_count_t *o;     /* n entries, malloc'd */
} en_node_counts_t;

/* Reads this node's counts per origin for skills (self: this node's id,
 * which vacancies stored without an origin count under). 0, or a negative
 * errno (from the index, or -ENOMEM). */
int en_node_counts_read(ix_txn_t *txn, const char *self, const ix_skill_t *skills,
                        uint32_t n_skills, en_node_counts_t *out);
/* {"node": self, "origins": [{"origin", "open", "df": [...]}]}, match.counts's result. */
void en_node_counts_pack(msgpack_packer *pk, const char *self, const en_node_counts_t *c,
                         uint32_t n_skills);
void en_node_counts_free(en_node_counts_t *c);
/* The most origins a peer's match.counts answer may list: one per node of
 * the network (docs/network.md). More is a faulty or hostile peer, refused
 * before anything is allocated for them. */
#define EN_COUNTS_ORIGINS_MAX 1024u

/* Reads a peer's match.counts result for n_skills skills into out. 0, or
 * -E2BIG when it lists more than EN_COUNTS_ORIGINS_MAX origins, or -1 when
 * it does not read as one (a df above its open too); out is empty then. */
int en_node_counts_decode(const msgpack_object *res, uint32_t n_skills, en_node_counts_t *out);

/* N and df (n_skills entries) over the union of the np nodes' counts
 * c[i] (NULL: node[i] did not answer): per origin, the figures of the
 * origin node itself when it answered, else those of the answering holder
 * with the most of that origin's open vacancies (the freshest copy). The
 * sums stop at INT64_MAX (what network_counts accepts) rather than wrap. */
void en_node_counts_union(const en_node_counts_t *const *c, const char *const *node, uint32_t np,
                          uint32_t n_skills, uint64_t *n, uint64_t *df);

/* Reads match.vacancies's network_counts ({"open": N, "df": {skill: df}})
 * into the idf of each of the probe's skills (a skill it does not name has
 * df 0). 0, or -1 with err set. */
int en_network_counts_read(const msgpack_object *nc, const en_party_t *probe, double *idf,
                           pr_error_t *err);

#endif
