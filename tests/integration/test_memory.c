/* test_memory.c - the daemon's resident memory outside the LMDB map stays
 * bounded while counselors read many workers: every worker a match.workers
 * reveals gets an audit entry that the writer commits later, and those
 * entries must neither pile up in an unbounded queue nor go into one huge
 * write transaction (whose dirty pages LMDB keeps in the heap for good).
 * docs/operations.md, "Memory", describes the bounds. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "records.h"
#include "wire.h"

#define CONNS 4
#define DEPTH 8      /* requests in flight per connection */
#define LIMIT 100    /* matches per request, each an audit entry */

typedef struct reader {
    const jt_daemon_t *d;
    unsigned n_vacancies, requests, seed;
    uint64_t answered, with_matches;
    char error[300];
    atomic_bool finished;
} reader_t;

static void
vacancy_id(char *id, size_t size, unsigned i)
{
    snprintf(id, size, "mem-v%05u", i);
}

static void
send_match(jm_client_t *c, reader_t *r, unsigned *rng)
{
    char id[32];
    *rng = *rng * 1103515245u + 12345u;
    vacancy_id(id, sizeof id, (*rng >> 8) % r->n_vacancies);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    jt_args_json(&sb, "{\"vacancy\": \"%s\", \"scope\": \"all\", \"limit\": %d}", id, LIMIT);
    if (jm_send(c, "match.workers", sb.data, sb.size, NULL) != 0)
        snprintf(r->error, sizeof r->error, "send: %s", c->errstr);
    msgpack_sbuffer_destroy(&sb);
}

/* One connection keeping DEPTH match.workers in flight until it has had
 * `requests` answers. Runs on its own thread: reports through r->error. */
static void *
reader_main(void *arg)
{
    reader_t *r = arg;
    char err[128];
    jm_client_t *c = jm_connect(r->d->addr, JT_IO_TIMEOUT_MS * 3, err, sizeof err);
    if (!c || jm_hello(c, JT_ADMIN_KEY, NULL, 0) != 0) {
        snprintf(r->error, sizeof r->error, "connect: %s", c ? c->errstr : err);
        if (c)
            jm_close(c);
        atomic_store(&r->finished, true);
        return NULL;
    }
    unsigned rng = r->seed, sent = 0;
    for (; sent < DEPTH && sent < r->requests && !r->error[0]; sent++)
        send_match(c, r, &rng);
    while (r->answered < sent && !r->error[0]) {
        jm_reply_t *rep;
        int rc = jm_recv(c, &rep);
        if (rc != 0) {
            snprintf(r->error, sizeof r->error, "match.workers: %s", c->errstr);
            if (rep)
                jm_reply_free(rep);
            break;
        }
        const msgpack_object *m = jt_get(&rep->result, "matches");
        if (m && m->type == MSGPACK_OBJECT_ARRAY && m->via.array.size > 0)
            r->with_matches++;
        jm_reply_free(rep);
        r->answered++;
        if (sent < r->requests) {
            send_match(c, r, &rng);
            sent++;
        }
    }
    jm_close(c);
    atomic_store(&r->finished, true);
    return NULL;
}

static uint64_t
writer_stat(jm_client_t *admin, const char *key)
{
    jm_reply_t *r = jt_call_json(admin, "admin.stats", "{}");
    jt_expect_ok(r, "admin.stats");
    int64_t v = jt_get_int(jt_need(&r->result, "writer"), key);
    jm_reply_free(r);
    return (uint64_t)v;
}

Test(memory, audited_matches_keep_the_heap_bounded, .timeout = 280)
{
    bool slow = jt_instrumented();
    unsigned n_workers = slow ? 3000 : 30000, n_vacancies = 400;
    unsigned requests = slow ? 300 : 4000;  /* per connection */
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *admin = jt_connect_admin(d);

    jt_rng_state = 7;
    enum { CHUNK = 1000 };
    jo_worker_t *ws = malloc(CHUNK * sizeof *ws);
    const jo_worker_t **wp = malloc(CHUNK * sizeof *wp);
    cr_assert(ws && wp);
    for (unsigned done = 0; done < n_workers; done += CHUNK) {
        for (unsigned i = 0; i < CHUNK; i++) {
            char id[32];
            snprintf(id, sizeof id, "mem-w%06u", done + i);
            jt_random_worker(&ws[i], id);
            JT_SET(ws[i].status, "available");
            wp[i] = &ws[i];
        }
        jt_put_workers(admin, wp, CHUNK);
    }
    free(ws);
    free(wp);
    jo_vacancy_t *vs = malloc(n_vacancies * sizeof *vs);
    const jo_vacancy_t **vp = malloc(n_vacancies * sizeof *vp);
    cr_assert(vs && vp);
    for (unsigned i = 0; i < n_vacancies; i++) {
        char id[32];
        vacancy_id(id, sizeof id, i);
        jt_random_vacancy(&vs[i], id);
        JT_SET(vs[i].status, "open");
        vs[i].expires = JT_AS_OF + 365 * JT_DAY;
        vp[i] = &vs[i];
    }
    jt_put_vacancies(admin, vp, n_vacancies);
    free(vs);
    free(vp);

    uint64_t audit_before = writer_stat(admin, "audit_jobs");
    long base = jt_daemon_rss_outside_map_kb(d), peak = base;
    reader_t readers[CONNS];
    pthread_t threads[CONNS];
    for (unsigned i = 0; i < CONNS; i++) {
        readers[i] = (reader_t){.d = d, .n_vacancies = n_vacancies,
                                .requests = requests, .seed = 11 + i};
        cr_assert_eq(pthread_create(&threads[i], NULL, reader_main, &readers[i]), 0);
    }
    /* Sample while the readers run: the peak is what the bound is about. */
    for (;;) {
        bool running = false;
        for (unsigned i = 0; i < CONNS; i++)
            running |= !atomic_load(&readers[i].finished);
        long now = jt_daemon_rss_outside_map_kb(d);
        if (now > peak)
            peak = now;
        if (!running)
            break;
        jt_sleep_ms(20);
    }
    uint64_t with_matches = 0;
    for (unsigned i = 0; i < CONNS; i++) {
        pthread_join(threads[i], NULL);
        cr_assert_eq(readers[i].error[0], '\0', "reader %u: %s", i, readers[i].error);
        cr_assert_eq(readers[i].answered, requests);
        with_matches += readers[i].with_matches;
    }
    cr_assert_gt(with_matches, requests, "most matches must reveal workers (got %llu)",
                 (unsigned long long)with_matches);
    jt_sleep_ms(500);
    long after = jt_daemon_rss_outside_map_kb(d);
    if (after > peak)
        peak = after;

    /* Back-pressure delays entries, never drops them: every answered read
     * that revealed workers is one audit job, all committed by now (the
     * stats request itself waits behind nothing: it reads counters). */
    uint64_t audit_jobs = 0;
    for (int tries = 0; tries < 200; tries++) {
        audit_jobs = writer_stat(admin, "audit_jobs") - audit_before;
        if (audit_jobs >= with_matches)
            break;
        jt_sleep_ms(50);
    }
    cr_assert_eq(audit_jobs, with_matches);
    cr_assert_eq(writer_stat(admin, "audit_lost"), 0);
    /* A read is held at most once, when its entries find the queue full. */
    uint64_t waits = writer_stat(admin, "audit_waits");
    cr_assert_leq(waits, audit_jobs);

    /* About 1.6 million audit entries. Unbounded, they waited in the queue
     * and went into transactions of hundreds of thousands of entries, and
     * the heap grew by 65 MB at 1.2 million and more with every further
     * entry; bounded, a transaction takes at most the queue's 32,768
     * entries, whose keys (grouped by seq) share a few pages per hundred
     * entries. */
    long bound_kb = (slow ? 160 : 48) * 1024;
    cr_log_info("rss outside the map: %ld KiB before, %ld KiB peak, %ld KiB after; "
                "%llu of %llu reads held for the writer", base, peak, after,
                (unsigned long long)waits, (unsigned long long)audit_jobs);
    cr_assert_leq(peak - base, bound_kb,
                  "rss outside the map grew by %ld KiB (from %ld to a peak of %ld), "
                  "more than %ld KiB", peak - base, base, peak, bound_kb);
    jt_expect_check_clean(admin, "after the audited reads");
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0, "the daemon exits cleanly after the load");
}
