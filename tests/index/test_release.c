/* test_release.c - ix_release_memory closes and reopens the store under
 * readers of other threads: they keep reading, a read that stays open
 * makes it give up (the read's values stay valid), the data, the map's
 * size and later writes are as before, near the descriptor limit it
 * refuses without touching anything, and it frees what a large
 * transaction left in the heap. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "index.h"
#include "scratch.h"

static char dir[JT_SCRATCH_DIR_MAX];
static ix_env_t *env;

static void
setup(void)
{
    env = jt_scratch_new(dir, "ixrelease");
}

static void
teardown(void)
{
    jt_scratch_remove(env, dir);
}

TestSuite(release, .init = setup, .fini = teardown);

static void
append_entries(unsigned n)
{
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    for (unsigned i = 0; i < n; i++) {
        ix_audit_t e = {
            .time = 1000 + i, .actor = "desk", .actor_len = 4,
            .role = "counselor", .role_len = 9, .op = "worker.get", .op_len = 10,
            .kind = IX_WORKER, .subject = "w1", .subject_len = 2,
        };
        cr_assert_eq(ix_audit_append(t, &e), 0);
    }
    cr_assert_eq(ix_write_commit(t), 0);
}

static int
count_one(void *ctx, const ix_audit_t *e)
{
    (void)e;
    (*(unsigned *)ctx)++;
    return 0;
}

/* Entries in the store now, read in a transaction of this thread. */
static int
count_entries(unsigned *n)
{
    ix_txn_t *t;
    int rc = ix_read_begin(env, &t);
    if (rc != 0)
        return rc;
    ix_audit_query_t q = {.kind = IX_WORKER, .subject = "w1", .subject_len = 2,
                          .since = INT64_MIN, .until = INT64_MAX, .limit = 100000};
    uint8_t next[IX_AUDIT_CURSOR_LEN];
    size_t next_len;
    *n = 0;
    rc = ix_audit_list(t, &q, count_one, n, next, &next_len);
    ix_read_end(t);
    return rc;
}

typedef struct reader {
    pthread_t thread;
    atomic_bool *stop;
    atomic_uint reads;
    unsigned least, bad;
    atomic_int rc;
} reader_t;

static void *
keep_reading(void *arg)
{
    reader_t *r = arg;
    while (!atomic_load(r->stop)) {
        unsigned n;
        int rc = count_entries(&n);
        if (rc != 0) {
            atomic_store(&r->rc, rc);
            break;
        }
        if (n < r->least)
            r->bad++;
        atomic_fetch_add(&r->reads, 1);
        /* A pause between reads, as between requests: a release waits
         * for the reads open at that moment, in bounded waits, and slow
         * reads back to back (under valgrind) could outlast each wait. */
        nanosleep(&(struct timespec){0, 1000 * 1000L}, NULL);
    }
    return NULL;
}

Test(release, readers_of_other_threads_go_on_and_data_stays)
{
    append_entries(50);
    uint64_t map_before = ix_map_size(env);
    atomic_bool stop = false;
    reader_t readers[2];
    for (unsigned i = 0; i < 2; i++) {
        readers[i] = (reader_t){.stop = &stop, .least = 50};
        cr_assert_eq(pthread_create(&readers[i].thread, NULL, keep_reading, &readers[i]), 0);
    }
    /* Each release comes after both readers read again. */
    for (unsigned round = 0; round < 10; round++) {
        unsigned seen[2] = {atomic_load(&readers[0].reads), atomic_load(&readers[1].reads)};
        while ((atomic_load(&readers[0].reads) == seen[0] ||
                atomic_load(&readers[1].reads) == seen[1]) &&
               atomic_load(&readers[0].rc) == 0 && atomic_load(&readers[1].rc) == 0)
            nanosleep(&(struct timespec){0, 1000 * 1000L}, NULL);
        /* A read longer than the release's wait (under valgrind) makes
         * it give up; it is tried again, as the writer does. */
        int rc;
        while ((rc = ix_release_memory(env)) == -EBUSY)
            nanosleep(&(struct timespec){0, 1000 * 1000L}, NULL);
        cr_assert_eq(rc, 0, "round %u: %s", round, ix_strerror(rc));
        append_entries(1);
    }
    atomic_store(&stop, true);
    for (unsigned i = 0; i < 2; i++) {
        pthread_join(readers[i].thread, NULL);
        int rc = atomic_load(&readers[i].rc);
        cr_assert_eq(rc, 0, "reader %u: %s", i, ix_strerror(rc));
        cr_assert_geq(atomic_load(&readers[i].reads), 10);
        cr_assert_eq(readers[i].bad, 0, "reader %u saw entries missing", i);
    }
    unsigned n;
    cr_assert_eq(count_entries(&n), 0);
    cr_assert_eq(n, 60);
    cr_assert_eq(ix_map_size(env), map_before);
    ix_txn_t *t;
    char rep[256];
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_check(t, rep, sizeof rep), 0, "%s", rep);
    ix_read_end(t);
    /* And the store opens as usual afterwards. */
    ix_close(env);
    env = jt_scratch_open(dir);
    cr_assert_eq(count_entries(&n), 0);
    cr_assert_eq(n, 60);
}

typedef struct holder {
    pthread_t thread;
    atomic_bool opened;
    bool same;
} holder_t;

static int
first_entry(void *ctx, const ix_audit_t *e)
{
    *(ix_audit_t *)ctx = *e;
    return 1;
}

/* Reads an entry, holds the transaction 300 ms, then checks that the
 * value it read (a pointer into the map) still says the same. */
static void *
hold_a_read(void *arg)
{
    holder_t *h = arg;
    ix_txn_t *t;
    if (ix_read_begin(env, &t) != 0)
        return NULL;
    ix_audit_query_t q = {.kind = IX_WORKER, .since = INT64_MIN, .until = INT64_MAX,
                          .limit = 1};
    uint8_t next[IX_AUDIT_CURSOR_LEN];
    size_t next_len;
    ix_audit_t e = {0};
    if (ix_audit_list(t, &q, first_entry, &e, next, &next_len) == 0 && e.op) {
        atomic_store(&h->opened, true);
        struct timespec pause = {0, 300 * 1000 * 1000L};
        nanosleep(&pause, NULL);
        /* e.op points into the map. */
        h->same = e.op_len == 10 && memcmp(e.op, "worker.get", 10) == 0;
    }
    ix_read_end(t);
    atomic_store(&h->opened, true);  /* also when the read failed: same stays false */
    return NULL;
}

static double
seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(release, gives_way_to_a_read_that_stays_open)
{
    append_entries(3);
    holder_t h = {0};
    cr_assert_eq(pthread_create(&h.thread, NULL, hold_a_read, &h), 0);
    while (!atomic_load(&h.opened))
        sched_yield();
    /* The read stays open 300 ms: the release waits 50 ms, then gives up
     * with nothing done. */
    double t0 = seconds();
    cr_assert_eq(ix_release_memory(env), -EBUSY);
    double waited = seconds() - t0;
    cr_assert_geq(waited, 0.04, "gave up after %.3f s", waited);
    cr_assert_lt(waited, 0.25, "waited %.3f s", waited);
    pthread_join(h.thread, NULL);
    cr_assert(h.same, "the reader's value changed under it");
    /* Once it has ended, the release goes through. */
    cr_assert_eq(ix_release_memory(env), 0);
    unsigned n;
    cr_assert_eq(count_entries(&n), 0);
    cr_assert_eq(n, 3);
}

Test(release, refuses_near_the_descriptor_limit_and_keeps_the_store)
{
    append_entries(3);
    /* Take every descriptor but two: fewer than reopening may need. (A
     * lower limit first keeps it quick where the limit may be set.) */
    struct rlimit lim;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &lim), 0);
    if (lim.rlim_cur > 256) {
        lim.rlim_cur = 256;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    static int held[65536];
    unsigned n_held = 0;
    while (n_held < 65536 && (held[n_held] = open("/dev/null", O_RDONLY)) >= 0)
        n_held++;
    cr_assert_eq(errno, EMFILE);
    cr_assert_geq(n_held, 2);
    close(held[--n_held]);
    close(held[--n_held]);
    cr_assert_eq(ix_release_memory(env), -EMFILE);
    while (n_held > 0)
        close(held[--n_held]);
    unsigned n;
    cr_assert_eq(count_entries(&n), 0);
    cr_assert_eq(n, 3);
    append_entries(1);
    cr_assert_eq(count_entries(&n), 0);
    cr_assert_eq(n, 4);
}

/* The point of it: the dirty pages of a large transaction, which LMDB keeps
 * in the heap after the commit, are freed. (mallinfo2 reports glibc's
 * heap; under a sanitizer's allocator it reports nothing, and only the
 * store's contents are checked.) */
static size_t
heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;  /* LMDB's larger buffers are mmap'd chunks */
}

Test(release, frees_the_pages_a_large_transaction_left)
{
    size_t base = heap_in_use();
    append_entries(30000);
    size_t kept = heap_in_use();
    cr_assert_eq(ix_release_memory(env), 0);
    size_t after = heap_in_use();
    cr_log_info("heap in use: %zu KiB at start, %zu after the transaction, %zu released",
                base / 1024, kept / 1024, after / 1024);
    if (base > 0) {
        cr_assert_geq(kept, base + (3u << 20), "LMDB kept %zu KiB", (kept - base) / 1024);
        cr_assert_leq(after, base + (1u << 20), "%zu KiB still in use after the release",
                      (after - base) / 1024);
    }
    unsigned n;
    cr_assert_eq(count_entries(&n), 0);
    cr_assert_eq(n, 30000);
}
