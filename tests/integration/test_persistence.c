/* test_persistence.c - durability of acknowledged writes across SIGTERM
 * and SIGKILL restarts, concurrent writers (group commit), and writes cut
 * off by a shutdown. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "wire.h"

static bool
vacancy_exists(jm_client_t *c, const char *id)
{
    jm_reply_t *r = jt_call_json(c, "vacancy.get", "{\"id\": \"%s\"}", id);
    bool ok = r->ok;
    if (!ok)
        cr_assert_str_eq(r->error_code, "not_found", "%s: %s", id, r->error_message);
    jm_reply_free(r);
    return ok;
}

Test(persistence, writes_survive_a_sigterm_restart, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    char id[32];
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "v%02d", i);
        jt_put_vacancy(c, id, i % 2 ? "110105" : "440305", "6-05-02-03", "weld:3,cnc:2");
    }
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "w%02d", i);
        jt_put_worker(c, id, "110105", "6-05", "weld:4");
    }
    jm_reply_t *r = jt_call_json(c, "vacancy.delete", "{\"id\": \"v03\"}");
    jt_expect_ok(r, "delete");
    jm_reply_free(r);
    r = jt_call_json(c, "vacancy.close", "{\"id\": \"v04\"}");
    jt_expect_ok(r, "close");
    jm_reply_free(r);
    r = jt_call_json(c, "worker.put", "{\"worker\": {\"id\": \"w-full\", \"name\": \"张三\","
                     " \"phone\": \"13900000000\", \"birth_year\": 1970, \"region\": \"320102\","
                     " \"category\": \"laid_off\", \"registered\": 1600000000}}");
    jt_expect_ok(r, "worker with personal fields");
    jm_reply_free(r);
    uint64_t seq = jt_admin_count(c, "changelog_seq");
    jm_close(c);

    cr_assert_eq(jt_daemon_restart(d), 0, "SIGTERM exit status is not 0");
    c = jt_connect_admin(d);
    cr_assert_eq(jt_admin_count(c, "vacancies"), 19);
    cr_assert_eq(jt_admin_count(c, "vacancies_open"), 18);
    cr_assert_eq(jt_admin_count(c, "workers"), 11);
    cr_assert_eq(jt_admin_count(c, "workers_available"), 11);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), seq);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "v%02d", i);
        cr_assert_eq(vacancy_exists(c, id), i != 3, "%s", id);
    }
    r = jt_call_json(c, "vacancy.get", "{\"id\": \"v04\"}");
    jt_expect_ok(r, "closed vacancy");
    cr_assert_str_eq(jt_get_str(jt_need(&r->result, "vacancy"), "status"), "closed");
    jm_reply_free(r);
    r = jt_call_json(c, "vacancy.get", "{\"id\": \"v07\"}");
    jt_expect_ok(r, "v07");
    const msgpack_object *v = jt_need(&r->result, "vacancy");
    cr_assert_str_eq(jt_get_str(v, "region"), "110105");
    cr_assert_eq(jt_need(v, "skills")->via.array.size, 2);
    jm_reply_free(r);
    r = jt_call_json(c, "worker.get", "{\"id\": \"w-full\"}");
    jt_expect_ok(r, "w-full");
    const msgpack_object *w = jt_need(&r->result, "worker");
    cr_assert_str_eq(jt_get_str(w, "name"), "张三");
    cr_assert_str_eq(jt_get_str(w, "phone"), "13900000000");
    cr_assert_str_eq(jt_get_str(w, "category"), "laid_off");
    cr_assert_eq(jt_get_int(w, "registered"), 1600000000);
    jm_reply_free(r);
    /* Listing indexes survived too: the odd ids are in 110105, less the
     * deleted v03. */
    r = jt_call_json(c, "vacancy.list", "{\"region\": \"1101\", \"limit\": 100}");
    jt_expect_ok(r, "list");
    cr_assert_eq(jt_need(&r->result, "vacancies")->via.array.size, 9);
    jm_reply_free(r);
    /* And writing goes on from where it was. */
    jt_put_vacancy(c, "after", "110105", "6-05-02-03", NULL);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), seq + 1);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(persistence, acknowledged_writes_survive_sigkill, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    char id[32];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "k%03d", i);
        jt_put_vacancy(c, id, "110105", "6-05-02-03", "a:1");
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    jt_pack_str(&pk, "workers");
    msgpack_pack_array(&pk, 300);
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "kw%03d", i);
        jt_pack_worker(&pk, id, "310101", "2", "b:2");
    }
    jt_call_ok(c, "worker.put_many", &sb);
    msgpack_sbuffer_destroy(&sb);
    jm_reply_t *r = jt_call_json(c, "vacancy.delete", "{\"id\": \"k050\"}");
    jt_expect_ok(r, "delete");
    jm_reply_free(r);
    /* The last write is acknowledged; kill at once. */
    jt_daemon_kill9(d);
    jm_close(c);

    cr_assert_eq(jt_daemon_restart(d), -1);
    c = jt_connect_admin(d);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "k%03d", i);
        cr_assert_eq(vacancy_exists(c, id), i != 50, "%s after kill -9", id);
    }
    cr_assert_eq(jt_admin_count(c, "vacancies"), 99);
    cr_assert_eq(jt_admin_count(c, "workers"), 300);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), 401);
    r = jt_call_json(c, "worker.get", "{\"id\": \"kw299\"}");
    jt_expect_ok(r, "last worker of the batch");
    jm_reply_free(r);
    /* Every index, posting and counter agrees with the records. */
    r = jt_call_json(c, "admin.check", "{}");
    jt_expect_ok(r, "admin.check");
    cr_assert(jt_get_bool(&r->result, "ok"), "admin.check after kill -9: %s",
              jt_get_str(&r->result, "report"));
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* ---- concurrent writers ------------------------------------------------- */

typedef struct writer_arg {
    const jt_daemon_t *d;
    int index;
    int count;            /* puts to do; 0 = until failure or stop */
    atomic_bool *stop;
    int acked;            /* acknowledged puts: ids w<index>-0 .. acked-1 */
    int failed_at;        /* -1, or the put that got no answer */
    char error[400];      /* why a put failed (not an assertion: threads) */
} writer_arg_t;

/* Puts vacancies t<index>-<n> one at a time on its own connection. Runs
 * on its own thread, so it reports instead of asserting. */
static void *
writer_main(void *p)
{
    writer_arg_t *a = p;
    a->failed_at = -1;
    char err[256] = "";
    jm_client_t *c = jm_connect(a->d->addr, JT_IO_TIMEOUT_MS, err, sizeof err);
    if (!c) {
        snprintf(a->error, sizeof a->error, "connect: %s", err);
        a->failed_at = 0;
        return NULL;
    }
    if (jm_hello(c, JT_ADMIN_KEY, NULL, 0) != 0) {
        snprintf(a->error, sizeof a->error, "hello: %s", c->errstr);
        a->failed_at = 0;
        jm_close(c);
        return NULL;
    }
    for (int n = 0; a->count == 0 || n < a->count; n++) {
        if (a->stop && atomic_load(a->stop))
            break;
        char id[32];
        snprintf(id, sizeof id, "t%d-%d", a->index, n);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        jt_args_vacancy(&sb, id, n % 2 ? "110105" : "120101", "6-05-02-03", "a:1,b:2");
        jm_reply_t *r = NULL;
        int rc = jm_call(c, "vacancy.put", sb.data, sb.size, &r);
        msgpack_sbuffer_destroy(&sb);
        bool ok = rc == 0 && r && r->ok;
        if (!ok) {
            snprintf(a->error, sizeof a->error, "put %s: %d %s", id, rc, c->errstr);
            a->failed_at = n;
            jm_reply_free(r);
            break;
        }
        jm_reply_free(r);
        a->acked = n + 1;
    }
    jm_close(c);
    return NULL;
}

Test(persistence, concurrent_writers_are_all_acknowledged_and_counted, .timeout = 120)
{
    enum { THREADS = 8, PUTS = 200 };
    jt_daemon_t *d = jt_daemon_start(NULL);
    pthread_t th[THREADS];
    writer_arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (writer_arg_t){.d = d, .index = i, .count = PUTS};
        cr_assert_eq(pthread_create(&th[i], NULL, writer_main, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        cr_assert_eq(args[i].failed_at, -1, "writer %d: %s", i, args[i].error);
        cr_assert_eq(args[i].acked, PUTS, "writer %d acked %d", i, args[i].acked);
    }

    jm_client_t *c = jt_connect_admin(d);
    cr_assert_eq(jt_admin_count(c, "vacancies"), THREADS * PUTS);
    cr_assert_eq(jt_admin_count(c, "vacancies_open"), THREADS * PUTS);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), THREADS * PUTS);
    uint64_t writes = jt_admin_count(c, "writes");
    uint64_t commits = jt_admin_count(c, "commits");
    cr_assert_geq(writes, THREADS * PUTS, "writes %llu", (unsigned long long)writes);
    cr_assert_geq(commits, 1);
    cr_assert_leq(commits, writes, "more commits (%llu) than writes (%llu)",
                  (unsigned long long)commits, (unsigned long long)writes);
    cr_log_info("group commit: %llu writes in %llu commits",
                (unsigned long long)writes, (unsigned long long)commits);
    char id[32];
    for (int i = 0; i < THREADS; i++)
        for (int n = 0; n < PUTS; n++) {
            snprintf(id, sizeof id, "t%d-%d", i, n);
            cr_assert(vacancy_exists(c, id), "%s missing", id);
        }
    /* Paging over a region sees exactly half of them. */
    jm_reply_t *r = jt_call_json(c, "vacancy.list", "{\"region\": \"1101\", \"limit\": 1000}");
    jt_expect_ok(r, "list");
    cr_assert_eq(jt_need(&r->result, "vacancies")->via.array.size, THREADS * PUTS / 2);
    jm_reply_free(r);
    jm_close(c);

    /* Group-committed writes are as durable as single ones. */
    jt_daemon_kill9(d);
    jt_daemon_restart(d);
    c = jt_connect_admin(d);
    cr_assert_eq(jt_admin_count(c, "vacancies"), THREADS * PUTS);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), THREADS * PUTS);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(persistence, sigterm_while_writing_keeps_every_acknowledged_write, .timeout = 120)
{
    enum { THREADS = 4 };
    jt_daemon_t *d = jt_daemon_start(NULL);
    atomic_bool stop = false;
    pthread_t th[THREADS];
    writer_arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (writer_arg_t){.d = d, .index = i, .count = 0, .stop = &stop};
        cr_assert_eq(pthread_create(&th[i], NULL, writer_main, &args[i]), 0);
    }
    /* Let the writers get going, then stop the daemon under them. */
    int64_t deadline = jt_now_ms() + 5000;
    int total;
    do {
        usleep(20000);
        total = 0;
        for (int i = 0; i < THREADS; i++)
            total += args[i].acked;
    } while (total < 200 && jt_now_ms() < deadline);
    int64_t t0 = jt_now_ms();
    int status = jt_daemon_term(d);
    int64_t took = jt_now_ms() - t0;
    atomic_store(&stop, true);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(status, 0, "exit status %d after SIGTERM", status);
    cr_assert_lt(took, 5000, "shutdown under load took %lld ms", (long long)took);

    /* Every writer was cut off by the shutdown (none ran dry). */
    total = 0;
    for (int i = 0; i < THREADS; i++) {
        cr_assert_neq(args[i].failed_at, -1, "writer %d was not stopped by the server", i);
        total += args[i].acked;
    }
    cr_assert_geq(total, 200, "writers made too little progress to test anything");

    jt_daemon_restart(d);
    jm_client_t *c = jt_connect_admin(d);
    char id[32];
    for (int i = 0; i < THREADS; i++)
        for (int n = 0; n < args[i].acked; n++) {
            snprintf(id, sizeof id, "t%d-%d", i, n);
            cr_assert(vacancy_exists(c, id), "acknowledged %s lost", id);
        }
    /* Unanswered puts (at most one per writer) may or may not be there;
     * nothing else may be. */
    uint64_t n = jt_admin_count(c, "vacancies");
    cr_assert(n >= (uint64_t)total && n <= (uint64_t)(total + THREADS),
              "%llu vacancies after restart, %d acknowledged", (unsigned long long)n, total);
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), n);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(persistence, sigterm_with_idle_clients_exits_promptly, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *idle = jt_connect(d);
    jm_client_t *busy = jt_connect_admin(d);
    jt_put_vacancy(busy, "v1", "110105", "6-05-02-03", NULL);
    int64_t t0 = jt_now_ms();
    cr_assert_eq(jt_daemon_term(d), 0);
    cr_assert_lt(jt_now_ms() - t0, 3000, "idle connections held up the shutdown");
    /* Both connections were closed by the server. */
    jm_reply_t *r = NULL;
    cr_assert_neq(jm_call(idle, "ping", NULL, 0, &r), 0);
    jm_reply_free(r);
    jm_close(idle);
    jm_close(busy);
    jt_daemon_restart(d);
    jm_client_t *c = jt_connect(d);
    cr_assert(vacancy_exists(c, "v1"));
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
