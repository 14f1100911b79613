/* server.h - the daemon's runtime: the accept thread, the event-loop worker
 * threads and the writer thread, and what they share.
 *
 * Threads:
 * - main: accepts connections (evconnlistener), hands each to a worker
 *   round-robin, handles signals and shutdown;
 * - workers (cfg.threads): one event_base each; read frames, run read-only
 *   requests against their own LMDB read transaction, and hand writes to
 *   the writer;
 * - writer: the single LMDB writer; applies every queued write in one
 *   transaction and one fsync (group commit), then sends each completion
 *   back to the worker that owns the connection.
 */
#ifndef JM_ENGINE_SERVER_H
#define JM_ENGINE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <msgpack.h>

#include "auth.h"
#include "backup.h"
#include "config.h"
#include "federate.h"
#include "index.h"
#include "keystore.h"
#include "seal.h"
#include "throttle.h"

typedef struct en_server en_server_t;
typedef struct en_worker en_worker_t;
typedef struct en_conn en_conn_t;
typedef struct en_write en_write_t;
typedef struct en_writer en_writer_t;

struct en_worker {
    en_server_t *srv;
    unsigned index;
    pthread_t thread;
    struct event_base *base;
    struct event *notify;          /* woken by other threads */
    pthread_mutex_t lock;          /* guards the two queues below */
    int *new_fds;
    unsigned n_new_fds, cap_new_fds;
    en_write_t *done_head, *done_tail;
    struct en_push *push_head, *push_tail;   /* frames to push, any thread */
    bool draining;                 /* shutdown: finish and close */
    en_conn_t *conns;              /* this worker's connections */
    msgpack_sbuffer out;           /* response being built */
    msgpack_packer pk;
    msgpack_zone zone;             /* request being decoded */
    struct en_match_scratch *match_scratch;
    struct en_stats *stats;        /* written by this thread only */
    /* Audit entries of reads held for the writer's room (en_writer_offer),
     * oldest first, each with its connection's serial; conn.c. */
    en_write_t *held_audit_head, *held_audit_tail;
    atomic_bool room;              /* the writer has room for them again */
    en_worker_t *room_next;        /* the writer's waiters; its lock guards */
    bool wants_room;               /* these two */
};

struct en_server {
    en_config_t *cfg;
    ix_env_t *ix;
    en_keystore_t keys;            /* config keys, key file, admin key */
    en_throttle_t *throttle;       /* failed hellos per address */
    en_sealer_t *sealer;           /* seals personal fields; NULL = no key */
    struct event_base *base;
    struct evconnlistener *listeners[EN_MAX_LISTEN + 1];
    unsigned n_listeners;
    en_worker_t *workers;
    unsigned n_workers, next_worker;
    en_writer_t *writer;
    en_backup_slot_t backup;       /* admin.backup */
    en_federation_t federation;    /* network-wide requests running */
    struct en_alerts *alerts;      /* match-alert subscriptions */
    struct en_occupations *occupations; /* occupation.suggest; NULL = none */
    struct en_followers *followers;     /* of the [peers] (follow.h) */
    atomic_uint connections;
    atomic_uint_fast64_t connections_total, connections_refused;
    struct en_metrics *metrics;    /* NULL unless metrics_listen is set */
    atomic_bool stopping;
    int64_t started;
    struct event *sig_term, *sig_int, *sig_hup, *drain_deadline;
};

/* Runs the daemon until SIGTERM/SIGINT; SIGHUP reloads the keys. Returns the process exit code. */
int en_server_run(en_config_t *cfg);

/* Queues a push frame (its msgpack body; copied) for connection
 * conn_serial of worker w (any thread). A connection that has gone, or
 * whose unsent output is over its cap, misses it. */
void en_worker_push(en_worker_t *w, uint64_t conn_serial, const void *body,
                    size_t len);

/* The writer has room for the audit entries w holds (any thread). */
void en_worker_room(en_worker_t *w);

/* Queues a finished write for its worker (any thread). */
void en_worker_complete(en_worker_t *w, en_write_t *job);

/* Wall-clock seconds. */
int64_t en_now(void);

#endif
