/* follow.c - pulling vacancies from upstream nodes over the daemon's
 * blocking client (peer.h): hello with the peer's key, then sync.pull in a
 * loop. */
#include "follow.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "index.h"
#include "log.h"
#include "message.h"
#include "peer.h"
#include "record.h"
#include "store.h"
#include "writer.h"

#define FOLLOW_BATCH 500
#define FOLLOW_IO_TIMEOUT_S 10
#define FOLLOW_BACKOFF_MAX_MS 2000
#define FOLLOW_RESPONSE_MAX (64u << 20)
#define FOLLOW_META_PREFIX "peer."

typedef struct follower {
    en_server_t *srv;
    const en_peer_config_t *peer;
    char meta_name[sizeof FOLLOW_META_PREFIX + EN_PEER_NAME_MAX];
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;            /* guards everything below */
    pthread_cond_t cond;
    bool stop;
    int fd;
    bool job_done;
    uint64_t cursor;               /* last sequence applied here */
    uint64_t last;                 /* the peer's last sequence, last pull */
    char node[PR_ID_MAX + 1];      /* the peer's node id, from hello */
    int64_t last_pull;             /* wall time of the last good pull */
    uint64_t applied, skipped;
    char error[PR_MESSAGE_MAX];    /* "" when the last pull succeeded */
    uint64_t next_id;
} follower_t;

struct en_followers {
    unsigned n;
    follower_t f[];
};

/* ---- applying a batch (writer thread) ---------------------------------- */

typedef struct repl_entry {
    bool is_delete;
    pr_str_t id;
    pr_vacancy_t v;
} repl_entry_t;

typedef struct repl_batch {
    follower_t *f;
    uint64_t next;                 /* the cursor once applied */
    char node[PR_ID_MAX + 1];      /* the peer's node, kept with the cursor */
    uint32_t n, applied, skipped;
    repl_entry_t e[];
} repl_batch_t;

static bool
str_is(pr_str_t s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

/* The cursor as stored: its big-endian sequence, then the peer's node id
 * (a cursor means nothing against another node's changelog). */
static int
put_cursor(ix_txn_t *txn, const char *meta_name, uint64_t seq, const char *node)
{
    uint8_t val[8 + PR_ID_MAX];
    size_t nl = strlen(node);
    for (int i = 0; i < 8; i++)
        val[i] = (uint8_t)(seq >> (56 - 8 * i));
    memcpy(val + 8, node, nl);
    return ix_meta_put(txn, meta_name, val, 8 + nl);
}

/* Whether v, a new version of a copy stored here, differs from it only as
 * a hire or a close at its origin makes it differ (filled, and the status
 * to closed): the changelog says a put either way. sbuf is scratch. */
static bool
only_state_changed(ix_txn_t *txn, const pr_vacancy_t *v, msgpack_sbuffer *sbuf)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 2048);
    pr_vacancy_t old;
    bool same = false;
    if (en_store_load_vacancy(txn, v->id.ptr, v->id.len, &zone, &old) == 0 &&
        (v->status == old.status || v->status == PR_VACANCY_CLOSED)) {
        old.filled = v->filled;
        old.status = v->status;
        msgpack_packer pk;
        sbuf->size = 0;
        msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
        pr_pack_vacancy(&pk, &old);
        size_t old_size = sbuf->size;
        pr_pack_vacancy(&pk, v);
        same = sbuf->size == 2 * old_size &&
               memcmp(sbuf->data, sbuf->data + old_size, old_size) == 0;
    }
    msgpack_zone_destroy(&zone);
    return same;
}

/* Replicas change only here. A record this node owns is never
 * overwritten or deleted by a peer (its own vacancy coming back around a
 * loop, or an id clash), only counted as skipped. */
static int
apply_batch(ix_txn_t *txn, en_write_t *job, msgpack_sbuffer *sbuf)
{
    repl_batch_t *b = job->data;
    const char *self = b->f->srv->cfg->node;
    b->applied = b->skipped = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        repl_entry_t *e = &b->e[i];
        char origin[PR_ID_MAX + 1];
        int rc = en_store_vacancy_origin(txn, e->id.ptr, e->id.len, origin, NULL);
        if (rc != 0 && rc != -ENOENT)
            return rc;
        bool exists = rc == 0;
        bool owned_here = exists && (origin[0] == '\0' || strcmp(origin, self) == 0);
        if (owned_here || (!e->is_delete && str_is(e->v.origin, self))) {
            b->skipped++;
            continue;
        }
        if (e->is_delete) {
            if (!exists)
                continue;
            rc = ix_delete(txn, IX_VACANCY, e->id.ptr, e->id.len, job->now);
        } else {
            bool created;
            en_vacancy_write_t why = exists && only_state_changed(txn, &e->v, sbuf)
                                         ? EN_VACANCY_COPY_STATE
                                         : EN_VACANCY_COPY;
            rc = en_store_rewrite_vacancy(txn, &e->v, why, job->now, sbuf, &created);
        }
        if (rc != 0)
            return rc;
        b->applied++;
    }
    return put_cursor(txn, b->f->meta_name, b->next, b->node);
}

static void
batch_done(en_write_t *job)
{
    follower_t *f = ((repl_batch_t *)job->data)->f;
    pthread_mutex_lock(&f->mu);
    f->job_done = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

/* ---- the connection ----------------------------------------------------- */

static void
set_error(follower_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
set_error(follower_t *f, const char *fmt, ...)
{
    char msg[PR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&f->mu);
    bool changed = strcmp(f->error, msg) != 0;
    snprintf(f->error, sizeof f->error, "%s", msg);
    pthread_mutex_unlock(&f->mu);
    if (changed)  /* once per distinct failure, not once per retry */
        en_warn("peer %s (%s): %s", f->peer->name, f->peer->addr, msg);
}

static void
close_peer(follower_t *f)
{
    pthread_mutex_lock(&f->mu);
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    pthread_mutex_unlock(&f->mu);
}

static bool
stopping(follower_t *f)
{
    pthread_mutex_lock(&f->mu);
    bool stop = f->stop;
    pthread_mutex_unlock(&f->mu);
    return stop;
}

static bool
stopping_cb(void *f)
{
    return stopping(f);
}

/* Connects with the I/O timeouts set, then says hello with the peer's
 * key. 0, or -1 with the error set. */
static int
connect_peer(follower_t *f)
{
    char why[PR_MESSAGE_MAX];
    int fd = en_peer_connect(f->peer->addr, FOLLOW_IO_TIMEOUT_S * 1000, stopping_cb, f, why,
                             sizeof why);
    if (fd < 0) {
        set_error(f, "%s", why);
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    f->fd = fd;
    bool stop = f->stop;
    pthread_mutex_unlock(&f->mu);
    if (stop)
        return -1;

    msgpack_zone *zone = msgpack_zone_new(4096);
    pr_str_t node = {0}, role = {0};
    int rc = -1;
    if (!zone)
        set_error(f, "out of memory");
    else if ((rc = en_peer_hello(fd, ++f->next_id, f->peer->key, zone, &node, &role, why,
                                 sizeof why)) != 0)
        set_error(f, "%s", why);
    if (rc == 0 && !str_is(role, "node") && !str_is(role, "admin")) {
        set_error(f, "the key has role %.*s there; sync.pull needs node", (int)role.len,
                  role.ptr);
        rc = -1;
    }
    if (rc == 0) {
        pthread_mutex_lock(&f->mu);
        if (!str_is(node, f->node)) {
            if (f->node[0])
                en_warn("peer %s is now node %.*s (was %s): following it from the start",
                        f->peer->name, (int)node.len, node.ptr, f->node);
            memcpy(f->node, node.ptr, node.len);
            f->node[node.len] = '\0';
            f->cursor = 0;
        }
        pthread_mutex_unlock(&f->mu);
    }
    if (zone)
        msgpack_zone_free(zone);
    if (rc != 0)
        close_peer(f);
    return rc;
}

/* ---- pulling ----------------------------------------------------------- */

/* Decodes the entries of a sync.pull result into a batch. NULL with the
 * error set when the peer sent something that is not a valid entry: the
 * batch is refused whole and asked for again later. */
static repl_batch_t *
decode_batch(follower_t *f, const msgpack_object *res, uint64_t next)
{
    const msgpack_object *arr = pr_map_get(res, "entries");
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY) {
        set_error(f, "sync.pull: entries missing");
        return NULL;
    }
    uint32_t n = arr->via.array.size;
    repl_batch_t *b = calloc(1, sizeof *b + (size_t)n * sizeof b->e[0]);
    if (!b) {
        set_error(f, "out of memory");
        return NULL;
    }
    b->f = f;
    b->n = n;
    b->next = next;
    pthread_mutex_lock(&f->mu);
    snprintf(b->node, sizeof b->node, "%s", f->node);
    pthread_mutex_unlock(&f->mu);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *o = &arr->via.array.ptr[i];
        repl_entry_t *e = &b->e[i];
        pr_str_t op;
        pr_error_t err;
        char path[48];
        snprintf(path, sizeof path, "entries[%u]", i);
        if (o->type != MSGPACK_OBJECT_MAP ||
            pr_get_str(o, "op", path, PR_REQUIRED, 1, 16, &op, &err) != 0) {
            set_error(f, "sync.pull: %s: no op", path);
            free(b);
            return NULL;
        }
        if (str_is(op, "delete")) {
            e->is_delete = true;
            if (pr_get_str(o, "id", path, PR_REQUIRED, 1, PR_ID_MAX, &e->id, &err) != 0 ||
                !pr_id_valid(e->id.ptr, e->id.len)) {
                set_error(f, "sync.pull: %s: bad id", path);
                free(b);
                return NULL;
            }
            continue;
        }
        snprintf(path, sizeof path, "entries[%u].vacancy", i);
        if (!str_is(op, "put") ||
            pr_vacancy_decode(pr_map_get(o, "vacancy"), path, PR_REC_STORED, 0, &e->v,
                              &err) != 0) {
            set_error(f, "sync.pull: %s", str_is(op, "put") ? err.message : "unknown op");
            free(b);
            return NULL;
        }
        if (!e->v.origin.ptr) {
            set_error(f, "sync.pull: %s: no origin", path);
            free(b);
            return NULL;
        }
        e->id = e->v.id;
    }
    return b;
}

/* One sync.pull and its application. Returns 1 when more is waiting at
 * the peer, 0 when caught up, -1 on failure (error set). */
static int
pull_once(follower_t *f)
{
    pthread_mutex_lock(&f->mu);
    uint64_t cursor = f->cursor;
    pthread_mutex_unlock(&f->mu);

    msgpack_sbuffer args;
    msgpack_sbuffer_init(&args);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pr_pack_cstr(&pk, "after");
    msgpack_pack_uint64(&pk, cursor);
    pr_pack_cstr(&pk, "limit");
    msgpack_pack_uint32(&pk, FOLLOW_BATCH);
    msgpack_zone *zone = msgpack_zone_new(64 * 1024);
    const msgpack_object *res;
    char why[PR_MESSAGE_MAX];
    int rc = zone ? en_peer_call(f->fd, ++f->next_id, "sync.pull", &args, FOLLOW_RESPONSE_MAX,
                                 zone, &res, why, sizeof why)
                  : -1;
    msgpack_sbuffer_destroy(&args);
    if (rc != 0) {
        if (zone)
            msgpack_zone_free(zone);
        set_error(f, "%s", zone ? why : "out of memory");
        return -1;
    }
    int64_t next, last;
    pr_error_t err;
    if (pr_get_int(res, "next", "next", PR_REQUIRED, 0, INT64_MAX, &next, &err) != 0 ||
        pr_get_int(res, "last", "last", PR_REQUIRED, 0, INT64_MAX, &last, &err) != 0) {
        set_error(f, "sync.pull: %s", err.message);
        msgpack_zone_free(zone);
        return -1;
    }
    if ((uint64_t)last < cursor) {
        /* The peer's changelog is behind what we applied: its store was
         * replaced (a restore). Applying is idempotent: start over. */
        en_warn("peer %s: its changelog ends at %lld, before our cursor %llu: "
                "following it from the start", f->peer->name, (long long)last,
                (unsigned long long)cursor);
        pthread_mutex_lock(&f->mu);
        f->cursor = 0;
        pthread_mutex_unlock(&f->mu);
        msgpack_zone_free(zone);
        return 1;
    }
    if ((uint64_t)next == cursor) {  /* nothing new */
        pthread_mutex_lock(&f->mu);
        f->last = (uint64_t)last;
        f->last_pull = en_now();
        f->error[0] = '\0';
        pthread_mutex_unlock(&f->mu);
        msgpack_zone_free(zone);
        return 0;
    }
    repl_batch_t *b = decode_batch(f, res, (uint64_t)next);
    if (!b) {
        msgpack_zone_free(zone);
        return -1;
    }
    en_write_t *job = calloc(1, sizeof *job);
    if (!job) {
        free(b);
        msgpack_zone_free(zone);
        set_error(f, "out of memory");
        return -1;
    }
    job->zone = zone;   /* the decoded vacancies point into it */
    job->data = b;
    job->now = en_now();
    job->apply = apply_batch;
    job->entries = b->n;
    job->done = batch_done;
    job->op = (pr_str_t){"sync.apply", 10};

    pthread_mutex_lock(&f->mu);
    f->job_done = false;
    pthread_mutex_unlock(&f->mu);
    en_writer_submit(f->srv->writer, job);
    pthread_mutex_lock(&f->mu);
    while (!f->job_done)
        pthread_cond_wait(&f->cond, &f->mu);
    pthread_mutex_unlock(&f->mu);

    if (job->failed) {
        set_error(f, "applying entries after %llu: %s", (unsigned long long)cursor,
                  job->err.message);
        en_write_free(job);
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    f->cursor = (uint64_t)next;
    f->last = (uint64_t)last;
    f->last_pull = en_now();
    f->applied += b->applied;
    f->skipped += b->skipped;
    f->error[0] = '\0';
    pthread_mutex_unlock(&f->mu);
    en_write_free(job);
    return (uint64_t)next < (uint64_t)last;
}

/* Sleeps ms or until told to stop; false when stopping. */
static bool
pause_ms(follower_t *f, unsigned ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->mu);
    while (!f->stop && pthread_cond_timedwait(&f->cond, &f->mu, &until) == 0)
        ;
    bool go_on = !f->stop;
    pthread_mutex_unlock(&f->mu);
    return go_on;
}

static void
load_cursor(follower_t *f)
{
    ix_txn_t *txn;
    uint8_t val[8 + PR_ID_MAX];
    size_t len = 0;
    int rc = ix_read_begin(f->srv->ix, &txn);
    if (rc == 0) {
        rc = ix_meta_get(txn, f->meta_name, val, sizeof val, &len);
        ix_read_end(txn);
    }
    if (rc == -ENOENT)
        return;
    if (rc != 0 || len < 8) {
        en_warn("peer %s: cannot read its cursor (%s): following it from the start",
                f->peer->name, rc ? ix_strerror(rc) : "too short");
        return;
    }
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = seq << 8 | val[i];
    f->cursor = seq;
    memcpy(f->node, val + 8, len - 8);
    f->node[len - 8] = '\0';
}

static void *
follow_main(void *arg)
{
    follower_t *f = arg;
    load_cursor(f);
    unsigned interval = f->srv->cfg->sync_interval, backoff = interval;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        bool stop = f->stop, connected = f->fd >= 0;
        pthread_mutex_unlock(&f->mu);
        if (stop)
            break;
        int r = connected ? pull_once(f) : connect_peer(f);
        if (r < 0) {
            close_peer(f);
            if (!pause_ms(f, backoff))
                break;
            backoff = backoff * 2 > FOLLOW_BACKOFF_MAX_MS ? FOLLOW_BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        backoff = interval;
        if (connected && r == 0 && !pause_ms(f, interval))
            break;
    }
    close_peer(f);
    return NULL;
}

en_followers_t *
en_followers_start(en_server_t *srv)
{
    unsigned n = srv->cfg->n_peers;
    en_followers_t *fs = calloc(1, sizeof *fs + (size_t)n * sizeof fs->f[0]);
    if (!fs)
        return NULL;
    fs->n = n;
    for (unsigned i = 0; i < n; i++) {
        follower_t *f = &fs->f[i];
        f->srv = srv;
        f->peer = &srv->cfg->peers[i];
        f->fd = -1;
        snprintf(f->meta_name, sizeof f->meta_name, FOLLOW_META_PREFIX "%s", f->peer->name);
        pthread_mutex_init(&f->mu, NULL);
        pthread_cond_init(&f->cond, NULL);
    }
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&fs->f[i].thread, NULL, follow_main, &fs->f[i]) != 0) {
            en_followers_stop(fs);
            return NULL;
        }
        fs->f[i].started = true;
        en_info("following peer %s at %s", fs->f[i].peer->name, fs->f[i].peer->addr);
    }
    return fs;
}

void
en_followers_stop(en_followers_t *fs)
{
    if (!fs)
        return;
    for (unsigned i = 0; i < fs->n; i++) {
        follower_t *f = &fs->f[i];
        pthread_mutex_lock(&f->mu);
        f->stop = true;
        if (f->fd >= 0)
            shutdown(f->fd, SHUT_RDWR);  /* ends a blocked read at once */
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->mu);
    }
    for (unsigned i = 0; i < fs->n; i++) {
        follower_t *f = &fs->f[i];
        if (f->started)
            pthread_join(f->thread, NULL);
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cond);
    }
    free(fs);
}

void
en_followers_pack(en_followers_t *fs, msgpack_packer *pk)
{
    unsigned n = fs ? fs->n : 0;
    msgpack_pack_array(pk, n);
    for (unsigned i = 0; i < n; i++) {
        follower_t *f = &fs->f[i];
        pthread_mutex_lock(&f->mu);
        msgpack_pack_map(pk, 11);
        pr_pack_cstr(pk, "name");
        pr_pack_cstr(pk, f->peer->name);
        pr_pack_cstr(pk, "address");
        pr_pack_cstr(pk, f->peer->addr);
        pr_pack_cstr(pk, "node");
        if (f->node[0])
            pr_pack_cstr(pk, f->node);
        else
            msgpack_pack_nil(pk);
        pr_pack_cstr(pk, "connected");
        if (f->fd >= 0)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        pr_pack_cstr(pk, "cursor");
        msgpack_pack_uint64(pk, f->cursor);
        pr_pack_cstr(pk, "last");
        msgpack_pack_uint64(pk, f->last);
        pr_pack_cstr(pk, "lag");
        msgpack_pack_uint64(pk, f->last > f->cursor ? f->last - f->cursor : 0);
        pr_pack_cstr(pk, "last_pull");
        msgpack_pack_int64(pk, f->last_pull);
        pr_pack_cstr(pk, "applied");
        msgpack_pack_uint64(pk, f->applied);
        pr_pack_cstr(pk, "skipped");
        msgpack_pack_uint64(pk, f->skipped);
        pr_pack_cstr(pk, "error");
        if (f->error[0])
            pr_pack_cstr(pk, f->error);
        else
            msgpack_pack_nil(pk);
        pthread_mutex_unlock(&f->mu);
    }
}
