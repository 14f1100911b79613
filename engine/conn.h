/* conn.h - one client connection on a worker's event loop: framing,
 * dispatch, ordering of replies, and its life until closed.
 *
 * Replies leave in request order. Reads run at once; writes go to the
 * writer and are answered when they commit. While writes of a connection
 * are in flight, further writes may queue behind them (up to
 * max_inflight), but any other request waits until they are answered, so
 * a client always reads its own writes.
 */
#ifndef JM_ENGINE_CONN_H
#define JM_ENGINE_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>

#include "auth.h"
#include "server.h"

enum en_conn_state {
    EN_CONN_OPEN,       /* reading and answering */
    EN_CONN_WAITING,    /* the next request waits for in-flight writes */
    EN_CONN_HOLDING,    /* a reply is held back (failed hello); reads wait */
    EN_CONN_CLOSING,    /* flushing the last replies, then closing */
    EN_CONN_LINGERING,  /* replies sent and FIN too; discarding input until
                           the client closes, so that closing resets nothing */
    EN_CONN_DEAD,       /* socket gone; kept until its writes complete */
};

struct en_conn {
    en_worker_t *worker;
    en_conn_t *prev, *next;
    struct bufferevent *bev;
    enum en_conn_state state;
    unsigned role;
    char key_name[EN_KEY_NAME_MAX];  /* "" while anonymous */
    unsigned inflight;               /* writes submitted, not yet answered */
    bool background;                 /* the one in flight is an EN_CMD_BACKGROUND op */
    size_t inflight_mem;             /* memory those writes hold */
    bool eof;                        /* the client has shut its sending side */
    unsigned held_audits;            /* its reads' audit entries held until
                                        the writer has room; reads nothing meanwhile */
    unsigned failed_hellos;
    struct event *hold_timer;        /* ends EN_CONN_HOLDING or _LINGERING */
    char *held;                      /* the held reply frame body */
    size_t held_len;
    uint64_t serial;                 /* for log lines */
    char peer[64];
};

/* Takes ownership of an accepted socket on worker w's thread. */
void en_conn_accept(en_worker_t *w, int fd);

/* A write of c has committed (or failed): send its reply in order and
 * resume reading. Runs on c's worker thread; frees the job. */
void en_conn_write_done(en_write_t *job);

/* The writer has room again: queues the audit entries w holds, oldest
 * first, and resumes the connections no longer waiting. */
void en_conn_audit_room(en_worker_t *w);

/* Queues what audit entries w still holds, waiting for the writer if
 * need be (w's loop has ended: nobody else waits on this thread). */
void en_conn_audit_flush(en_worker_t *w);

/* Sends a push frame (its msgpack body) at once, between replies; dropped
 * when the socket is gone or its unsent output is over the cap. */
void en_conn_push(en_conn_t *c, const void *body, size_t len);

/* Shutdown: stop reading, answer what is already received, then close. */
void en_conn_drain(en_conn_t *c);

/* Frees what is left of c when its worker exits (drain deadline passed). */
void en_conn_free(en_conn_t *c);

#endif
