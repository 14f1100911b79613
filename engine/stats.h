/* stats.h - what the daemon counts about itself: per operation, requests,
 * errors by code and a latency histogram; connections; the writer's
 * commits and batch sizes.
 *
 * Each worker thread owns an en_stats_t and is the only one to write it,
 * with relaxed atomic stores, so the hot path takes no lock and shares no
 * cache line with another thread. A reader (admin.stats, the metrics
 * endpoint) merges every thread's copy into an en_report_t.
 *
 * A histogram is log-linear: below 8 every value has its own bucket;
 * above, each power of two is cut into 8 equal buckets, so a percentile
 * read back (the upper bound of its bucket, never above the maximum seen)
 * is at most 12.5% above the true value. Values up to 2^41 (about 36
 * minutes in nanoseconds) are told apart; larger ones share the last
 * bucket.
 */
#ifndef JM_ENGINE_STATS_H
#define JM_ENGINE_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "index.h"

#define EN_HIST_BUCKETS 312

typedef struct en_hist {
    atomic_uint_fast64_t count, sum, max;
    atomic_uint_fast64_t buckets[EN_HIST_BUCKETS];
} en_hist_t;

/* Adds one value. One writer per histogram; readers may run meanwhile. */
void en_hist_add(en_hist_t *h, uint64_t v);

/* A merged view of one or more histograms. */
typedef struct en_hist_sum {
    uint64_t count, sum, max;
    uint64_t buckets[EN_HIST_BUCKETS];
} en_hist_sum_t;

void en_hist_merge(en_hist_sum_t *into, const en_hist_t *h);
/* The value below which a fraction q (0 < q <= 1) of the values lie, as
 * the upper bound of its bucket (at most max); 0 when empty. */
uint64_t en_hist_quantile(const en_hist_sum_t *s, double q);

/* One worker thread's counts: a slot per operation of the command table,
 * then one for requests that name no known operation (unknown op, or an
 * envelope that could not be read). */
typedef struct en_op_stats {
    atomic_uint_fast64_t errors[PR_CODE_COUNT];
    en_hist_t latency;             /* nanoseconds; count = requests */
} en_op_stats_t;

typedef struct en_stats en_stats_t;

en_stats_t *en_stats_new(void);
void en_stats_free(en_stats_t *s);

/* The slot of "no known operation". */
size_t en_stats_other_slot(void);

/* Records one answered request: its operation's slot (en_commands()
 * index, or en_stats_other_slot()), the error code it was answered with
 * (PR_OK for a success) and how long it took from reading to answering,
 * in nanoseconds. Called by the thread that owns s. */
void en_stats_request(en_stats_t *s, size_t slot, pr_code_t code,
                      uint64_t ns);

/* Monotonic nanoseconds, for timing requests. */
uint64_t en_stats_clock(void);

/* ---- the merged report ------------------------------------------------ */

typedef struct en_op_report {
    const char *name;              /* the operation, or "other" */
    uint64_t requests, errors;
    uint64_t by_code[PR_CODE_COUNT];
    en_hist_sum_t latency;
} en_op_report_t;

/* Adds one thread's counts of slot to into (zeroed by the caller first). */
void en_stats_merge(en_op_report_t *into, const en_stats_t *s, size_t slot);

struct en_server;

typedef struct en_report {
    size_t n_ops;
    en_op_report_t *ops;           /* slot order */
    uint64_t connections, connections_total, connections_refused;
    uint64_t commits, fsyncs, writes;
    en_hist_sum_t batch;           /* jobs applied per commit */
    uint64_t audit_jobs, audit_lost, audit_waits;
    ix_stats_t store;
    int64_t uptime, started;
    /* Network-wide requests (engine/federate.h). */
    uint64_t network_requests, network_ranked_again;
    unsigned n_peers;
    struct {
        const char *name;          /* the [peers] line's name */
        uint64_t missing;
    } peers[EN_MAX_PEERS];
} en_report_t;

/* Gathers everything (reads the store's counters in a read transaction).
 * Returns 0, or a negative errno from the index. Free with
 * en_report_free. */
int en_report(struct en_server *srv, en_report_t *out);
void en_report_free(en_report_t *r);

#endif
