/* stats.c - per-thread request counters and histograms, merged on read. */
#include "stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "server.h"
#include "writer.h"

#define SUB_BITS 3
#define SUB (1u << SUB_BITS)

struct en_stats {
    size_t n;
    en_op_stats_t ops[];
};

static size_t
bucket_of(uint64_t v)
{
    if (v < SUB)
        return (size_t)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    size_t b = (size_t)(msb - SUB_BITS + 1) * SUB + ((v >> (msb - SUB_BITS)) & (SUB - 1));
    return b < EN_HIST_BUCKETS ? b : EN_HIST_BUCKETS - 1;
}

/* The largest value bucket b holds. */
static uint64_t
bucket_top(size_t b)
{
    if (b < SUB)
        return b;
    unsigned msb = (unsigned)(b / SUB) + SUB_BITS - 1;
    uint64_t sub = b % SUB;
    return ((SUB + sub + 1) << (msb - SUB_BITS)) - 1;
}

/* Single writer: a load and a store are enough, and cheaper than a
 * locked read-modify-write. */
static inline void
bump(atomic_uint_fast64_t *a, uint64_t by)
{
    atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

void
en_hist_add(en_hist_t *h, uint64_t v)
{
    bump(&h->buckets[bucket_of(v)], 1);
    bump(&h->sum, v);
    if (v > atomic_load_explicit(&h->max, memory_order_relaxed))
        atomic_store_explicit(&h->max, v, memory_order_relaxed);
    bump(&h->count, 1);
}

void
en_hist_merge(en_hist_sum_t *into, const en_hist_t *h)
{
    /* Counted from the buckets, so that count and buckets agree even when
     * the owner adds a value meanwhile. */
    for (size_t b = 0; b < EN_HIST_BUCKETS; b++) {
        uint64_t n = atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
        into->buckets[b] += n;
        into->count += n;
    }
    into->sum += atomic_load_explicit(&h->sum, memory_order_relaxed);
    uint64_t max = atomic_load_explicit(&h->max, memory_order_relaxed);
    if (max > into->max)
        into->max = max;
}

uint64_t
en_hist_quantile(const en_hist_sum_t *s, double q)
{
    if (s->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)s->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->count)
        rank = s->count;
    uint64_t seen = 0;
    for (size_t b = 0; b < EN_HIST_BUCKETS; b++) {
        seen += s->buckets[b];
        if (seen >= rank) {
            uint64_t top = bucket_top(b);
            /* The last bucket is open-ended. */
            return top < s->max && b < EN_HIST_BUCKETS - 1 ? top : s->max;
        }
    }
    return s->max;
}

size_t
en_stats_other_slot(void)
{
    size_t n;
    en_commands(&n);
    return n;
}

en_stats_t *
en_stats_new(void)
{
    size_t n = en_stats_other_slot() + 1;
    en_stats_t *s = calloc(1, sizeof *s + n * sizeof s->ops[0]);
    if (s)
        s->n = n;
    return s;
}

void
en_stats_free(en_stats_t *s)
{
    free(s);
}

void
en_stats_request(en_stats_t *s, size_t slot, pr_code_t code, uint64_t ns)
{
    if (!s || slot >= s->n)
        return;
    en_op_stats_t *op = &s->ops[slot];
    if (code != PR_OK && (unsigned)code < PR_CODE_COUNT)
        bump(&op->errors[code], 1);
    en_hist_add(&op->latency, ns);
}

uint64_t
en_stats_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
en_stats_merge(en_op_report_t *into, const en_stats_t *s, size_t slot)
{
    if (!s || slot >= s->n)
        return;
    const en_op_stats_t *op = &s->ops[slot];
    en_hist_merge(&into->latency, &op->latency);
    into->requests = into->latency.count;
    for (unsigned c = 1; c < PR_CODE_COUNT; c++) {
        uint64_t n = atomic_load_explicit(&op->errors[c], memory_order_relaxed);
        into->by_code[c] += n;
        into->errors += n;
    }
}

int
en_report(en_server_t *srv, en_report_t *out)
{
    memset(out, 0, sizeof *out);
    size_t n_cmds;
    const en_command_t *cmds = en_commands(&n_cmds);
    out->n_ops = n_cmds + 1;
    out->ops = calloc(out->n_ops, sizeof *out->ops);
    if (!out->ops)
        return -ENOMEM;
    for (size_t i = 0; i < out->n_ops; i++) {
        en_op_report_t *r = &out->ops[i];
        r->name = i < n_cmds ? cmds[i].name : "other";
        for (unsigned w = 0; w < srv->n_workers; w++)
            en_stats_merge(r, srv->workers[w].stats, i);
    }
    out->connections = atomic_load(&srv->connections);
    out->connections_total = atomic_load(&srv->connections_total);
    out->connections_refused = atomic_load(&srv->connections_refused);
    en_writer_stats_t ws;
    en_writer_stats(srv->writer, &ws);
    out->commits = ws.commits;
    out->writes = ws.writes;
    out->batch = ws.batch;
    out->audit_jobs = ws.audit_jobs;
    out->audit_lost = ws.audit_lost;
    out->audit_waits = ws.audit_waits;
    /* LMDB flushes the data file once per commit unless told not to. */
    out->fsyncs = srv->cfg->sync == IX_SYNC_NONE ? 0 : ws.commits;
    out->started = srv->started;
    out->uptime = en_now() - srv->started;
    en_federation_t *f = &srv->federation;
    out->network_requests = atomic_load_explicit(&f->requests, memory_order_relaxed);
    out->network_ranked_again = atomic_load_explicit(&f->ranked_again, memory_order_relaxed);
    out->n_peers = srv->cfg->n_peers < EN_MAX_PEERS ? srv->cfg->n_peers : EN_MAX_PEERS;
    for (unsigned i = 0; i < out->n_peers; i++) {
        out->peers[i].name = srv->cfg->peers[i].name;
        out->peers[i].missing = atomic_load_explicit(&f->missing[i], memory_order_relaxed);
    }
    ix_txn_t *txn;
    int rc = ix_read_begin(srv->ix, &txn);
    if (rc == 0) {
        rc = ix_stats(txn, &out->store);
        ix_read_end(txn);
    }
    if (rc != 0) {
        en_report_free(out);
        return rc;
    }
    return 0;
}

void
en_report_free(en_report_t *r)
{
    free(r->ops);
    r->ops = NULL;
    r->n_ops = 0;
}
