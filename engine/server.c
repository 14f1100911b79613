/* server.c - start-up, the accept thread, worker threads, shutdown. */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <systemd/sd-daemon.h>

#include "alerts.h"
#include "occupation.h"
#include "conn.h"
#include "error.h"
#include "frame.h"
#include "log.h"
#include "match.h"
#include "message.h"
#include "metrics.h"
#include "stats.h"
#include "store.h"
#include "follow.h"
#include "writer.h"

/* How long a SIGTERM drain may take before connections are cut. */
#define EN_DRAIN_SECONDS 8

int64_t
en_now(void)
{
    return (int64_t)time(NULL);
}

/* ---- workers ---------------------------------------------------------- */

void
en_worker_complete(en_worker_t *w, en_write_t *job)
{
    job->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->done_tail)
        w->done_tail->next = job;
    else
        w->done_head = job;
    w->done_tail = job;
    pthread_mutex_unlock(&w->lock);
    event_active(w->notify, EV_READ, 0);
}

struct en_push {
    struct en_push *next;
    uint64_t serial;
    size_t len;
    char body[];
};

void
en_worker_push(en_worker_t *w, uint64_t conn_serial, const void *body, size_t len)
{
    struct en_push *p = malloc(sizeof *p + len);
    if (!p) {
        en_error("out of memory: a push frame is dropped");
        return;
    }
    p->next = NULL;
    p->serial = conn_serial;
    p->len = len;
    memcpy(p->body, body, len);
    pthread_mutex_lock(&w->lock);
    if (w->push_tail)
        w->push_tail->next = p;
    else
        w->push_head = p;
    w->push_tail = p;
    pthread_mutex_unlock(&w->lock);
    event_active(w->notify, EV_READ, 0);
}

static void
deliver_pushes(en_worker_t *w, struct en_push *p)
{
    while (p) {
        struct en_push *next = p->next;
        for (en_conn_t *c = w->conns; c; c = c->next)
            if (c->serial == p->serial) {
                en_conn_push(c, p->body, p->len);
                break;
            }
        free(p);
        p = next;
    }
}

void
en_worker_room(en_worker_t *w)
{
    atomic_store(&w->room, true);
    event_active(w->notify, EV_READ, 0);
}

static void
worker_notified(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    en_worker_t *w = arg;
    pthread_mutex_lock(&w->lock);
    int fds[64];
    unsigned n = 0;
    while (w->n_new_fds && n < 64)
        fds[n++] = w->new_fds[--w->n_new_fds];
    bool more_fds = w->n_new_fds > 0;
    en_write_t *done = w->done_head;
    w->done_head = w->done_tail = NULL;
    struct en_push *pushes = w->push_head;
    w->push_head = w->push_tail = NULL;
    pthread_mutex_unlock(&w->lock);

    for (unsigned i = 0; i < n; i++)
        en_conn_accept(w, fds[i]);
    if (atomic_exchange(&w->room, false))
        en_conn_audit_room(w);
    /* Pushes first: the writes they come from committed before the
     * completions queued with them were answered. */
    deliver_pushes(w, pushes);
    while (done) {
        en_write_t *next = done->next;
        en_conn_write_done(done);
        done = next;
    }
    if (more_fds)
        event_active(w->notify, EV_READ, 0);
}

static void
worker_drain(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    en_worker_t *w = arg;
    w->draining = true;
    if (!w->conns) {
        event_base_loopexit(w->base, NULL);
        return;
    }
    for (en_conn_t *c = w->conns, *next; c; c = next) {
        next = c->next;
        en_conn_drain(c);
    }
}

static void *
worker_main(void *arg)
{
    en_worker_t *w = arg;
    /* The loop lives until shutdown, even with no connection yet. */
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    en_conn_audit_flush(w);
    return NULL;
}

static int
worker_init(en_server_t *srv, en_worker_t *w, unsigned index)
{
    w->srv = srv;
    w->index = index;
    pthread_mutex_init(&w->lock, NULL);
    w->base = event_base_new();
    if (!w->base)
        return -1;
    w->notify = event_new(w->base, -1, EV_PERSIST, worker_notified, w);
    if (!w->notify)
        return -1;
    event_add(w->notify, NULL);
    msgpack_sbuffer_init(&w->out);
    msgpack_packer_init(&w->pk, &w->out, msgpack_sbuffer_write);
    if (!msgpack_zone_init(&w->zone, MSGPACK_ZONE_CHUNK_SIZE))
        return -1;
    w->match_scratch = en_match_scratch_new();
    w->stats = en_stats_new();
    return w->match_scratch && w->stats ? 0 : -1;
}

static void
worker_free(en_worker_t *w)
{
    /* Connections cut by the drain deadline. */
    while (w->conns) {
        en_conn_t *c = w->conns;
        w->conns = c->next;
        en_conn_free(c);
    }
    while (w->done_head) {
        en_write_t *next = w->done_head->next;
        en_write_free(w->done_head);
        w->done_head = next;
    }
    while (w->push_head) {
        struct en_push *next = w->push_head->next;
        free(w->push_head);
        w->push_head = next;
    }
    for (unsigned i = 0; i < w->n_new_fds; i++)
        close(w->new_fds[i]);
    free(w->new_fds);
    if (w->notify)
        event_free(w->notify);
    if (w->base)
        event_base_free(w->base);
    msgpack_sbuffer_destroy(&w->out);
    msgpack_zone_destroy(&w->zone);
    en_match_scratch_free(w->match_scratch);
    en_stats_free(w->stats);
    pthread_mutex_destroy(&w->lock);
}

/* ---- accepting -------------------------------------------------------- */

/* Tells a client over the limit why it is turned away, then closes. */
static void
refuse_overloaded(int fd)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_sbuffer_write(&sb, "\0\0\0\0", PR_FRAME_HEADER);
    pr_error_t err;
    pr_fail(&err, PR_OVERLOADED, "too many connections");
    pr_pack_error(&pk, 0, &err);
    pr_frame_put_length((uint8_t *)sb.data, (uint32_t)(sb.size - PR_FRAME_HEADER));
    /* Best effort: the socket is fresh, so the small frame fits its buffer. */
    if (send(fd, sb.data, sb.size, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        en_debug("overloaded notice not sent: %s", strerror(errno));
    msgpack_sbuffer_destroy(&sb);
    evutil_closesocket(fd);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
          int socklen, void *arg)
{
    (void)l;
    (void)sa;
    (void)socklen;
    en_server_t *srv = arg;
    if (atomic_load(&srv->stopping)) {
        evutil_closesocket(fd);
        return;
    }
    if (atomic_fetch_add(&srv->connections, 1) >= srv->cfg->max_clients) {
        atomic_fetch_sub(&srv->connections, 1);
        atomic_fetch_add(&srv->connections_refused, 1);
        refuse_overloaded(fd);
        return;
    }
    atomic_fetch_add(&srv->connections_total, 1);
    en_worker_t *w = &srv->workers[srv->next_worker++ % srv->n_workers];
    pthread_mutex_lock(&w->lock);
    if (w->n_new_fds == w->cap_new_fds) {
        unsigned cap = w->cap_new_fds ? w->cap_new_fds * 2 : 64;
        int *fds = realloc(w->new_fds, cap * sizeof *fds);
        if (!fds) {
            pthread_mutex_unlock(&w->lock);
            atomic_fetch_sub(&srv->connections, 1);
            evutil_closesocket(fd);
            return;
        }
        w->new_fds = fds;
        w->cap_new_fds = cap;
    }
    w->new_fds[w->n_new_fds++] = fd;
    pthread_mutex_unlock(&w->lock);
    event_active(w->notify, EV_READ, 0);
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    en_warn("accept: %s", evutil_socket_error_to_string(err));
    /* Out of descriptors: pause a moment rather than spin. */
    if (err == EMFILE || err == ENFILE) {
        evconnlistener_disable(l);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        evconnlistener_enable(l);
    }
}

/* Formats a bound socket's address for the log and the ready file. */
static void
format_bound(evutil_socket_t fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[128] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(buf, len, "?");
        return;
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        evutil_inet_ntop(AF_INET, &s->sin_addr, host, sizeof host);
        snprintf(buf, len, "%s:%u", host, ntohs(s->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        evutil_inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
        snprintf(buf, len, "[%s]:%u", host, ntohs(s->sin6_port));
    } else {
        struct sockaddr_un *s = (struct sockaddr_un *)&ss;
        snprintf(buf, len, "unix:%s", s->sun_path);
    }
}

/* Parses "host:port" or "[v6]:port". Port 0 (any free port) is accepted,
 * which evutil_parse_sockaddr_port refuses. */
static int
parse_listen_address(const char *text, struct sockaddr_storage *ss, int *len)
{
    char buf[EN_ADDR_MAX + 8];
    size_t n = strlen(text);
    bool any_port = n > 2 && strcmp(text + n - 2, ":0") == 0;
    snprintf(buf, sizeof buf, "%.*s%s", (int)(any_port ? n - 2 : n), text,
             any_port ? ":1" : "");
    if (evutil_parse_sockaddr_port(buf, (struct sockaddr *)ss, len) != 0)
        return -1;
    if (any_port) {
        if (ss->ss_family == AF_INET)
            ((struct sockaddr_in *)ss)->sin_port = 0;
        else
            ((struct sockaddr_in6 *)ss)->sin6_port = 0;
    }
    return 0;
}

static int
listen_all(en_server_t *srv, char *bound, size_t bound_len)
{
    const en_config_t *cfg = srv->cfg;
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    size_t used = 0;
    bound[0] = '\0';
    for (unsigned i = 0; i < cfg->n_listen; i++) {
        struct sockaddr_storage ss;
        int sl = sizeof ss;
        if (parse_listen_address(cfg->listen[i], &ss, &sl) != 0) {
            en_error("listen: cannot parse address %s", cfg->listen[i]);
            return -1;
        }
        struct evconnlistener *l = evconnlistener_new_bind(
            srv->base, on_accept, srv, flags, 1024, (struct sockaddr *)&ss, sl);
        if (!l) {
            en_error("listen on %s: %s", cfg->listen[i], strerror(errno));
            return -1;
        }
        evconnlistener_set_error_cb(l, on_accept_error);
        srv->listeners[srv->n_listeners++] = l;
        char addr[160];
        format_bound(evconnlistener_get_fd(l), addr, sizeof addr);
        used += (size_t)snprintf(bound + used, bound_len - used, "%s\n", addr);
        en_info("listening on %s", addr);
    }
    if (cfg->unix_path[0]) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (strlen(cfg->unix_path) >= sizeof sun.sun_path) {
            en_error("unix socket path too long: %s", cfg->unix_path);
            return -1;
        }
        memcpy(sun.sun_path, cfg->unix_path, strlen(cfg->unix_path) + 1);
        unlink(cfg->unix_path);  /* a stale socket from an earlier run */
        struct evconnlistener *l = evconnlistener_new_bind(
            srv->base, on_accept, srv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
            1024, (struct sockaddr *)&sun, sizeof sun);
        if (!l) {
            en_error("listen on unix:%s: %s", cfg->unix_path, strerror(errno));
            return -1;
        }
        evconnlistener_set_error_cb(l, on_accept_error);
        srv->listeners[srv->n_listeners++] = l;
        used += (size_t)snprintf(bound + used, bound_len - used, "unix:%s\n", cfg->unix_path);
        en_info("listening on unix:%s", cfg->unix_path);
    }
    return 0;
}

static int
write_ready_file(const char *path, const char *text)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fputs(text, f);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

/* ---- shutdown --------------------------------------------------------- */

static void
on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    en_server_t *srv = arg;
    en_warn("drain took longer than %d s; closing the remaining connections",
            EN_DRAIN_SECONDS);
    for (unsigned i = 0; i < srv->n_workers; i++)
        event_base_loopexit(srv->workers[i].base, NULL);
    event_base_loopexit(srv->base, NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    en_server_t *srv = arg;
    if (atomic_exchange(&srv->stopping, true))
        return;
    en_info("%s: no longer accepting; answering what is in flight",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    sd_notify(0, "STOPPING=1");
    /* A backup could outlast the drain; its connection is told why. */
    ix_backup_cancel(srv->ix);
    /* So could network-wide requests waiting on peers: they are answered
     * with what came back. */
    en_federation_cut(&srv->federation);
    for (unsigned i = 0; i < srv->n_listeners; i++) {
        evconnlistener_free(srv->listeners[i]);
        srv->listeners[i] = NULL;
    }
    srv->n_listeners = 0;
    en_metrics_stop(srv->metrics);
    srv->metrics = NULL;
    for (unsigned i = 0; i < srv->n_workers; i++)
        event_base_once(srv->workers[i].base, -1, EV_TIMEOUT, worker_drain,
                        &srv->workers[i], NULL);
    struct timeval tv = {.tv_sec = EN_DRAIN_SECONDS};
    srv->drain_deadline = evtimer_new(srv->base, on_drain_deadline, srv);
    evtimer_add(srv->drain_deadline, &tv);
}

/* SIGHUP: the keys are read again from every source. Connections keep the
 * role they have; a key that is gone no longer works for a new hello. */
static void
on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    en_server_t *srv = arg;
    en_info("SIGHUP: reloading the keys");
    en_keystore_reload(&srv->keys, srv->cfg);
}

/* The main loop has nothing else to do once every worker has finished. */
static void *
join_workers(void *arg)
{
    en_server_t *srv = arg;
    for (unsigned i = 0; i < srv->n_workers; i++)
        pthread_join(srv->workers[i].thread, NULL);
    event_base_loopexit(srv->base, NULL);
    return NULL;
}

/* ---- run -------------------------------------------------------------- */

/* Descriptors the daemon needs besides one per client: the store, the
 * listeners, each loop's own, a backup in progress, and clients accepted
 * only to be told they are over the limit. */
#define EN_RESERVED_FDS 64

/* Shells often start daemons with a soft limit of 1024 open files, far
 * below max_clients: raise it as far as the hard limit allows. When even
 * that is too low, lower max_clients to fit, so that clients beyond it are
 * told `overloaded` instead of waiting unanswered in the listen queue. */
static void
fit_descriptor_limit(en_config_t *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)cfg->max_clients + EN_RESERVED_FDS;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        struct rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return;
    unsigned fit = rl.rlim_cur > 2 * EN_RESERVED_FDS ? (unsigned)(rl.rlim_cur - EN_RESERVED_FDS)
                                                      : (unsigned)(rl.rlim_cur / 2);
    en_warn("open files are limited to %llu: max_clients lowered from %u to %u",
            (unsigned long long)rl.rlim_cur, cfg->max_clients, fit ? fit : 1);
    cfg->max_clients = fit ? fit : 1;
}

static int
make_dir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)  /* records of persons */
        return 0;
    en_error("cannot create data directory %s: %s", path, strerror(errno));
    return -1;
}

/* The store is of an older format and about to be upgraded in place:
 * said first, since on a large store it takes a while before the daemon
 * listens. */
static void
log_upgrade(unsigned from, unsigned to, void *ctx)
{
    (void)ctx;
    en_info("store of format %u: upgrading it in place to format %u (up to 10 s per "
            "million records) before listening",
            from, to);
}

int
en_server_run(en_config_t *cfg)
{
    en_server_t srv_storage = {0}, *srv = &srv_storage;
    int status = 1;
    pthread_t joiner;
    bool joiner_started = false;
    unsigned started = 0;

    srv->cfg = cfg;
    srv->started = en_now();
    en_backup_init(&srv->backup);
    en_federation_init(&srv->federation);
    en_log_threshold = (enum en_log_level)cfg->log_level;
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0) {
        en_error("libevent has no thread support");
        return 1;
    }
    if (make_dir(cfg->data_dir) != 0)
        return 1;
    fit_descriptor_limit(cfg);

    if (en_keystore_init(&srv->keys, cfg) != 0)
        goto out;
    srv->throttle = en_throttle_new();
    if (!srv->throttle)
        goto out;

    char why[1200];
    /* "none" runs without a key: personal fields are then refused. */
    if (strcmp(cfg->secret_key_file, "none") != 0) {
        char used[600];
        bool created;
        srv->sealer = en_sealer_open(cfg->secret_key_file, cfg->data_dir, used, sizeof used,
                                     &created, why, sizeof why);
        if (!srv->sealer) {
            en_error("secret key: %s", why);
            goto out;
        }
        if (created)
            en_warn("generated a new secret key in %s, beside the data directory: back it up, "
                    "apart from the data; without it personal fields cannot be read",
                    used);
    }

    if (strcmp(cfg->occupations_file, "none") != 0) {
        srv->occupations = en_occupations_load(cfg->occupations_file, why, sizeof why);
        if (!srv->occupations) {
            en_error("occupations_file: %s (set it to none to run without occupation.suggest)",
                     why);
            goto out;
        }
        if (strcmp(cfg->occupation_aliases_file, "none") != 0 &&
            en_occupations_add_aliases(srv->occupations, cfg->occupation_aliases_file, why,
                                       sizeof why) != 0) {
            en_error("occupation_aliases_file: %s (none: without them)", why);
            goto out;
        }
    }

    ix_options_t iopts = {.map_size = cfg->map_size,
                          .sync = cfg->sync,
                          .huge_pages = cfg->huge_pages,
                          .id_cache_bytes = (size_t)cfg->id_cache,
                          .on_upgrade = log_upgrade};
    int rc = ix_open(cfg->data_dir, &iopts, &srv->ix);
    if (rc != 0) {
        en_error("cannot open the store in %s: %s", cfg->data_dir, ix_strerror(rc));
        goto out;
    }
    if (ix_upgraded_from(srv->ix) > 0)
        en_info("store upgraded in place from format %u", ix_upgraded_from(srv->ix));
    if (ix_stale_readers(srv->ix) > 0)
        en_warn("cleared %u stale reader slot(s) left by processes that died "
                "while reading the store", ix_stale_readers(srv->ix));
    if (en_store_bind_key(srv->ix, srv->sealer, why, sizeof why) != 0) {
        en_error("secret key: %s", why);
        goto out;
    }
    if (srv->sealer)
        en_info("personal fields sealed under secret key id %02x",
                en_sealer_key_id(srv->sealer));
    else
        en_warn("secret_key_file = none: workers with personal fields will be refused");
    srv->alerts = en_alerts_open(srv);
    if (!srv->alerts)
        goto out;
    srv->writer = en_writer_start(srv->ix, en_config_map_ceiling(cfg), cfg->audit_queue_max,
                                  cfg->audit_retention_days, cfg->commit_delay_ms);
    if (!srv->writer)
        goto out;
    srv->followers = en_followers_start(srv);
    if (!srv->followers)
        goto out;

    srv->base = event_base_new();
    srv->n_workers = cfg->threads;
    srv->workers = calloc(srv->n_workers, sizeof *srv->workers);
    if (!srv->base || !srv->workers)
        goto out;
    for (unsigned i = 0; i < srv->n_workers; i++)
        if (worker_init(srv, &srv->workers[i], i) != 0)
            goto out;

    char bound[2048];
    if (listen_all(srv, bound, sizeof bound) != 0)
        goto out;
    if (cfg->metrics_listen[0]) {
        size_t used = strlen(bound);
        srv->metrics = en_metrics_start(srv, cfg->metrics_listen, bound + used,
                                        sizeof bound - used);
        if (!srv->metrics)
            goto out;
    }
    for (; started < srv->n_workers; started++)
        if (pthread_create(&srv->workers[started].thread, NULL, worker_main,
                           &srv->workers[started]) != 0)
            goto out;
    srv->sig_term = evsignal_new(srv->base, SIGTERM, on_signal, srv);
    srv->sig_int = evsignal_new(srv->base, SIGINT, on_signal, srv);
    srv->sig_hup = evsignal_new(srv->base, SIGHUP, on_reload_signal, srv);
    evsignal_add(srv->sig_term, NULL);
    evsignal_add(srv->sig_int, NULL);
    evsignal_add(srv->sig_hup, NULL);
    if (pthread_create(&joiner, NULL, join_workers, srv) != 0)
        goto out;
    joiner_started = true;

    if (cfg->ready_file[0] && write_ready_file(cfg->ready_file, bound) != 0)
        en_warn("cannot write ready file %s: %s", cfg->ready_file, strerror(errno));
    en_info("jobmatchd %s ready: node %s, %u threads, data %s", JM_VERSION,
            cfg->node, cfg->threads, cfg->data_dir);
    /* Under systemd (Type=notify), ready means: the store is open, the
     * listeners are bound and the workers run. A no-op elsewhere. */
    sd_notifyf(0, "READY=1\nSTATUS=serving %u threads, data %s", cfg->threads,
               cfg->data_dir);

    event_base_dispatch(srv->base);
    status = 0;

out:
    if (!atomic_load(&srv->stopping) && started) {
        /* Start-up failed half way: stop what runs. */
        for (unsigned i = 0; i < started; i++)
            event_base_loopexit(srv->workers[i].base, NULL);
    }
    if (joiner_started) {
        /* The deadline may have cut workers loose; they are exiting. */
        pthread_join(joiner, NULL);
    } else {
        for (unsigned i = 0; i < started; i++)
            pthread_join(srv->workers[i].thread, NULL);
    }
    en_followers_stop(srv->followers);  /* they write through the writer */
    if (srv->writer)
        en_writer_stop(srv->writer);  /* finishes queued writes */
    en_backup_finish(&srv->backup);   /* before its worker and the store go */
    en_federation_finish(&srv->federation);
    en_alerts_close(srv->alerts);
    for (unsigned i = 0; i < srv->n_listeners; i++)
        evconnlistener_free(srv->listeners[i]);
    en_metrics_stop(srv->metrics);
    if (cfg->unix_path[0])
        unlink(cfg->unix_path);
    if (srv->workers) {
        for (unsigned i = 0; i < srv->n_workers; i++)
            worker_free(&srv->workers[i]);
        free(srv->workers);
    }
    if (srv->sig_term)
        event_free(srv->sig_term);
    if (srv->sig_int)
        event_free(srv->sig_int);
    if (srv->sig_hup)
        event_free(srv->sig_hup);
    if (srv->drain_deadline)
        event_free(srv->drain_deadline);
    if (srv->base)
        event_base_free(srv->base);
    if (srv->ix) {
        ix_sync(srv->ix);
        ix_close(srv->ix);
        en_info("store closed");
    }
    en_keystore_free(&srv->keys);
    en_throttle_free(srv->throttle);
    en_sealer_free(srv->sealer);
    en_occupations_free(srv->occupations);
    return status;
}
