/* test_hello.c - what a connection meets before a successful hello: failed
 * hellos answered later and later (without holding up anyone else), then
 * closed; and a smaller max frame that still fits every kiosk request. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "wire.h"

/* A wrong hello on c; returns how long its answer took, in ms. */
static int64_t
failed_hello(jm_client_t *c)
{
    char role[32];
    int64_t t0 = jt_now_ms();
    int rc = jm_hello(c, "not-a-key-of-this-server", role, sizeof role);
    int64_t took = jt_now_ms() - t0;
    cr_assert_eq(rc, JM_ESERVER, "hello: %s", c->errstr);
    cr_assert(strstr(c->errstr, "unauthorized: key: not recognised"), "%s", c->errstr);
    return took;
}

Test(hello, failures_are_answered_later_and_later_on_a_connection_that_stays_open,
     .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect(d);
    /* 100 ms, doubling: the connection's failures and its address's agree
     * here. Loosely: at least 90% of the delay, at most 2 s more. */
    int64_t delay = 100;
    for (int i = 1; i <= 5; i++, delay *= 2) {
        int64_t took = failed_hello(c);
        cr_assert_geq(took, delay * 9 / 10, "failure %d answered in %lld ms", i,
                      (long long)took);
        cr_assert_lt(took, delay + 2000, "failure %d answered in %lld ms", i,
                     (long long)took);
    }
    /* The contract closes a connection only for a bad frame: after five
     * failures it still answers, in the anonymous role. */
    jt_call_ok(c, "ping", NULL);
    jm_reply_t *r = jt_call(c, "admin.info", NULL);
    jt_expect_error(r, "forbidden", NULL);
    jm_reply_free(r);
    jm_close(c);

    /* A new connection from the same address starts where the address
     * left off (the sixth failure: 3.2 s)... */
    c = jt_connect(d);
    int64_t took = failed_hello(c);
    cr_assert_geq(took, 2880, "a new connection's first failure took %lld ms", (long long)took);
    /* ...but a right key is never slowed down, and the role is granted. */
    char role[32];
    int64_t t0 = jt_now_ms();
    cr_assert_eq(jm_hello(c, JT_ADMIN_KEY, role, sizeof role), 0, "%s", c->errstr);
    cr_assert_str_eq(role, "admin");
    cr_assert_lt(jt_now_ms() - t0, 1500);
    jt_call_ok(c, "admin.info", NULL);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* Packs {"id": id, "op": op, "args": {"protocol": 1, "key": key}} or a
 * ping when op is "ping" (args then unused). */
static void
pack_request(msgpack_sbuffer *sb, uint64_t id, const char *op, const char *key)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    bool hello = strcmp(op, "hello") == 0;
    msgpack_pack_map(&pk, hello ? 3 : 2);
    jt_pack_str(&pk, "id");
    msgpack_pack_uint64(&pk, id);
    jt_pack_str(&pk, "op");
    jt_pack_str(&pk, op);
    if (hello) {
        jt_pack_str(&pk, "args");
        msgpack_pack_map(&pk, 2);
        jt_pack_kv_int(&pk, "protocol", 1);
        jt_pack_kv_str(&pk, "key", key);
    }
}

static void
send_request(int fd, uint64_t id, const char *op, const char *key)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_request(&sb, id, op, key);
    jt_raw_send_frame(fd, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

Test(hello, a_held_reply_holds_up_neither_the_loop_nor_the_order, .timeout = 60)
{
    /* One event loop serves both connections. */
    const char *args[] = {"--threads", "1", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    /* Three failures from this address first, so the next is held 800 ms:
     * plenty of time to be served elsewhere meanwhile. */
    jm_client_t *warm = jt_connect(d);
    for (int i = 0; i < 3; i++)
        failed_hello(warm);
    jm_close(warm);

    /* A wrong hello and a ping, pipelined in one write. */
    int fd = jt_raw_connect(d);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    uint8_t both[256];
    size_t n = 0;
    for (int i = 0; i < 2; i++) {
        msgpack_sbuffer_clear(&sb);
        pack_request(&sb, (uint64_t)(i + 1), i == 0 ? "hello" : "ping", "wrong-key-0000");
        both[n] = 0, both[n + 1] = 0, both[n + 2] = 0, both[n + 3] = (uint8_t)sb.size;
        memcpy(both + n + 4, sb.data, sb.size);
        n += 4 + sb.size;
    }
    msgpack_sbuffer_destroy(&sb);
    int64_t sent = jt_now_ms();
    jt_raw_send(fd, both, n);

    /* Another client is answered at once meanwhile. */
    jm_client_t *other = jt_connect(d);
    int64_t t0 = jt_now_ms();
    jt_call_ok(other, "ping", NULL);
    cr_assert_lt(jt_now_ms() - t0, 400, "a ping waited %lld ms", (long long)(jt_now_ms() - t0));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 0), 0, "the held reply left early");

    /* Then the held reply, and only after it the ping behind it. */
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object reply;
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &reply), 0);
    int64_t took = jt_now_ms() - sent;
    cr_assert_eq(jt_get_int(&reply, "id"), 1);
    cr_assert_str_eq(jt_get_str(jt_need(&reply, "error"), "code"), "unauthorized");
    cr_assert_geq(took, 720, "the fourth failure answered in %lld ms", (long long)took);
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &reply), 0);
    cr_assert_eq(jt_get_int(&reply, "id"), 2);
    cr_assert(jt_str_is(jt_need(&reply, "result"), "pong"));
    /* One failure on this connection: it stays open. */
    send_request(fd, 3, "ping", NULL);
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &reply), 0);
    cr_assert_eq(jt_get_int(&reply, "id"), 3);
    msgpack_zone_destroy(&zone);
    close(fd);
    jm_close(other);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* Sends a ping padded to exactly size bytes of body:
 * {"id": id, "op": "ping", "pad": "xxx..."}. */
static void
send_padded_ping(int fd, uint64_t id, size_t size)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    jt_pack_str(&pk, "id");
    msgpack_pack_uint64(&pk, id);
    jt_pack_str(&pk, "op");
    jt_pack_str(&pk, "ping");
    jt_pack_str(&pk, "pad");
    size_t pad = size - sb.size - 3;  /* str16: 3 bytes of header */
    if (pad >= 65536)
        pad = size - sb.size - 5;     /* str32: 5 */
    cr_assert(pad >= 256);
    char *s = malloc(pad);
    cr_assert_not_null(s);
    memset(s, 'x', pad);
    msgpack_pack_str(&pk, pad);
    msgpack_pack_str_body(&pk, s, pad);
    free(s);
    cr_assert_eq(sb.size, size);
    jt_raw_send_frame(fd, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* Announces a frame of len bytes and sends none of them: the length alone
 * is refused. */
static void
send_length(int fd, uint32_t len)
{
    uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                      (uint8_t)len};
    jt_raw_send(fd, hdr, sizeof hdr);
}

static void
expect_pong(int fd, uint64_t id, const char *what)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object reply;
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &reply), 0, "%s", what);
    cr_assert_eq(jt_get_int(&reply, "id"), (int64_t)id, "%s", what);
    cr_assert(jt_get_bool(&reply, "ok"), "%s: refused", what);
    msgpack_zone_destroy(&zone);
}

static void
expect_too_big_then_close(int fd, const char *message, const char *what)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object reply;
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &reply), 0, "%s", what);
    cr_assert_eq(jt_get_int(&reply, "id"), 0, "%s", what);
    const msgpack_object *err = jt_need(&reply, "error");
    cr_assert_str_eq(jt_get_str(err, "code"), "bad_frame", "%s", what);
    cr_assert_str_eq(jt_get_str(err, "message"), message, "%s", what);
    msgpack_zone_destroy(&zone);
    cr_assert(jt_raw_closed(fd), "%s: not closed", what);
}

/* The largest profile a kiosk can send: every field, 64 skills with ids of
 * 64 bytes, 16 desired occupations. */
static void
pack_largest_profile_match(msgpack_sbuffer *sb)
{
    char json[12000];
    size_t n = (size_t)snprintf(json, sizeof json,
                                "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\","
                                " \"education\": 7, \"wage_min\": 100000000,"
                                " \"category\": \"unemployed\", \"center\": \"%064d\","
                                " \"status\": \"available\", \"registered\": 1700000000,"
                                " \"desired_occupations\": [", 0);
    for (int i = 0; i < 16; i++)
        n += (size_t)snprintf(json + n, sizeof json - n, "%s\"6-05-02-%02d\"",
                              i ? ", " : "", i + 10);
    n += (size_t)snprintf(json + n, sizeof json - n, "], \"skills\": [");
    for (int i = 0; i < 64; i++)
        n += (size_t)snprintf(json + n, sizeof json - n,
                              "%s{\"id\": \"skill-%058d\", \"level\": 5}", i ? ", " : "", i);
    snprintf(json + n, sizeof json - n,
             "]}, \"scope\": \"province\", \"limit\": 200, \"explain\": true,"
             " \"as_of\": 1700000000}");
    jt_args_json(sb, "%s", json);
}

Test(hello, by_default_frames_before_a_hello_may_reach_max_frame, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);  /* max_frame 1 MiB */
    int fd = jt_raw_connect(d);
    send_padded_ping(fd, 1, 9000);
    expect_pong(fd, 1, "9000 bytes anonymous");
    send_padded_ping(fd, 2, 1 << 20);
    expect_pong(fd, 2, "max_frame bytes anonymous");
    send_length(fd, (1 << 20) + 1);
    expect_too_big_then_close(fd, "frame length 1048577 is outside 1..1048576",
                              "max_frame + 1 bytes anonymous");
    close(fd);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(hello, frames_before_a_hello_with_a_key_are_smaller_when_set, .timeout = 30)
{
    const char *limit[] = {"--anonymous-max-frame", "8K", NULL};
    jt_daemon_t *d = jt_daemon_start(limit);

    /* 8 KiB exactly is fine; one byte more is a bad frame, then close. */
    int fd = jt_raw_connect(d);
    send_padded_ping(fd, 1, 8192);
    expect_pong(fd, 1, "8192 bytes anonymous");
    send_length(fd, 8193);
    expect_too_big_then_close(fd, "frame length 8193 is outside 1..8192 before a hello with a key",
                              "8193 bytes anonymous");
    close(fd);

    /* A hello without a key, or with a wrong one, does not lift it. */
    fd = jt_raw_connect(d);
    send_request(fd, 1, "hello", "wrong-key-0000");
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object reply;
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &reply), 0);
    cr_assert_str_eq(jt_get_str(jt_need(&reply, "error"), "code"), "unauthorized");
    msgpack_zone_destroy(&zone);
    /* Sent whole: the server closes with the body unread, yet the client
     * reads the reply and then a clean end of stream, not a reset. */
    send_padded_ping(fd, 2, 9000);
    expect_too_big_then_close(fd, "frame length 9000 is outside 1..8192 before a hello with a key",
                              "9000 bytes after a wrong hello");
    close(fd);

    /* After a hello with a key (any role), max_frame applies. */
    fd = jt_raw_connect(d);
    send_request(fd, 1, "hello", JT_ADMIN_KEY);
    expect_pong(fd, 1, "hello");
    send_padded_ping(fd, 2, 60000);
    expect_pong(fd, 2, "60000 bytes after hello");
    close(fd);

    /* The largest kiosk request fits, anonymously. */
    jm_client_t *admin = jt_connect_admin(d);
    jt_put_vacancy(admin, "v1", "110105", "6-05-02-10", "skill-0000000000000000000000000000000000000000000000000000000003:2");
    jm_close(admin);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_largest_profile_match(&sb);
    cr_assert_gt(sb.size, 5000, "the largest profile is only %zu bytes", sb.size);
    cr_assert_lt(sb.size + 64, 8192, "the largest profile is %zu bytes", sb.size);
    jm_client_t *kiosk = jt_connect(d);
    jm_reply_t *r = jt_call(kiosk, "match.vacancies", &sb);
    jt_expect_ok(r, "the largest profile match");
    const msgpack_object *m = jt_need(&r->result, "matches");
    cr_assert_eq(m->via.array.size, 1);
    jm_reply_free(r);
    msgpack_sbuffer_destroy(&sb);
    jm_close(kiosk);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(hello, the_limit_is_configurable_and_lifted_for_a_staff_anonymous_role, .timeout = 30)
{
    const char *small[] = {"--anonymous-max-frame", "1K", NULL};
    jt_daemon_t *d = jt_daemon_start(small);
    int fd = jt_raw_connect(d);
    send_padded_ping(fd, 1, 1024);
    expect_pong(fd, 1, "1024 bytes");
    send_length(fd, 1025);
    expect_too_big_then_close(fd, "frame length 1025 is outside 1..1024 before a hello with a key",
                              "1025 bytes");
    close(fd);
    cr_assert_eq(jt_daemon_stop(d), 0);

    /* Where whoever connects is trusted to write, the limit is max_frame. */
    const char *staff[] = {"--anonymous-role", "counselor", NULL};
    d = jt_daemon_start(staff);
    fd = jt_raw_connect(d);
    send_padded_ping(fd, 1, 60000);
    expect_pong(fd, 1, "60000 bytes with a counselor anonymous role");
    close(fd);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(hello, a_client_that_goes_on_sending_after_a_bad_frame_is_cut_off, .timeout = 30)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    int fd = jt_raw_connect(d);
    send_length(fd, (1 << 20) + 1);  /* over max_frame */
    jt_raw_send(fd, "0123456789", 10);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object reply;
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &reply), 0);
    cr_assert_str_eq(jt_get_str(jt_need(&reply, "error"), "code"), "bad_frame");
    msgpack_zone_destroy(&zone);
    /* The server has sent its end of stream and discards what still comes,
     * but only for 2 s: then it closes, and sending fails. */
    int64_t t0 = jt_now_ms(), cut = -1;
    while (jt_now_ms() - t0 < 6000) {
        if (send(fd, "0123456789", 10, MSG_NOSIGNAL) < 0) {
            cr_assert(errno == EPIPE || errno == ECONNRESET, "send: %s", strerror(errno));
            cut = jt_now_ms() - t0;
            break;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_geq(cut, 1500, "cut off after %lld ms", (long long)cut);
    cr_assert_leq(cut, 4500, "cut off after %lld ms", (long long)cut);
    close(fd);
    jm_client_t *c = jt_connect(d);
    jt_call_ok(c, "ping", NULL);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
