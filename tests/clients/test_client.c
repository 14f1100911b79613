/* test_client.c - libjobmatch's connection code against a tiny fake server
 * on a loopback (or Unix) socket run by a thread: ids, split and merged
 * replies, pipelining, error answers, pushes, bad frames, a closing
 * server, timeouts and the JSON convenience call.
 *
 * The fake server never calls Criterion asserts (they must not run off
 * the test's own thread); it counts what went wrong in `failures`, which
 * the test checks after joining it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <msgpack.h>

#include "jobmatch.h"

typedef struct fake fake_t;
typedef void (*script_fn)(fake_t *f, int fd);

struct fake {
    int lfd;
    pthread_t thread;
    script_fn script;
    char addr[128];
    char sock_path[108];
    int failures;
    char op[64];           /* op of the last request read */
    msgpack_zone *zone;    /* owns args of the last request */
    msgpack_object args;
    int expect;            /* script parameter */
};

/* ---- fake server plumbing ---------------------------------------------- */

static int
read_exact(int fd, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = read(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void
write_exact(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static const msgpack_object *
get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;

        if (k->type == MSGPACK_OBJECT_STR &&
            k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* Reads one request; returns its id (0 on failure, counted). The op and
 * args are kept in f until the next call. */
static uint64_t
read_request(fake_t *f, int fd)
{
    unsigned char hdr[4];
    msgpack_object root;
    const msgpack_object *id, *op, *args;
    uint32_t len;
    size_t off = 0;
    char *body;

    if (read_exact(fd, hdr, 4) != 0) {
        f->failures++;
        return 0;
    }
    len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
          (uint32_t)hdr[2] << 8 | hdr[3];
    if (f->zone != NULL)
        msgpack_zone_free(f->zone);
    f->zone = msgpack_zone_new(4096);
    body = msgpack_zone_malloc(f->zone, len ? len : 1);
    if (len == 0 || read_exact(fd, body, len) != 0 ||
        msgpack_unpack(body, len, &off, f->zone, &root) !=
            MSGPACK_UNPACK_SUCCESS || off != len) {
        f->failures++;
        return 0;
    }
    id = get(&root, "id");
    op = get(&root, "op");
    args = get(&root, "args");
    if (id == NULL || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        op == NULL || op->type != MSGPACK_OBJECT_STR ||
        op->via.str.size >= sizeof f->op) {
        f->failures++;
        return 0;
    }
    memcpy(f->op, op->via.str.ptr, op->via.str.size);
    f->op[op->via.str.size] = '\0';
    f->args.type = MSGPACK_OBJECT_NIL;
    if (args != NULL)
        f->args = *args;
    return id->via.u64;
}

static void
pack_s(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* Appends a frame (prefix + body) of sb's content to out. */
static void
frame_into(msgpack_sbuffer *out, const msgpack_sbuffer *body)
{
    unsigned char hdr[4] = { (unsigned char)(body->size >> 24),
                             (unsigned char)(body->size >> 16),
                             (unsigned char)(body->size >> 8),
                             (unsigned char)body->size };

    msgpack_sbuffer_write(out, (const char *)hdr, 4);
    msgpack_sbuffer_write(out, body->data, body->size);
}

/* Appends the frame {"id": id, "ok": true, "result": <str>} to out. */
static void
ok_str_frame(msgpack_sbuffer *out, uint64_t id, const char *result)
{
    msgpack_sbuffer b;
    msgpack_packer pk;

    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_s(&pk, "id");
    msgpack_pack_uint64(&pk, id);
    pack_s(&pk, "ok");
    msgpack_pack_true(&pk);
    pack_s(&pk, "result");
    pack_s(&pk, result);
    frame_into(out, &b);
    msgpack_sbuffer_destroy(&b);
}

/* Writes the frame {"id": id, "ok": true, "result": <obj>}. */
static void
reply_obj(int fd, uint64_t id, const msgpack_object *obj)
{
    msgpack_sbuffer b, out;
    msgpack_packer pk;

    msgpack_sbuffer_init(&b);
    msgpack_sbuffer_init(&out);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_s(&pk, "id");
    msgpack_pack_uint64(&pk, id);
    pack_s(&pk, "ok");
    msgpack_pack_true(&pk);
    pack_s(&pk, "result");
    msgpack_pack_object(&pk, *obj);
    frame_into(&out, &b);
    write_exact(fd, out.data, out.size);
    msgpack_sbuffer_destroy(&b);
    msgpack_sbuffer_destroy(&out);
}

static void
reply_str(int fd, uint64_t id, const char *result)
{
    msgpack_sbuffer out;

    msgpack_sbuffer_init(&out);
    ok_str_frame(&out, id, result);
    write_exact(fd, out.data, out.size);
    msgpack_sbuffer_destroy(&out);
}

static void *
fake_main(void *p)
{
    fake_t *f = p;
    int fd = accept(f->lfd, NULL, NULL);

    if (fd < 0) {
        f->failures++;
        return NULL;
    }
    f->script(f, fd);
    close(fd);
    return NULL;
}

/* Starts a fake server on 127.0.0.1 with an ephemeral port. */
static void
fake_start(fake_t *f, script_fn script, int expect)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t sl = sizeof sin;

    memset(f, 0, sizeof *f);
    f->script = script;
    f->expect = expect;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(f->lfd, 0);
    cr_assert_eq(bind(f->lfd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(listen(f->lfd, 4), 0);
    cr_assert_eq(getsockname(f->lfd, (struct sockaddr *)&sin, &sl), 0);
    snprintf(f->addr, sizeof f->addr, "127.0.0.1:%u",
             (unsigned)ntohs(sin.sin_port));
    cr_assert_eq(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

/* Starts a fake server on a Unix socket in a fresh temporary folder. */
static void
fake_start_unix(fake_t *f, script_fn script)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    char dir[] = "/tmp/jmtest.XXXXXX";

    memset(f, 0, sizeof *f);
    f->script = script;
    cr_assert_not_null(mkdtemp(dir));
    snprintf(f->sock_path, sizeof f->sock_path, "%s/s", dir);
    strcpy(sun.sun_path, f->sock_path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_eq(bind(f->lfd, (struct sockaddr *)&sun, sizeof sun), 0);
    cr_assert_eq(listen(f->lfd, 4), 0);
    snprintf(f->addr, sizeof f->addr, "unix:%s", f->sock_path);
    cr_assert_eq(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void
fake_join(fake_t *f)
{
    char dir[108];

    pthread_join(f->thread, NULL);
    close(f->lfd);
    if (f->zone != NULL)
        msgpack_zone_free(f->zone);
    if (f->sock_path[0] != '\0') {
        unlink(f->sock_path);
        snprintf(dir, sizeof dir, "%s", f->sock_path);
        *strrchr(dir, '/') = '\0';
        rmdir(dir);
    }
    cr_assert_eq(f->failures, 0, "fake server saw %d problems",
                 f->failures);
}

static jm_client_t *
connect_to(const fake_t *f, int timeout_ms)
{
    char err[256] = "";
    jm_client_t *c = jm_connect(f->addr, timeout_ms, err, sizeof err);

    cr_assert_not_null(c, "connect %s: %s", f->addr, err);
    return c;
}

/* ---- scripts ----------------------------------------------------------- */

/* Answers f->expect pings with "pong", checking ids run 1, 2, 3... */
static void
script_pongs(fake_t *f, int fd)
{
    for (int i = 1; i <= f->expect; i++) {
        uint64_t id = read_request(f, fd);

        if (id != (uint64_t)i || strcmp(f->op, "ping") != 0)
            f->failures++;
        reply_str(fd, id, "pong");
    }
}

Test(client, call_ids_start_at_one_and_increase)
{
    fake_t f;
    jm_client_t *c;
    jm_reply_t *r;

    fake_start(&f, script_pongs, 3);
    c = connect_to(&f, 2000);
    cr_assert_geq(jm_fd(c), 0);
    for (uint64_t i = 1; i <= 3; i++) {
        cr_assert_eq(jm_call(c, "ping", NULL, 0, &r), JM_OK, "%s",
                     c->errstr);
        cr_assert_eq(r->id, i);
        cr_assert(r->ok);
        cr_assert_eq(r->result.type, MSGPACK_OBJECT_STR);
        cr_assert_eq(r->result.via.str.size, 4);
        cr_assert_eq(memcmp(r->result.via.str.ptr, "pong", 4), 0);
        cr_assert_eq(r->error.type, MSGPACK_OBJECT_NIL);
        cr_assert_eq(c->err, JM_OK);
        jm_reply_free(r);
    }
    jm_close(c);
    fake_join(&f);
}

Test(client, unix_socket)
{
    fake_t f;
    jm_client_t *c;

    fake_start_unix(&f, script_pongs);
    f.expect = 1;
    c = connect_to(&f, 2000);
    cr_assert_eq(jm_call(c, "ping", NULL, 0, NULL), JM_OK, "%s", c->errstr);
    jm_close(c);
    fake_join(&f);
}

/* Sends the reply one byte at a time so the client must reassemble it. */
static void
script_split(fake_t *f, int fd)
{
    msgpack_sbuffer out;
    uint64_t id = read_request(f, fd);
    struct timespec ms = { 0, 1000000 };

    msgpack_sbuffer_init(&out);
    ok_str_frame(&out, id, "a reply sent in many little pieces");
    for (size_t i = 0; i < out.size; i++) {
        write_exact(fd, out.data + i, 1);
        nanosleep(&ms, NULL);
    }
    msgpack_sbuffer_destroy(&out);
}

Test(client, split_reply_is_reassembled)
{
    fake_t f;
    jm_client_t *c;
    jm_reply_t *r;

    fake_start(&f, script_split, 0);
    c = connect_to(&f, 5000);
    cr_assert_eq(jm_call(c, "ping", NULL, 0, &r), JM_OK, "%s", c->errstr);
    cr_assert_eq(r->result.type, MSGPACK_OBJECT_STR);
    cr_assert_eq(r->result.via.str.size, 34);
    cr_assert_eq(memcmp(r->result.via.str.ptr, "a reply sent", 12), 0);
    jm_reply_free(r);
    jm_close(c);
    fake_join(&f);
}

/* Reads three requests, then writes three replies in one write. */
static void
script_pipelined(fake_t *f, int fd)
{
    msgpack_sbuffer out;
    uint64_t ids[3];
    char text[16];

    for (int i = 0; i < 3; i++) {
        ids[i] = read_request(f, fd);
        if (strcmp(f->op, i == 1 ? "op.two" : "op.x") != 0)
            f->failures++;
    }
    msgpack_sbuffer_init(&out);
    for (int i = 0; i < 3; i++) {
        snprintf(text, sizeof text, "r%llu", (unsigned long long)ids[i]);
        ok_str_frame(&out, ids[i], text);
    }
    write_exact(fd, out.data, out.size);
    msgpack_sbuffer_destroy(&out);
}

Test(client, pipelined_replies_come_in_order)
{
    fake_t f;
    jm_client_t *c;
    jm_reply_t *r;
    uint64_t id[3];
    char want[16];

    fake_start(&f, script_pipelined, 0);
    c = connect_to(&f, 2000);
    cr_assert_eq(jm_send(c, "op.x", NULL, 0, &id[0]), 0);
    cr_assert_eq(jm_send(c, "op.two", "\x80", 1, &id[1]), 0);
    cr_assert_eq(jm_send(c, "op.x", NULL, 0, &id[2]), 0);
    cr_assert_eq(id[0], 1);
    cr_assert_eq(id[1], 2);
    cr_assert_eq(id[2], 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(jm_recv(c, &r), JM_OK, "%s", c->errstr);
        cr_assert_eq(r->id, id[i]);
        snprintf(want, sizeof want, "r%d", i + 1);
        cr_assert_eq(r->result.via.str.size, strlen(want));
        cr_assert_eq(memcmp(r->result.via.str.ptr, want, strlen(want)), 0);
        jm_reply_free(r);
    }
    jm_close(c);
    fake_join(&f);
}

/* Answers two pipelined requests in one write: a 5 MiB reply (far above
 * the server's request limit, within the client's reply limit) followed
 * by a small one. */
static void
script_large(fake_t *f, int fd)
{
    size_t big = 5u << 20;
    char *text = malloc(big + 1);
    msgpack_sbuffer out;
    uint64_t id1 = read_request(f, fd), id2 = read_request(f, fd);

    if (text == NULL) {
        f->failures++;
        return;
    }
    memset(text, 'x', big);
    text[big] = '\0';
    text[0] = 'A';
    text[big - 1] = 'Z';
    msgpack_sbuffer_init(&out);
    ok_str_frame(&out, id1, text);
    ok_str_frame(&out, id2, "small");
    write_exact(fd, out.data, out.size);
    msgpack_sbuffer_destroy(&out);
    free(text);
}

Test(client, large_reply_then_small)
{
    fake_t f;
    jm_client_t *c;
    jm_reply_t *r;

    fake_start(&f, script_large, 0);
    c = connect_to(&f, 5000);
    cr_assert_eq(jm_send(c, "big", NULL, 0, NULL), 0);
    cr_assert_eq(jm_send(c, "small", NULL, 0, NULL), 0);
    cr_assert_eq(jm_recv(c, &r), JM_OK, "%s", c->errstr);
    cr_assert_eq(r->id, 1);
    cr_assert_eq(r->result.type, MSGPACK_OBJECT_STR);
    cr_assert_eq(r->result.via.str.size, 5u << 20);
    cr_assert_eq(r->result.via.str.ptr[0], 'A');
    cr_assert_eq(r->result.via.str.ptr[(5u << 20) - 1], 'Z');
    jm_reply_free(r);
    cr_assert_eq(jm_recv(c, &r), JM_OK, "%s", c->errstr);
    cr_assert_eq(r->id, 2);
    cr_assert_eq(r->result.via.str.size, 5);
    jm_reply_free(r);
    jm_close(c);
    fake_join(&f);
}

/* Answers not_found with an extra "errors" key, then a pong. */
static void
script_error(fake_t *f, int fd)
{
    msgpack_sbuffer b, out;
    msgpack_packer pk;
    uint64_t id = read_request(f, fd);

    msgpack_sbuffer_init(&b);
    msgpack_sbuffer_init(&out);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_s(&pk, "id");
    msgpack_pack_uint64(&pk, id);
    pack_s(&pk, "ok");
    msgpack_pack_false(&pk);
    pack_s(&pk, "error");
    msgpack_pack_map(&pk, 3);
    pack_s(&pk, "code");
    pack_s(&pk, "not_found");
    pack_s(&pk, "message");
    pack_s(&pk, "no vacancy v1");
    pack_s(&pk, "errors");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 2);
    pack_s(&pk, "index");
    msgpack_pack_uint32(&pk, 4);
    pack_s(&pk, "message");
    pack_s(&pk, "vacancies[4].region: bad");
    frame_into(&out, &b);
    write_exact(fd, out.data, out.size);
    msgpack_sbuffer_destroy(&b);
    msgpack_sbuffer_destroy(&out);
    id = read_request(f, fd);
    reply_str(fd, id, "pong");
}

Test(client, error_reply_is_eserver_with_code_and_message)
{
    fake_t f;
    jm_client_t *c;
    jm_reply_t *r;
    const msgpack_object *errs;

    fake_start(&f, script_error, 0);
    c = connect_to(&f, 2000);
    cr_assert_eq(jm_call(c, "vacancy.get", NULL, 0, &r), JM_ESERVER);
    cr_assert_not_null(r);
    cr_assert(!r->ok);
    cr_assert_eq(r->id, 1);
    cr_assert_str_eq(r->error_code, "not_found");
    cr_assert_str_eq(r->error_message, "no vacancy v1");
    cr_assert_eq(r->result.type, MSGPACK_OBJECT_NIL);
    cr_assert_eq(c->err, JM_ESERVER);
    cr_assert_str_eq(c->errstr, "not_found: no vacancy v1");
    errs = get(&r->error, "errors");
    cr_assert_not_null(errs);
    cr_assert_eq(errs->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(get(&errs->via.array.ptr[0], "index")->via.u64, 4);
    jm_reply_free(r);
    /* An error answer does not break the connection. */
    cr_assert_eq(jm_call(c, "ping", NULL, 0, &r), JM_OK, "%s", c->errstr);
    cr_assert_eq(r->id, 2);
    cr_assert_eq(c->err, JM_OK);
    cr_assert_str_eq(c->errstr, "");
    jm_reply_free(r);
    jm_close(c);
    fake_join(&f);
}

/* Sends a push frame before the answer. */
static void
script_push(fake_t *f, int fd)
{
    msgpack_sbuffer b, out;
    msgpack_packer pk;

    for (int round = 0; round < 2; round++) {
        uint64_t id = read_request(f, fd);

        msgpack_sbuffer_init(&b);
        msgpack_sbuffer_init(&out);
        msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 3);
        pack_s(&pk, "id");
        msgpack_pack_uint64(&pk, 0);
        pack_s(&pk, "push");
        pack_s(&pk, "match.alert");
        pack_s(&pk, "data");
        msgpack_pack_int(&pk, 42);
        frame_into(&out, &b);
        ok_str_frame(&out, id, "pong");
        write_exact(fd, out.data, out.size);
        msgpack_sbuffer_destroy(&b);
        msgpack_sbuffer_destroy(&out);
    }
}

Test(client, push_frames)
{
    fake_t f;
    jm_client_t *c;
    jm_reply_t *r;
    const msgpack_object *data;

    fake_start(&f, script_push, 0);
    c = connect_to(&f, 2000);
    /* jm_recv hands the push over as a reply with id 0. */
    cr_assert_eq(jm_send(c, "ping", NULL, 0, NULL), 0);
    cr_assert_eq(jm_recv(c, &r), JM_OK, "%s", c->errstr);
    cr_assert_eq(r->id, 0);
    cr_assert(r->ok);
    cr_assert_not_null(get(&r->result, "push"));
    data = get(&r->result, "data");
    cr_assert_not_null(data);
    cr_assert_eq(data->via.u64, 42);
    jm_reply_free(r);
    cr_assert_eq(jm_recv(c, &r), JM_OK);
    cr_assert_eq(r->id, 1);
    jm_reply_free(r);
    /* jm_call skips it and returns the answer. */
    cr_assert_eq(jm_call(c, "ping", NULL, 0, &r), JM_OK, "%s", c->errstr);
    cr_assert_eq(r->id, 2);
    cr_assert_eq(r->result.type, MSGPACK_OBJECT_STR);
    jm_reply_free(r);
    jm_close(c);
    fake_join(&f);
}

/* Answers with raw bytes chosen by f->expect. */
static void
script_bad_frame(fake_t *f, int fd)
{
    static const unsigned char zero_len[] = { 0, 0, 0, 0 };
    static const unsigned char huge_len[] = { 0x7f, 0xff, 0xff, 0xff, 0x80 };
    /* A map whose one string claims 0xffff bytes that are not there. */
    static const unsigned char lying_body[] = { 0, 0, 0, 5, 0x81, 0xda,
                                                0xff, 0xff, 0x00 };
    /* A body that is an array, not a map. */
    static const unsigned char not_map[] = { 0, 0, 0, 1, 0x90 };
    const unsigned char *p[] = { zero_len, huge_len, lying_body, not_map };
    size_t n[] = { sizeof zero_len, sizeof huge_len, sizeof lying_body,
                   sizeof not_map };

    read_request(f, fd);
    write_exact(fd, p[f->expect], n[f->expect]);
    /* Keep the connection open until the client gives up on it, so the
     * failure seen is the frame and not the close. */
    char buf[16];
    (void)!read(fd, buf, sizeof buf);
}

static void
expect_eproto(int which)
{
    fake_t f;
    jm_client_t *c;
    jm_reply_t *r = (jm_reply_t *)&f;

    fake_start(&f, script_bad_frame, which);
    c = connect_to(&f, 2000);
    cr_assert_eq(jm_call(c, "ping", NULL, 0, &r), JM_EPROTO,
                 "case %d: %s", which, c->errstr);
    cr_assert_null(r);
    cr_assert_eq(c->err, JM_EPROTO);
    cr_assert_neq(c->errstr[0], '\0');
    /* The stream cannot be trusted any more: the connection is dead. */
    cr_assert_eq(jm_send(c, "ping", NULL, 0, NULL), JM_EIO);
    cr_assert_eq(jm_recv(c, &r), JM_EIO);
    jm_close(c);
    fake_join(&f);
}

Test(client, zero_length_frame_is_eproto) { expect_eproto(0); }
Test(client, oversized_frame_is_eproto) { expect_eproto(1); }
Test(client, lying_string_length_is_eproto) { expect_eproto(2); }
Test(client, body_not_a_map_is_eproto) { expect_eproto(3); }

/* Reads one request and hangs up without answering. */
static void
script_close(fake_t *f, int fd)
{
    read_request(f, fd);
}

Test(client, server_close_is_eio)
{
    fake_t f;
    jm_client_t *c;
    jm_reply_t *r;

    fake_start(&f, script_close, 0);
    c = connect_to(&f, 2000);
    cr_assert_eq(jm_call(c, "ping", NULL, 0, &r), JM_EIO);
    cr_assert_null(r);
    cr_assert_eq(c->err, JM_EIO);
    cr_assert(strstr(c->errstr, "closed") != NULL, "%s", c->errstr);
    jm_close(c);
    fake_join(&f);
}

/* Reads a request, then waits for the client to give up. */
static void
script_silent(fake_t *f, int fd)
{
    char buf[16];

    read_request(f, fd);
    (void)!read(fd, buf, sizeof buf);
}

Test(client, timeout_is_eio)
{
    fake_t f;
    jm_client_t *c;
    struct timespec t0, t1;
    double waited;

    fake_start(&f, script_silent, 0);
    c = connect_to(&f, 150);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(jm_call(c, "ping", NULL, 0, NULL), JM_EIO);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    waited = (double)(t1.tv_sec - t0.tv_sec) +
             (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert(waited >= 0.1 && waited < 3.0, "waited %.3f s", waited);
    cr_assert(strstr(c->errstr, "timed out") != NULL, "%s", c->errstr);
    jm_close(c);
    fake_join(&f);
}

/* Echoes the args of each request back as its result. */
static void
script_echo(fake_t *f, int fd)
{
    for (int i = 0; i < f->expect; i++) {
        uint64_t id = read_request(f, fd);

        reply_obj(fd, id, &f->args);
    }
}

Test(client, call_json_round_trip)
{
    const char *args = "{\"region\":\"110105\",\"limit\":-3,\"n\":1.5,"
                       "\"tags\":[\"\xe5\x8c\x97\",true,null]}";
    fake_t f;
    jm_client_t *c;
    char *out = NULL;

    fake_start(&f, script_echo, 2);
    c = connect_to(&f, 2000);
    cr_assert_eq(jm_call_json(c, "echo", args, &out), JM_OK, "%s",
                 c->errstr);
    cr_assert_str_eq(out, args);
    free(out);
    /* No args at all: the echo is nil. */
    cr_assert_eq(jm_call_json(c, "echo", NULL, &out), JM_OK, "%s",
                 c->errstr);
    cr_assert_str_eq(out, "null");
    free(out);
    /* Malformed or non-object args never reach the server. */
    cr_assert_eq(jm_call_json(c, "echo", "{\"a\":", &out), JM_EARG);
    cr_assert_null(out);
    cr_assert(strstr(c->errstr, "args") != NULL, "%s", c->errstr);
    cr_assert_eq(jm_call_json(c, "echo", "[1]", &out), JM_EARG);
    cr_assert_eq(jm_send(c, "echo", "\x91\x01", 2, NULL), JM_EARG);
    jm_close(c);
    fake_join(&f);
}

/* Checks the hello args and grants a role when the key is right. */
static void
script_hello(fake_t *f, int fd)
{
    msgpack_sbuffer b, out;
    msgpack_packer pk;
    const msgpack_object *proto, *key;

    for (int round = 0; round < 2; round++) {
        uint64_t id = read_request(f, fd);

        proto = get(&f->args, "protocol");
        key = get(&f->args, "key");
        if (strcmp(f->op, "hello") != 0 || proto == NULL ||
            proto->via.u64 != 1)
            f->failures++;
        msgpack_sbuffer_init(&b);
        msgpack_sbuffer_init(&out);
        msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 3);
        pack_s(&pk, "id");
        msgpack_pack_uint64(&pk, id);
        if (key != NULL && key->via.str.size == 6 &&
            memcmp(key->via.str.ptr, "s3cret", 6) == 0) {
            pack_s(&pk, "ok");
            msgpack_pack_true(&pk);
            pack_s(&pk, "result");
            msgpack_pack_map(&pk, 2);
            pack_s(&pk, "protocol");
            msgpack_pack_int(&pk, 1);
            pack_s(&pk, "role");
            pack_s(&pk, "admin");
        } else {
            pack_s(&pk, "ok");
            msgpack_pack_false(&pk);
            pack_s(&pk, "error");
            msgpack_pack_map(&pk, 2);
            pack_s(&pk, "code");
            pack_s(&pk, "unauthorized");
            pack_s(&pk, "message");
            pack_s(&pk, "wrong key");
        }
        frame_into(&out, &b);
        write_exact(fd, out.data, out.size);
        msgpack_sbuffer_destroy(&b);
        msgpack_sbuffer_destroy(&out);
    }
}

Test(client, hello_with_key)
{
    fake_t f;
    jm_client_t *c;
    char role[16] = "x";

    fake_start(&f, script_hello, 0);
    c = connect_to(&f, 2000);
    cr_assert_eq(jm_hello(c, "wrong!", role, sizeof role), JM_ESERVER);
    cr_assert_str_eq(c->errstr, "unauthorized: wrong key");
    cr_assert_eq(jm_hello(c, "s3cret", role, sizeof role), JM_OK, "%s",
                 c->errstr);
    cr_assert_str_eq(role, "admin");
    jm_close(c);
    fake_join(&f);
}

Test(client, connect_failures)
{
    char err[256];
    const char *bad[] = { "nohost", "127.0.0.1:", ":7411", "::1:7411",
                          "[::1]7411", "127.0.0.1:12ab", "unix:" };
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t sl = sizeof sin;
    int fd;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_assert_null(jm_connect(bad[i], 1000, err, sizeof err), "%s",
                       bad[i]);
        cr_assert_neq(err[0], '\0', "no reason for %s", bad[i]);
    }
    /* A port nobody listens on: take one, then close it. */
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    close(fd);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    cr_assert_null(jm_connect(addr, 1000, err, sizeof err));
    cr_assert(strstr(err, "refused") != NULL, "%s", err);
    cr_assert_null(jm_connect("unix:/nonexistent/jm.sock", 1000, err,
                              sizeof err));
}
