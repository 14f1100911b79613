/* conn.c - framing, dispatch and reply order for one connection. */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "alerts.h"
#include "command.h"
#include "frame.h"
#include "guard.h"
#include "log.h"
#include "message.h"
#include "stats.h"
#include "writer.h"

/* Past this much unsent output the connection stops taking requests until
 * the client reads, so a client that never reads cannot grow our memory. */
#define EN_OUTPUT_HIGH (8u << 20)

/* Decoded writes waiting for the writer hold memory (their request zones
 * and records); past this much per connection, its next write waits for
 * earlier ones to commit. */
#define EN_INFLIGHT_MEM_MAX ((size_t)128 << 20)

/* How long a closing connection goes on reading (and discarding) what its
 * client still sends; see conn_linger. */
#define EN_LINGER_SECONDS 2

enum frame_result { FRAME_DONE, FRAME_WAIT, FRAME_FATAL };

static void conn_process(en_conn_t *c);
static void conn_maybe_finish(en_conn_t *c);

void
en_conn_free(en_conn_t *c)
{
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->hold_timer)
        event_free(c->hold_timer);
    free(c->held);
    free(c);
}

static void
conn_unlink_free(en_conn_t *c)
{
    en_worker_t *w = c->worker;
    /* Audit entries still held for it wait for no one now. */
    for (en_write_t *a = w->held_audit_head; a && c->held_audits; a = a->next)
        if (a->held_by == c) {
            a->held_by = NULL;
            c->held_audits--;
        }
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    en_conn_free(c);
    if (w->draining && !w->conns)
        event_base_loopexit(w->base, NULL);
}

/* Closes the socket. The connection itself lives on while writes it
 * submitted are in the writer's hands. */
static void
conn_close(en_conn_t *c)
{
    if (c->worker->srv->alerts)
        en_alerts_forget(c->worker->srv->alerts, c->worker, c->serial);
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
        atomic_fetch_sub(&c->worker->srv->connections, 1);
        en_debug("conn %llu closed", (unsigned long long)c->serial);
    }
    if (c->inflight > 0) {
        c->state = EN_CONN_DEAD;
        return;
    }
    conn_unlink_free(c);
}

static void
reply_begin(en_worker_t *w)
{
    w->out.size = 0;
    msgpack_sbuffer_write(&w->out, "\0\0\0\0", PR_FRAME_HEADER);
}

static void
reply_send(en_conn_t *c)
{
    en_worker_t *w = c->worker;
    pr_frame_put_length((uint8_t *)w->out.data,
                        (uint32_t)(w->out.size - PR_FRAME_HEADER));
    bufferevent_write(c->bev, w->out.data, w->out.size);
}

void
en_conn_push(en_conn_t *c, const void *body, size_t len)
{
    if (!c->bev || c->state == EN_CONN_DEAD ||
        evbuffer_get_length(bufferevent_get_output(c->bev)) > EN_OUTPUT_HIGH)
        return;
    uint8_t header[PR_FRAME_HEADER];
    pr_frame_put_length(header, (uint32_t)len);
    bufferevent_write(c->bev, header, sizeof header);
    bufferevent_write(c->bev, body, len);
}

static void
reply_error(en_conn_t *c, uint64_t id, const pr_error_t *err)
{
    reply_begin(c->worker);
    pr_pack_error(&c->worker->pk, id, err);
    reply_send(c);
}

/* The connection's timer: ends a held reply, or a linger (conn_linger). */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    en_conn_t *c = arg;
    if (c->state == EN_CONN_LINGERING) {
        conn_close(c);
        return;
    }
    en_worker_t *w = c->worker;
    reply_begin(w);
    msgpack_sbuffer_write(&w->out, c->held, c->held_len);
    reply_send(c);
    free(c->held);
    c->held = NULL;
    c->state = EN_CONN_OPEN;
    conn_process(c);
}

/* Sends the reply built in the worker's buffer only after delay_ms, on a
 * timer, reading nothing more from c meanwhile (replies stay in order and
 * the event loop goes on serving everyone else). */
static int
conn_hold_reply(en_conn_t *c, unsigned delay_ms)
{
    en_worker_t *w = c->worker;
    if (!c->hold_timer)
        c->hold_timer = evtimer_new(w->base, on_timer, c);
    size_t len = w->out.size - PR_FRAME_HEADER;
    char *held = malloc(len);
    if (!c->hold_timer || !held) {
        free(held);
        return -1;
    }
    memcpy(held, w->out.data + PR_FRAME_HEADER, len);
    c->held = held;
    c->held_len = len;
    c->state = EN_CONN_HOLDING;
    struct timeval tv = {.tv_sec = delay_ms / 1000,
                         .tv_usec = (suseconds_t)(delay_ms % 1000) * 1000};
    evtimer_add(c->hold_timer, &tv);
    return 0;
}

/* Hands a read's audit entries to the writer. When its queue is full, the
 * worker holds them (in order behind any it holds already) and c reads
 * nothing more until they are queued: the reply still goes out, and the
 * other connections of this event loop go on being served. */
static void
conn_queue_audit(en_conn_t *c, en_write_t *audit)
{
    en_worker_t *w = c->worker;
    if (w->held_audit_head)
        en_writer_note_wait(w->srv->writer);
    else if (en_writer_offer(w->srv->writer, audit, w, false))
        return;
    audit->next = NULL;
    audit->held_by = c;
    if (w->held_audit_tail)
        w->held_audit_tail->next = audit;
    else
        w->held_audit_head = audit;
    w->held_audit_tail = audit;
    c->held_audits++;
}

static void conn_resume(en_conn_t *c);

void
en_conn_audit_room(en_worker_t *w)
{
    while (w->held_audit_head) {
        en_write_t *audit = w->held_audit_head;
        en_write_t *next = audit->next;
        en_conn_t *c = audit->held_by;  /* once queued, the writer owns it */
        if (!en_writer_offer(w->srv->writer, audit, w, true))
            return;  /* called again at the next room */
        w->held_audit_head = next;
        if (!next)
            w->held_audit_tail = NULL;
        if (c && --c->held_audits == 0 && c->state == EN_CONN_WAITING)
            conn_resume(c);
    }
}

void
en_conn_audit_flush(en_worker_t *w)
{
    while (w->held_audit_head) {
        en_write_t *audit = w->held_audit_head;
        w->held_audit_head = audit->next;
        en_writer_submit(w->srv->writer, audit);
    }
    w->held_audit_tail = NULL;
}

/* Counts one answered request for admin.stats. */
static void
count_request(en_conn_t *c, size_t slot, pr_code_t code, uint64_t started)
{
    en_stats_request(c->worker->stats, slot, code, en_stats_clock() - started);
}

static enum frame_result
handle_frame(en_conn_t *c, const uint8_t *body, uint32_t len)
{
    en_worker_t *w = c->worker;
    en_server_t *srv = w->srv;
    pr_error_t err = {0};
    uint64_t started = en_stats_clock();
    size_t other = en_stats_other_slot();

    size_t elements;
    if (pr_guard_check(body, len, PR_MAX_DEPTH, &elements, &err) != 0) {
        if (c->inflight)
            return FRAME_WAIT;
        reply_error(c, 0, &err);
        count_request(c, other, err.code, started);
        return FRAME_FATAL;
    }
    /* Decode from a copy held by the request zone: a write hands the zone
     * to the writer thread, long after this input buffer is drained. */
    msgpack_zone_clear(&w->zone);
    char *copy = msgpack_zone_malloc(&w->zone, len);
    msgpack_object root;
    size_t off = 0;
    if (!copy) {
        if (c->inflight)
            return FRAME_WAIT;
        pr_fail(&err, PR_INTERNAL, "out of memory");
        reply_error(c, 0, &err);
        count_request(c, other, err.code, started);
        return FRAME_FATAL;
    }
    memcpy(copy, body, len);
    if (msgpack_unpack(copy, len, &off, &w->zone, &root) != MSGPACK_UNPACK_SUCCESS) {
        if (c->inflight)
            return FRAME_WAIT;
        pr_fail(&err, PR_BAD_FRAME, "body is not one msgpack map");
        reply_error(c, 0, &err);
        count_request(c, other, err.code, started);
        return FRAME_FATAL;
    }

    pr_request_t rq;
    if (pr_request_decode(&root, &rq, &err) != 0) {
        if (c->inflight)
            return FRAME_WAIT;
        reply_error(c, rq.id, &err);
        count_request(c, other, err.code, started);
        return FRAME_DONE;
    }
    const en_command_t *cmd = en_command_find(rq.op);
    bool is_write = cmd && (cmd->flags & EN_CMD_WRITE);
    if (c->inflight && (!is_write || c->background || c->inflight >= srv->cfg->max_inflight ||
                        c->inflight_mem >= EN_INFLIGHT_MEM_MAX))
        return FRAME_WAIT;
    if (!cmd) {
        pr_fail(&err, PR_UNKNOWN_OP, "op: unknown operation '%.*s'",
                (int)(rq.op.len > 64 ? 64 : rq.op.len), rq.op.ptr);
        reply_error(c, rq.id, &err);
        count_request(c, other, err.code, started);
        return FRAME_DONE;
    }
    size_t n_cmds;
    size_t slot = (size_t)(cmd - en_commands(&n_cmds));
    if (!(cmd->roles & c->role)) {
        pr_fail(&err, PR_FORBIDDEN, "role %s may not use %s",
                en_role_name(c->role), cmd->name);
        reply_error(c, rq.id, &err);
        count_request(c, slot, err.code, started);
        return FRAME_DONE;
    }

    en_req_t req = {
        .srv = srv, .worker = w, .conn = c, .rq = &rq, .frame_len = len,
        .decoded_mem = en_decoded_bound(len, elements), .pk = &w->pk,
        .now = en_now(), .started_ns = started, .slot = slot,
    };
    reply_begin(w);
    if (cmd->handler(&req) != 0) {
        reply_begin(w);
        pr_pack_error(&w->pk, rq.id, &req.err);
    }
    if (req.audit)
        conn_queue_audit(c, req.audit);
    if (!req.job && c->inflight) {
        /* A write refused before reaching the store, behind writes still
         * in flight: its answer must wait its turn. */
        req.job = en_job_answered(c, w->out.data + PR_FRAME_HEADER,
                                  w->out.size - PR_FRAME_HEADER);
        if (!req.job)
            return FRAME_WAIT;
        req.job->err.code = req.err.code;
        req.job->started_ns = started;
        req.job->stats_slot = slot;
    }
    if (req.job) {
        c->inflight++;
        c->inflight_mem += req.job->mem;
        if ((cmd->flags & EN_CMD_BACKGROUND) || req.background)
            c->background = true;  /* its handler started it */
        else
            en_writer_submit(srv->writer, req.job);
        return FRAME_DONE;
    }
    /* Counted before any hold: a slowed-down answer is policy, not latency. */
    count_request(c, slot, req.err.code, started);
    if (req.delay_ms && conn_hold_reply(c, req.delay_ms) == 0)
        return FRAME_DONE;
    reply_send(c);
    return FRAME_DONE;
}

/* The largest frame c may send: smaller until it presents a key, unless
 * the anonymous role may already write (then the operator trusts whoever
 * connects, e.g. on a private socket). */
static uint32_t
conn_frame_limit(const en_conn_t *c)
{
    const en_config_t *cfg = c->worker->srv->cfg;
    if (c->key_name[0] || (cfg->anonymous_role & (EN_ROLE_COUNSELOR | EN_ROLE_ADMIN)))
        return cfg->max_frame;
    return cfg->anonymous_max_frame && cfg->anonymous_max_frame < cfg->max_frame
               ? cfg->anonymous_max_frame
               : cfg->max_frame;
}

/* Answers every whole frame buffered, until the connection has to wait. */
static void
conn_process(en_conn_t *c)
{
    en_worker_t *w = c->worker;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);

    while (c->state == EN_CONN_OPEN) {
        if (evbuffer_get_length(out) > EN_OUTPUT_HIGH || c->held_audits) {
            c->state = EN_CONN_WAITING;
            break;
        }
        size_t avail = evbuffer_get_length(in);
        if (avail < PR_FRAME_HEADER)
            break;
        uint8_t hdr[PR_FRAME_HEADER];
        uint32_t len;
        evbuffer_copyout(in, hdr, sizeof hdr);
        uint32_t limit = conn_frame_limit(c);
        if (pr_frame_length(hdr, limit, &len) != PR_FRAME_OK) {
            if (c->inflight) {
                c->state = EN_CONN_WAITING;
                break;
            }
            pr_error_t err;
            pr_fail(&err, PR_BAD_FRAME, "frame length %u is outside 1..%u%s", len, limit,
                    limit < w->srv->cfg->max_frame ? " before a hello with a key" : "");
            reply_error(c, 0, &err);
            en_stats_request(w->stats, en_stats_other_slot(), err.code, 0);
            c->state = EN_CONN_CLOSING;
            break;
        }
        if (avail < PR_FRAME_HEADER + (size_t)len)
            break;
        const uint8_t *frame = evbuffer_pullup(in, PR_FRAME_HEADER + (ssize_t)len);
        enum frame_result r = handle_frame(c, frame + PR_FRAME_HEADER, len);
        if (r == FRAME_WAIT) {
            c->state = EN_CONN_WAITING;
            break;
        }
        evbuffer_drain(in, PR_FRAME_HEADER + (size_t)len);
        if (r == FRAME_FATAL)
            c->state = EN_CONN_CLOSING;
    }

    if (c->state == EN_CONN_OPEN && !w->draining && !c->eof)
        bufferevent_enable(c->bev, EV_READ);
    else
        bufferevent_disable(c->bev, EV_READ);
    conn_maybe_finish(c);
}

/* Whether bytes from the client wait unread, here or in the kernel. */
static bool
conn_input_pending(en_conn_t *c)
{
    int queued = 0;
    return evbuffer_get_length(bufferevent_get_input(c->bev)) > 0 ||
           (ioctl(bufferevent_getfd(c->bev), FIONREAD, &queued) == 0 && queued > 0);
}

/* Closing a socket with unread input makes the kernel reset the connection,
 * and a reset can destroy replies the client has not read yet (the
 * bad_frame it should see, or the last replies of a drain). So when input
 * is pending, send FIN after the replies and discard what still comes until
 * the client closes, for at most EN_LINGER_SECONDS. */
static void
conn_linger(en_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    if (!c->hold_timer)
        c->hold_timer = evtimer_new(c->worker->base, on_timer, c);
    if (!c->hold_timer || shutdown(bufferevent_getfd(c->bev), SHUT_WR) != 0) {
        conn_close(c);
        return;
    }
    c->state = EN_CONN_LINGERING;
    /* A deadline, not a timeout: a client that keeps sending cannot keep
     * the connection. */
    struct timeval tv = {.tv_sec = EN_LINGER_SECONDS};
    evtimer_add(c->hold_timer, &tv);
    bufferevent_enable(c->bev, EV_READ);
}

/* Closes a closing connection once its replies are out; on shutdown,
 * closes every connection that has nothing left to answer. */
static void
conn_maybe_finish(en_conn_t *c)
{
    /* On shutdown, or once the client has sent all it will: close after
     * answering everything received. */
    if (c->state == EN_CONN_OPEN && (c->worker->draining || c->eof) && c->inflight == 0)
        c->state = EN_CONN_CLOSING;
    if (c->state != EN_CONN_CLOSING)
        return;
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
        bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    else if (c->inflight == 0 && !c->eof && conn_input_pending(c))
        conn_linger(c);
    else
        conn_close(c);
}

static void
conn_resume(en_conn_t *c)
{
    if (c->state == EN_CONN_WAITING)
        c->state = EN_CONN_OPEN;
    conn_process(c);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
    en_conn_t *c = arg;
    if (c->state == EN_CONN_LINGERING) {
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    conn_process(c);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    en_conn_t *c = arg;
    if (c->state == EN_CONN_WAITING)
        conn_resume(c);
    else
        conn_maybe_finish(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    en_conn_t *c = arg;
    if (c->state == EN_CONN_LINGERING) {
        /* The client closed (or took too long to): done. */
        conn_close(c);
        return;
    }
    if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING)) {
        /* Silent, but not idle while it has work here or replies still
         * leaving (a slow reader is bounded by the write timeout). */
        if (c->inflight > 0 || c->state != EN_CONN_OPEN ||
            evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
            bufferevent_enable(bev, EV_READ);
            return;
        }
        en_debug("conn %llu idle, closing", (unsigned long long)c->serial);
    } else if (what & BEV_EVENT_TIMEOUT) {
        en_debug("conn %llu reads nothing we send, closing", (unsigned long long)c->serial);
    } else if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
        /* A half-close: the client sent everything and still reads. Answer
         * what it sent, then close. */
        c->eof = true;
        conn_process(c);
        return;
    }
    conn_close(c);
}

static void
describe_peer(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    snprintf(buf, len, "?");
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    char host[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        snprintf(buf, len, "unix");
    }
}

void
en_conn_accept(en_worker_t *w, int fd)
{
    static atomic_uint_fast64_t serials;
    en_server_t *srv = w->srv;
    if (w->draining) {  /* accepted just before shutdown began */
        evutil_closesocket(fd);
        atomic_fetch_sub(&srv->connections, 1);
        return;
    }
    en_conn_t *c = calloc(1, sizeof *c);
    struct bufferevent *bev =
        c ? bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        en_error("out of memory accepting a connection");
        free(c);
        evutil_closesocket(fd);
        atomic_fetch_sub(&srv->connections, 1);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on Unix sockets */
    c->worker = w;
    c->bev = bev;
    c->state = EN_CONN_OPEN;
    c->role = srv->cfg->anonymous_role;
    c->serial = atomic_fetch_add(&serials, 1) + 1;
    describe_peer(fd, c->peer, sizeof c->peer);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;

    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(bev, EV_WRITE, EN_OUTPUT_HIGH / 2, 0);
    if (srv->cfg->idle_timeout) {
        /* Reading: idle clients. Writing: clients that stopped reading. */
        struct timeval tv = {.tv_sec = srv->cfg->idle_timeout};
        bufferevent_set_timeouts(bev, &tv, &tv);
    }
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    en_debug("conn %llu from %s", (unsigned long long)c->serial, c->peer);
}

void
en_conn_write_done(en_write_t *job)
{
    en_conn_t *c = job->conn;
    c->inflight--;
    c->background = false;  /* when one was in flight, it was alone */
    c->inflight_mem -= job->mem;
    en_stats_request(c->worker->stats, job->stats_slot,
                     job->failed || job->answer ? job->err.code : PR_OK,
                     en_stats_clock() - job->started_ns);
    if (c->state == EN_CONN_DEAD) {
        if (c->inflight == 0)
            conn_unlink_free(c);
        en_write_free(job);
        return;
    }
    en_worker_t *w = c->worker;
    if (job->answer) {
        reply_begin(w);
        msgpack_sbuffer_write(&w->out, job->answer, job->answer_len);
        reply_send(c);
    } else if (job->failed) {
        reply_error(c, job->req_id, &job->err);
    } else {
        reply_begin(w);
        pr_pack_ok_begin(&w->pk, job->req_id);
        job->reply(job, &w->pk);
        reply_send(c);
    }
    en_write_free(job);
    conn_resume(c);
}

void
en_conn_drain(en_conn_t *c)
{
    if (c->state == EN_CONN_DEAD || c->state == EN_CONN_LINGERING)
        return;
    conn_process(c);
}
