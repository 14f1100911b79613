/* test_release.c - after a large write transaction, the idle writer closes
 * and reopens the store to hand LMDB's kept pages back (docs/storage.md,
 * "Releasing memory"): the log says so, a client reading all along gets
 * every answer, and reads, writes and the index are as before, while the
 * memory outside the map falls. A steady stream of small writes delays it
 * only a few seconds. With --huge-pages the reopened store's map is advised
 * as the first was. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "files.h"
#include "records.h"
#include "wire.h"

#define BATCH 9000   /* one put_many: one transaction past the 8,192 that count as large */

typedef struct reader {
    const jt_daemon_t *d;
    atomic_bool stop;
    unsigned answered;
    char error[300];
} reader_t;

/* Reads one vacancy over and over until told to stop. */
static void *
keep_reading(void *arg)
{
    reader_t *r = arg;
    char err[128];
    jm_client_t *c = jm_connect(r->d->addr, JT_IO_TIMEOUT_MS, err, sizeof err);
    if (!c || jm_hello(c, JT_ADMIN_KEY, NULL, 0) != 0) {
        snprintf(r->error, sizeof r->error, "connect: %s", c ? c->errstr : err);
        jm_close(c);
        return NULL;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    jt_args_json(&sb, "{\"id\": \"rel-probe\"}");
    while (!atomic_load(&r->stop) && !r->error[0]) {
        jm_reply_t *rep = NULL;
        if (jm_call(c, "vacancy.get", sb.data, sb.size, &rep) != 0)
            snprintf(r->error, sizeof r->error, "vacancy.get: %s", c->errstr);
        else if (!rep->ok)
            snprintf(r->error, sizeof r->error, "vacancy.get: %s", rep->error_message);
        else
            r->answered++;
        jm_reply_free(rep);
    }
    msgpack_sbuffer_destroy(&sb);
    jm_close(c);
    return NULL;
}

/* One put_many of BATCH random vacancies: one transaction that counts as
 * large. */
static void
put_large_batch(jm_client_t *c)
{
    jt_rng_state = 7;
    static jo_vacancy_t v[BATCH];
    static const jo_vacancy_t *vp[BATCH];
    for (unsigned i = 0; i < BATCH; i++) {
        char id[32];
        snprintf(id, sizeof id, "rel-%05u", i);
        jt_random_vacancy(&v[i], id);
        vp[i] = &v[i];
    }
    jt_put_vacancies_by(c, vp, BATCH, BATCH);
}

static bool
log_says_released(const jt_daemon_t *d)
{
    char *log = jt_daemon_log(d);
    bool released = strstr(log, "memory of past write transactions released") != NULL;
    free(log);
    return released;
}

static jt_daemon_t *
start_daemon_with(const char *huge_pages)
{
    return jt_daemon_start_logged(NULL, (const char *const[]){"--log-level", "info",
                                                              "--max-frame", "16777216",
                                                              "--huge-pages", huge_pages, NULL});
}

static jt_daemon_t *
start_daemon(void)
{
    return start_daemon_with("no");
}

/* Whether the daemon maps its store advised for huge pages (1 or 0; -1
 * when it maps none). */
static int
store_map_advised_huge(const jt_daemon_t *d)
{
    char path[300];
    snprintf(path, sizeof path, "%s/data.mdb", d->dir);
    return jt_map_has_flag(d->pid, path, "hg");
}

/* After a release: the record id is served, the store checks clean, and
 * the daemon stops cleanly. */
static void
expect_served_then_stop(jt_daemon_t *d, jm_client_t *c, const char *id)
{
    jm_reply_t *rep = jt_call_json(c, "vacancy.get", "{\"id\": \"%s\"}", id);
    jt_expect_ok(rep, "vacancy.get");
    jm_reply_free(rep);
    jt_expect_check_clean(c, "after the release");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0, "the daemon exits cleanly");
}

static void
wait_for_release(const jt_daemon_t *d)
{
    bool released = false;
    for (int waited = 0; waited < 15000 && !released; waited += 100) {
        jt_sleep_ms(100);
        released = log_says_released(d);
    }
    cr_assert(released, "the log does not say the memory was released");
}

Test(release, the_idle_writer_hands_back_a_large_transactions_pages)
{
    jt_daemon_t *d = start_daemon();
    jm_client_t *c = jt_connect_admin(d);
    jt_put_vacancy(c, "rel-probe", "110105", "6-05-02-03", "weld:3");

    reader_t r = {.d = d};
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, keep_reading, &r), 0);

    put_large_batch(c);
    long before = jt_daemon_rss_outside_map_kb(d);

    /* A second idle, then the release. */
    wait_for_release(d);
    long after = jt_daemon_rss_outside_map_kb(d);
    cr_log_info("rss outside the map: %ld KiB after the batch, %ld KiB after the release",
                before, after);
    if (!jt_instrumented())
        cr_assert_lt(after, before - 4096, "%ld KiB after the batch, %ld KiB after the release",
                     before, after);

    atomic_store(&r.stop, true);
    pthread_join(thread, NULL);
    cr_assert_eq(r.error[0], '\0', "%s", r.error);
    cr_assert_gt(r.answered, 0);

    /* The store as before: a record of the batch, a new write, the index. */
    jm_reply_t *rep = jt_call_json(c, "vacancy.get", "{\"id\": \"rel-04321\"}");
    jt_expect_ok(rep, "vacancy.get");
    jm_reply_free(rep);
    jt_put_vacancy(c, "rel-after", "110105", "6-05-02-03", "weld:4");
    expect_served_then_stop(d, c, "rel-after");
}

/* Writes that never leave the writer idle for a second: the release comes
 * between two of them, some 5 s after the large transaction. */
Test(release, a_steady_stream_of_small_writes_does_not_hold_it_off)
{
    jt_daemon_t *d = start_daemon();
    jm_client_t *c = jt_connect_admin(d);
    put_large_batch(c);
    int64_t t0 = jt_now_ms();
    bool released = false;
    unsigned n = 0;
    while (!released && jt_now_ms() - t0 < 20000) {
        char id[32];
        snprintf(id, sizeof id, "rel-small-%u", n++);
        jt_put_vacancy(c, id, "110105", "6-05-02-03", "weld:3");
        jt_sleep_ms(100);
        released = log_says_released(d);
    }
    int64_t after_ms = jt_now_ms() - t0;
    cr_assert(released, "not released after %lld ms of small writes", (long long)after_ms);
    cr_assert_geq(after_ms, 4000, "released after %lld ms, before the writes went on 5 s",
                  (long long)after_ms);
    expect_served_then_stop(d, c, "rel-small-0");
}

/* --huge-pages yes: the daemon's map of the store is advised for huge
 * pages from the start, and so is the new map of the store it reopens to
 * release memory; without the flag it is not. Where the kernel has no
 * transparent huge pages the advice fails and only the store's answers
 * are checked. */
Test(release, the_reopened_store_is_advised_for_huge_pages_as_at_the_start)
{
    bool kernel_has_thp = access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0;
    jt_daemon_t *d = start_daemon_with("yes");
    jm_client_t *c = jt_connect_admin(d);
    jt_put_vacancy(c, "rel-probe", "110105", "6-05-02-03", "weld:3");
    if (kernel_has_thp)
        cr_assert_eq(store_map_advised_huge(d), 1);

    put_large_batch(c);
    wait_for_release(d);
    if (kernel_has_thp)
        cr_assert_eq(store_map_advised_huge(d), 1, "the reopened store's map is not advised");
    expect_served_then_stop(d, c, "rel-04321");

    d = start_daemon();
    cr_assert_eq(store_map_advised_huge(d), 0);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
