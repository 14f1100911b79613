/* writer.h - the single LMDB writer and its group commit.
 *
 * Workers submit en_write_t jobs from any thread. The writer thread takes
 * every job queued so far, applies them in submission order inside one
 * write transaction and commits once, so concurrent clients share each
 * fsync. A job's apply() reports a domain failure (not_found, conflict) in
 * job->err without touching the store; a storage failure aborts the batch,
 * which is then retried job by job so that only the job that cannot fit
 * fails. A batch that does not fit the map grows it (ix_grow: doubling, up
 * to the ceiling map_max) and is applied again; only past the ceiling do
 * writes fail with storage_full. Completions go back to each job's worker in submission order.
 *
 * Memory stays bounded: LMDB keeps a write transaction's dirty pages in
 * malloc'd memory and, once it ends, keeps every freed page for the next
 * one until the store is closed. A transaction therefore takes jobs only
 * until they write EN_BATCH_MAX_ENTRIES entries (one larger job runs
 * alone), and once the writer has been idle for a second after a large
 * one (or 5 s after it, under a stream of small writes), it closes and
 * reopens the store to hand those pages back (ix_release_memory). The
 * audit entries of reads, which nobody waits for, may queue only up to
 * EN_QUEUE_MAX_ENTRIES (audit_queue_max): past that, the connection whose
 * read produced them holds them and stops reading until the writer has
 * room (en_writer_offer): back-pressure on that reader alone, never on the
 * event loop it shares with others.
 */
#ifndef JM_ENGINE_WRITER_H
#define JM_ENGINE_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "error.h"
#include "index.h"
#include "message.h"
#include "server.h"
#include "stats.h"

struct en_write {
    en_write_t *next;
    en_conn_t *conn;               /* NULL: nobody waits (audit entries of a
                                      read); the writer frees the job */
    en_worker_t *worker;
    uint64_t req_id;
    int64_t now;
    pr_str_t op;                   /* the operation, for the audit trail */
    char actor[EN_KEY_NAME_MAX];   /* the connection's key name ("" anonymous) */
    unsigned role;                 /* and its role */
    /* Runs on the writer thread inside the batch transaction. Returns 0
     * (job->failed set on a domain error) or a negative errno from the
     * index, which fails the transaction. sbuf is scratch for encoding. */
    int (*apply)(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf);
    /* Runs on the worker thread after a successful commit: packs the
     * result value (the envelope is already begun). */
    void (*reply)(en_write_t *job, msgpack_packer *pk);
    /* A request already answered (a write refused by validation) that
     * waits behind earlier writes: apply is NULL and the packed reply body
     * is kept here until its turn. */
    char *answer;
    size_t answer_len;
    /* With conn NULL: called on the writer thread once the job committed
     * (or failed: job->failed), instead of freeing it; the caller owns the
     * job (the follower of a peer, follow.h). */
    void (*done)(en_write_t *job);
    msgpack_zone *zone;            /* owns the decoded request */
    void *data;                    /* op-specific, freed with free() */
    void (*data_free)(void *data); /* when set, frees what data holds first */
    size_t mem;                    /* bytes the decoded request and data hold, for
                                      the per-connection cap */
    uint32_t entries;              /* records or audit entries it writes (0 counts
                                      as 1): bounds each transaction */
    uint64_t started_ns;           /* when the request was read (en_stats_clock) */
    size_t stats_slot;             /* its operation, for the request counts */
    struct en_conn *held_by;       /* audit entries held for the writer's room:
                                      the connection that waits (NULL once it
                                      is gone) */
    bool failed;
    pr_error_t err;
    struct {
        bool created;
        uint32_t count, created_n, replaced_n;
        pr_str_t id;
    } result;
};

typedef struct en_writer_stats {
    uint64_t commits;
    uint64_t writes;               /* client writes answered */
    en_hist_sum_t batch;           /* jobs applied per commit */
    uint64_t audit_jobs;           /* audit entries of reads, as jobs */
    uint64_t audit_lost;           /* of those, failed to commit */
    uint64_t audit_waits;          /* of those, held until the queue had room */
} en_writer_stats_t;

/* A bulk import's records change pages all over the indexes, and each
 * commit rewrites every page it changed: with up to 65,536 records per
 * transaction a million vacancies import in 28-33 s instead of the 49-50 s
 * of 8,192, at about 620 MB outside the map while it runs
 * (bench/README.md). */
#define EN_BATCH_MAX_ENTRIES 65536u
#define EN_QUEUE_MAX_ENTRIES 32768u

/* queue_max: audit entries of reads queued at most (0: EN_QUEUE_MAX_ENTRIES).
 * audit_retention_days: the writer removes audit entries older than this,
 * a transaction's worth at a time between jobs (0: kept for good).
 * commit_delay_ms: for tests only, every commit waits this long first (a
 * slow disk). */
en_writer_t *en_writer_start(ix_env_t *ix, uint64_t map_max, uint64_t queue_max,
                             unsigned audit_retention_days, unsigned commit_delay_ms);
/* Queues job. A job that nobody waits for (no conn, no done: audit entries
 * of reads) waits first while the queue is full: only for threads that
 * serve no connection (an event loop uses en_writer_offer). */
void en_writer_submit(en_writer_t *wr, en_write_t *job);
/* Queues the audit entries of a read unless the queue is full. When full,
 * returns false without taking the job, and calls en_worker_room(w) once
 * the queue has room again (or the writer stops). `again`: the job was
 * refused before (counted once in audit_waits). */
bool en_writer_offer(en_writer_t *wr, en_write_t *job, en_worker_t *w, bool again);
/* Counts a read whose entries are held without an offer (behind others
 * held already, so that they keep their order). */
void en_writer_note_wait(en_writer_t *wr);
/* Finishes every queued job, then stops and frees the writer. */
void en_writer_stop(en_writer_t *wr);
void en_writer_stats(en_writer_t *wr, en_writer_stats_t *out);

/* Makes a job that only carries an already packed reply body (copied)
 * through the queue, so it is sent in order. NULL when out of memory. */
en_write_t *en_job_answered(en_conn_t *conn, const void *body, size_t len);

/* Frees a job and everything it owns. */
void en_write_free(en_write_t *job);

#endif
