/* client.c - the connection half of libjobmatch: connecting, writing
 * request frames, reading reply frames and decoding reply envelopes.
 *
 * The socket is non-blocking and every wait goes through poll(), so that
 * one timeout bounds each read and each write whatever the peer does.
 * Replies are reassembled by the protocol layer's pr_reader_t, checked by
 * pr_guard_check() before msgpack-c sees them (so a hostile length inside
 * the body cannot make the decoder allocate), and decoded into a zone that
 * the jm_reply_t owns.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "guard.h"
#include "jobmatch.h"

/* Replies may carry long listings, so they may be far larger than the
 * server accepts for requests. */
#define JM_REPLY_MAX_FRAME (64u << 20)
#define JM_READ_CHUNK 65536

struct jm_client_priv {
    int fd;
    int timeout_ms;     /* 0 = wait for ever */
    uint64_t next_id;   /* the id the next request gets */
    bool dead;          /* a transport or framing failure happened */
    pr_reader_t reader;
};

/* The public struct and its private part live in one allocation. */
typedef struct client_box {
    jm_client_t pub;
    struct jm_client_priv priv;
} client_box_t;

/* Records an error on the client. Transport and framing failures leave
 * the stream in an unknown state, so they mark the connection dead and
 * every later call fails at once instead of misreading replies. */
static int fail(jm_client_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(jm_client_t *c, int code, const char *fmt, ...)
{
    va_list ap;

    c->err = code;
    va_start(ap, fmt);
    if (vsnprintf(c->errstr, sizeof c->errstr, fmt, ap) < 0)
        c->errstr[0] = '\0';
    va_end(ap);
    if (code == JM_EIO || code == JM_EPROTO)
        c->priv->dead = true;
    return code;
}

static void
clear_err(jm_client_t *c)
{
    c->err = JM_OK;
    c->errstr[0] = '\0';
}

static void
put_err(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
put_err(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (buf == NULL || len == 0)
        return;
    va_start(ap, fmt);
    if (vsnprintf(buf, len, fmt, ap) < 0)
        buf[0] = '\0';
    va_end(ap);
}

/* Waits until fd is ready for events. Returns 0 when ready, JM_EIO with
 * errno = ETIMEDOUT when the timeout passed, JM_EIO on poll failure. */
static int
wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = events };
    int n;

    do {
        n = poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        errno = ETIMEDOUT;
        return JM_EIO;
    }
    return n < 0 ? JM_EIO : 0;
}

static int
set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

/* Connects a fresh non-blocking socket to sa, waiting at most timeout_ms.
 * Returns the fd or -1 with errno set. */
static int
connect_one(int family, const struct sockaddr *sa, socklen_t salen,
            int timeout_ms)
{
    int fd, soerr = 0;
    socklen_t sl = sizeof soerr;

    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, sa, salen) == 0)
        return fd;
    if (errno != EINPROGRESS && errno != EINTR)
        goto bad;
    if (wait_fd(fd, POLLOUT, timeout_ms) != 0)
        goto bad;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        goto bad;
    if (soerr != 0) {
        errno = soerr;
        goto bad;
    }
    return fd;
bad:
    soerr = errno;
    close(fd);
    errno = soerr;
    return -1;
}

static int
connect_unix(const char *path, int timeout_ms, char *errbuf, size_t errlen)
{
    struct sockaddr_un sun;
    size_t n = strlen(path);
    int fd;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (n == 0 || n >= sizeof sun.sun_path) {
        put_err(errbuf, errlen, "unix socket path empty or too long");
        return -1;
    }
    memcpy(sun.sun_path, path, n);
    fd = connect_one(AF_UNIX, (struct sockaddr *)&sun, sizeof sun,
                     timeout_ms);
    if (fd < 0)
        put_err(errbuf, errlen, "connect unix:%s: %s", path, strerror(errno));
    return fd;
}

/* Splits "host:port" or "[v6]:port" into host and port (both copied into
 * the caller's buffers). Returns 0, or -1 when the address is malformed. */
static int
split_host_port(const char *addr, char *host, size_t hostlen, char *port,
                size_t portlen)
{
    const char *h = addr, *hend, *p;

    if (addr[0] == '[') {
        h = addr + 1;
        hend = strchr(h, ']');
        if (hend == NULL || hend[1] != ':')
            return -1;
        p = hend + 2;
    } else {
        hend = strrchr(addr, ':');
        if (hend == NULL)
            return -1;
        /* A bare IPv6 address would be ambiguous; it must be bracketed. */
        if (memchr(addr, ':', (size_t)(hend - addr)) != NULL)
            return -1;
        p = hend + 1;
    }
    if (hend == h || (size_t)(hend - h) >= hostlen || *p == '\0' ||
        strlen(p) >= portlen || strspn(p, "0123456789") != strlen(p))
        return -1;
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = '\0';
    strcpy(port, p);
    return 0;
}

static int
connect_tcp(const char *addr, int timeout_ms, char *errbuf, size_t errlen)
{
    char host[256], port[16];
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rc, one = 1, saved = ECONNREFUSED;

    if (split_host_port(addr, host, sizeof host, port, sizeof port) != 0) {
        put_err(errbuf, errlen,
                "bad address \"%s\" (want host:port, [v6]:port or "
                "unix:/path)", addr);
        return -1;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        put_err(errbuf, errlen, "resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = connect_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen,
                         timeout_ms);
        if (fd >= 0)
            break;
        saved = errno;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        put_err(errbuf, errlen, "connect %s: %s", addr, strerror(saved));
        return -1;
    }
    /* Requests are small and answered one by one; Nagle would only add
     * latency to every call. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

jm_client_t *
jm_connect(const char *addr, int timeout_ms, char *errbuf, size_t errlen)
{
    client_box_t *box;
    int fd;

    if (addr == NULL || timeout_ms < 0) {
        put_err(errbuf, errlen, "bad address or timeout");
        return NULL;
    }
    if (strncmp(addr, "unix:", 5) == 0)
        fd = connect_unix(addr + 5, timeout_ms, errbuf, errlen);
    else
        fd = connect_tcp(addr, timeout_ms, errbuf, errlen);
    if (fd < 0)
        return NULL;
    /* connect_one made the socket non-blocking already; this only makes
     * the intent explicit should that ever change. */
    if (set_nonblocking(fd) != 0) {
        put_err(errbuf, errlen, "fcntl: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    box = calloc(1, sizeof *box);
    if (box == NULL) {
        put_err(errbuf, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    box->pub.priv = &box->priv;
    box->priv.fd = fd;
    box->priv.timeout_ms = timeout_ms;
    box->priv.next_id = 1;
    pr_reader_init(&box->priv.reader, JM_REPLY_MAX_FRAME);
    return &box->pub;
}

void
jm_close(jm_client_t *c)
{
    client_box_t *box;

    if (c == NULL)
        return;
    box = (client_box_t *)c;
    pr_reader_free(&box->priv.reader);
    if (box->priv.fd >= 0)
        close(box->priv.fd);
    free(box);
}

int
jm_fd(const jm_client_t *c)
{
    return c != NULL ? c->priv->fd : -1;
}

/* Writes all len bytes, coping with partial writes, EINTR and a full
 * socket buffer. A peer that went away gives EPIPE, not SIGPIPE. */
static int
write_all(jm_client_t *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    ssize_t n;

    while (len > 0) {
        n = send(c->priv->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(c->priv->fd, POLLOUT, c->priv->timeout_ms) != 0)
                return fail(c, JM_EIO, "write: %s", strerror(errno));
            continue;
        }
        return fail(c, JM_EIO, "write: %s",
                    n == 0 ? "no progress" : strerror(errno));
    }
    return 0;
}

/* Reads whatever the socket has (waiting for at least one byte) into the
 * frame reader. */
static int
read_more(jm_client_t *c)
{
    pr_reader_t *rd = &c->priv->reader;
    uint8_t buf[JM_READ_CHUNK];
    size_t want = sizeof buf, held = rd->len - rd->consumed;
    uint32_t flen;
    ssize_t n;

    /* Never read past the frame being assembled: the reader holds at most
     * one maximal frame, and bytes of the next one would overflow it. */
    if (held >= PR_FRAME_HEADER &&
        pr_frame_length(rd->buf + rd->consumed, JM_REPLY_MAX_FRAME,
                        &flen) == PR_FRAME_OK &&
        PR_FRAME_HEADER + (size_t)flen > held &&
        PR_FRAME_HEADER + (size_t)flen - held < want)
        want = PR_FRAME_HEADER + (size_t)flen - held;
    for (;;) {
        n = recv(c->priv->fd, buf, want, 0);
        if (n > 0)
            break;
        if (n == 0)
            return fail(c, JM_EIO, "connection closed by the server");
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return fail(c, JM_EIO, "read: %s", strerror(errno));
        if (wait_fd(c->priv->fd, POLLIN, c->priv->timeout_ms) != 0)
            return fail(c, JM_EIO, "read: %s", strerror(errno));
    }
    if (pr_reader_feed(&c->priv->reader, buf, (size_t)n) != 0)
        return fail(c, JM_ENOMEM, "out of memory buffering a reply");
    return 0;
}

static bool
is_map_header(uint8_t b)
{
    return (b & 0xf0) == 0x80 || b == 0xde || b == 0xdf;
}

static void
pack_key(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);

    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

int
jm_send(jm_client_t *c, const char *op, const void *args, size_t args_len,
        uint64_t *id_out)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint64_t id;
    int rc = 0;

    if (c == NULL)
        return JM_EARG;
    if (c->priv->dead)
        return fail(c, JM_EIO, "connection is closed after an earlier "
                    "failure");
    if (op == NULL)
        return fail(c, JM_EARG, "no operation");
    if (args != NULL && args_len > 0 &&
        !is_map_header(*(const uint8_t *)args))
        return fail(c, JM_EARG, "args must be a packed msgpack map");

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    id = c->priv->next_id;
    /* Room for the length prefix, filled in once the body size is known;
     * the whole frame then goes out in one write. */
    if (msgpack_sbuffer_write(&sb, "\0\0\0\0", PR_FRAME_HEADER) != 0)
        goto nomem;
    rc |= msgpack_pack_map(&pk, args != NULL && args_len > 0 ? 3 : 2);
    pack_key(&pk, "id");
    rc |= msgpack_pack_uint64(&pk, id);
    pack_key(&pk, "op");
    pack_key(&pk, op);
    if (args != NULL && args_len > 0) {
        pack_key(&pk, "args");
        rc |= msgpack_sbuffer_write(&sb, args, args_len);
    }
    if (rc != 0 || sb.data == NULL)
        goto nomem;
    if (sb.size - PR_FRAME_HEADER > UINT32_MAX) {
        msgpack_sbuffer_destroy(&sb);
        return fail(c, JM_EARG, "request too large for one frame");
    }
    pr_frame_put_length((uint8_t *)sb.data,
                        (uint32_t)(sb.size - PR_FRAME_HEADER));
    c->priv->next_id++;
    rc = write_all(c, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        return rc;
    if (id_out != NULL)
        *id_out = id;
    clear_err(c);
    return 0;
nomem:
    msgpack_sbuffer_destroy(&sb);
    return fail(c, JM_ENOMEM, "out of memory packing a request");
}

int
jm_send_raw(jm_client_t *c, const void *body, size_t len)
{
    uint8_t hdr[PR_FRAME_HEADER];
    int rc;

    if (c == NULL)
        return JM_EARG;
    if (c->priv->dead)
        return fail(c, JM_EIO, "connection is closed after an earlier "
                    "failure");
    if (len > UINT32_MAX || (body == NULL && len > 0))
        return fail(c, JM_EARG, "bad raw frame");
    pr_frame_put_length(hdr, (uint32_t)len);
    rc = write_all(c, hdr, sizeof hdr);
    if (rc == 0 && len > 0)
        rc = write_all(c, body, len);
    if (rc == 0)
        clear_err(c);
    return rc;
}

/* Looks key up in a str-keyed map; NULL when absent. */
static const msgpack_object *
map_get(const msgpack_object *map, const char *key)
{
    size_t n = strlen(key);
    uint32_t i;

    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;

        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* Copies a msgpack string into a fixed NUL-terminated buffer, cutting it
 * when too long and turning embedded NULs into '?' so C callers see the
 * whole text. */
static void
copy_str(char *dst, size_t cap, const msgpack_object *o)
{
    size_t n = 0, i;

    if (o != NULL && o->type == MSGPACK_OBJECT_STR) {
        n = o->via.str.size < cap - 1 ? o->via.str.size : cap - 1;
        for (i = 0; i < n; i++)
            dst[i] = o->via.str.ptr[i] != '\0' ? o->via.str.ptr[i] : '?';
    }
    dst[n] = '\0';
}

/* Decodes one guard-checked body into a reply. Returns 0, JM_ESERVER
 * (reply kept), or a failure (reply freed). */
static int
decode_reply(jm_client_t *c, const uint8_t *body, uint32_t len,
             jm_reply_t **out)
{
    const msgpack_object *id, *ok, *err;
    msgpack_object root;
    jm_reply_t *r;
    size_t off = 0;
    char *copy;
    int rc;

    r = calloc(1, sizeof *r);
    if (r == NULL)
        return fail(c, JM_ENOMEM, "out of memory decoding a reply");
    r->result.type = MSGPACK_OBJECT_NIL;
    r->error.type = MSGPACK_OBJECT_NIL;
    r->zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    /* msgpack-c leaves strings pointing into the input, so the body is
     * copied into the zone first: the reply then owns everything. */
    copy = r->zone != NULL ? msgpack_zone_malloc(r->zone, len) : NULL;
    if (copy == NULL) {
        rc = fail(c, JM_ENOMEM, "out of memory decoding a reply");
        goto bad;
    }
    memcpy(copy, body, len);
    if (msgpack_unpack(copy, len, &off, r->zone, &root) !=
            MSGPACK_UNPACK_SUCCESS ||
        off != len || root.type != MSGPACK_OBJECT_MAP) {
        rc = fail(c, JM_EPROTO, "reply is not one msgpack map");
        goto bad;
    }
    id = map_get(&root, "id");
    if (id == NULL || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        rc = fail(c, JM_EPROTO, "reply without a valid id");
        goto bad;
    }
    r->id = id->via.u64;
    if (map_get(&root, "push") != NULL) {
        r->ok = true;
        r->result = root;
        *out = r;
        clear_err(c);
        return 0;
    }
    ok = map_get(&root, "ok");
    if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN) {
        rc = fail(c, JM_EPROTO, "reply %" PRIu64 " without a valid ok",
                  r->id);
        goto bad;
    }
    r->ok = ok->via.boolean;
    if (r->ok) {
        const msgpack_object *res = map_get(&root, "result");

        if (res != NULL)
            r->result = *res;
        *out = r;
        clear_err(c);
        return 0;
    }
    err = map_get(&root, "error");
    if (err == NULL || err->type != MSGPACK_OBJECT_MAP ||
        map_get(err, "code") == NULL ||
        map_get(err, "code")->type != MSGPACK_OBJECT_STR) {
        rc = fail(c, JM_EPROTO, "error reply %" PRIu64 " without a valid "
                  "error map", r->id);
        goto bad;
    }
    r->error = *err;
    copy_str(r->error_code, sizeof r->error_code, map_get(err, "code"));
    copy_str(r->error_message, sizeof r->error_message,
             map_get(err, "message"));
    *out = r;
    return fail(c, JM_ESERVER, "%s: %s", r->error_code, r->error_message);
bad:
    jm_reply_free(r);
    return rc;
}

int
jm_recv(jm_client_t *c, jm_reply_t **out)
{
    const uint8_t *body;
    uint32_t len;
    pr_error_t perr;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (c == NULL || out == NULL)
        return c != NULL ? fail(c, JM_EARG, "no reply pointer") : JM_EARG;
    if (c->priv->dead)
        return fail(c, JM_EIO, "connection is closed after an earlier "
                    "failure");
    for (;;) {
        rc = pr_reader_next(&c->priv->reader, &body, &len);
        if (rc == PR_FRAME_OK)
            break;
        if (rc != PR_FRAME_AGAIN)
            return fail(c, JM_EPROTO, "reply frame length out of range "
                        "(1..%u)", JM_REPLY_MAX_FRAME);
        rc = read_more(c);
        if (rc != 0) {
            c->priv->dead = true;
            return rc;
        }
    }
    if (pr_guard_check(body, len, PR_MAX_DEPTH, NULL, &perr) != 0)
        return fail(c, JM_EPROTO, "bad reply frame: %s", perr.message);
    return decode_reply(c, body, len, out);
}

void
jm_reply_free(jm_reply_t *r)
{
    if (r == NULL)
        return;
    if (r->zone != NULL)
        msgpack_zone_free(r->zone);
    free(r);
}

int
jm_call(jm_client_t *c, const char *op, const void *args, size_t args_len,
        jm_reply_t **out)
{
    jm_reply_t *r = NULL;
    uint64_t id;
    int rc;

    if (out != NULL)
        *out = NULL;
    rc = jm_send(c, op, args, args_len, &id);
    if (rc != 0)
        return rc;
    for (;;) {
        rc = jm_recv(c, &r);
        if (r == NULL)
            return rc;
        /* Pushed frames may arrive at any time; they are not the answer. */
        if (rc == 0 && r->id == 0 && map_get(&r->result, "push") != NULL) {
            jm_reply_free(r);
            continue;
        }
        break;
    }
    /* Id 0 is how the server answers a frame it could not read at all. */
    if (r->id != id && r->id != 0) {
        uint64_t got = r->id;

        jm_reply_free(r);
        return fail(c, JM_EPROTO, "reply id %" PRIu64 " does not answer "
                    "request %" PRIu64, got, id);
    }
    if (out != NULL)
        *out = r;
    else
        jm_reply_free(r);
    return rc;
}

int
jm_hello(jm_client_t *c, const char *key, char *role, size_t role_len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    jm_reply_t *r = NULL;
    const msgpack_object *o;
    int rc;

    if (c == NULL)
        return JM_EARG;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, key != NULL ? 2 : 1);
    pack_key(&pk, "protocol");
    msgpack_pack_int(&pk, 1);
    if (key != NULL) {
        pack_key(&pk, "key");
        pack_key(&pk, key);
    }
    if (sb.data == NULL) {
        msgpack_sbuffer_destroy(&sb);
        return fail(c, JM_ENOMEM, "out of memory packing hello");
    }
    rc = jm_call(c, "hello", sb.data, sb.size, &r);
    msgpack_sbuffer_destroy(&sb);
    if (rc == 0 && role != NULL && role_len > 0) {
        o = map_get(&r->result, "role");
        if (o != NULL && o->type == MSGPACK_OBJECT_STR)
            copy_str(role, role_len, o);
        else
            role[0] = '\0';
    }
    jm_reply_free(r);
    return rc;
}
