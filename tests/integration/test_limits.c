/* test_limits.c - bounds the daemon keeps under pressure: bulk writes whose
 * counts the frame cannot hold, a full store, a map that grows to its
 * ceiling, match arguments out of range, writes in flight per connection
 * (by count and by memory), idle connections and clients that never read.
 * max_frame and max_clients are tested in test_protocol.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "jobmatch.h"
#include "wire.h"

/* 10,000 empty maps fit in 10 KB; decoded they would take 17 MB. The
 * count is refused before anything is allocated for it. */
Test(limits, put_many_count_beyond_the_frame)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "workers", 7);
    msgpack_pack_array(&pk, 10000);
    for (int i = 0; i < 10000; i++)
        msgpack_pack_map(&pk, 0);
    jm_reply_t *r = jt_call(c, "worker.put_many", &sb);
    jt_expect_error(r, "bad_request", "cannot be valid records");
    jm_reply_free(r);
    msgpack_sbuffer_destroy(&sb);
    /* The connection goes on. */
    r = jt_call_json(c, "ping", "{}");
    jt_expect_ok(r, "ping after a refused batch");
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(limits, as_of_out_of_range)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect(d);
    jm_reply_t *r = jt_call_json(c, "match.vacancies",
                                 "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\"},"
                                 " \"as_of\": 4611686018427387904}");
    jt_expect_error(r, "bad_request", "as_of");
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* A batch too large for the store fails alone with storage_full; writes
 * queued beside it still land exactly once (created, never "replaced"). */
typedef struct flooder {
    const jt_daemon_t *d;
    int storage_full;
} flooder_t;

static void *
flood(void *arg)
{
    flooder_t *f = arg;
    jm_client_t *c = jt_connect_admin(f->d);
    for (int round = 0; round < 3; round++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "big-%d", round);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        jt_args_vacancies(&sb, prefix, 4000, "110105", "6-05-02-03", "a:3,b:2,c:4,d:1,e:5");
        jm_reply_t *r = jt_call(c, "vacancy.put_many", &sb);
        if (!r->ok && strcmp(r->error_code, "storage_full") == 0)
            f->storage_full++;
        jm_reply_free(r);
        msgpack_sbuffer_destroy(&sb);
    }
    jm_close(c);
    return NULL;
}

Test(limits, full_store_fails_only_what_does_not_fit)
{
    const char *args[] = {"--map-size", "2M", "--map-max", "2M", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    flooder_t f = {.d = d};
    pthread_t t;
    pthread_create(&t, NULL, flood, &f);
    jm_client_t *c = jt_connect_admin(d);
    int created = 0, full = 0;
    for (int i = 0; i < 300; i++) {
        char id[32];
        snprintf(id, sizeof id, "small-%d", i);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        jt_args_vacancy(&sb, id, "110105", "6-05-02-03", "a:1");
        jm_reply_t *r = jt_call(c, "vacancy.put", &sb);
        msgpack_sbuffer_destroy(&sb);
        if (r->ok) {
            cr_assert(jt_get_bool(&r->result, "created"), "%s answered created: false", id);
            created++;
        } else {
            cr_assert_str_eq(r->error_code, "storage_full", "%s: %s", id, r->error_message);
            full++;
        }
        jm_reply_free(r);
    }
    pthread_join(t, NULL);
    cr_assert_gt(f.storage_full, 0, "the big batches should not fit a 2 MiB map");
    cr_assert_gt(created, 0);
    /* Reads go on, and what is stored is consistent. */
    jt_expect_check_clean(c, "after the flood");
    cr_assert_eq(jt_admin_count(c, "vacancies"), created);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

static uint64_t
map_size(jm_client_t *c)
{
    return jt_admin_count(c, "map_size");
}

/* Writes batches of 200 vacancies (ids g-<batch>-<i>) until one fails;
 * returns how many batches were acknowledged. */
static int
fill(jm_client_t *c, int first_batch, int max_batches, const char **failed_code)
{
    *failed_code = NULL;
    for (int b = first_batch; b < first_batch + max_batches; b++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "g-%d", b);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        jt_args_vacancies(&sb, prefix, 200, "110105", "6-05-02-03", "a:3,b:2,c:4,d:1,e:5");
        jm_reply_t *r = jt_call(c, "vacancy.put_many", &sb);
        msgpack_sbuffer_destroy(&sb);
        if (!r->ok) {
            static char code[32];
            snprintf(code, sizeof code, "%s", r->error_code);
            *failed_code = code;
            jm_reply_free(r);
            return b - first_batch;
        }
        jm_reply_free(r);
    }
    return max_batches;
}

/* A 1 MiB map doubles as writes need room, up to map_max (6 MiB: 1, 2, 4,
 * then 6); past it writes fail with storage_full while reads and
 * admin.check go on, and everything acknowledged survives a restart. */
Test(limits, tiny_map_grows_to_its_ceiling, .timeout = 120)
{
    const char *args[] = {"--map-size", "1M", "--map-max", "6M", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    jm_client_t *c = jt_connect_admin(d);
    cr_assert_eq(map_size(c), 1u << 20);
    cr_assert_eq(jt_admin_count(c, "map_max"), 6u << 20);

    const char *code;
    int batches = fill(c, 0, 1000, &code);
    cr_assert_not_null(code, "6 MiB never filled up");
    cr_assert_str_eq(code, "storage_full");
    cr_assert_eq(map_size(c), 6u << 20, "the map should have grown to its ceiling");
    uint64_t used = jt_admin_count(c, "map_used");
    cr_assert_gt(used, 4u << 20, "acknowledged writes should fill more than 4 MiB, used %llu",
                 (unsigned long long)used);
    cr_assert_eq(jt_admin_count(c, "vacancies"), (uint64_t)batches * 200);

    /* At the ceiling: a small write that no longer fits fails alone, the
     * connection and reads go on, and the store is consistent. */
    jm_reply_t *r;
    int small_ok = 0;
    for (int i = 0; i < 50; i++) {
        char id[32];
        snprintf(id, sizeof id, "s-%d", i);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        jt_args_vacancy(&sb, id, "110105", "6-05-02-03", "a:1");
        r = jt_call(c, "vacancy.put", &sb);
        msgpack_sbuffer_destroy(&sb);
        if (r->ok)
            small_ok++;
        else
            cr_assert_str_eq(r->error_code, "storage_full", "%s", r->error_message);
        jm_reply_free(r);
    }
    cr_assert_eq(fill(c, 5000, 1, &code), 0, "a batch of 200 past the ceiling");
    cr_assert_str_eq(code, "storage_full");
    r = jt_call_json(c, "vacancy.get", "{\"id\": \"g-0-0\"}");
    jt_expect_ok(r, "read at the ceiling");
    jm_reply_free(r);
    r = jt_call_json(c, "vacancy.list", "{\"region\": \"1101\", \"limit\": 5}");
    jt_expect_ok(r, "list at the ceiling");
    jm_reply_free(r);
    jt_expect_check_clean(c, "at the ceiling");
    uint64_t stored = jt_admin_count(c, "vacancies");
    cr_assert_eq(stored, (uint64_t)batches * 200 + (uint64_t)small_ok);
    jm_close(c);

    /* Everything acknowledged is there after a restart. */
    cr_assert_eq(jt_daemon_restart(d), 0);
    c = jt_connect_admin(d);
    cr_assert_eq(jt_admin_count(c, "vacancies"), stored);
    cr_assert_eq(map_size(c), 6u << 20, "the map should keep the size it grew to");
    for (int b = 0; b < batches; b++) {
        char id[32];
        snprintf(id, sizeof id, "g-%d-199", b);
        r = jt_call_json(c, "vacancy.get", "{\"id\": \"%s\"}", id);
        jt_expect_ok(r, id);
        jm_reply_free(r);
    }
    jt_expect_check_clean(c, "after restart");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* ---- writes in flight ---------------------------------------------------- */

/* Packs {"id": id, "op": "vacancy.put", "args": {"vacancy": {...},
 * "junk": [nil x n]}}: a valid write whose decoded request is large. */
static void
pack_fat_put(msgpack_sbuffer *sb, uint64_t id, const char *vacancy_id, uint32_t n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    jt_pack_str(&pk, "id");
    msgpack_pack_uint64(&pk, id);
    jt_pack_str(&pk, "op");
    jt_pack_str(&pk, "vacancy.put");
    jt_pack_str(&pk, "args");
    msgpack_pack_map(&pk, 2);
    jt_pack_str(&pk, "vacancy");
    jt_pack_vacancy(&pk, vacancy_id, "110105", "6-05-02-03", "weld:2");
    jt_pack_str(&pk, "junk");
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_nil(&pk);
}

/* A pipelined stream of writes whose decoded requests take ~25 MiB each
 * (a 1 MiB frame of nils): however many the client sends, the writes a
 * connection has in flight are capped by memory, not only by count. */
Test(limits, inflight_writes_hold_bounded_memory, .timeout = 300)
{
    const char *args[] = {"--max-frame", "16M", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    jm_client_t *c = jt_connect_admin(d);
    long hwm0 = jt_daemon_mem_kb(d, "VmHWM");
    int n = jt_instrumented() ? 8 : 64;
    int batch_n = jt_instrumented() ? 1000 : 10000;
    /* A batch that keeps the writer busy for a while, so that the fat
     * writes pile up behind it rather than commit one by one. */
    msgpack_sbuffer batch;
    msgpack_packer pk;
    msgpack_sbuffer_init(&batch);
    msgpack_packer_init(&pk, &batch, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    jt_pack_str(&pk, "vacancies");
    msgpack_pack_array(&pk, (uint32_t)batch_n);
    char skills[1024];
    size_t len = 0;
    for (int k = 0; k < 40; k++)
        len += (size_t)snprintf(skills + len, sizeof skills - len, "%sskill-%d:%d",
                                k ? "," : "", k, 1 + k % 5);
    for (int i = 0; i < batch_n; i++) {
        char vid[32];
        snprintf(vid, sizeof vid, "b-%d", i);
        jt_pack_vacancy(&pk, vid, "110105", "6-05-02-03", skills);
    }
    uint64_t batch_id;
    cr_assert_eq(jm_send(c, "vacancy.put_many", batch.data, batch.size, &batch_id), 0);
    msgpack_sbuffer_destroy(&batch);
    for (int i = 0; i < n; i++) {
        char vid[32];
        snprintf(vid, sizeof vid, "fat-%d", i);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        pack_fat_put(&sb, (uint64_t)(1000 + i), vid, 1000000);
        cr_assert_eq(jm_send_raw(c, sb.data, sb.size), 0, "%s", c->errstr);
        msgpack_sbuffer_destroy(&sb);
    }
    jm_reply_t *r = NULL;
    cr_assert_eq(jm_recv(c, &r), 0, "%s", c->errstr);
    cr_assert_eq(r->id, batch_id);
    jm_reply_free(r);
    for (int i = 0; i < n; i++) {
        int rc = jm_recv(c, &r);
        cr_assert(rc == 0 || rc == JM_ESERVER, "%s", c->errstr);
        cr_assert_eq(r->id, (uint64_t)(1000 + i));
        jt_expect_ok(r, "fat put");
        jm_reply_free(r);
    }
    long hwm1 = jt_daemon_mem_kb(d, "VmHWM");
    cr_log_info("%d fat writes pipelined: VmHWM %ld -> %ld KiB", n, hwm0, hwm1);
    cr_assert_eq(jt_admin_count(c, "vacancies"), (uint64_t)(n + batch_n));
    cr_assert_leq(hwm1 - hwm0, (jt_instrumented() ? 800 : 400) * 1024,
                  "peak memory grew by %ld KiB", hwm1 - hwm0);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* A connection queues at most max_inflight writes: with 1, every write of
 * a pipelined stream commits alone; with the default 64, they share
 * commits. */
static uint64_t
commits_for_pipelined_puts(const char *max_inflight, int n)
{
    const char *args[] = {"--max-inflight", max_inflight, NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    jm_client_t *c = jt_connect_admin(d);
    uint64_t commits0 = jt_admin_count(c, "commits");
    uint64_t *ids = calloc((size_t)n, sizeof *ids);
    for (int i = 0; i < n; i++) {
        char vid[32];
        snprintf(vid, sizeof vid, "q-%d", i);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        jt_args_vacancy(&sb, vid, "110105", "6-05-02-03", "weld:2");
        cr_assert_eq(jm_send(c, "vacancy.put", sb.data, sb.size, &ids[i]), 0);
        msgpack_sbuffer_destroy(&sb);
    }
    for (int i = 0; i < n; i++) {
        jm_reply_t *r = NULL;
        cr_assert_eq(jm_recv(c, &r), 0, "%s", c->errstr);
        cr_assert_eq(r->id, ids[i], "replies out of order");
        jm_reply_free(r);
    }
    uint64_t commits = jt_admin_count(c, "commits") - commits0;
    cr_assert_eq(jt_admin_count(c, "vacancies"), (uint64_t)n);
    free(ids);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
    return commits;
}

Test(limits, a_connection_queues_at_most_max_inflight_writes, .timeout = 120)
{
    enum { N = 60 };
    uint64_t one = commits_for_pipelined_puts("1", N);
    cr_assert_eq(one, N, "with max_inflight 1, %d pipelined writes took %llu commits",
                 N, (unsigned long long)one);
    uint64_t many = commits_for_pipelined_puts("64", N);
    cr_log_info("%d pipelined puts: %llu commits with max_inflight 1, %llu with 64", N,
                (unsigned long long)one, (unsigned long long)many);
    cr_assert_lt(many, N / 2, "with max_inflight 64, %d pipelined writes took %llu commits",
                 N, (unsigned long long)many);
}

/* ---- idle connections ---------------------------------------------------- */

Test(limits, idle_connections_are_closed_active_ones_are_not, .timeout = 60)
{
    const char *args[] = {"--idle-timeout", "1", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    int idle = jt_raw_connect(d);
    /* Half a frame is not activity that lasts: it too times out. */
    int partial = jt_raw_connect(d);
    jt_raw_send(partial, "\0\0\0\x0d\x82", 5);
    jm_client_t *active = jt_connect(d);
    int64_t t0 = jt_now_ms();
    /* The active client keeps talking for three timeouts. */
    while (jt_now_ms() - t0 < 3000) {
        jt_call_ok(active, "ping", NULL);
        jt_sleep_ms(250);
    }
    /* By now both silent connections are closed (recv sees the end at
     * once rather than after the socket's 10 s timeout). */
    int64_t t1 = jt_now_ms();
    cr_assert(jt_raw_closed(idle), "an idle connection was not closed");
    cr_assert(jt_raw_closed(partial), "a connection stuck inside a frame was not closed");
    cr_assert_lt(jt_now_ms() - t1, 1000, "the idle connections were closed only late");
    close(idle);
    close(partial);
    jt_call_ok(active, "ping", NULL);
    jm_close(active);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* ---- clients that never read ----------------------------------------------- */

/* Sends without blocking; returns the bytes the kernel took (0 when its
 * buffers are full). */
static size_t
send_some(int fd, const void *buf, size_t len)
{
    ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
        cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "send: %s", strerror(errno));
        return 0;
    }
    return (size_t)n;
}

Test(limits, a_client_that_never_reads_stops_being_read_and_memory_stays_bounded,
     .timeout = 180)
{
    const char *args[] = {"--idle-timeout", "2", NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    jm_client_t *admin = jt_connect_admin(d);
    /* 1000 vacancies, so that each list page is some 200 KB. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    jt_pack_str(&pk, "vacancies");
    msgpack_pack_array(&pk, 1000);
    for (int i = 0; i < 1000; i++) {
        char vid[32];
        snprintf(vid, sizeof vid, "page-%04d", i);
        jt_pack_vacancy(&pk, vid, "110105", "6-05-02-03", "weld:2,cut:3,drive:1");
    }
    jt_call_ok(admin, "vacancy.put_many", &sb);
    msgpack_sbuffer_destroy(&sb);

    /* A buffer of 500 pipelined list requests, sent over and over by a
     * client that reads nothing. */
    msgpack_sbuffer stream;
    msgpack_sbuffer_init(&stream);
    for (int i = 0; i < 500; i++) {
        msgpack_sbuffer req;
        msgpack_sbuffer_init(&req);
        jt_args_json(&req, "{\"id\": %d, \"op\": \"vacancy.list\", \"args\": {\"limit\": 1000}}",
                     i + 1);
        uint8_t hdr[4] = {0, 0, (uint8_t)(req.size >> 8), (uint8_t)req.size};
        msgpack_sbuffer_write(&stream, (const char *)hdr, 4);
        msgpack_sbuffer_write(&stream, req.data, req.size);
        msgpack_sbuffer_destroy(&req);
    }
    long rss0 = jt_daemon_mem_kb(d, "VmRSS");
    int fd = jt_raw_connect(d);
    int rcvbuf = 4096;  /* keep what the kernel holds for us small */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    size_t sent = 0, off = 0;
    int64_t stalled_since = 0;
    const size_t give_up = (size_t)256 << 20;
    while (sent < give_up) {
        size_t n = send_some(fd, stream.data + off, stream.size - off);
        sent += n;
        off = (off + n) % stream.size;
        if (n > 0) {
            stalled_since = 0;
            /* A server that kept reading would pile up replies: stop
             * before that hurts the machine. */
            cr_assert_lt(jt_daemon_mem_kb(d, "VmRSS") - rss0, 1024 * 1024,
                         "replies to a client that never reads pile up");
            continue;
        }
        if (!stalled_since)
            stalled_since = jt_now_ms();
        else if (jt_now_ms() - stalled_since > 1000)
            break;  /* the server has stopped reading from us */
        jt_sleep_ms(10);
    }
    cr_assert_lt(sent, give_up, "the server kept reading from a client that never reads");
    long rss1 = jt_daemon_mem_kb(d, "VmRSS");
    cr_log_info("a non-reader got %zu bytes of requests in; VmRSS %ld -> %ld KiB", sent,
                rss0, rss1);
    /* Replies wait up to the 8 MiB mark plus the page that crossed it. */
    cr_assert_leq(rss1 - rss0, (jt_instrumented() ? 400 : 48) * 1024,
                  "resident memory grew by %ld KiB for a client that never reads", rss1 - rss0);

    /* Everyone else is answered promptly meanwhile. */
    int64_t t0 = jt_now_ms();
    jt_call_ok(admin, "ping", NULL);
    jm_reply_t *r = jt_call_json(admin, "vacancy.list", "{\"limit\": 5}");
    jt_expect_ok(r, "list beside a non-reader");
    jm_reply_free(r);
    cr_assert_lt(jt_now_ms() - t0, jt_instrumented() ? 5000 : 2000);

    /* It reads none of its replies for idle_timeout: the server closes it. */
    uint64_t conns = 2;
    for (int i = 0; i < 400 && conns != 1; i++) {
        jt_sleep_ms(25);
        conns = jt_admin_count(admin, "connections");
    }
    cr_assert_eq(conns, 1, "a client that reads nothing was not closed");
    close(fd);
    msgpack_sbuffer_destroy(&stream);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* ---- descriptors ----------------------------------------------------------- */

/* Opens n connections at once, sends a ping on each, and counts the
 * answers: a pong, or `overloaded` (sent on connect). Any connection left
 * unanswered fails the test (after the socket's read timeout). */
static void
ping_many(const jt_daemon_t *d, int n, int *pongs, int *overloaded)
{
    static const uint8_t ping[] = {0, 0, 0, 13, 0x82, 0xa2, 'i', 'd', 0x09,
                                   0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g'};
    int *fds = calloc((size_t)n, sizeof *fds);
    cr_assert_not_null(fds);
    for (int i = 0; i < n; i++)
        fds[i] = jt_raw_connect(d);
    *pongs = *overloaded = 0;
    for (int i = 0; i < n; i++) {
        /* A refused connection may already be closed: a failed send is
         * fine, its overloaded frame is still there to read. */
        (void)!send(fds[i], ping, sizeof ping, MSG_NOSIGNAL);
        msgpack_zone zone;
        msgpack_zone_init(&zone, 1024);
        msgpack_object reply;
        cr_assert_eq(jt_raw_read_frame(fds[i], &zone, &reply), 0,
                     "connection %d of %d got no answer", i, n);
        if (jt_get_bool(&reply, "ok")) {
            cr_assert(jt_str_is(jt_need(&reply, "result"), "pong"));
            (*pongs)++;
        } else {
            cr_assert(jt_str_is(jt_need(jt_need(&reply, "error"), "code"), "overloaded"));
            (*overloaded)++;
        }
        msgpack_zone_destroy(&zone);
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
}

/* Started from a shell with a soft limit of 64 open files, the daemon
 * raises it to what max_clients needs: hundreds of clients are served. */
Test(limits, a_low_soft_descriptor_limit_is_raised, .timeout = 120)
{
    struct rlimit rl, low;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    cr_assert_geq(rl.rlim_max, 1024, "this test needs a hard limit of 1024 open files");
    low = rl;
    low.rlim_cur = 64;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    jt_daemon_t *d = jt_daemon_start(NULL);  /* inherits the soft limit */
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    int n = 400, pongs, overloaded;
    ping_many(d, n, &pongs, &overloaded);
    cr_log_info("soft limit 64: %d pongs, %d overloaded", pongs, overloaded);
    /* Valgrind keeps its own descriptors and may not let the limit rise;
     * then the rest must still be told overloaded (ping_many checks). */
    if (!jt_instrumented())
        cr_assert_eq(pongs, n, "only %d of %d clients were served", pongs, n);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* With a hard limit of 100 open files, max_clients (10000) cannot be
 * reached: it is lowered to fit, and the clients beyond it are told
 * overloaded at once rather than left waiting in the listen queue. */
Test(limits, max_clients_fits_a_low_hard_descriptor_limit, .timeout = 120)
{
    char dir[] = "/tmp/jobmatch-nofile-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char script[sizeof dir + 16];
    snprintf(script, sizeof script, "%s/jobmatchd", dir);
    FILE *f = fopen(script, "w");
    cr_assert_not_null(f);
    fputs("#!/bin/sh\nulimit -n 100\nexec \"$JM_NOFILE_JOBMATCHD\" \"$@\"\n", f);
    fclose(f);
    cr_assert_eq(chmod(script, 0755), 0);
    const char *real = getenv("JOBMATCHD");
    cr_assert_not_null(real);
    setenv("JM_NOFILE_JOBMATCHD", real, 1);
    setenv("JOBMATCHD", script, 1);
    jt_daemon_t *d = jt_daemon_start(NULL);
    setenv("JOBMATCHD", real, 1);

    int pongs, overloaded;
    ping_many(d, 150, &pongs, &overloaded);
    cr_log_info("hard limit 100: %d pongs, %d overloaded", pongs, overloaded);
    cr_assert_geq(pongs, 20, "only %d clients were served", pongs);
    cr_assert_gt(overloaded, 0, "150 clients fit in 100 descriptors?");
    /* Once they are gone, there is room again. */
    jm_client_t *c = jt_connect_admin(d);
    jt_call_ok(c, "ping", NULL);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
    unlink(script);
    rmdir(dir);
}
