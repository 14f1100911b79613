/* test_limits.c - bounds the daemon keeps under pressure: bulk writes whose
 * counts the frame cannot hold, a full store, and match arguments out of
 * range. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

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
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 1);
        msgpack_pack_str_with_body(&pk, "vacancies", 9);
        msgpack_pack_array(&pk, 4000);
        for (int i = 0; i < 4000; i++) {
            char id[32];
            snprintf(id, sizeof id, "big-%d-%d", round, i);
            jt_pack_vacancy(&pk, id, "110105", "6-05-02-03", "a:3,b:2,c:4,d:1,e:5");
        }
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
    const char *args[] = {"--map-size", "2M", NULL};
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
    jm_reply_t *r = jt_call_json(c, "admin.check", "{}");
    jt_expect_ok(r, "admin.check");
    cr_assert(jt_get_bool(&r->result, "ok"), "%s", jt_get_str(&r->result, "report"));
    jm_reply_free(r);
    cr_assert_eq(jt_admin_count(c, "vacancies"), created);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
