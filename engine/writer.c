/* writer.c - the single LMDB writer thread and its group commit. */
#include "writer.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "conn.h"

#include "log.h"

/* How long a transaction keeps taking writes that arrive meanwhile. */
#define EN_BATCH_MAX_NS (250 * 1000 * 1000L)

/* The longest a batch waits for more writes to join it (see gather). */
#define EN_GATHER_NS (1000 * 1000L)

/* How long audit entries of reads, which nobody waits for, wait for more
 * to share their commit (see linger). */
#define EN_AUDIT_LINGER_NS (20 * 1000 * 1000L)

/* Audit entries of reads linger (see linger) until this many are queued. */
#define EN_LINGER_MAX_ENTRIES 8192u

/* A large transaction leaves its dirty pages in LMDB's heap, and a bulk
 * load the freed request buffers in the allocator's: once the writer has
 * had nothing to do for EN_RELEASE_IDLE_NS after a transaction of at least
 * EN_RELEASE_AFTER_ENTRIES entries, it hands both back to the system
 * (ix_release_memory, then malloc_trim). Under a steady stream of small
 * writes it never idles that long, so it also does so between two batches
 * once EN_RELEASE_BUSY_NS have passed without another large one. */
#define EN_RELEASE_IDLE_NS (1000 * 1000 * 1000L)
#define EN_RELEASE_BUSY_NS (5 * 1000 * 1000 * 1000L)
#define EN_RELEASE_AFTER_ENTRIES 8192u

/* With an audit retention set, the writer removes the entries older than
 * it at most EN_PRUNE_MAX_ENTRIES per transaction, between jobs, and
 * looks for more every EN_PRUNE_EVERY_NS. */
#define EN_PRUNE_MAX_ENTRIES 8192u
#define EN_PRUNE_EVERY_NS (60 * 1000 * 1000 * 1000L)

struct en_writer {
    ix_env_t *ix;
    uint64_t map_max;        /* the map grows up to this */
    uint64_t queue_max;      /* audit entries of reads queued at most */
    unsigned commit_delay_ms;  /* tests only: every commit waits this long */
    bool at_ceiling_told;    /* the log said so once */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t room;     /* the queue's entries fell below the cap */
    en_write_t *head, *tail;
    unsigned queued;         /* jobs in head..tail */
    unsigned awaited;        /* of those, jobs someone waits for (not read audits) */
    uint64_t queued_entries; /* their entries (job_entries) */
    unsigned last_batch;     /* awaited jobs in the previous batch */
    uint64_t largest;        /* entries of the largest transaction since the
                                last release of memory */
    int64_t large_at;        /* now_ns() of the last transaction of at least
                                EN_RELEASE_AFTER_ENTRIES */
    int64_t audit_retention_s; /* audit entries older than this go; 0 = kept */
    int64_t prune_due;       /* now_ns() when to look for them next */
    en_worker_t *room_waiters; /* workers holding audit entries for room */
    bool stop;
    msgpack_sbuffer sbuf;
    atomic_uint_fast64_t commits, writes, audit_jobs, audit_lost, audit_waits;
    en_log_limit_t lost_log; /* the lines saying read entries were lost */
    en_hist_t batch;
};

en_write_t *
en_job_answered(en_conn_t *conn, const void *body, size_t len)
{
    en_write_t *job = calloc(1, sizeof *job);
    char *copy = malloc(len);
    if (!job || !copy) {
        free(job);
        free(copy);
        return NULL;
    }
    memcpy(copy, body, len);
    job->conn = conn;
    job->worker = conn->worker;
    job->answer = copy;
    job->answer_len = len;
    return job;
}

void
en_write_free(en_write_t *job)
{
    free(job->answer);
    if (job->zone)
        msgpack_zone_free(job->zone);
    if (job->data_free)
        job->data_free(job->data);
    free(job->data);
    free(job);
}

static void
fail_storage(en_write_t *job, int rc)
{
    job->failed = true;
    en_storage_error(&job->err, rc);
}

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint32_t
job_entries(const en_write_t *job)
{
    return job->entries ? job->entries : 1;
}

/* Tells the workers that hold audit entries back (en_writer_offer) that
 * the queue has room again. Called with the lock held. */
static void
tell_room_locked(en_writer_t *wr)
{
    if (wr->queued_entries >= wr->queue_max && !wr->stop)
        return;
    while (wr->room_waiters) {
        en_worker_t *w = wr->room_waiters;
        wr->room_waiters = w->room_next;
        w->room_next = NULL;
        w->wants_room = false;
        en_worker_room(w);
    }
}

/* A job someone waits for: a client's write or one with a done call. */
static bool
awaited(const en_write_t *job)
{
    return job->conn || job->done;
}

/* Detaches the jobs at the head of the queue that write at most `room`
 * entries, and at least one job (NULL when none). Called with wr->lock
 * held. Adds the entries it took to *taken and the awaited jobs among
 * them to *n_awaited. */
static en_write_t *
take_locked(en_writer_t *wr, uint64_t room, uint64_t *taken, unsigned *n_awaited)
{
    en_write_t *first = wr->head, *last = NULL;
    uint64_t sum = 0;
    unsigned n = 0, n_aw = 0;
    for (en_write_t *j = first; j; j = j->next) {
        uint32_t e = job_entries(j);
        if (n > 0 && sum + e > room)
            break;
        sum += e;
        n++;
        n_aw += awaited(j);
        last = j;
        if (sum >= room)
            break;
    }
    if (!last)
        return NULL;
    wr->head = last->next;
    if (!wr->head)
        wr->tail = NULL;
    last->next = NULL;
    wr->queued -= n;
    wr->awaited -= n_aw;
    wr->queued_entries -= sum;
    *taken += sum;
    *n_awaited += n_aw;
    pthread_cond_broadcast(&wr->room);
    tell_room_locked(wr);
    return first;
}

/* Takes what was queued since the batch began, up to `room` more entries
 * (NULL when nothing). */
static en_write_t *
take_queued(en_writer_t *wr, uint64_t room, uint64_t *taken)
{
    pthread_mutex_lock(&wr->lock);
    unsigned n_awaited = 0;
    en_write_t *more = take_locked(wr, room, taken, &n_awaited);
    wr->last_batch += n_awaited;
    pthread_mutex_unlock(&wr->lock);
    return more;
}

/* Applies jobs [first, stop) in one transaction. With `grow` (a whole
 * batch), writes queued while it is being applied join it, for up to
 * EN_BATCH_MAX_NS and EN_BATCH_MAX_ENTRIES (`entries` holds what the batch
 * writes so far): under a stream of bulk writes, fewer and larger commits
 * rewrite each index page fewer times. Clients waiting one write at a time
 * are all in the batch already, so they never wait for this. Returns 0 when committed
 * (each job's own failure, if any, is in the job), else the storage error,
 * with nothing written. */
static int
run_batch(en_writer_t *wr, en_write_t *first, en_write_t *stop, bool grow,
          uint64_t entries)
{
    bool any = false;
    for (en_write_t *j = first; j != stop && !any; j = j->next)
        any = j->apply != NULL;
    if (!any)
        return 0;
    ix_txn_t *txn;
    int rc = ix_write_begin(wr->ix, &txn);
    if (rc != 0)
        return rc;
    int64_t begun = now_ns();
    uint64_t applied = 0;
    for (en_write_t *j = first; j != stop; j = j->next) {
        if (j->apply) {  /* else answered already; it only keeps its place */
            applied++;
            j->failed = false;
            rc = j->apply(txn, j, &wr->sbuf);
            if (rc == 0)  /* observers see this write whole, before the next */
                rc = ix_write_settle(txn);
            if (rc != 0) {
                ix_write_abort(txn);
                return rc;
            }
        }
        if (grow && !j->next && entries < EN_BATCH_MAX_ENTRIES &&
            now_ns() - begun < EN_BATCH_MAX_NS)
            j->next = take_queued(wr, EN_BATCH_MAX_ENTRIES - entries, &entries);
    }
    if (wr->commit_delay_ms) {
        struct timespec ts = {.tv_sec = wr->commit_delay_ms / 1000,
                              .tv_nsec = (long)(wr->commit_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    rc = ix_write_commit(txn);
    if (rc == 0) {
        atomic_fetch_add(&wr->commits, 1);
        en_hist_add(&wr->batch, applied);
        if (entries > wr->largest)
            wr->largest = entries;
        if (entries >= EN_RELEASE_AFTER_ENTRIES)
            wr->large_at = now_ns();
    }
    return rc;
}

/* run_batch, growing the map and trying again while it does not fit and
 * the ceiling allows. Nothing of a failed try was written, so the jobs
 * simply apply again. */
static int
run_growing(en_writer_t *wr, en_write_t *first, en_write_t *stop, bool grow,
            uint64_t entries)
{
    for (;;) {
        int rc = run_batch(wr, first, stop, grow, entries);
        if (rc != -ENOSPC)
            return rc;
        uint64_t size;
        int grc = ix_grow(wr->ix, wr->map_max, &size);
        if (grc == -ENOSPC) {
            if (!wr->at_ceiling_told)
                en_warn("the database map is full at its ceiling (map_max, %llu bytes): "
                        "writes that do not fit fail with storage_full",
                        (unsigned long long)ix_map_size(wr->ix));
            wr->at_ceiling_told = true;
            return rc;
        }
        if (grc != 0) {
            en_error("cannot grow the database map: %s", ix_strerror(grc));
            return rc;
        }
        en_info("database map grown to %llu bytes", (unsigned long long)size);
    }
}

/* Clients that were answered by the last commit send their next writes a
 * moment later. When the previous batch was larger than what is queued
 * now, wait briefly for them, so that they share one commit rather than
 * trickle into several. A lone client (batches of one) never waits.
 * Called with wr->lock held. */
static struct timespec
deadline_in(long ns)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ns / 1000000000L;
    t.tv_nsec += ns % 1000000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static void
gather(en_writer_t *wr)
{
    if (wr->last_batch <= 1 || wr->awaited >= wr->last_batch || wr->stop)
        return;
    struct timespec deadline = deadline_in(EN_GATHER_NS);
    while (wr->awaited < wr->last_batch && !wr->stop)
        if (pthread_cond_timedwait(&wr->wake, &wr->lock, &deadline) != 0)
            break;
}

/* Only audit entries of reads are queued: nobody waits for them, and each
 * commit costs page writes and a sync whatever it carries, so under a
 * stream of audited reads they wait a moment for more. A write someone
 * waits for, EN_LINGER_MAX_ENTRIES entries or stopping ends the wait at
 * once, and the entries commit with it, in their order. A crash can lose
 * the entries of the last EN_AUDIT_LINGER_NS of reads (docs/operations.md).
 * Called with wr->lock held. */
static void
linger(en_writer_t *wr)
{
    struct timespec deadline = deadline_in(EN_AUDIT_LINGER_NS);
    while (wr->awaited == 0 && wr->queued_entries < EN_LINGER_MAX_ENTRIES && !wr->stop)
        if (pthread_cond_timedwait(&wr->wake, &wr->lock, &deadline) != 0)
            break;
}

/* Counts the entries of a read that could not be committed, and says so
 * at most once a second (a full store under reads would flood the log). */
static void
audit_lost(en_writer_t *wr, const pr_error_t *err)
{
    atomic_fetch_add(&wr->audit_lost, 1);
    unsigned long long held;
    if (en_log_limit_pass(&wr->lost_log, &held))
        en_error("audit entries of %llu read(s) lost: %s", held + 1, err->message);
}

/* Hands back what past write transactions left in the heap (see
 * EN_RELEASE_IDLE_NS); false when it could not happen now. Called without
 * wr->lock, between batches. */
static bool
release_memory(en_writer_t *wr)
{
    int rc = ix_release_memory(wr->ix);
    if (rc == -EBUSY) {
        en_debug("memory of past write transactions not released yet: reads open");
    } else if (rc == -EMFILE) {
        en_warn("memory of past write transactions not released yet: "
                "too few file descriptors to reopen the store");
    } else if (rc != 0) {
        /* The store is closed and could not be opened again: nothing can
         * be read or written any more. Every acknowledged write is on
         * disk; a restart opens the store as usual. */
        en_error("cannot reopen the store after releasing memory: %s; stopping",
                 ix_strerror(rc));
        abort();
    }
    if (rc != 0)
        return false;
    wr->largest = 0;
    malloc_trim(0);
    en_info("memory of past write transactions released");
    return true;
}

/* Removes a transaction's worth of audit entries past the retention when
 * it is time to look for them; when more are left, it is time again at
 * once. Called without wr->lock, between batches. */
static void
prune_if_due(en_writer_t *wr)
{
    if (wr->audit_retention_s == 0 || now_ns() < wr->prune_due)
        return;
    int64_t before = (int64_t)time(NULL) - wr->audit_retention_s;
    uint32_t removed = 0;
    ix_txn_t *txn;
    int rc = ix_write_begin(wr->ix, &txn);
    if (rc == 0) {
        rc = ix_audit_prune(txn, before, EN_PRUNE_MAX_ENTRIES, &removed);
        if (rc == 0)
            rc = ix_write_commit(txn);
        else
            ix_write_abort(txn);
    }
    if (rc != 0)
        en_error("audit entries past the retention not removed: %s", ix_strerror(rc));
    else if (removed > 0)
        en_info("audit trail: %u entries older than %lld days removed", removed,
                (long long)(wr->audit_retention_s / 86400));
    bool more = rc == 0 && removed == EN_PRUNE_MAX_ENTRIES;
    wr->prune_due = now_ns() + (more ? 0 : EN_PRUNE_EVERY_NS);
}

/* Waits for a job. Meanwhile it removes audit entries past the retention
 * when that is due, and releases memory once when idle for
 * EN_RELEASE_IDLE_NS (since *idle_since) after a large transaction.
 * Called with wr->lock held. */
static void
wait_for_work(en_writer_t *wr, int64_t *idle_since)
{
    bool release = wr->largest >= EN_RELEASE_AFTER_ENTRIES;
    int64_t until = release ? *idle_since + EN_RELEASE_IDLE_NS : INT64_MAX;
    if (wr->audit_retention_s && wr->prune_due < until)
        until = wr->prune_due;
    if (until == INT64_MAX) {
        pthread_cond_wait(&wr->wake, &wr->lock);
        return;
    }
    int64_t wait = until - now_ns();
    if (wait > 0) {
        struct timespec deadline = deadline_in((long)wait);
        if (pthread_cond_timedwait(&wr->wake, &wr->lock, &deadline) != ETIMEDOUT)
            return;
    }
    if (wr->head || wr->stop)
        return;
    pthread_mutex_unlock(&wr->lock);
    prune_if_due(wr);
    if (release && now_ns() - *idle_since >= EN_RELEASE_IDLE_NS && !release_memory(wr))
        *idle_since = now_ns();  /* tried again after another idle second */
    pthread_mutex_lock(&wr->lock);
}

static void *
writer_main(void *arg)
{
    en_writer_t *wr = arg;
    for (;;) {
        pthread_mutex_lock(&wr->lock);
        int64_t idle_since = now_ns();
        while (!wr->head && !wr->stop)
            wait_for_work(wr, &idle_since);
        if (wr->head && wr->awaited == 0)
            linger(wr);
        else
            gather(wr);
        uint64_t entries = 0;
        unsigned n_awaited = 0;
        en_write_t *batch = take_locked(wr, EN_BATCH_MAX_ENTRIES, &entries, &n_awaited);
        wr->last_batch = n_awaited;
        bool stop = wr->stop;
        pthread_mutex_unlock(&wr->lock);
        if (!batch) {
            if (stop)
                break;
            continue;
        }

        int rc = run_growing(wr, batch, NULL, true, entries);
        if (rc != 0 && batch->next) {
            /* One job may be what does not fit: give each its own
             * transaction so the others still land. */
            for (en_write_t *j = batch; j; j = j->next) {
                int jrc = run_growing(wr, j, j->next, false, 0);
                if (jrc != 0)
                    fail_storage(j, jrc);
            }
        } else if (rc != 0) {
            fail_storage(batch, rc);
        }
        if (rc != 0)
            en_warn("write batch failed: %s", ix_strerror(rc));

        while (batch) {
            en_write_t *next = batch->next;
            batch->next = NULL;
            if (batch->conn) {
                atomic_fetch_add(&wr->writes, 1);
                en_worker_complete(batch->worker, batch);
            } else if (batch->done) {
                batch->done(batch);
            } else {
                atomic_fetch_add(&wr->audit_jobs, 1);
                if (batch->failed)
                    audit_lost(wr, &batch->err);
                en_write_free(batch);
            }
            batch = next;
        }
        /* After the answers, so that no client of the batch waits for it;
         * when it cannot happen now, try again as much later. */
        if (wr->largest >= EN_RELEASE_AFTER_ENTRIES &&
            now_ns() - wr->large_at >= EN_RELEASE_BUSY_NS && !release_memory(wr))
            wr->large_at = now_ns();
        prune_if_due(wr);
    }
    return NULL;
}

en_writer_t *
en_writer_start(ix_env_t *ix, uint64_t map_max, uint64_t queue_max,
                unsigned audit_retention_days, unsigned commit_delay_ms)
{
    en_writer_t *wr = calloc(1, sizeof *wr);
    if (!wr)
        return NULL;
    wr->ix = ix;
    wr->map_max = map_max;
    wr->queue_max = queue_max ? queue_max : EN_QUEUE_MAX_ENTRIES;
    wr->commit_delay_ms = commit_delay_ms;
    wr->audit_retention_s = (int64_t)audit_retention_days * 86400;
    wr->prune_due = now_ns();  /* look at once */
    pthread_mutex_init(&wr->lock, NULL);
    pthread_cond_init(&wr->wake, NULL);
    pthread_cond_init(&wr->room, NULL);
    msgpack_sbuffer_init(&wr->sbuf);
    if (pthread_create(&wr->thread, NULL, writer_main, wr) != 0) {
        msgpack_sbuffer_destroy(&wr->sbuf);
        free(wr);
        return NULL;
    }
    return wr;
}

static void enqueue_locked(en_writer_t *wr, en_write_t *job);

void
en_writer_submit(en_writer_t *wr, en_write_t *job)
{
    job->next = NULL;
    pthread_mutex_lock(&wr->lock);
    if (!awaited(job) && wr->queued_entries >= wr->queue_max && !wr->stop) {
        atomic_fetch_add(&wr->audit_waits, 1);
        while (wr->queued_entries >= wr->queue_max && !wr->stop)
            pthread_cond_wait(&wr->room, &wr->lock);
    }
    enqueue_locked(wr, job);
    pthread_mutex_unlock(&wr->lock);
}

bool
en_writer_offer(en_writer_t *wr, en_write_t *job, en_worker_t *w, bool again)
{
    pthread_mutex_lock(&wr->lock);
    if (wr->queued_entries >= wr->queue_max && !wr->stop) {
        if (!again)
            atomic_fetch_add(&wr->audit_waits, 1);
        if (!w->wants_room) {
            w->wants_room = true;
            w->room_next = wr->room_waiters;
            wr->room_waiters = w;
        }
        pthread_mutex_unlock(&wr->lock);
        return false;
    }
    job->next = NULL;  /* only once taken: a refused job stays in its holder's list */
    enqueue_locked(wr, job);
    pthread_mutex_unlock(&wr->lock);
    return true;
}

void
en_writer_note_wait(en_writer_t *wr)
{
    atomic_fetch_add(&wr->audit_waits, 1);
}

static void
enqueue_locked(en_writer_t *wr, en_write_t *job)
{
    if (wr->tail)
        wr->tail->next = job;
    else
        wr->head = job;
    wr->tail = job;
    wr->queued++;
    wr->queued_entries += job_entries(job);
    /* A lingering writer waits for awaited jobs, or for a full
     * transaction's worth of entries (see linger). */
    if (awaited(job)) {
        wr->awaited++;
        pthread_cond_signal(&wr->wake);
    } else if (wr->queued == 1 ||
               (wr->queued_entries >= EN_LINGER_MAX_ENTRIES &&
                wr->queued_entries - job_entries(job) < EN_LINGER_MAX_ENTRIES)) {
        pthread_cond_signal(&wr->wake);
    }
}

void
en_writer_stop(en_writer_t *wr)
{
    pthread_mutex_lock(&wr->lock);
    wr->stop = true;
    pthread_cond_signal(&wr->wake);
    pthread_cond_broadcast(&wr->room);
    tell_room_locked(wr);
    pthread_mutex_unlock(&wr->lock);
    pthread_join(wr->thread, NULL);
    pthread_mutex_destroy(&wr->lock);
    pthread_cond_destroy(&wr->wake);
    pthread_cond_destroy(&wr->room);
    msgpack_sbuffer_destroy(&wr->sbuf);
    free(wr);
}

void
en_writer_stats(en_writer_t *wr, en_writer_stats_t *out)
{
    out->commits = atomic_load(&wr->commits);
    out->writes = atomic_load(&wr->writes);
    memset(&out->batch, 0, sizeof out->batch);
    en_hist_merge(&out->batch, &wr->batch);
    out->audit_jobs = atomic_load(&wr->audit_jobs);
    out->audit_lost = atomic_load(&wr->audit_lost);
    out->audit_waits = atomic_load(&wr->audit_waits);
}
