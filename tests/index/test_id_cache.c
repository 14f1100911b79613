/* test_id_cache.c - the id cache (index/id_cache.c, its interface in
 * internal.h): it copies the names a store holds, keeps the names of the
 * records created later once their transaction commits (not an aborted
 * one's, whose docnos go to other records), forgets deleted records so no
 * later reader gets their ids, fills no further than its memory, and
 * never puts back a name deleted while it copies. Whatever it holds or
 * not, ix_id_of_docno answers as LMDB does.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "scratch.h"

static char dir[JT_SCRATCH_DIR_MAX];
static ix_env_t *env;

static ix_env_t *
open_cached(size_t bytes)
{
    ix_options_t o = {.map_size = 256u << 20, .sync = IX_SYNC_NONE, .id_cache_bytes = bytes};
    ix_env_t *e = NULL;
    cr_assert_eq(ix_open(dir, &o, &e), 0);
    return e;
}

static uint8_t
kind_of(int i)
{
    return i % 3 == 0 ? IX_WORKER : IX_VACANCY;
}

static void
id_of(int i, char *id, size_t size)
{
    snprintf(id, size, "%c-%d", kind_of(i) == IX_WORKER ? 'w' : 'v', i);
}

static void
put(ix_txn_t *t, uint8_t kind, const char *id)
{
    ix_doc_t d = {
        .kind = kind,
        .id = id,
        .id_len = (uint32_t)strlen(id),
        .region = "110105",
        .matchable = true,
        .value = "v",
        .value_len = 1,
    };
    cr_assert_eq(ix_put(t, &d, 0, NULL), 0, "put %s", id);
}

/* Puts records 0..n-1 in transactions of 1000. */
static void
put_records(int n)
{
    for (int i = 0; i < n; i += 1000) {
        ix_txn_t *t;
        cr_assert_eq(ix_write_begin(env, &t), 0);
        for (int j = i; j < n && j < i + 1000; j++) {
            char id[32];
            id_of(j, id, sizeof id);
            put(t, kind_of(j), id);
        }
        cr_assert_eq(ix_write_commit(t), 0);
    }
}

static uint64_t
docno_of(uint8_t kind, const char *id)
{
    ix_txn_t *t;
    ix_record_t r;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_get(t, kind, id, (uint32_t)strlen(id), &r), 0, "%s", id);
    ix_read_end(t);
    return r.docno;
}

static uint64_t
cached_ids(void)
{
    ix_txn_t *t;
    ix_stats_t st;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_stats(t, &st), 0);
    ix_read_end(t);
    return st.id_cache_ids;
}

/* Waits (5 s at most) until the cache holds `want` ids. */
static void
wait_for_ids(uint64_t want)
{
    for (int i = 0; i < 500 && cached_ids() != want; i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    cr_assert_eq(cached_ids(), want);
}

/* True when the cache holds `id` for (kind, docno); false when it holds
 * nothing; fails the test when it holds another id. */
static bool
cached(uint8_t kind, uint64_t docno, const char *id)
{
    const char *got;
    uint32_t len;
    if (!ix_id_cache_get(env->id_cache, kind, docno, &got, &len))
        return false;
    cr_assert(len == strlen(id) && memcmp(got, id, len) == 0,
              "docno %llu cached as %.*s, not %s", (unsigned long long)docno, (int)len, got,
              id);
    return true;
}

/* What ix_id_of_docno answers for (kind, docno): 0 and `id`, or an error. */
static int
id_lookup(ix_txn_t *t, uint8_t kind, uint64_t docno, const char *id)
{
    const char *got;
    uint32_t len;
    int rc = ix_id_of_docno(t, kind, docno, &got, &len);
    if (rc == 0)
        cr_assert(len == strlen(id) && memcmp(got, id, len) == 0, "%s read as %.*s", id,
                  (int)len, got);
    return rc;
}

static void
setup(void)
{
    env = jt_scratch_new(dir, "ixidc");
}

static void
teardown(void)
{
    jt_scratch_remove(env, dir);
    env = NULL;
}

TestSuite(id_cache, .init = setup, .fini = teardown);

Test(id_cache, copies_the_names_a_store_holds)
{
    put_records(3000);
    ix_close(env);
    env = open_cached(1u << 20);
    wait_for_ids(3000);
    size_t bytes = 0;
    for (int i = 0; i < 3000; i++) {
        char id[32];
        id_of(i, id, sizeof id);
        cr_assert(cached(kind_of(i), docno_of(kind_of(i), id), id), "%s", id);
        bytes += 1 + strlen(id);
    }
    ix_txn_t *t;
    ix_stats_t st;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_stats(t, &st), 0);
    ix_read_end(t);
    cr_assert_eq(st.id_cache_bytes, bytes);
}

Test(id_cache, keeps_the_names_of_committed_records_only)
{
    ix_close(env);
    env = open_cached(1u << 20);
    wait_for_ids(0);
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    put(t, IX_VACANCY, "lost");
    ix_write_abort(t);
    /* The docno the aborted put took goes to the next new record. */
    cr_assert_eq(ix_write_begin(env, &t), 0);
    put(t, IX_VACANCY, "kept");
    put(t, IX_WORKER, "w-kept");
    cr_assert_eq(cached_ids(), 0, "nothing before the commit");
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(cached_ids(), 2, "both at the commit");
    uint64_t d = docno_of(IX_VACANCY, "kept");
    cr_assert(cached(IX_VACANCY, d, "kept"));
    cr_assert(cached(IX_WORKER, docno_of(IX_WORKER, "w-kept"), "w-kept"));

    /* A transaction that fails at its commit keeps nothing either. */
    cr_assert_eq(ix_write_begin(env, &t), 0);
    put(t, IX_VACANCY, "failed");
    ix_fail(t, -EIO);
    cr_assert_eq(ix_write_commit(t), -EIO);
    cr_assert_eq(cached_ids(), 2);
    cr_assert_eq(ix_write_begin(env, &t), 0);
    put(t, IX_VACANCY, "after");
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert(cached(IX_VACANCY, docno_of(IX_VACANCY, "after"), "after"));
    cr_assert_eq(docno_of(IX_VACANCY, "after"), d + 1, "the failed put's docno given again");
}

Test(id_cache, forgets_deleted_records)
{
    ix_close(env);
    env = open_cached(1u << 20);
    ix_txn_t *t, *before;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    put(t, IX_VACANCY, "gone");
    put(t, IX_VACANCY, "stays");
    cr_assert_eq(ix_write_commit(t), 0);
    uint64_t gone = docno_of(IX_VACANCY, "gone"), stays = docno_of(IX_VACANCY, "stays");
    cr_assert(cached(IX_VACANCY, gone, "gone"));

    cr_assert_eq(ix_read_begin(env, &before), 0);
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_delete(t, IX_VACANCY, "gone", 4, 0), 0);
    cr_assert(!cached(IX_VACANCY, gone, "gone"), "forgotten at the delete");
    cr_assert_eq(ix_write_commit(t), 0);
    /* A snapshot from before the delete still has it, from LMDB. */
    cr_assert_eq(id_lookup(before, IX_VACANCY, gone, "gone"), 0);
    ix_read_end(before);
    ix_txn_t *r;
    cr_assert_eq(ix_read_begin(env, &r), 0);
    cr_assert_eq(id_lookup(r, IX_VACANCY, gone, "gone"), -ENOENT);
    cr_assert_eq(id_lookup(r, IX_VACANCY, stays, "stays"), 0);
    ix_read_end(r);

    /* A delete that is aborted leaves the record, its id read from LMDB. */
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_delete(t, IX_VACANCY, "stays", 5, 0), 0);
    ix_write_abort(t);
    cr_assert_eq(ix_read_begin(env, &r), 0);
    cr_assert_eq(id_lookup(r, IX_VACANCY, stays, "stays"), 0);
    /* Asking ahead for ids (forgotten, kept elsewhere, never given,
     * beyond what is kept) changes no answer. */
    const uint64_t ahead[] = {gone, stays, stays + 1000, UINT64_MAX};
    ix_id_warm(r, IX_VACANCY, ahead, 4);
    ix_id_warm(r, IX_WORKER, ahead, 4);
    cr_assert_eq(id_lookup(r, IX_VACANCY, gone, "gone"), -ENOENT);
    cr_assert_eq(id_lookup(r, IX_VACANCY, stays, "stays"), 0);
    ix_read_end(r);
    cr_assert_eq(cached_ids(), 0);
}

Test(id_cache, fills_no_further_than_its_memory)
{
    put_records(1000);
    ix_close(env);
    env = open_cached(100);
    /* "v-1" and the like take 1 + 3..5 bytes: 100 bytes hold 16 to 25. */
    for (int i = 0; i < 100 && cached_ids() == 0; i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    uint64_t n = cached_ids();
    cr_assert(n >= 16 && n <= 25, "%llu ids in 100 bytes", (unsigned long long)n);
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    for (int i = 0; i < 1000; i++) {
        char id[32];
        id_of(i, id, sizeof id);
        cr_assert_eq(id_lookup(t, kind_of(i), docno_of(kind_of(i), id), id), 0);
    }
    ix_read_end(t);
}

/* Records deleted while the cache copies from an older snapshot are not
 * put back: every deleted one is unknown to it and to ix_id_of_docno,
 * every other one is there. */
Test(id_cache, deletes_while_copying_are_not_put_back, .timeout = 60)
{
    enum { N = 60000 };
    put_records(N);
    static uint64_t docno[N];
    for (int i = 0; i < N; i++) {
        char id[32];
        id_of(i, id, sizeof id);
        docno[i] = docno_of(kind_of(i), id);
    }
    ix_close(env);
    env = open_cached(8u << 20);
    int deleted = 0;
    for (int i = 0; i < N; i += 200) {
        ix_txn_t *t;
        cr_assert_eq(ix_write_begin(env, &t), 0);
        for (int j = i; j < i + 200; j += 7) {
            char id[32];
            id_of(j, id, sizeof id);
            cr_assert_eq(ix_delete(t, kind_of(j), id, (uint32_t)strlen(id), 0), 0);
            deleted++;
        }
        cr_assert_eq(ix_write_commit(t), 0);
    }
    wait_for_ids((uint64_t)(N - deleted));
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    for (int i = 0; i < N; i++) {
        char id[32];
        id_of(i, id, sizeof id);
        bool gone = i % 200 % 7 == 0;
        cr_assert_eq(cached(kind_of(i), docno[i], id), !gone, "%s", id);
        cr_assert_eq(id_lookup(t, kind_of(i), docno[i], id), gone ? -ENOENT : 0, "%s", id);
    }
    ix_read_end(t);
}

/* A transaction older than a record's commit does not get its id from the
 * cache: not a record committed after it began, nor one that took a docno
 * an aborted transaction had given to another. */
Test(id_cache, an_older_snapshot_reads_newer_docnos_from_lmdb)
{
    ix_close(env);
    env = open_cached(1u << 20);
    ix_txn_t *t, *old;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    put(t, IX_VACANCY, "first");
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(ix_read_begin(env, &old), 0);
    cr_assert_eq(ix_write_begin(env, &t), 0);
    put(t, IX_VACANCY, "lost");
    ix_write_abort(t);
    cr_assert_eq(ix_write_begin(env, &t), 0);
    put(t, IX_VACANCY, "second");
    cr_assert_eq(ix_write_commit(t), 0);
    uint64_t first = docno_of(IX_VACANCY, "first"), second = docno_of(IX_VACANCY, "second");
    cr_assert(cached(IX_VACANCY, second, "second"));
    cr_assert_eq(id_lookup(old, IX_VACANCY, second, "second"), -ENOENT);
    cr_assert_eq(id_lookup(old, IX_VACANCY, first, "first"), 0);
    ix_read_end(old);
    ix_txn_t *r;
    cr_assert_eq(ix_read_begin(env, &r), 0);
    cr_assert_eq(id_lookup(r, IX_VACANCY, second, "second"), 0);
    ix_read_end(r);
}

/* A record created and deleted in one transaction is not kept. */
Test(id_cache, a_record_created_and_deleted_at_once_is_not_kept)
{
    ix_close(env);
    env = open_cached(1u << 20);
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    put(t, IX_WORKER, "brief");
    uint64_t d;
    {
        ix_record_t rec;
        cr_assert_eq(ix_get(t, IX_WORKER, "brief", 5, &rec), 0);
        d = rec.docno;
    }
    cr_assert_eq(ix_delete(t, IX_WORKER, "brief", 5, 0), 0);
    put(t, IX_WORKER, "other");
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(cached_ids(), 1);
    cr_assert(!cached(IX_WORKER, d, "brief"));
    ix_txn_t *r;
    cr_assert_eq(ix_read_begin(env, &r), 0);
    cr_assert_eq(id_lookup(r, IX_WORKER, d, "brief"), -ENOENT);
    ix_read_end(r);
}

/* The names of deleted records keep their bytes until a restart: records
 * created and deleted fill the memory, after which new records are read
 * from LMDB, rightly. A transaction creating more than there is room for
 * keeps what fits. */
Test(id_cache, a_full_cache_leaves_the_rest_to_lmdb)
{
    ix_close(env);
    env = open_cached(200);
    ix_txn_t *t;
    for (int i = 0; i < 40; i++) {
        char id[32];
        snprintf(id, sizeof id, "churn-%02d", i);
        cr_assert_eq(ix_write_begin(env, &t), 0);
        put(t, IX_VACANCY, id);
        cr_assert_eq(ix_write_commit(t), 0);
        cr_assert_eq(ix_write_begin(env, &t), 0);
        cr_assert_eq(ix_delete(t, IX_VACANCY, id, (uint32_t)strlen(id), 0), 0);
        cr_assert_eq(ix_write_commit(t), 0);
    }
    cr_assert_eq(cached_ids(), 0);
    cr_assert_eq(ix_write_begin(env, &t), 0);
    for (int i = 0; i < 50; i++) {
        char id[32];
        snprintf(id, sizeof id, "late-%02d", i);
        put(t, IX_WORKER, id);
    }
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(cached_ids(), 0, "no room left");
    ix_txn_t *r;
    cr_assert_eq(ix_read_begin(env, &r), 0);
    for (int i = 0; i < 50; i++) {
        char id[32];
        snprintf(id, sizeof id, "late-%02d", i);
        cr_assert_eq(id_lookup(r, IX_WORKER, docno_of(IX_WORKER, id), id), 0);
    }
    ix_read_end(r);

    /* A fresh cache: 200 bytes hold 25 of "late-NN" (8 bytes each). */
    ix_close(env);
    env = open_cached(200);
    wait_for_ids(25);
    cr_assert_eq(ix_write_begin(env, &t), 0);
    for (int i = 0; i < 10; i++) {
        char id[32];
        snprintf(id, sizeof id, "more-%02d", i);
        put(t, IX_WORKER, id);
    }
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(cached_ids(), 25, "the arena was full");
}
