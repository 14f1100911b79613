/* command.h - the table of operations: name, roles allowed, flags and one
 * handler signature for all.
 *
 * A handler runs on a worker thread with the request decoded. A read-only
 * handler answers at once: it begins the reply with en_reply_ok(), packs
 * the result and returns 0, or returns -1 with req->err set (anything it
 * packed is discarded). A write handler validates everything it can, then
 * prepares req->job (with en_job_new) and returns 0; the writer applies
 * the job and the reply is sent when it commits.
 */
#ifndef JM_ENGINE_COMMAND_H
#define JM_ENGINE_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "error.h"
#include "message.h"
#include "server.h"
#include "writer.h"

typedef struct en_req {
    en_server_t *srv;
    en_worker_t *worker;
    en_conn_t *conn;
    const pr_request_t *rq;
    size_t frame_len;         /* bytes of the request's frame body */
    size_t decoded_mem;       /* what its decoded form holds at most
                                 (en_decoded_bound) */
    msgpack_packer *pk;
    int64_t now;
    uint64_t started_ns;      /* when the frame was read (en_stats_clock) */
    size_t slot;              /* the operation's index in en_commands() */
    pr_error_t err;
    en_write_t *job;          /* set by write handlers */
    en_write_t *audit;        /* set by reads of workers (audit.h): entries
                                 for the writer, submitted after the reply */
    unsigned delay_ms;        /* hold the reply this long (failed hello) */
    bool background;          /* req->job was started on a thread of its own
                                 (as EN_CMD_BACKGROUND, for this request) */
} en_req_t;

typedef int (*en_handler_fn)(en_req_t *req);

enum en_command_flags {
    EN_CMD_WRITE = 1u << 0,   /* goes through the writer */
    /* Runs on a thread of its own: the handler validates, prepares
     * req->job (en_job_new, apply NULL) and starts the work, which hands
     * the job to en_worker_complete when done. Until it is answered, the
     * connection runs nothing else. */
    EN_CMD_BACKGROUND = 1u << 1,
};

typedef struct en_command {
    const char *name;
    unsigned roles;           /* enum en_role bits allowed */
    unsigned flags;
    en_handler_fn handler;
} en_command_t;

/* Looks an operation up by name; NULL when unknown. */
const en_command_t *en_command_find(pr_str_t op);

/* The whole table (*n entries), for tests that must cover every operation. */
const en_command_t *en_commands(size_t *n);

/* Begins a success reply to req: the caller then packs exactly one value. */
void en_reply_ok(en_req_t *req);

/* The most a decoded request holds in its zone, for the per-connection cap
 * on memory in flight: the copy of its frame of frame_len bytes and one
 * msgpack_object per element (pr_guard_check counts them; strings stay in
 * the copy), doubled because the zone rounds its chunks up to powers of
 * two, plus one chunk. en_job_new counts this in job->mem; a handler adds
 * its own data. */
static inline size_t
en_decoded_bound(size_t frame_len, size_t elements)
{
    return 2 * (frame_len + elements * sizeof(msgpack_object)) + MSGPACK_ZONE_CHUNK_SIZE;
}

/* Creates req->job for a write handler: it takes over the worker's
 * request zone (so the decoded request stays valid on the writer thread),
 * and records apply/reply. data (may be NULL) is owned by the job. */
int en_job_new(en_req_t *req, void *data,
               int (*apply)(ix_txn_t *, en_write_t *, msgpack_sbuffer *),
               void (*reply)(en_write_t *, msgpack_packer *));

/* Fills err for a negative errno from the index: storage_full for a full
 * map, overloaded when out of reader slots, else internal (logged, since
 * the client is told nothing useful). Returns -1. */
int en_storage_error(pr_error_t *err, int rc);

/* Fills err for a stored record that cannot be answered with (record
 * names it, e.g. "worker w-1"; sealed names its sealed part, e.g.
 * "personal fields"): -ENOKEY, -EBADMSG and -EIO are internal errors
 * saying why, logged with the record's name only; any other error goes to
 * en_storage_error. Returns -1. */
int en_read_error(pr_error_t *err, const char *record, const char *sealed, int rc);

/* Reads args.cursor, an opaque cursor of at most max bytes sent as
 * lowercase hex. Returns 1 when absent, 0 with the bytes in out and *len,
 * or -1 with req->err set. */
int en_get_cursor(en_req_t *req, uint8_t *out, size_t max, size_t *len);

/* Packs a cursor as lowercase hex, or nil when len is 0 (nothing follows). */
void en_pack_cursor(msgpack_packer *pk, const uint8_t *cursor, size_t len);

/* Appends already-encoded msgpack bytes (a stored record) to the reply. */
void en_pack_raw(msgpack_packer *pk, const void *bytes, size_t len);

/* Handlers, by module. */
int en_op_hello(en_req_t *req);
int en_op_ping(en_req_t *req);
int en_op_admin_info(en_req_t *req);
int en_op_admin_check(en_req_t *req);
int en_op_admin_backup(en_req_t *req);
int en_op_vacancy_put(en_req_t *req);
int en_op_worker_put(en_req_t *req);
int en_op_vacancy_put_many(en_req_t *req);
int en_op_worker_put_many(en_req_t *req);
int en_op_vacancy_get(en_req_t *req);
int en_op_worker_get(en_req_t *req);
int en_op_vacancy_delete(en_req_t *req);
int en_op_worker_delete(en_req_t *req);
int en_op_vacancy_close(en_req_t *req);
int en_op_vacancy_list(en_req_t *req);
int en_op_worker_list(en_req_t *req);
int en_op_match_vacancies(en_req_t *req);
int en_op_match_workers(en_req_t *req);
int en_op_match_explain(en_req_t *req);
int en_op_match_counts(en_req_t *req);
int en_op_audit_list(en_req_t *req);
int en_op_fair_create(en_req_t *req);
int en_op_fair_register(en_req_t *req);
int en_op_fair_unregister(en_req_t *req);
int en_op_fair_get(en_req_t *req);
int en_op_fair_allocate(en_req_t *req);
int en_op_admin_stats(en_req_t *req);
int en_op_referral_create(en_req_t *req);
int en_op_referral_update(en_req_t *req);
int en_op_referral_get(en_req_t *req);
int en_op_referral_list(en_req_t *req);
int en_op_stats_supply_demand(en_req_t *req);
int en_op_stats_wages(en_req_t *req);
int en_op_stats_reemployment(en_req_t *req);
int en_op_alert_subscribe(en_req_t *req);
int en_op_alert_unsubscribe(en_req_t *req);
int en_op_alert_listen(en_req_t *req);
int en_op_alert_list(en_req_t *req);
int en_op_alert_subscriptions(en_req_t *req);
int en_op_occupation_suggest(en_req_t *req);
int en_op_sync_pull(en_req_t *req);

#endif
