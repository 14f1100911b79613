/* federate.c - network-wide requests (federate.h): a coordinating thread
 * per request, and a thread per peer that holds one connection (peer.h)
 * for the request's life (and, for a match whose answer a peer must give
 * again deeper, one more thread for that call). The coordinator does this
 * node's share itself while the peers answer, in short read transactions
 * that it never holds while it waits for them (a silent peer must not pin
 * the map's growth).
 */
#include "federate.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "conn.h"
#include "hit_merge.h"
#include "labour.h"
#include "log.h"
#include "node_counts.h"
#include "peer.h"
#include "rollup.h"
#include "server.h"
#include "writer.h"

#define FED_RESPONSE_MAX (16u << 20)

/* ---- connections kept between requests ---------------------------------- */

/* The connections to each peer that requests ended with cleanly, hello
 * done, kept for the next ones: a network-wide request then costs a peer
 * its calls, not also a connection and a hello. [peers] is read at start,
 * so a peer's number is its place in the config for the process's life. */
#define FED_IDLE_MAX 4

typedef struct fed_idle {
    int fd;
    char node[PR_ID_MAX + 1];      /* the peer's node id, from its hello */
} fed_idle_t;

struct fed_pool {
    pthread_mutex_t lock;
    fed_idle_t idle[EN_MAX_PEERS][FED_IDLE_MAX];
    unsigned n[EN_MAX_PEERS];
};

/* A kept connection to peer i that still looks open (the peer closes
 * idle ones: its idle timeout, a restart), with its node id; -1 when none. */
static int
pool_take(en_federation_t *f, uint32_t i, char node[PR_ID_MAX + 1])
{
    int fd = -1;
    if (!f->pool || i >= EN_MAX_PEERS)
        return -1;
    pthread_mutex_lock(&f->pool->lock);
    while (fd < 0 && f->pool->n[i] > 0) {
        fed_idle_t *e = &f->pool->idle[i][--f->pool->n[i]];
        /* Nothing is due on an idle connection: anything readable is its
         * end or garbage. */
        struct pollfd pfd = {.fd = e->fd, .events = POLLIN};
        if (poll(&pfd, 1, 0) == 0) {
            fd = e->fd;
            memcpy(node, e->node, sizeof e->node);
        } else {
            close(e->fd);
        }
    }
    pthread_mutex_unlock(&f->pool->lock);
    return fd;
}

/* Keeps fd, a connection to peer i whose last call ended cleanly, or
 * closes it when the peer has FED_IDLE_MAX kept already. */
static void
pool_put(en_federation_t *f, uint32_t i, int fd, const char *node)
{
    if (f->pool && i < EN_MAX_PEERS) {
        pthread_mutex_lock(&f->pool->lock);
        bool kept = f->pool->n[i] < FED_IDLE_MAX;
        if (kept) {
            fed_idle_t *e = &f->pool->idle[i][f->pool->n[i]++];
            e->fd = fd;
            snprintf(e->node, sizeof e->node, "%s", node);
        }
        pthread_mutex_unlock(&f->pool->lock);
        if (kept)
            return;
    }
    close(fd);
}

/* ---- running requests --------------------------------------------------- */

void
en_federation_init(en_federation_t *f)
{
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->idle, NULL);
    f->running = 0;
    atomic_init(&f->requests, 0);
    atomic_init(&f->ranked_again, 0);
    for (unsigned i = 0; i < EN_MAX_PEERS; i++)
        atomic_init(&f->missing[i], 0);
    /* Without it (out of memory) every request connects anew. */
    f->pool = calloc(1, sizeof *f->pool);
    if (f->pool)
        pthread_mutex_init(&f->pool->lock, NULL);
}

void
en_federation_finish(en_federation_t *f)
{
    pthread_mutex_lock(&f->lock);
    while (f->running > 0)
        pthread_cond_wait(&f->idle, &f->lock);
    pthread_mutex_unlock(&f->lock);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->idle);
    if (f->pool) {
        for (uint32_t i = 0; i < EN_MAX_PEERS; i++)
            for (unsigned k = 0; k < f->pool->n[i]; k++)
                close(f->pool->idle[i][k].fd);
        pthread_mutex_destroy(&f->pool->lock);
        free(f->pool);
        f->pool = NULL;
    }
}

static bool
fed_enter(en_federation_t *f)
{
    pthread_mutex_lock(&f->lock);
    bool ok = f->running < EN_FEDERATION_MAX;
    if (ok)
        f->running++;
    pthread_mutex_unlock(&f->lock);
    return ok;
}

static void
fed_leave(en_federation_t *f)
{
    pthread_mutex_lock(&f->lock);
    if (--f->running == 0)
        pthread_cond_broadcast(&f->idle);
    pthread_mutex_unlock(&f->lock);
}

/* ---- one request --------------------------------------------------------- */

enum fed_kind { FED_MATCH, FED_SUPPLY_DEMAND, FED_REEMPLOYMENT };

/* Where a peer is: working on the first call, waiting for the second
 * (matching only), done, failed (error set), or asked for its answer
 * again, deeper (matching; its answer before stands until then). */
enum fed_stage { FED_FIRST, FED_WAITING, FED_DONE, FED_FAILED, FED_AGAIN };

typedef struct fed_peer {
    struct fed *q;
    const en_peer_config_t *cfg;
    pthread_t thread;
    bool started;
    int fd;                        /* -1 when none; guarded by q->lock */
    enum fed_stage stage;          /* guarded by q->lock */
    bool cut;                      /* abandoned at the deadline; guarded */
    char node[PR_ID_MAX + 1];      /* from hello */
    char error[PR_MESSAGE_MAX];
    msgpack_zone *zone;            /* the answers */
    en_node_counts_t counts;       /* matching, first call */
    const msgpack_object *result;  /* the last answer */
    msgpack_sbuffer again;         /* matching: the args of a deeper ranking */
} fed_peer_t;

typedef struct fed {
    en_server_t *srv;
    enum fed_kind kind;
    bool show_addresses;           /* the asker is an admin (peers' addresses are internal) */
    pthread_mutex_t lock;
    pthread_cond_t cond;           /* CLOCK_MONOTONIC */
    struct timespec deadline;
    bool go;                       /* the second call's args are ready */
    bool stopping;                 /* the node shuts down: no more waiting */
    struct fed *next_running;      /* in en_federation_t.reqs; its lock guards */
    msgpack_sbuffer first, second; /* the calls' args */
    /* Matching. */
    char *profile;                 /* the worker side as a packed profile */
    size_t profile_len;
    uint32_t limit;
    int64_t as_of;
    en_match_filters_t filters;    /* strings point into the job's zone */
    uint32_t n_skills;
    uint64_t union_open;           /* the union's N and df, for the ranking */
    uint64_t union_df[IX_SKILLS_MAX];
    uint32_t ranked_again;         /* answers ranked again, deeper */
    /* Results. */
    en_fed_hit_t *hits;
    uint32_t n_hits;
    /* Roll-up: the request's args (in the job's zone), this node's
     * figures packed and read back, and the sums. */
    const msgpack_object *args;
    msgpack_sbuffer local;
    msgpack_zone *local_zone;
    msgpack_object local_obj;
    en_rollup_t sums;              /* stats.supply_demand */
    en_reemp_sums_t reemp;         /* stats.reemployment */
    uint32_t n_peers;
    fed_peer_t peers[];
} fed_t;

static unsigned
remaining_ms(const fed_t *q)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (int64_t)(q->deadline.tv_sec - now.tv_sec) * 1000 +
                 (q->deadline.tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? (unsigned)ms : 0;
}

static bool
peer_cut(void *arg)
{
    fed_peer_t *p = arg;
    pthread_mutex_lock(&p->q->lock);
    bool cut = p->cut;
    pthread_mutex_unlock(&p->q->lock);
    return cut;
}

static void
peer_set(fed_peer_t *p, enum fed_stage stage, const char *why)
{
    pthread_mutex_lock(&p->q->lock);
    if (!p->cut) {
        p->stage = stage;
        if (why)
            snprintf(p->error, sizeof p->error, "%s", why);
    }
    pthread_cond_broadcast(&p->q->cond);
    pthread_mutex_unlock(&p->q->lock);
}

/* Participant `who`'s answer, n hits, in place of any it gave before (the
 * peers' threads and the coordinator add theirs at once). 0, or -1 out of
 * memory, the hits as they were. */
static int
replace_hits(fed_t *q, int who, const en_fed_hit_t *h, uint32_t n)
{
    pthread_mutex_lock(&q->lock);
    en_fed_hit_t *all = malloc((size_t)(q->n_hits + n + 1) * sizeof *all);
    if (all) {
        uint32_t kept = 0;
        for (uint32_t i = 0; i < q->n_hits; i++)
            if (q->hits[i].from != who)
                all[kept++] = q->hits[i];
        memcpy(all + kept, h, (size_t)n * sizeof *h);
        free(q->hits);
        q->hits = all;
        q->n_hits = kept + n;
    }
    pthread_mutex_unlock(&q->lock);
    return all ? 0 : -1;
}

/* Lets go of p's connection: kept for the next request when its calls
 * ended cleanly (done) and the request did not cut it, else closed. */
static void
peer_release(fed_peer_t *p, bool done)
{
    fed_t *q = p->q;
    pthread_mutex_lock(&q->lock);
    int fd = p->fd;
    bool cut = p->cut;
    p->fd = -1;  /* out of reach of a cut from now on */
    pthread_mutex_unlock(&q->lock);
    if (fd < 0)
        return;
    if (done && !cut)
        pool_put(&q->srv->federation, (uint32_t)(p - q->peers), fd, p->node);
    else
        close(fd);
}

/* A connection to p's peer, hello done, registered in p->fd so that a cut
 * shuts it: a kept one when there is, else a new one. *reused is, on the
 * way in, true to pass the kept ones by (one just failed), and on the way
 * out whether the connection is a kept one. -1 with p failed, or when the
 * request cut p meanwhile. */
static int
peer_open(fed_peer_t *p, bool *reused)
{
    fed_t *q = p->q;
    char why[PR_MESSAGE_MAX], node_id[PR_ID_MAX + 1];
    pthread_mutex_lock(&q->lock);
    unsigned ms = remaining_ms(q);
    pthread_mutex_unlock(&q->lock);
    int fd = *reused ? -1 : pool_take(&q->srv->federation, (uint32_t)(p - q->peers), node_id);
    *reused = fd >= 0;
    if (fd >= 0) {
        en_peer_set_timeout(fd, ms ? ms : 1);
    } else if ((fd = en_peer_connect(p->cfg->addr, ms ? ms : 1, peer_cut, p, why,
                                     sizeof why)) < 0) {
        peer_set(p, FED_FAILED, why);
        return -1;
    }
    pthread_mutex_lock(&q->lock);
    p->fd = fd;
    bool cut = p->cut;
    if (*reused)
        memcpy(p->node, node_id, sizeof node_id);
    pthread_mutex_unlock(&q->lock);
    if (cut)
        return -1;
    if (*reused)
        return fd;
    pr_str_t node, role;
    if (en_peer_hello(fd, 1, p->cfg->key, p->zone, &node, &role, why, sizeof why) != 0) {
        peer_set(p, FED_FAILED, why);
        return -1;
    }
    pthread_mutex_lock(&q->lock);
    memcpy(p->node, node.ptr, node.len);
    p->node[node.len] = '\0';
    pthread_mutex_unlock(&q->lock);
    return fd;
}

/* Calls op on a connection to p's peer: a kept one when there is, and
 * when that fails (the peer may have closed it meanwhile) once more on a
 * new one. The connection (registered in p->fd), or -1 with p failed. */
static int
peer_call(fed_peer_t *p, uint64_t id, const char *op, const msgpack_sbuffer *args,
          const msgpack_object **res)
{
    char why[PR_MESSAGE_MAX];
    bool reused = false;
    for (;;) {
        int fd = peer_open(p, &reused);
        if (fd < 0)
            return -1;
        if (en_peer_call(fd, id, op, args, FED_RESPONSE_MAX, p->zone, res, why, sizeof why) ==
            0)
            return fd;
        if (!reused) {
            peer_set(p, FED_FAILED, why);
            return -1;
        }
        peer_release(p, false);
    }
}

static const char *rollup_op_name(const fed_t *q);

static void *
peer_main(void *arg)
{
    fed_peer_t *p = arg;
    fed_t *q = p->q;
    char why[PR_MESSAGE_MAX];
    bool done = false;
    const char *op = q->kind == FED_MATCH ? "match.counts" : rollup_op_name(q);
    const msgpack_object *res;
    int fd = peer_call(p, 2, op, &q->first, &res);
    if (fd < 0)
        goto out;
    if (q->kind != FED_MATCH) {
        /* Read into the sums by the request's thread, once all are in. */
        p->result = res;
        peer_set(p, FED_DONE, NULL);
        done = true;
        goto out;
    }
    int drc = en_node_counts_decode(res, q->n_skills, &p->counts);
    if (drc == -E2BIG) {
        snprintf(why, sizeof why, "match.counts: more than %u origins", EN_COUNTS_ORIGINS_MAX);
        peer_set(p, FED_FAILED, why);
        goto out;
    }
    if (drc != 0) {
        peer_set(p, FED_FAILED, "match.counts: a malformed answer");
        goto out;
    }
    peer_set(p, FED_WAITING, NULL);
    pthread_mutex_lock(&q->lock);
    while (!q->go && !p->cut)
        pthread_cond_wait(&q->cond, &q->lock);
    bool cut = p->cut;
    pthread_mutex_unlock(&q->lock);
    if (cut)
        goto out;
    if (en_peer_call(fd, 3, "match.vacancies", &q->second, FED_RESPONSE_MAX, p->zone, &res,
                     why, sizeof why) != 0) {
        peer_set(p, FED_FAILED, why);
        goto out;
    }
    en_fed_hit_t *h = NULL;
    uint32_t n;
    int who = (int)(p - q->peers) + 1;
    if (en_fed_hits_decode(res, who, &h, &n) != 0 || replace_hits(q, who, h, n) != 0) {
        peer_set(p, FED_FAILED, "match.vacancies: a malformed answer");
    } else {
        peer_set(p, FED_DONE, NULL);
        done = true;
    }
    free(h);
out:
    peer_release(p, done);
    return NULL;
}

/* Why p is left out at the deadline. Called with q->lock held. */
static void
timed_out(const fed_t *q, fed_peer_t *p)
{
    if (q->stopping)
        snprintf(p->error, sizeof p->error, "cut off: this node is shutting down");
    else
        snprintf(p->error, sizeof p->error, "no answer within %u ms",
                 q->srv->cfg->federation_timeout_ms);
}

/* Waits until no peer is at stage `at` any more, or the deadline; the ones
 * still there are cut off (their connection shut, so they end at once). */
static void
wait_peers(fed_t *q, enum fed_stage at)
{
    pthread_mutex_lock(&q->lock);
    for (;;) {
        bool pending = false;
        for (uint32_t i = 0; i < q->n_peers; i++)
            pending |= q->peers[i].stage == at && !q->peers[i].cut;
        if (!pending)
            break;
        if (pthread_cond_timedwait(&q->cond, &q->lock, &q->deadline) == ETIMEDOUT) {
            for (uint32_t i = 0; i < q->n_peers; i++) {
                fed_peer_t *p = &q->peers[i];
                if (p->stage != at || p->cut)
                    continue;
                p->cut = true;
                if (at != FED_AGAIN) {  /* one asked again keeps its answer */
                    p->stage = FED_FAILED;
                    timed_out(q, p);
                }
                if (p->fd >= 0)
                    shutdown(p->fd, SHUT_RDWR);
            }
            pthread_cond_broadcast(&q->cond);
            break;
        }
    }
    pthread_mutex_unlock(&q->lock);
}

/* Every peer still at work told to end (its connection shut), then every
 * peer thread joined. A second call finds nothing more to do. */
static void
end_peers(fed_t *q)
{
    pthread_mutex_lock(&q->lock);
    for (uint32_t i = 0; i < q->n_peers; i++) {
        fed_peer_t *p = &q->peers[i];
        /* A peer done has no call left and keeps its connection. */
        if (p->stage == FED_DONE)
            continue;
        if (p->stage == FED_WAITING) {  /* never sent the second call */
            p->stage = FED_FAILED;
            timed_out(q, p);
        }
        p->cut = true;
        if (p->fd >= 0)
            shutdown(p->fd, SHUT_RDWR);
    }
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    for (uint32_t i = 0; i < q->n_peers; i++)
        if (q->peers[i].started) {
            pthread_join(q->peers[i].thread, NULL);
            q->peers[i].started = false;
        }
}

static void
fed_free(void *data)
{
    fed_t *q = data;
    for (uint32_t i = 0; i < q->n_peers; i++) {
        en_node_counts_free(&q->peers[i].counts);
        if (q->peers[i].zone)
            msgpack_zone_free(q->peers[i].zone);
    }
    for (uint32_t i = 0; i < q->n_peers; i++)
        msgpack_sbuffer_destroy(&q->peers[i].again);
    msgpack_sbuffer_destroy(&q->first);
    msgpack_sbuffer_destroy(&q->second);
    msgpack_sbuffer_destroy(&q->local);
    if (q->local_zone)
        msgpack_zone_free(q->local_zone);
    en_rollup_free(&q->sums);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q->profile);
    free(q->hits);
}

static fed_t *
fed_new(en_server_t *srv, enum fed_kind kind)
{
    unsigned n = srv->cfg->n_peers;
    fed_t *q = calloc(1, sizeof *q + (size_t)n * sizeof q->peers[0]);
    if (!q)
        return NULL;
    q->srv = srv;
    q->kind = kind;
    q->n_peers = n;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    msgpack_sbuffer_init(&q->first);
    msgpack_sbuffer_init(&q->second);
    msgpack_sbuffer_init(&q->local);
    for (unsigned i = 0; i < n; i++) {
        q->peers[i].q = q;
        q->peers[i].cfg = &srv->cfg->peers[i];
        q->peers[i].fd = -1;
        q->peers[i].zone = msgpack_zone_new(64 * 1024);
        if (!q->peers[i].zone) {
            fed_free(q);
            free(q);
            return NULL;
        }
    }
    return q;
}

/* Each round (matching has two) gets federation_timeout_ms from its
 * start. Called with the lock held, or before the peers start. */
static void
set_deadline(fed_t *q)
{
    clock_gettime(CLOCK_MONOTONIC, &q->deadline);
    unsigned ms = q->stopping ? 0 : q->srv->cfg->federation_timeout_ms;
    q->deadline.tv_sec += ms / 1000;
    q->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (q->deadline.tv_nsec >= 1000000000L) {
        q->deadline.tv_sec++;
        q->deadline.tv_nsec -= 1000000000L;
    }
}

/* The deadline is now: whoever waits for peers stops, and later rounds get
 * no time (set_deadline). */
static void
fed_stop(fed_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    clock_gettime(CLOCK_MONOTONIC, &q->deadline);
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

/* Lists q among the requests running (cut at shutdown), or cuts it at
 * once when the shutdown has begun. */
static void
fed_list(en_federation_t *f, struct fed *q)
{
    pthread_mutex_lock(&f->lock);
    q->next_running = f->reqs;
    f->reqs = q;
    if (f->stopping)
        fed_stop(q);
    pthread_mutex_unlock(&f->lock);
}

/* Takes q off the list before its job, which owns it, is handed back. */
static void
fed_unlist(en_federation_t *f, struct fed *q)
{
    pthread_mutex_lock(&f->lock);
    for (struct fed **pp = &f->reqs; *pp; pp = &(*pp)->next_running)
        if (*pp == q) {
            *pp = q->next_running;
            break;
        }
    pthread_mutex_unlock(&f->lock);
}

void
en_federation_cut(en_federation_t *f)
{
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    for (struct fed *q = f->reqs; q; q = q->next_running)
        fed_stop(q);
    pthread_mutex_unlock(&f->lock);
}

/* Lists q among the running (fed_complete takes it off), starts the clock
 * and a thread per peer. */
static void
start_peers(fed_t *q)
{
    fed_list(&q->srv->federation, q);
    set_deadline(q);
    for (uint32_t i = 0; i < q->n_peers; i++) {
        fed_peer_t *p = &q->peers[i];
        if (pthread_create(&p->thread, NULL, peer_main, p) == 0) {
            p->started = true;
        } else {
            p->stage = FED_FAILED;
            snprintf(p->error, sizeof p->error, "cannot start a thread");
        }
    }
}

/* "missing": the peers that did not answer, and "answered": the nodes
 * that did, this one first. */
static void
pack_participants(msgpack_packer *pk, const fed_t *q)
{
    uint32_t missing = 0;
    for (uint32_t i = 0; i < q->n_peers; i++)
        missing += q->peers[i].stage != FED_DONE;
    pr_pack_cstr(pk, "answered");
    msgpack_pack_array(pk, 1 + q->n_peers - missing);
    pr_pack_cstr(pk, q->srv->cfg->node);
    for (uint32_t i = 0; i < q->n_peers; i++)
        if (q->peers[i].stage == FED_DONE)
            pr_pack_cstr(pk, q->peers[i].node);
    pr_pack_cstr(pk, "missing");
    msgpack_pack_array(pk, missing);
    for (uint32_t i = 0; i < q->n_peers; i++) {
        const fed_peer_t *p = &q->peers[i];
        if (p->stage == FED_DONE)
            continue;
        msgpack_pack_map(pk, q->show_addresses ? 4 : 3);
        pr_pack_cstr(pk, "peer");
        pr_pack_cstr(pk, p->cfg->name);
        if (q->show_addresses) {
            pr_pack_cstr(pk, "address");
            pr_pack_cstr(pk, p->cfg->addr);
        }
        pr_pack_cstr(pk, "node");
        if (p->node[0])
            pr_pack_cstr(pk, p->node);
        else
            msgpack_pack_nil(pk);
        pr_pack_cstr(pk, "error");
        pr_pack_cstr(pk, p->error[0] ? p->error : "no answer");
    }
}

/* Sends the job's answer and lets a shutdown go on. */
static void
fed_complete(en_write_t *job)
{
    fed_t *q = job->data;
    en_federation_t *f = &q->srv->federation;
    atomic_fetch_add_explicit(&f->requests, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&f->ranked_again, q->ranked_again, memory_order_relaxed);
    for (uint32_t i = 0; i < q->n_peers && i < EN_MAX_PEERS; i++)
        if (q->peers[i].stage != FED_DONE)
            atomic_fetch_add_explicit(&f->missing[i], 1, memory_order_relaxed);
    fed_unlist(f, q);
    en_worker_complete(job->worker, job);
    fed_leave(f);
}

/* Takes a slot for a request of req and makes it, or fails req (no slot
 * taken). */
static fed_t *
fed_begin(en_req_t *req, enum fed_kind kind)
{
    if (!fed_enter(&req->srv->federation)) {
        pr_fail(&req->err, PR_OVERLOADED,
                "too many network-wide requests at once; try again shortly");
        return NULL;
    }
    fed_t *q = fed_new(req->srv, kind);
    if (!q) {
        fed_leave(&req->srv->federation);
        pr_fail(&req->err, PR_INTERNAL, "out of memory");
        return NULL;
    }
    q->show_addresses = (req->conn->role & EN_ROLE_ADMIN) != 0;
    return q;
}

/* Hands q to req's job and starts main_fn on a thread of its own (req
 * turns background). On failure q is freed and the slot given back. */
static int
fed_launch(en_req_t *req, fed_t *q, void (*reply)(en_write_t *, msgpack_packer *),
           void *(*main_fn)(void *))
{
    if (en_job_new(req, NULL, NULL, reply) != 0) {
        fed_free(q);
        free(q);
        fed_leave(&req->srv->federation);
        return -1;
    }
    req->job->data = q;
    req->job->data_free = fed_free;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, main_fn, req->job);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        en_write_free(req->job);
        req->job = NULL;
        fed_leave(&req->srv->federation);
        return pr_fail(&req->err, PR_INTERNAL, "cannot start a thread");
    }
    req->background = true;
    return 0;
}

/* ---- matching ------------------------------------------------------------ */

/* The skills of the profile, as the index takes them. */
static uint32_t
profile_skills(const pr_worker_t *w, ix_skill_t *out)
{
    for (uint32_t i = 0; i < w->n_skills; i++)
        out[i] = (ix_skill_t){w->skills[i].id.ptr, w->skills[i].id.len, w->skills[i].level};
    return w->n_skills;
}

/* N and df over the union of this node's counts and those of the peers
 * that answered the first call. */
static void
union_counts(const fed_t *q, const en_node_counts_t *local, uint64_t *n, uint64_t *df)
{
    const en_node_counts_t *c[1 + EN_MAX_PEERS];
    const char *node[1 + EN_MAX_PEERS];
    c[0] = local;
    node[0] = q->srv->cfg->node;
    for (uint32_t i = 0; i < q->n_peers; i++) {
        bool ok = q->peers[i].stage == FED_WAITING;
        c[1 + i] = ok ? &q->peers[i].counts : NULL;
        node[1 + i] = q->peers[i].node;
    }
    en_node_counts_union(c, node, 1 + q->n_peers, q->n_skills, n, df);
}

/* The second call: the profile ranked over everything with the union's N
 * and df, limit deep. */
static void
pack_ranking(msgpack_sbuffer *sb, const fed_t *q, const pr_worker_t *w, uint32_t limit)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    const en_match_filters_t *f = &q->filters;
    uint32_t extra = (f->occupation.ptr != NULL) + (f->employer.ptr != NULL) +
                     (f->min_wage != 0);
    msgpack_pack_map(&pk, 5 + extra);
    pr_pack_cstr(&pk, "profile");
    msgpack_sbuffer_write(sb, q->profile, q->profile_len);
    pr_pack_cstr(&pk, "scope");
    pr_pack_cstr(&pk, "all");
    pr_pack_cstr(&pk, "limit");
    msgpack_pack_uint32(&pk, limit);
    pr_pack_cstr(&pk, "as_of");
    msgpack_pack_int64(&pk, q->as_of);
    if (f->occupation.ptr) {
        pr_pack_cstr(&pk, "occupation");
        pr_pack_str(&pk, f->occupation);
    }
    if (f->employer.ptr) {
        pr_pack_cstr(&pk, "employer");
        pr_pack_str(&pk, f->employer);
    }
    if (f->min_wage) {
        pr_pack_cstr(&pk, "min_wage");
        msgpack_pack_int64(&pk, f->min_wage);
    }
    pr_pack_cstr(&pk, "network_counts");
    msgpack_pack_map(&pk, 2);
    pr_pack_cstr(&pk, "open");
    msgpack_pack_uint64(&pk, q->union_open);
    pr_pack_cstr(&pk, "df");
    /* A skill given twice is not a valid profile, so the keys are unique. */
    msgpack_pack_map(&pk, w->n_skills);
    for (uint32_t s = 0; s < w->n_skills; s++) {
        pr_pack_str(&pk, w->skills[s].id);
        msgpack_pack_uint64(&pk, q->union_df[s]);
    }
}

/* This node's answer to the second call, its best depth (at least the
 * request's limit) with each match's origin, in q's hits in place of any
 * it gave before. */
static int
local_hits(fed_t *q, ix_txn_t *txn, const pr_worker_t *w, uint32_t depth)
{
    en_party_t *probe = malloc(sizeof *probe);
    en_match_result_t *res = malloc(sizeof *res);
    en_match_scratch_t *sc = en_match_scratch_new();
    msgpack_zone *zone = msgpack_zone_new(4096);
    int rc = -ENOMEM;
    if (!probe || !res || !sc || !zone)
        goto done;
    en_party_from_worker(probe, w);
    /* The same arguments the peers get, read the same way. */
    msgpack_object args;
    size_t off = 0;
    pr_error_t err;
    double idf[IX_SKILLS_MAX];
    if (msgpack_unpack(q->second.data, q->second.size, &off, zone, &args) !=
            MSGPACK_UNPACK_SUCCESS ||
        en_network_counts_read(pr_map_get(&args, "network_counts"), probe, idf, &err) != 0) {
        rc = -EINVAL;
        goto done;
    }
    en_match_query_t mq = {
        .probe = probe,
        .scope = EN_SCOPE_ALL,
        .limit = depth,
        .as_of = q->as_of,
        .filters = q->filters,
        .scratch = sc,
        .idf = idf,
    };
    if ((rc = en_match_run(txn, &mq, res)) != 0)
        goto done;
    en_fed_hit_t *h = calloc(res->n ? res->n : 1, sizeof *h);
    if (!h) {
        rc = -ENOMEM;
        goto done;
    }
    for (uint32_t i = 0; i < res->n; i++) {
        ix_record_t rec;
        if ((rc = ix_get_docno(txn, IX_VACANCY, res->hits[i].docno, &rec)) != 0) {
            free(h);
            goto done;
        }
        h[i].score = res->hits[i].score;
        h[i].from = 0;
        memcpy(h[i].id, res->hits[i].id, res->hits[i].id_len);
        if (rec.origin_len)
            memcpy(h[i].origin, rec.origin, rec.origin_len);
        else
            snprintf(h[i].origin, sizeof h[i].origin, "%s", q->srv->cfg->node);
    }
    rc = replace_hits(q, 0, h, res->n) == 0 ? 0 : -ENOMEM;
    free(h);
done:
    free(probe);
    free(res);
    en_match_scratch_free(sc);
    if (zone)
        msgpack_zone_free(zone);
    return rc;
}

/* Each participant's node id, NULL for a peer that did not answer, as
 * hit_merge.h takes them. Once the peers have ended. */
static void
answered_nodes(const fed_t *q, const char **answered)
{
    answered[0] = q->srv->cfg->node;
    for (uint32_t i = 0; i < q->n_peers; i++)
        answered[1 + i] = q->peers[i].stage == FED_DONE ? q->peers[i].node : NULL;
}

/* The two warnings of a deeper round: a node that answers network
 * requests while many copies lag would otherwise log them per request. */
static en_log_limit_t no_deeper_log, deepest_log;

/* A peer's answer again, deeper (p->again), in place of the one it gave,
 * on a thread of its own; a failure keeps that one. */
static void *
again_main(void *arg)
{
    fed_peer_t *p = arg;
    fed_t *q = p->q;
    int who = (int)(p - q->peers) + 1;
    const msgpack_object *res;
    en_fed_hit_t *h = NULL;
    uint32_t n = 0;
    bool done = peer_call(p, 4, "match.vacancies", &p->again, &res) >= 0;
    if (done && (en_fed_hits_decode(res, who, &h, &n) != 0 || replace_hits(q, who, h, n) != 0)) {
        done = false;
        snprintf(p->error, sizeof p->error, "match.vacancies: a malformed answer");
    }
    free(h);
    pthread_mutex_lock(&q->lock);
    unsigned long long held;
    if (!done && en_log_limit_pass(&no_deeper_log, &held))
        en_warn("peer %s (%s): no deeper answer (%s); its first stands, and the network's "
                "list may be short (%llu such line(s) held back before)", p->cfg->name,
                p->cfg->addr, p->cut ? "cut off at the deadline" : p->error, held);
    p->stage = FED_DONE;  /* it answered, once at least */
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    peer_release(p, done);
    return NULL;
}

/* Says in the log that who is asked to rank as deep as a search goes:
 * should more of its copies lag, the merged list may be short. */
static void
warn_deepest(const char *who)
{
    unsigned long long held;
    if (en_log_limit_pass(&deepest_log, &held))
        en_warn("network match: %s ranks %u deep, as deep as a search goes; if more copies "
                "lag, the list may be short until they are pulled again (%llu such line(s) "
                "held back before)", who, EN_MATCH_DEPTH_MAX, held);
}

/* Every participant ranked its store at once. One whose copies of an
 * answering participant's vacancies lag behind it ranks again, as much
 * deeper as en_fed_hits_deeper asks (hit_merge.h): this node at once,
 * the peers by one more call each, in parallel, within another
 * federation_timeout_ms. Until none asks for more, since a deeper answer
 * may settle or unsettle another's copies. Once the peers have ended. */
static int
deepen_hits(fed_t *q, const pr_worker_t *w)
{
    const char *answered[1 + EN_MAX_PEERS];
    uint32_t depth[1 + EN_MAX_PEERS], np = 1 + q->n_peers;
    answered_nodes(q, answered);
    for (uint32_t i = 0; i < np; i++)
        depth[i] = q->limit;
    for (;;) {
        uint32_t asked = 0, d;
        pthread_mutex_lock(&q->lock);
        for (uint32_t i = 0; i < q->n_peers && !q->stopping; i++) {
            fed_peer_t *p = &q->peers[i];
            if (!answered[1 + i] || (d = en_fed_hits_deeper(q->hits, q->n_hits, q->limit,
                                                            depth[1 + i], answered, np,
                                                            (int)(1 + i))) == 0)
                continue;
            depth[1 + i] = d;
            if (d == EN_MATCH_DEPTH_MAX)
                warn_deepest(p->cfg->name);
            msgpack_sbuffer_clear(&p->again);
            pack_ranking(&p->again, q, w, d);
            p->stage = FED_AGAIN;
            asked++;
            q->ranked_again++;
        }
        uint32_t mine = en_fed_hits_deeper(q->hits, q->n_hits, q->limit, depth[0], answered,
                                           np, 0);
        if (asked > 0)  /* another federation_timeout_ms for their calls */
            set_deadline(q);
        pthread_mutex_unlock(&q->lock);
        if (mine == EN_MATCH_DEPTH_MAX)
            warn_deepest("this node");
        if (asked == 0 && mine == 0)
            return 0;
        for (uint32_t i = 0; i < q->n_peers; i++) {
            fed_peer_t *p = &q->peers[i];
            if (p->stage != FED_AGAIN)
                continue;
            p->started = pthread_create(&p->thread, NULL, again_main, p) == 0;
            if (!p->started)
                p->stage = FED_DONE;  /* its answer before stands */
        }
        int rc = 0;
        if (mine != 0) {
            depth[0] = mine;
            q->ranked_again++;
            ix_txn_t *txn;
            if ((rc = ix_read_begin(q->srv->ix, &txn)) == 0) {
                rc = local_hits(q, txn, w, mine);
                ix_read_end(txn);
            }
        }
        wait_peers(q, FED_AGAIN);
        end_peers(q);
        if (rc != 0)
            return rc;
    }
}

/* The peers' and this node's answers as one (hit_merge.h). */
static void
merge_hits(fed_t *q)
{
    const char *answered[1 + EN_MAX_PEERS];
    answered_nodes(q, answered);
    q->n_hits = en_fed_hits_merge(q->hits, q->n_hits, q->limit, answered, 1 + q->n_peers);
}

static void
match_reply(en_write_t *job, msgpack_packer *pk)
{
    const fed_t *q = job->data;
    msgpack_pack_map(pk, 3);
    en_fed_hits_pack(pk, q->hits, q->n_hits);
    pack_participants(pk, q);
}

static void *
match_main(void *arg)
{
    en_write_t *job = arg;
    fed_t *q = job->data;
    en_server_t *srv = q->srv;
    msgpack_zone *zone = msgpack_zone_new(4096);
    pr_worker_t *w = malloc(sizeof *w);
    en_node_counts_t local = {0, NULL};
    ix_txn_t *txn = NULL;
    int rc = -ENOMEM;
    start_peers(q);
    if (!zone || !w)
        goto fail;
    msgpack_object obj;
    size_t off = 0;
    pr_error_t err;
    if (msgpack_unpack(q->profile, q->profile_len, &off, zone, &obj) != MSGPACK_UNPACK_SUCCESS ||
        pr_worker_decode(&obj, "profile", PR_REC_PROFILE, 0, w, &err) != 0) {
        rc = -EINVAL;
        goto fail;
    }
    ix_skill_t skills[IX_SKILLS_MAX];
    uint32_t ns = profile_skills(w, skills);
    if ((rc = ix_read_begin(srv->ix, &txn)) != 0 ||
        (rc = en_node_counts_read(txn, srv->cfg->node, skills, ns, &local)) != 0)
        goto fail;
    /* No read transaction across the wait: it would hold up every growth
     * of the map, and the readers queued behind it, for as long as a peer
     * is silent. */
    ix_read_end(txn);
    txn = NULL;
    wait_peers(q, FED_FIRST);
    union_counts(q, &local, &q->union_open, q->union_df);
    pthread_mutex_lock(&q->lock);
    pack_ranking(&q->second, q, w, q->limit);
    set_deadline(q);
    q->go = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    if ((rc = ix_read_begin(srv->ix, &txn)) != 0 || (rc = local_hits(q, txn, w, q->limit)) != 0)
        goto fail;
    ix_read_end(txn);
    txn = NULL;
    wait_peers(q, FED_WAITING);
    end_peers(q);
    if ((rc = deepen_hits(q, w)) != 0)
        goto fail;
    merge_hits(q);
    goto done;
fail:
    if (txn)
        ix_read_end(txn);
    end_peers(q);
    job->failed = true;
    if (rc == -EINVAL)
        pr_fail(&job->err, PR_INTERNAL, "the profile could not be sent to the network");
    else
        en_storage_error(&job->err, rc);
done:
    en_node_counts_free(&local);
    free(w);
    if (zone)
        msgpack_zone_free(zone);
    fed_complete(job);
    return NULL;
}

int
en_federate_match(en_req_t *req, const en_fed_match_t *m)
{
    fed_t *q = fed_begin(req, FED_MATCH);
    if (!q)
        return -1;
    /* The profile as it is sent: no id, no personal field, no centre. */
    pr_worker_t profile = *m->profile;
    profile.id = profile.name = profile.national_id = profile.phone = profile.center =
        (pr_str_t){NULL, 0};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pr_pack_worker(&pk, &profile, false);
    q->profile = sb.data;
    q->profile_len = sb.size;
    q->limit = m->limit;
    q->as_of = m->as_of;
    q->filters = m->filters;
    q->n_skills = profile.n_skills;
    msgpack_packer_init(&pk, &q->first, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pr_pack_cstr(&pk, "skills");
    msgpack_pack_array(&pk, profile.n_skills);
    for (uint32_t i = 0; i < profile.n_skills; i++)
        pr_pack_str(&pk, profile.skills[i].id);
    return fed_launch(req, q, match_reply, match_main);
}

/* ---- the roll-ups of stats.supply_demand and stats.reemployment --------- */

static int
sd_local(ix_env_t *ix, const msgpack_object *args, msgpack_packer *pk, pr_error_t *err)
{
    return en_supply_demand(ix, args, true, pk, err);
}

static bool
sd_add(fed_t *q, const msgpack_object *res)
{
    return en_rollup_add(&q->sums, res);
}

static void
sd_pack(msgpack_packer *pk, fed_t *q)
{
    en_rollup_fold(&q->sums);
    en_rollup_pack(pk, &q->sums);
}

static bool
reemp_add(fed_t *q, const msgpack_object *res)
{
    return en_reemp_add(&q->reemp, res);
}

static void
reemp_pack(msgpack_packer *pk, fed_t *q)
{
    en_reemp_pack(pk, &q->reemp);
}

/* What differs between the roll-ups: the operation, what its answer
 * repeats of the request, whether the peers are asked for their own
 * vacancies (workers are always a node's own), and its figures. */
typedef struct rollup_op {
    const char *op;
    const char *const *echo;
    uint32_t n_echo;
    bool ask_own;
    int (*local)(ix_env_t *, const msgpack_object *, msgpack_packer *, pr_error_t *);
    bool (*add)(fed_t *, const msgpack_object *);
    void (*pack)(msgpack_packer *, fed_t *);  /* the figures: two keys */
} rollup_op_t;

static const char *const sd_echo[] = {"period", "from", "to", "region", "occupation", "by"};
static const char *const reemp_echo[] = {"period", "from", "to", "region"};

static const rollup_op_t rollup_ops[] = {
    [FED_SUPPLY_DEMAND] = {"stats.supply_demand", sd_echo, 6, true, sd_local, sd_add, sd_pack},
    [FED_REEMPLOYMENT] = {"stats.reemployment", reemp_echo, 4, false, en_reemployment,
                          reemp_add, reemp_pack},
};

static const char *
rollup_op_name(const fed_t *q)
{
    return rollup_ops[q->kind].op;
}

static void
rollup_reply(en_write_t *job, msgpack_packer *pk)
{
    fed_t *q = job->data;
    const rollup_op_t *r = &rollup_ops[q->kind];
    const msgpack_object *local = &q->local_obj;
    msgpack_pack_map(pk, r->n_echo + 4);
    /* What the request was about, as this node read it. */
    for (uint32_t i = 0; i < r->n_echo; i++) {
        const msgpack_object *o = pr_map_get(local, r->echo[i]);
        pr_pack_cstr(pk, r->echo[i]);
        if (o)
            msgpack_pack_object(pk, *o);
        else
            msgpack_pack_nil(pk);
    }
    r->pack(pk, q);
    pack_participants(pk, q);
}

static void *
rollup_main(void *arg)
{
    en_write_t *job = arg;
    fed_t *q = job->data;
    const rollup_op_t *r = &rollup_ops[q->kind];
    start_peers(q);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &q->local, msgpack_sbuffer_write);
    pr_error_t err;
    int rc = r->local(q->srv->ix, q->args, &pk, &err);
    wait_peers(q, FED_FIRST);
    end_peers(q);
    size_t off = 0;
    if (rc == 0 && (!(q->local_zone = msgpack_zone_new(4096)) ||
                    msgpack_unpack(q->local.data, q->local.size, &off, q->local_zone,
                                   &q->local_obj) != MSGPACK_UNPACK_SUCCESS ||
                    !r->add(q, &q->local_obj)))
        rc = pr_fail(&err, PR_INTERNAL, "out of memory");
    for (uint32_t i = 0; i < q->n_peers && rc == 0; i++) {
        fed_peer_t *p = &q->peers[i];
        if (p->stage == FED_DONE && !r->add(q, p->result)) {
            p->stage = FED_FAILED;
            snprintf(p->error, sizeof p->error, "%s: a malformed answer", r->op);
        }
    }
    if (rc != 0) {
        job->failed = true;
        job->err = err;
    }
    fed_complete(job);
    return NULL;
}

/* "network" and "own", which say whose figures are asked: the peers are
 * sent "own" instead. */
static bool
roll_up_key(const msgpack_object *k)
{
    return k->type == MSGPACK_OBJECT_STR &&
           ((k->via.str.size == 7 && memcmp(k->via.str.ptr, "network", 7) == 0) ||
            (k->via.str.size == 3 && memcmp(k->via.str.ptr, "own", 3) == 0));
}

/* Starts the roll-up of kind for req: every peer is sent the request's
 * arguments, with "own": true where the figures count vacancies. */
static int
federate_rollup(en_req_t *req, enum fed_kind kind)
{
    fed_t *q = fed_begin(req, kind);
    if (!q)
        return -1;
    const rollup_op_t *r = &rollup_ops[kind];
    q->args = req->rq->args;  /* in the zone the job takes over */
    msgpack_packer pk;
    msgpack_packer_init(&pk, &q->first, msgpack_sbuffer_write);
    const msgpack_object *args = req->rq->args;
    uint32_t keep = 0, n = args && args->type == MSGPACK_OBJECT_MAP ? args->via.map.size : 0;
    for (uint32_t i = 0; i < n; i++)
        keep += !roll_up_key(&args->via.map.ptr[i].key);
    msgpack_pack_map(&pk, keep + (r->ask_own ? 1 : 0));
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &args->via.map.ptr[i];
        if (roll_up_key(&kv->key))
            continue;
        msgpack_pack_object(&pk, kv->key);
        msgpack_pack_object(&pk, kv->val);
    }
    if (r->ask_own) {
        pr_pack_cstr(&pk, "own");
        msgpack_pack_true(&pk);
    }
    return fed_launch(req, q, rollup_reply, rollup_main);
}

int
en_federate_supply_demand(en_req_t *req)
{
    return federate_rollup(req, FED_SUPPLY_DEMAND);
}

int
en_federate_reemployment(en_req_t *req)
{
    return federate_rollup(req, FED_REEMPLOYMENT);
}
