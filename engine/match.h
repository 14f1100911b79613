/* match.h - ranking version 1: which vacancies fit a worker and which
 * workers fit a vacancy, best first, computed over the index's postings.
 *
 * A query is made of a probe (the worker of match.vacancies, the vacancy
 * of match.workers) and options. Both sides are seen as en_party_t, built
 * from a stored record or from a request's record. The scoring function is
 * the one place where the contract's rules and score are written down;
 * the search only decides which candidates it needs to score (see
 * docs/matching.md).
 */
#ifndef JM_ENGINE_MATCH_H
#define JM_ENGINE_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "index.h"
#include "record.h"

/* One side of a pair, as matching sees it. Strings point into whatever
 * the party was built from and must outlive it. */
typedef struct en_party {
    uint8_t kind;                   /* IX_VACANCY or IX_WORKER */
    const char *id;                 /* NULL for a profile */
    uint32_t id_len;
    char region[6];
    uint8_t status;
    uint8_t category;               /* worker */
    uint32_t filled;                /* vacancy */
    ix_match_t m;
    uint32_t n_occ;                 /* vacancy: 1; worker: desired codes */
    const char *occ[IX_OCCUPATIONS_MAX];
    uint32_t occ_len[IX_OCCUPATIONS_MAX];
    uint32_t n_skills;
    ix_skill_t skills[IX_SKILLS_MAX];
} en_party_t;

void en_party_from_record(en_party_t *p, const ix_record_t *rec);
void en_party_from_worker(en_party_t *p, const pr_worker_t *w);
void en_party_from_vacancy(en_party_t *p, const pr_vacancy_t *v);

/* Scopes, by the number of region digits that must agree. */
enum en_scope {
    EN_SCOPE_ALL = 0,
    EN_SCOPE_PROVINCE = 2,
    EN_SCOPE_CITY = 4,
    EN_SCOPE_COUNTY = 6,
};
/* Parses "county", "city", "province" or "all"; -1 otherwise. */
int en_scope_parse(pr_str_t s);
const char *en_scope_name(int scope);

/* Filters beyond the contract's rules (the project's additions). */
typedef struct en_match_filters {
    pr_str_t occupation;     /* vacancies whose occupation starts with it */
    pr_str_t employer;       /* vacancies of exactly this employer */
    int64_t min_wage;        /* vacancies with wage_max 0 or >= this; 0 = off */
    int category;            /* workers of this category; -1 = off */
} en_match_filters_t;

#define EN_MATCH_LIMIT_MAX 200  /* a client's limit at most */
/* How deep a search ranks at most: a node of the network asks a peer
 * (match.vacancies with network_counts) deeper than any client's limit
 * when copies of vacancies lag (docs/network.md). */
#define EN_MATCH_DEPTH_MAX 1000

/* Memory a thread reuses across queries. Not shared between threads. */
typedef struct en_match_scratch en_match_scratch_t;
en_match_scratch_t *en_match_scratch_new(void);
void en_match_scratch_free(en_match_scratch_t *sc);

typedef struct en_match_query {
    const en_party_t *probe;
    int scope;               /* enum en_scope */
    uint32_t limit;          /* 1..EN_MATCH_DEPTH_MAX */
    int64_t as_of;
    en_match_filters_t filters;
    en_match_scratch_t *scratch;
    /* The idf of each of the probe's skills, when the caller has them
     * (federated matching: over the union of several stores); NULL = from
     * this store's counts. */
    const double *idf;
} en_match_query_t;

/* The parts of one pair's score; they add up to `score`. */
typedef struct en_breakdown {
    uint32_t n_shared;
    struct {
        const char *id;
        uint32_t id_len;
        double idf;
        uint8_t worker_level, vacancy_level;
        double contribution;
    } shared[IX_SKILLS_MAX];
    double skill_part;
    double occupation_bonus;
    const char *occupation_level;    /* "full", "minor", "middle", "major", "none" */
    const char *desired;             /* the desired code that gave the bonus */
    uint32_t desired_len;
    double county_bonus;
    double priority_bonus;
    double score;
} en_breakdown_t;

typedef struct en_match_hit {
    double score;
    uint64_t docno;
    uint32_t id_len;
    char id[IX_ID_MAX];
} en_match_hit_t;

typedef struct en_match_result {
    uint32_t n;
    en_match_hit_t hits[EN_MATCH_DEPTH_MAX];
    /* What the search did, for docs/matching.md and the benchmark. */
    uint64_t postings_seen, candidates_scored;
    uint32_t terms;              /* terms walked */
} en_match_result_t;

/* Ranks two scores as ranking version 1 does: < 0 when a ranks before b
 * (it is higher), > 0 when b does, 0 when they tie and the ids decide.
 * Scores equal as the contract's real numbers tie: the same contributions
 * summed in another order (each record lists its skills in its own order)
 * can differ in their last bits, so scores within a relative 1e-12 of
 * each other tie. Distinct sums of logarithms of a store's counts are
 * much farther apart than that, which is what keeps the relation an
 * order in practice: three scores each within the tolerance of the next
 * but not of the last would make it intransitive. */
int en_score_order(double a, double b);

/* Runs a query in a read transaction. Returns 0 or a negative errno from
 * the index. */
int en_match_run(ix_txn_t *txn, const en_match_query_t *q,
                 en_match_result_t *out);

/* Scores one pair: idf comes from the counts of the side being searched
 * (vacancies for a worker probe). Returns true when every rule of ranking
 * version 1 holds under `scope` and `as_of`; fills *b (which may be NULL)
 * either way. */
bool en_match_pair(ix_txn_t *txn, const en_party_t *worker,
                   const en_party_t *vacancy, uint8_t searched_kind,
                   int scope, int64_t as_of, en_breakdown_t *b);

/* idf(s) = ln(1 + N / df(s)) of ranking version 1; 0 when df is 0. */
double en_idf(uint64_t n, uint64_t df);

/* Packs a breakdown as the wire's "explain" map. */
void en_pack_breakdown(msgpack_packer *pk, const en_breakdown_t *b);

#endif
