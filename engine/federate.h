/* federate.h - federated matching (match.vacancies with scope "network")
 * and the network roll-ups of stats.supply_demand and stats.reemployment:
 * this node and every peer of [peers] are asked in parallel, each over a
 * connection of its own (peer.h; kept for later requests when its calls
 * end cleanly), within federation_timeout_ms; a peer that does not answer
 * in time, or fails, is named in the reply and the rest still comes back.
 * The work runs on a thread of its own, never on an event loop; the
 * request is answered through its worker when it ends (docs/network.md).
 *
 * Matching is exact with respect to the union of the nodes' stores:
 * phase 1 gathers every node's open vacancies and df per origin node
 * (match.counts) and adds them up origin by origin, so that a vacancy held
 * by several nodes (a city's own and the province's copy) counts once;
 * phase 2 has every node rank with that N and df (network_counts) and the
 * answers are merged, each match taken from its origin node's answer when
 * that node answered.
 */
#ifndef JM_ENGINE_FEDERATE_H
#define JM_ENGINE_FEDERATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "config.h"
#include "match.h"

/* The federated requests running, which a shutdown waits for. */
typedef struct en_federation {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    unsigned running;
    struct fed *reqs;             /* those running, to cut at shutdown */
    bool stopping;                /* shutting down: new ones are cut at once */
    struct fed_pool *pool;        /* connections kept between requests */
    /* What the requests did, for admin.stats and the metrics. */
    _Atomic uint64_t requests;            /* network-wide requests answered */
    _Atomic uint64_t ranked_again;        /* answers ranked again, deeper */
    _Atomic uint64_t missing[EN_MAX_PEERS];  /* by [peers] line: requests it left out */
} en_federation_t;

/* At most this many federated requests run at once; more are overloaded. */
#define EN_FEDERATION_MAX 16

void en_federation_init(en_federation_t *f);
/* Shutdown: every request running, and any begun from now on, stops
 * waiting for its peers (their connections are cut, they are named
 * missing) and is answered with what came back, well within the drain. */
void en_federation_cut(en_federation_t *f);
/* Waits for every federated request to end (each is bounded by its
 * deadline), then frees what init made. */
void en_federation_finish(en_federation_t *f);

struct en_req;

/* Options of a federated match.vacancies, as the handler validated them. */
typedef struct en_fed_match {
    const pr_worker_t *profile;  /* the worker side, personal fields and id unused */
    uint32_t limit;
    int64_t as_of;
    en_match_filters_t filters;
} en_fed_match_t;

/* Starts a federated match.vacancies for req (marking it background). 0,
 * or -1 with req->err set (nothing started). */
int en_federate_match(struct en_req *req, const en_fed_match_t *m);

/* Starts the network roll-up of stats.supply_demand for req: every peer
 * is sent the same arguments with "own": true. 0, or -1 with req->err set. */
int en_federate_supply_demand(struct en_req *req);
/* The same for stats.reemployment; the peers are sent the same arguments
 * (a node's workers and hires are always its own). */
int en_federate_reemployment(struct en_req *req);

#endif
