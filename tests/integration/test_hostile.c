/* test_hostile.c - hostile input against a live daemon: frames that lie
 * about their sizes, deep nesting, oversized and foreign prefixes, huge
 * containers, wrong types for every argument of every operation, swarms of
 * connections, slow writers. Each must be refused or answered without
 * allocating beyond the frame (the daemon's resident memory is measured
 * through /proc), and the daemon must go on answering everyone else.
 * The plain bad_frame cases and invalid UTF-8 are in test_protocol.c. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "command.h"
#include "daemon.h"
#include "wire.h"

/* Growth allowed in the daemon's resident memory over a test's loop, after
 * a warm-up round has touched every path once. A hostile count reaching an
 * allocator would cost gigabytes; the slack is for allocator caches (and,
 * instrumented, for the tool's own bookkeeping). */
static long
mem_bound_kb(long plain_mib)
{
    return (jt_instrumented() ? 400 : plain_mib) * 1024;
}

/* A round trip that counts as prompt: far below what waiting for a hostile
 * client would take, with room for a machine busy with other tests. */
#define PROMPT_MS (jt_instrumented() ? 5000 : 2000)

/* Waits (up to 10 s) until the daemon counts want open connections: it
 * sees the closes of dropped clients a moment after they happen. */
static void
wait_for_connections(jm_client_t *admin, uint64_t want)
{
    uint64_t n = 0;
    for (int i = 0; i < 500 && (n = jt_admin_count(admin, "connections")) != want; i++)
        jt_sleep_ms(20);
    cr_assert_eq(n, want, "%llu connections still counted, want %llu",
                 (unsigned long long)n, (unsigned long long)want);
}

/* A ping's round trip on c, in milliseconds. */
static int64_t
ping_ms(jm_client_t *c)
{
    int64_t t0 = jt_now_ms();
    jt_call_ok(c, "ping", NULL);
    return jt_now_ms() - t0;
}

/* {"id": 1, "op": "ping", "a": [[[...nil]]]} nested `levels` deep (the
 * top-level map is level 1). Caller frees. */
static uint8_t *
nested_ping(unsigned levels, size_t *len)
{
    static const uint8_t head[] = {0x83, 0xa2, 'i', 'd', 0x01, 0xa2, 'o', 'p',
                                   0xa4, 'p', 'i', 'n', 'g', 0xa1, 'a'};
    size_t n = sizeof head + (levels - 1) + 1;
    uint8_t *b = malloc(n);
    cr_assert_not_null(b);
    memcpy(b, head, sizeof head);
    memset(b + sizeof head, 0x91, levels - 1);
    b[n - 1] = 0xc0;
    *len = n;
    return b;
}

/* ---- sizes that lie, nesting, foreign prefixes -------------------------- */

typedef struct hostile_case {
    const char *what;
    uint8_t *bytes;  /* sent as is, length prefix included */
    size_t len;
} hostile_case_t;

/* A raw connection that said hello with the admin key, so that its frames
 * may reach max_frame rather than the smaller limit before a hello. */
static int
raw_connect_admin(const jt_daemon_t *d)
{
    int fd = jt_raw_connect(d);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    jt_args_json(&sb, "{\"id\": 1, \"op\": \"hello\", \"args\": {\"protocol\": 1, \"key\": \"%s\"}}",
                 JT_ADMIN_KEY);
    jt_raw_send_frame(fd, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_object reply;
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &reply), 0);
    cr_assert(jt_get_bool(&reply, "ok"), "hello with the admin key failed");
    msgpack_zone_destroy(&zone);
    return fd;
}

/* Sends one hostile case on a fresh connection (anonymous, or after a
 * hello with a key) and expects bad_frame and the close. */
static void
send_hostile(const jt_daemon_t *d, const hostile_case_t *hc, bool with_key)
{
    int fd = with_key ? raw_connect_admin(d) : jt_raw_connect(d);
    jt_raw_send(fd, hc->bytes, hc->len);
    jt_raw_expect_bad_frame(fd, hc->what);
    close(fd);
}

/* The frame limit before a hello with a key: the --anonymous-max-frame 8K
 * that lying_sizes_deep_nesting_and_foreign_prefixes_cost_no_memory sets. */
#define ANONYMOUS_MAX_FRAME (8u << 10)


static hostile_case_t
framed_case(const char *what, const uint8_t *body, size_t len)
{
    hostile_case_t c = {what, malloc(4 + len), 4 + len};
    cr_assert_not_null(c.bytes);
    c.bytes[0] = (uint8_t)(len >> 24);
    c.bytes[1] = (uint8_t)(len >> 16);
    c.bytes[2] = (uint8_t)(len >> 8);
    c.bytes[3] = (uint8_t)len;
    memcpy(c.bytes + 4, body, len);
    return c;
}

static hostile_case_t
raw_case(const char *what, const void *bytes, size_t len)
{
    hostile_case_t c = {what, malloc(len), len};
    cr_assert_not_null(c.bytes);
    memcpy(c.bytes, bytes, len);
    return c;
}

Test(hostile, lying_sizes_deep_nesting_and_foreign_prefixes_cost_no_memory, .timeout = 300)
{
    /* max_frame 1 MiB, and the smaller limit before a hello that a
     * daemon facing the public sets. */
    const char *args[] = {"--anonymous-max-frame", "8K", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    const size_t max = 1 << 20;
    hostile_case_t cases[16];
    size_t n_cases = 0;

    static const uint8_t arr32[] = {0xdd, 0xff, 0x00, 0x00, 0x00};
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t str32[] = {0x81, 0xa1, 'a', 0xdb, 0xff, 0xff, 0xff, 0xf0};
    static const uint8_t bin32[] = {0x81, 0xa1, 'a', 0xc6, 0x7f, 0xff, 0xff, 0xff};
    static const uint8_t arr_in_map[] = {0x81, 0xa1, 'a', 0xdd, 0x00, 0x10, 0x00, 0x00};
    cases[n_cases++] = framed_case("dd ff 00 00 00", arr32, sizeof arr32);
    cases[n_cases++] = framed_case("df ff ff ff ff", map32, sizeof map32);
    cases[n_cases++] = framed_case("str32 of 4 GiB", str32, sizeof str32);
    cases[n_cases++] = framed_case("bin32 of 2 GiB", bin32, sizeof bin32);
    cases[n_cases++] = framed_case("array of 1M in 8 bytes", arr_in_map, sizeof arr_in_map);
    static const unsigned depths[] = {33, 1000, 100000};
    static const char *const depth_names[] = {"nesting 33", "nesting 1000", "nesting 100000"};
    for (int i = 0; i < 3; i++) {
        size_t len;
        uint8_t *body = nested_ping(depths[i], &len);
        cases[n_cases++] = framed_case(depth_names[i], body, len);
        free(body);
    }
    static const uint8_t len0[] = {0, 0, 0, 0};
    static const uint8_t len_over[] = {0x00, 0x10, 0x00, 0x01};
    static const uint8_t len_ff[] = {0xff, 0xff, 0xff, 0xff};
    static const char http[] = "GET / HTTP/1.0\r\n\r\n";
    cases[n_cases++] = raw_case("length 0", len0, sizeof len0);
    cases[n_cases++] = raw_case("length max + 1", len_over, sizeof len_over);
    cases[n_cases++] = raw_case("length 0xFFFFFFFF", len_ff, sizeof len_ff);
    cases[n_cases++] = raw_case("GET / HTTP/1.0", http, sizeof http - 1);
    /* A frame of exactly max_frame whose body declares 4 G elements. */
    uint8_t *big = calloc(1, max);
    cr_assert_not_null(big);
    memcpy(big, arr32, sizeof arr32);
    cases[n_cases++] = framed_case("length max, dd ff 00 00 00 inside", big, max);
    free(big);

    jm_client_t *other = jt_connect(d);
    /* Warm-up: every path once, so that buffers and caches exist. Every
     * case is sent after a hello with a key, and those within the smaller
     * limit before a hello also without. */
    for (size_t i = 0; i < n_cases; i++) {
        send_hostile(d, &cases[i], true);
        if (cases[i].len <= 4 + ANONYMOUS_MAX_FRAME)
            send_hostile(d, &cases[i], false);
    }
    long rss0 = jt_daemon_mem_kb(d, "VmRSS"), hwm0 = jt_daemon_mem_kb(d, "VmHWM");
    int rounds = jt_instrumented() ? 5 : 100;
    int64_t worst_ping = 0;
    for (int round = 0; round < rounds; round++) {
        for (size_t i = 0; i < n_cases; i++) {
            send_hostile(d, &cases[i], true);
            if (cases[i].len <= 4 + ANONYMOUS_MAX_FRAME)
                send_hostile(d, &cases[i], false);
        }
        int64_t t = ping_ms(other);
        if (t > worst_ping)
            worst_ping = t;
    }
    long rss1 = jt_daemon_mem_kb(d, "VmRSS"), hwm1 = jt_daemon_mem_kb(d, "VmHWM");
    cr_log_info("%d rounds of %zu hostile frames: VmRSS %ld -> %ld KiB, VmHWM %ld -> %ld KiB",
                rounds, n_cases, rss0, rss1, hwm0, hwm1);
    cr_assert_leq(rss1 - rss0, mem_bound_kb(16),
                  "resident memory grew by %ld KiB over %d rounds", rss1 - rss0, rounds);
    cr_assert_leq(hwm1 - hwm0, mem_bound_kb(16),
                  "peak memory grew by %ld KiB: a hostile frame was allocated for",
                  hwm1 - hwm0);
    cr_assert_lt(worst_ping, PROMPT_MS,
                 "a ping took %lld ms among hostile frames", (long long)worst_ping);
    for (size_t i = 0; i < n_cases; i++)
        free(cases[i].bytes);

    /* The bystander's connection was never disturbed. */
    jm_close(other);
    jm_client_t *admin = jt_connect_admin(d);
    wait_for_connections(admin, 1);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* ---- truncated frames and lying lengths ---------------------------------- */

/* Body of {"id": 9, "op": "ping"}. */
static const uint8_t ping_body[] = {0x82, 0xa2, 'i', 'd', 0x09, 0xa2, 'o', 'p',
                                    0xa4, 'p', 'i', 'n', 'g'};

Test(hostile, truncated_frames_and_lying_lengths, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *other = jt_connect(d);

    /* A prefix shorter than the map: the body ends inside it. */
    int fd = jt_raw_connect(d);
    uint8_t short_len[4 + sizeof ping_body] = {0, 0, 0, 5};
    memcpy(short_len + 4, ping_body, sizeof ping_body);
    jt_raw_send(fd, short_len, sizeof short_len);
    jt_raw_expect_bad_frame(fd, "length shorter than the map");
    close(fd);

    /* A prefix longer than the map: the next frame's bytes are taken as
     * trailing bytes of this one. */
    fd = jt_raw_connect(d);
    uint8_t long_len[2 * (4 + sizeof ping_body)];
    for (int i = 0; i < 2; i++) {
        uint8_t *p = long_len + i * (4 + sizeof ping_body);
        p[0] = p[1] = p[2] = 0;
        p[3] = sizeof ping_body;
        memcpy(p + 4, ping_body, sizeof ping_body);
    }
    long_len[3] = sizeof long_len - 4;
    jt_raw_send(fd, long_len, sizeof long_len);
    jt_raw_expect_bad_frame(fd, "length longer than the map");
    close(fd);

    /* A frame cut short, then the client half-closes: nothing to answer,
     * the server closes. */
    fd = jt_raw_connect(d);
    static const uint8_t cut[] = {0, 0, 0, 100, 0x82, 0xa2, 'i', 'd'};
    jt_raw_send(fd, cut, sizeof cut);
    cr_assert_eq(shutdown(fd, SHUT_WR), 0);
    cr_assert(jt_raw_closed(fd), "a half-closed client with half a frame is not closed");
    close(fd);

    /* Half a prefix, or half a frame, then the client vanishes; many times. */
    for (int i = 0; i < 200; i++) {
        fd = jt_raw_connect(d);
        jt_raw_send(fd, cut, (size_t)(1 + i % (int)(sizeof cut - 1)));
        close(fd);
    }
    /* A prefix announcing a megabyte that never comes: the connection just
     * waits, and the others are served meanwhile. */
    int waiting = raw_connect_admin(d);
    static const uint8_t mib[] = {0, 0x10, 0, 0, 0x82};
    jt_raw_send(waiting, mib, sizeof mib);
    cr_assert_lt(ping_ms(other), PROMPT_MS);

    jt_call_ok(other, "ping", NULL);
    close(waiting);
    jm_close(other);
    jm_client_t *admin = jt_connect_admin(d);
    wait_for_connections(admin, 1);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* ---- huge arrays and maps ------------------------------------------------ */

/* Packs {"id": id, "op": op, "args": {key: <n nils, as an array or a map
 * of n distinct keys>}} close to 1 MiB. */
static void
pack_huge(msgpack_sbuffer *sb, uint64_t id, const char *op, const char *key,
          bool as_map, uint32_t n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    jt_pack_str(&pk, "id");
    msgpack_pack_uint64(&pk, id);
    jt_pack_str(&pk, "op");
    jt_pack_str(&pk, op);
    jt_pack_str(&pk, "args");
    msgpack_pack_map(&pk, 1);
    jt_pack_str(&pk, key);
    if (as_map) {
        msgpack_pack_map(&pk, n);
        for (uint32_t i = 0; i < n; i++) {
            msgpack_pack_uint32(&pk, i);
            msgpack_pack_nil(&pk);
        }
    } else {
        msgpack_pack_array(&pk, n);
        for (uint32_t i = 0; i < n; i++)
            msgpack_pack_nil(&pk);
    }
}

Test(hostile, huge_arrays_and_maps_are_refused_by_field_and_freed, .timeout = 300)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    struct {
        const char *op, *key, *field;  /* field: expected in the message; NULL = ok */
        bool as_map;
        uint32_t n;
    } cases[] = {
        {"ping", "junk", NULL, false, 1000000},              /* unknown key: ignored */
        {"ping", "junk", NULL, true, 150000},
        {"vacancy.put_many", "vacancies", "vacancies", false, 1000000},
        {"worker.put_many", "workers", "workers", false, 1000000},
        {"vacancy.put", "vacancy", "vacancy", true, 150000},
        {"match.vacancies", "profile", "profile", true, 150000},
        {"vacancy.list", "region", "region", false, 1000000},
    };
    size_t n_cases = sizeof cases / sizeof cases[0];
    long rss0 = 0, hwm0 = 0;
    int rounds = jt_instrumented() ? 2 : 6;
    for (int round = 0; round < rounds; round++) {
        for (size_t i = 0; i < n_cases; i++) {
            msgpack_sbuffer sb;
            msgpack_sbuffer_init(&sb);
            pack_huge(&sb, 100 + i, cases[i].op, cases[i].key, cases[i].as_map, cases[i].n);
            cr_assert_leq(sb.size, 1u << 20, "case %zu does not fit a frame", i);
            cr_assert_eq(jm_send_raw(c, sb.data, sb.size), 0, "%s", c->errstr);
            msgpack_sbuffer_destroy(&sb);
            jm_reply_t *r = NULL;
            int rc = jm_recv(c, &r);
            cr_assert(rc == 0 || rc == JM_ESERVER, "%s: %s", cases[i].op, c->errstr);
            cr_assert_eq(r->id, 100 + i);
            if (cases[i].field)
                jt_expect_error(r, "bad_request", cases[i].field);
            else
                jt_expect_ok(r, cases[i].op);
            jm_reply_free(r);
        }
        if (round == 0) {  /* after the warm-up */
            rss0 = jt_daemon_mem_kb(d, "VmRSS");
            hwm0 = jt_daemon_mem_kb(d, "VmHWM");
        }
    }
    long rss1 = jt_daemon_mem_kb(d, "VmRSS"), hwm1 = jt_daemon_mem_kb(d, "VmHWM");
    cr_log_info("huge containers: VmRSS %ld -> %ld KiB, VmHWM %ld -> %ld KiB",
                rss0, rss1, hwm0, hwm1);
    /* Decoding a 1 MiB frame of nils takes some 24 MiB, released with the
     * request: repeating it must not add up. */
    cr_assert_leq(rss1 - rss0, mem_bound_kb(32), "resident memory grew by %ld KiB",
                  rss1 - rss0);
    cr_assert_leq(hwm1 - hwm0, mem_bound_kb(32), "peak memory grew by %ld KiB",
                  hwm1 - hwm0);
    cr_assert_eq(jt_admin_count(c, "vacancies"), 0);
    cr_assert_eq(jt_admin_count(c, "workers"), 0);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* ---- wrong types for every argument of every operation ------------------- */

/* Values of every msgpack type (nil aside, which means absent), packed. */
static void
pack_wrong_value(msgpack_packer *pk, int kind)
{
    switch (kind) {
    case 0: msgpack_pack_int64(pk, -7); break;
    case 1: msgpack_pack_uint64(pk, UINT64_MAX); break;
    case 2: msgpack_pack_double(pk, 1.5); break;
    case 3: msgpack_pack_true(pk); break;
    case 4: jt_pack_str(pk, "x"); break;
    case 5: msgpack_pack_str_with_body(pk, "\xff\xfe", 2); break;  /* not UTF-8 */
    case 6: msgpack_pack_bin_with_body(pk, "bin", 3); break;
    case 7: msgpack_pack_array(pk, 1); msgpack_pack_int(pk, 1); break;
    case 8: msgpack_pack_map(pk, 1); jt_pack_str(pk, "k"); msgpack_pack_int(pk, 1); break;
    case 9: msgpack_pack_ext_with_body(pk, "e", 1, 5); break;
    }
}
#define N_WRONG 10

Test(hostile, wrong_types_for_every_argument_of_every_operation, .timeout = 300)
{
    const char *src = getenv("JOBMATCH_SOURCE");
    cr_assert_not_null(src, "JOBMATCH_SOURCE is not set (ctest sets it)");
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    /* Valid requests of every operation, from the fuzzer's seeds. */
    size_t n_ops;
    const en_command_t *ops = en_commands(&n_ops);
    unsigned sent = 0;
    for (size_t o = 0; o < n_ops; o++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/tests/fuzz/corpus/request/op-%s", src, ops[o].name);
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f, "no seed %s", path);
        static char seed[1 << 16];
        size_t seed_len = fread(seed, 1, sizeof seed, f);
        fclose(f);
        msgpack_zone zone;
        msgpack_zone_init(&zone, 4096);
        msgpack_object req;
        size_t off = 0;
        cr_assert_eq(msgpack_unpack(seed, seed_len, &off, &zone, &req), MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *args = jt_get(&req, "args");
        uint32_t n_args = args ? args->via.map.size : 0;
        /* Each argument in turn replaced by each wrong value. */
        for (uint32_t a = 0; a < n_args; a++) {
            const msgpack_object_kv *kv = &args->via.map.ptr[a];
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)kv->key.via.str.size, kv->key.via.str.ptr);
            for (int w = 0; w < N_WRONG; w++) {
                msgpack_sbuffer sb;
                msgpack_packer pk;
                msgpack_sbuffer_init(&sb);
                msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
                msgpack_pack_map(&pk, n_args);
                for (uint32_t k = 0; k < n_args; k++) {
                    msgpack_pack_object(&pk, args->via.map.ptr[k].key);
                    if (k == a)
                        pack_wrong_value(&pk, w);
                    else
                        msgpack_pack_object(&pk, args->via.map.ptr[k].val);
                }
                jm_reply_t *r = jt_call(c, ops[o].name, &sb);
                msgpack_sbuffer_destroy(&sb);
                sent++;
                /* A value of the right type may be fine (limit -7 is not;
                 * key "x" is merely unknown), or name a missing record;
                 * anything else must be a bad_request naming the argument. */
                if (!r->ok && strcmp(r->error_code, "not_found") != 0 &&
                    strcmp(r->error_code, "unauthorized") != 0) {
                    cr_assert_str_eq(r->error_code, "bad_request", "%s %s <- kind %d: %s: %s",
                                     ops[o].name, key, w, r->error_code, r->error_message);
                    cr_assert(strstr(r->error_message, key) != NULL,
                              "%s %s <- kind %d: message '%s' does not name the argument",
                              ops[o].name, key, w, r->error_message);
                }
                jm_reply_free(r);
            }
        }
        msgpack_zone_destroy(&zone);
    }
    cr_log_info("%u requests with wrong types", sent);
    cr_assert_gt(sent, 100);
    /* None of it was written, and the connection is the one we started with. */
    cr_assert_eq(jt_admin_count(c, "vacancies"), 0);
    cr_assert_eq(jt_admin_count(c, "workers"), 0);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), 0);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* ---- swarms of connections ------------------------------------------------ */

Test(hostile, thousands_of_connections_opened_and_dropped, .timeout = 300)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *other = jt_connect(d);
    jt_call_ok(other, "ping", NULL);
    long rss0 = jt_daemon_mem_kb(d, "VmRSS");
    enum { BATCH = 250 };
    int total = jt_instrumented() ? 500 : 5000;
    int fds[BATCH];
    int64_t worst_ping = 0;
    for (int done = 0; done < total; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            fds[i] = jt_raw_connect(d);
            /* Some say something first: half a prefix, a whole ping, or
             * half a frame. */
            if (i % 4 == 1)
                jt_raw_send(fds[i], "\0\0", 2);
            else if (i % 4 == 2)
                jt_raw_send_frame(fds[i], ping_body, sizeof ping_body);
            else if (i % 4 == 3)
                jt_raw_send(fds[i], "\0\0\0\x0d\x82", 5);
        }
        int64_t t = ping_ms(other);
        if (t > worst_ping)
            worst_ping = t;
        for (int i = 0; i < BATCH; i++) {
            if (i % 2 == 0) {
                /* A reset rather than an orderly close. */
                struct linger lg = {1, 0};
                setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            }
            close(fds[i]);
        }
    }
    jm_client_t *admin = jt_connect_admin(d);
    wait_for_connections(admin, 2);
    long rss1 = jt_daemon_mem_kb(d, "VmRSS");
    cr_log_info("%d connections: VmRSS %ld -> %ld KiB, slowest ping %lld ms", total,
                rss0, rss1, (long long)worst_ping);
    cr_assert_leq(rss1 - rss0, mem_bound_kb(24), "resident memory grew by %ld KiB",
                  rss1 - rss0);
    cr_assert_lt(worst_ping, PROMPT_MS);
    jt_call_ok(other, "ping", NULL);
    jm_close(admin);
    jm_close(other);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* ---- slow writers ---------------------------------------------------------- */

typedef struct slow_writer {
    const jt_daemon_t *d;
    int delay_ms;
    bool answered;
} slow_writer_t;

/* Sends one ping a byte at a time, then reads its reply. */
static void *
write_slowly(void *arg)
{
    slow_writer_t *s = arg;
    int fd = jt_raw_connect(s->d);
    uint8_t frame[4 + sizeof ping_body] = {0, 0, 0, sizeof ping_body};
    memcpy(frame + 4, ping_body, sizeof ping_body);
    for (size_t i = 0; i < sizeof frame; i++) {
        if (send(fd, frame + i, 1, MSG_NOSIGNAL) != 1)
            break;
        jt_sleep_ms(s->delay_ms);
    }
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_object reply;
    if (jt_raw_read_frame(fd, &zone, &reply) == 0) {
        const msgpack_object *ok = jt_get(&reply, "ok");
        s->answered = ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean;
    }
    msgpack_zone_destroy(&zone);
    close(fd);
    return NULL;
}

Test(hostile, slow_writers_do_not_hold_up_anyone, .timeout = 120)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    enum { N = 20 };
    slow_writer_t w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (slow_writer_t){.d = d, .delay_ms = 250};
        pthread_create(&t[i], NULL, write_slowly, &w[i]);
    }
    /* While they dribble (about 4 s each; a server that waited for them
     * would take over a minute), everyone else is answered at once. */
    jm_client_t *c = jt_connect_admin(d);
    int64_t worst = 0;
    for (int i = 0; i < 60; i++) {
        int64_t ms = ping_ms(c);
        if (ms > worst)
            worst = ms;
        jt_put_vacancy(c, i % 2 ? "v-slow-1" : "v-slow-2", "110105", "6-05-02-03", "weld:2");
        jt_sleep_ms(40);
    }
    cr_assert_lt(worst, PROMPT_MS,
                 "a ping took %lld ms beside slow writers", (long long)worst);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        cr_assert(w[i].answered, "slow writer %d got no answer", i);
    }
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
