/* peer.c - a blocking client of another jobmatchd (peer.h). */
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "record.h"

#define PEER_ADDR_MAX 256

static int
fail(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
}

static int
write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t r = recv(fd, p, len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* connect() bounded by timeout_ms, abandoned once cancelled. 0, or -1
 * with errno set. */
static int
connect_bounded(int fd, const struct sockaddr *sa, socklen_t len, unsigned timeout_ms,
                bool (*cancelled)(void *), void *ctx)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return -1;
    if (connect(fd, sa, len) != 0) {
        if (errno != EINPROGRESS)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        unsigned waited = 0;
        int rc;
        for (;;) {
            unsigned step = timeout_ms - waited < 100 ? timeout_ms - waited : 100;
            rc = poll(&p, 1, (int)step);
            if (rc != 0)
                break;
            waited += step;
            if (waited >= timeout_ms || (cancelled && cancelled(ctx)))
                break;
        }
        if (rc <= 0) {
            errno = rc == 0 ? ETIMEDOUT : errno;
            return -1;
        }
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            return -1;
        if (err != 0) {
            errno = err;
            return -1;
        }
    }
    return fcntl(fd, F_SETFL, flags);
}

/* A name looked up on a thread of its own: getaddrinfo has no time limit,
 * and a slow or unreachable DNS server would hold the caller for as long
 * as the resolver's retries take. The caller stops waiting at its
 * deadline; whichever of the two lets go of the lookup last frees it.
 * Lookups abandoned to a dead DNS server live on until the resolver gives
 * up, so at most LOOKUPS_MAX run at once. */
#define LOOKUPS_MAX 64
static atomic_uint lookups_running;

typedef struct lookup {
    pthread_mutex_t mu;
    pthread_cond_t answered;
    unsigned refs;
    bool done;
    int rc;
    struct addrinfo *ai;
    char host[PEER_ADDR_MAX], port[PEER_ADDR_MAX];
} lookup_t;

/* Drops one reference; called with l->mu held, returns with it released. */
static void
lookup_release(lookup_t *l)
{
    bool last = --l->refs == 0;
    pthread_mutex_unlock(&l->mu);
    if (!last)
        return;
    if (l->ai)
        freeaddrinfo(l->ai);
    pthread_cond_destroy(&l->answered);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static void *
lookup_run(void *arg)
{
    lookup_t *l = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rc = getaddrinfo(l->host, l->port, &hints, &ai);
    atomic_fetch_sub(&lookups_running, 1);
    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    l->ai = rc == 0 ? ai : NULL;
    l->done = true;
    pthread_cond_signal(&l->answered);
    lookup_release(l);
    return NULL;
}

static int64_t
monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Resolves host and port (addr names both in messages) within
 * timeout_ms, giving up once cancelled. 0 with *out set, or -1. */
static int
resolve_bounded(const char *addr, const char *host, const char *port, unsigned timeout_ms,
                bool (*cancelled)(void *), void *ctx, struct addrinfo **out, char *why,
                size_t why_len)
{
    /* An address needs no lookup. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST};
    if (getaddrinfo(host, port, &hints, out) == 0)
        return 0;
    if (atomic_fetch_add(&lookups_running, 1) >= LOOKUPS_MAX) {
        atomic_fetch_sub(&lookups_running, 1);
        return fail(why, why_len, "cannot resolve %s: %d lookups of names already wait",
                    addr, LOOKUPS_MAX);
    }
    lookup_t *l = calloc(1, sizeof *l);
    if (!l) {
        atomic_fetch_sub(&lookups_running, 1);
        return fail(why, why_len, "cannot resolve %s: out of memory", addr);
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->answered, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(l->host, sizeof l->host, "%s", host);
    snprintf(l->port, sizeof l->port, "%s", port);
    l->refs = 2;
    pthread_attr_t ta;
    pthread_t th;
    pthread_attr_init(&ta);
    pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
    int trc = pthread_create(&th, &ta, lookup_run, l);
    pthread_attr_destroy(&ta);
    pthread_mutex_lock(&l->mu);
    if (trc != 0) {
        atomic_fetch_sub(&lookups_running, 1);
        l->refs = 1;
        lookup_release(l);
        return fail(why, why_len, "cannot resolve %s: %s", addr, strerror(trc));
    }
    int64_t deadline = monotonic_ms() + timeout_ms;
    bool gave_up = false;
    while (!l->done && !gave_up) {
        /* Wakes every 100 ms to look at cancelled. */
        int64_t now = monotonic_ms();
        int64_t until = deadline - now < 100 ? deadline : now + 100;
        struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000};
        pthread_cond_timedwait(&l->answered, &l->mu, &ts);
        gave_up = !l->done && (monotonic_ms() >= deadline || (cancelled && cancelled(ctx)));
    }
    bool done = l->done;
    int rc = l->rc;
    *out = l->ai;
    l->ai = NULL;
    lookup_release(l);
    if (!done)
        return fail(why, why_len, "cannot resolve %s: no answer within %u ms", addr,
                    timeout_ms);
    if (rc != 0)
        return fail(why, why_len, "cannot resolve %s: %s", addr, gai_strerror(rc));
    return 0;
}

void
en_peer_set_timeout(int fd, unsigned timeout_ms)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000,
                         .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int
en_peer_connect(const char *addr, unsigned timeout_ms, bool (*cancelled)(void *), void *ctx,
                char *why, size_t why_len)
{
    char host[PEER_ADDR_MAX];
    if (snprintf(host, sizeof host, "%s", addr) >= (int)sizeof host)
        return fail(why, why_len, "address too long");
    char *colon = strrchr(host, ':');
    if (!colon)
        return fail(why, why_len, "address must be host:port");
    *colon = '\0';
    const char *port = colon + 1, *h = host;
    if (host[0] == '[' && colon > host && colon[-1] == ']') {
        colon[-1] = '\0';
        h = host + 1;
    }
    int64_t start = monotonic_ms();
    struct addrinfo *ai;
    if (resolve_bounded(addr, h, port, timeout_ms, cancelled, ctx, &ai, why, why_len) != 0)
        return -1;
    /* The lookup's time counts against the connect's. */
    int64_t spent = monotonic_ms() - start;
    unsigned connect_ms = spent >= timeout_ms ? 1 : timeout_ms - (unsigned)spent;
    int fd = -1, err = 0;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        en_peer_set_timeout(fd, timeout_ms);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect_bounded(fd, a->ai_addr, a->ai_addrlen, connect_ms, cancelled, ctx) != 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return fail(why, why_len, "cannot connect: %s", strerror(err));
    return fd;
}

/* Reads the response to request id into zone. */
static int
read_response(int fd, uint64_t id, uint32_t max, msgpack_zone *zone,
              const msgpack_object **result, char *why, size_t why_len)
{
    for (;;) {
        uint8_t hdr[PR_FRAME_HEADER];
        uint32_t len;
        if (read_all(fd, hdr, sizeof hdr) != 0)
            return fail(why, why_len, "connection lost or timed out");
        if (pr_frame_length(hdr, max, &len) != PR_FRAME_OK)
            return fail(why, why_len, "response frame of %u bytes", len);
        char *body = msgpack_zone_malloc(zone, len);
        msgpack_object *obj = msgpack_zone_malloc(zone, sizeof *obj);
        if (!body || !obj)
            return fail(why, why_len, "out of memory");
        if (read_all(fd, body, len) != 0)
            return fail(why, why_len, "connection lost or timed out");
        size_t off = 0;
        if (msgpack_unpack(body, len, &off, zone, obj) != MSGPACK_UNPACK_SUCCESS ||
            obj->type != MSGPACK_OBJECT_MAP)
            return fail(why, why_len, "response is not one msgpack map");
        if (pr_map_get(obj, "push"))
            continue;  /* not ours to handle */
        const msgpack_object *rid = pr_map_get(obj, "id");
        const msgpack_object *ok = pr_map_get(obj, "ok");
        if (!rid || rid->type != MSGPACK_OBJECT_POSITIVE_INTEGER || rid->via.u64 != id ||
            !ok || ok->type != MSGPACK_OBJECT_BOOLEAN)
            return fail(why, why_len, "response out of order or malformed");
        if (!ok->via.boolean) {
            const msgpack_object *err = pr_map_get(obj, "error");
            const msgpack_object *msg = err ? pr_map_get(err, "message") : NULL;
            if (msg && msg->type == MSGPACK_OBJECT_STR)
                return fail(why, why_len, "refused: %.*s", (int)msg->via.str.size,
                            msg->via.str.ptr);
            return fail(why, why_len, "refused");
        }
        *result = pr_map_get(obj, "result");
        if (!*result)
            return fail(why, why_len, "response without a result");
        return 0;
    }
}

int
en_peer_call(int fd, uint64_t id, const char *op, const msgpack_sbuffer *args,
             uint32_t max_response, msgpack_zone *zone, const msgpack_object **result,
             char *why, size_t why_len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint8_t hdr[PR_FRAME_HEADER] = {0};
    msgpack_sbuffer_write(&sb, (const char *)hdr, sizeof hdr);
    msgpack_pack_map(&pk, 3);
    pr_pack_cstr(&pk, "id");
    msgpack_pack_uint64(&pk, id);
    pr_pack_cstr(&pk, "op");
    pr_pack_cstr(&pk, op);
    pr_pack_cstr(&pk, "args");
    msgpack_sbuffer_write(&sb, args->data, args->size);
    pr_frame_put_length((uint8_t *)sb.data, (uint32_t)(sb.size - PR_FRAME_HEADER));
    int rc = write_all(fd, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        return fail(why, why_len, "connection lost");
    return read_response(fd, id, max_response, zone, result, why, why_len);
}

int
en_peer_hello(int fd, uint64_t id, const char *key, msgpack_zone *zone, pr_str_t *node,
              pr_str_t *role, char *why, size_t why_len)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init(&args);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pr_pack_cstr(&pk, "protocol");
    msgpack_pack_int(&pk, 1);
    pr_pack_cstr(&pk, "key");
    pr_pack_cstr(&pk, key);
    const msgpack_object *res;
    int rc = en_peer_call(fd, id, "hello", &args, 64 * 1024, zone, &res, why, why_len);
    msgpack_sbuffer_destroy(&args);
    if (rc != 0)
        return rc;
    pr_error_t err;
    if (pr_get_str(res, "node", "node", PR_REQUIRED, 1, PR_ID_MAX, node, &err) != 0 ||
        !pr_id_valid(node->ptr, node->len) ||
        pr_get_str(res, "role", "role", PR_REQUIRED, 1, 32, role, &err) != 0)
        return fail(why, why_len, "hello: the peer names no valid node");
    return 0;
}
