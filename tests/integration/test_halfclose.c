/* test_halfclose.c - a client that sends its requests and then
 * shuts down its sending side (a TCP half-close) must still receive every
 * reply, in request order, before the server closes: end of input is not
 * bad input, and the contract closes connections only on bad frames. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "wire.h"

/* Packs {"id": id, "op": op, "args": <args bytes>} (args may be NULL). */
static void
send_request(int fd, uint64_t id, const char *op, const msgpack_sbuffer *args)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, args ? 3 : 2);
    jt_pack_str(&pk, "id");
    msgpack_pack_uint64(&pk, id);
    jt_pack_str(&pk, "op");
    jt_pack_str(&pk, op);
    if (args) {
        jt_pack_str(&pk, "args");
        msgpack_sbuffer_write(&sb, args->data, args->size);
    }
    jt_raw_send_frame(fd, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

Test(review, half_close_still_gets_every_reply, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    int fd = jt_raw_connect(d);
    msgpack_sbuffer args;
    msgpack_sbuffer_init(&args);
    jt_args_json(&args, "{\"protocol\": 1, \"key\": \"%s\"}", JT_ADMIN_KEY);
    send_request(fd, 1, "hello", &args);
    msgpack_sbuffer_destroy(&args);

    /* Writes put the connection behind the writer; the pings queue after
     * them, so they are answered only once the writes commit. */
    enum { N_PUT = 30, N_PING = 5 };
    for (int i = 0; i < N_PUT; i++) {
        char id[32];
        snprintf(id, sizeof id, "hc-%d", i);
        msgpack_sbuffer_init(&args);
        jt_args_vacancy(&args, id, "110105", "6-05-02-03", "weld:2");
        send_request(fd, (uint64_t)(2 + i), "vacancy.put", &args);
        msgpack_sbuffer_destroy(&args);
    }
    for (int i = 0; i < N_PING; i++)
        send_request(fd, (uint64_t)(2 + N_PUT + i), "ping", NULL);
    cr_assert_eq(shutdown(fd, SHUT_WR), 0);

    for (uint64_t want = 1; want <= 1 + N_PUT + N_PING; want++) {
        msgpack_zone zone;
        msgpack_zone_init(&zone, 4096);
        msgpack_object reply;
        int rc = jt_raw_read_frame(fd, &zone, &reply);
        cr_assert_eq(rc, 0, "reply %llu of %d lost after the half-close (rc %d)",
                     (unsigned long long)want, 1 + N_PUT + N_PING, rc);
        cr_assert_eq(jt_get_int(&reply, "id"), (int64_t)want, "reply order");
        cr_assert(jt_get_bool(&reply, "ok"), "reply %llu failed",
                  (unsigned long long)want);
        msgpack_zone_destroy(&zone);
    }
    cr_assert(jt_raw_closed(fd), "the server closes once everything is answered");
    close(fd);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
