/* test_env.c - the environment under storage faults: growing the map while
 * other threads read, the ceiling, stale reader slots of a killed process,
 * and the hot backup.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files.h"
#include "index.h"

static char dir[64];
static char copy_dir[64];

static void
setup(void)
{
    strcpy(dir, "/tmp/ixenv-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    copy_dir[0] = '\0';
}

static void
teardown(void)
{
    jt_remove_tree(dir);
    jt_remove_tree(copy_dir);
}

TestSuite(env, .init = setup, .fini = teardown, .timeout = 60);

static ix_env_t *
open_env_with(uint64_t map_size, bool huge_pages)
{
    ix_env_t *e;
    ix_options_t o = {.map_size = map_size, .sync = IX_SYNC_NONE, .huge_pages = huge_pages};
    int rc = ix_open(dir, &o, &e);
    cr_assert_eq(rc, 0, "ix_open: %s", ix_strerror(rc));
    return e;
}

static ix_env_t *
open_env(uint64_t map_size)
{
    return open_env_with(map_size, false);
}

/* Puts vacancy n (id "v<n>") with a 2 KiB value, in its own transaction. */
static int
put_one(ix_env_t *e, int n)
{
    static char value[2048];
    memset(value, 'x', sizeof value);
    char id[32];
    snprintf(id, sizeof id, "v%d", n);
    const char *occ = "6-05-02-03";
    uint32_t occ_len = 10;
    ix_skill_t skill = {"weld", 4, 3};
    ix_doc_t d = {
        .kind = IX_VACANCY,
        .id = id,
        .id_len = (uint32_t)strlen(id),
        .region = {'1', '1', '0', '1', '0', '5'},
        .occupations = &occ,
        .occupation_lens = &occ_len,
        .n_occupations = 1,
        .matchable = true,
        .skills = &skill,
        .n_skills = 1,
        .match = {.headcount = 1},
        .value = value,
        .value_len = sizeof value,
    };
    ix_txn_t *t;
    int rc = ix_write_begin(e, &t);
    if (rc != 0)
        return rc;
    rc = ix_put(t, &d, 0, NULL);
    if (rc != 0) {
        ix_write_abort(t);
        return rc;
    }
    return ix_write_commit(t);
}

static bool
has(ix_env_t *e, int n)
{
    char id[32];
    snprintf(id, sizeof id, "v%d", n);
    ix_txn_t *t;
    ix_record_t rec;
    cr_assert_eq(ix_read_begin(e, &t), 0);
    int rc = ix_get(t, IX_VACANCY, id, (uint32_t)strlen(id), &rec);
    bool ok = rc == 0 && rec.value_len == 2048 && ((const char *)rec.value)[2047] == 'x';
    ix_read_end(t);
    return ok;
}

/* Readers on other threads, each checking what it reads, while the main
 * thread grows the map under them. */
typedef struct reader {
    ix_env_t *e;
    atomic_bool stop;
    atomic_int reads, bad;
} reader_t;

static void *
read_loop(void *arg)
{
    reader_t *r = arg;
    while (!atomic_load(&r->stop)) {
        if (!has(r->e, 0))
            atomic_fetch_add(&r->bad, 1);
        atomic_fetch_add(&r->reads, 1);
        /* Leave the writer room: under valgrind threads take turns, and
         * three readers spinning would starve the one that grows the map. */
        usleep(100);
    }
    return NULL;
}

Test(env, the_map_grows_under_readers_up_to_its_ceiling)
{
    ix_env_t *e = open_env(1 << 20);
    cr_assert_eq(ix_map_size(e), 1u << 20);
    cr_assert_eq(put_one(e, 0), 0);
    reader_t r = {.e = e};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, read_loop, &r);

    const uint64_t ceiling = 5u << 20;
    int n = 1, grown = 0, rc = 0;
    for (; n < 5000; n++) {
        rc = put_one(e, n);
        if (rc == -ENOSPC) {
            uint64_t size = 0;
            int grc = ix_grow(e, ceiling, &size);
            if (grc == -ENOSPC)
                break;
            cr_assert_eq(grc, 0, "ix_grow: %s", ix_strerror(grc));
            cr_assert_eq(size, ix_map_size(e));
            grown++;
            rc = put_one(e, n);  /* what did not fit now does */
            cr_assert_eq(rc, 0, "v%d after growing: %s", n, ix_strerror(rc));
        } else {
            cr_assert_eq(rc, 0, "v%d: %s", n, ix_strerror(rc));
        }
    }
    atomic_store(&r.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(rc, -ENOSPC, "5 MiB never filled");
    /* 1 -> 2 -> 4 -> 5 MiB: doubling, then the ceiling. */
    cr_assert_eq(grown, 3);
    cr_assert_eq(ix_map_size(e), ceiling);
    cr_assert_gt(atomic_load(&r.reads), 0);
    cr_assert_eq(atomic_load(&r.bad), 0, "a reader saw a wrong value across a resize");
    /* At the ceiling: reads go on, the store is whole. */
    for (int i = 0; i < n; i++)
        cr_assert(has(e, i), "v%d lost", i);
    ix_txn_t *t;
    char report[256];
    cr_assert_eq(ix_read_begin(e, &t), 0);
    cr_assert_eq(ix_check(t, report, sizeof report), 0, "%s", report);
    ix_read_end(t);
    ix_close(e);

    /* Reopened with the small size, the map keeps the size it grew to. */
    e = open_env(1 << 20);
    cr_assert_eq(ix_map_size(e), ceiling);
    for (int i = 0; i < n; i++)
        cr_assert(has(e, i), "v%d lost after reopen", i);
    ix_close(e);
}

/* A child process that opens the store (and begins a read when `read`),
 * tells the parent so and waits to be killed. */
static pid_t
start_child(bool read_txn)
{
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        ix_env_t *ce;
        ix_txn_t *t;
        ix_options_t o = {.map_size = 8 << 20, .sync = IX_SYNC_NONE};
        if (ix_open(dir, &o, &ce) != 0 || (read_txn && ix_read_begin(ce, &t) != 0))
            _exit(1);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(ready[1]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the child did not start");
    close(ready[0]);
    return pid;
}

Test(env, a_stale_reader_slot_of_a_killed_process_is_cleared_at_open)
{
    ix_env_t *e = open_env(8 << 20);
    cr_assert_eq(put_one(e, 0), 0);
    ix_close(e);

    /* The first process to open a store resets its reader table, so a
     * stale slot outlives its process only while another one keeps the
     * store open: `holder` does, `reader` dies inside a read. */
    pid_t holder = start_child(false);
    pid_t reader = start_child(true);
    kill(reader, SIGKILL);
    int status;
    cr_assert_eq(waitpid(reader, &status, 0), reader);
    cr_assert(WIFSIGNALED(status));

    e = open_env(8 << 20);
    cr_assert_eq(ix_stale_readers(e), 1u);
    cr_assert(has(e, 0));
    ix_close(e);
    /* Cleared once: the next open finds none. */
    e = open_env(8 << 20);
    cr_assert_eq(ix_stale_readers(e), 0u);
    ix_close(e);
    kill(holder, SIGKILL);
    cr_assert_eq(waitpid(holder, &status, 0), holder);
}

Test(env, backup_is_a_compacted_consistent_copy)
{
    ix_env_t *e = open_env(64 << 20);
    for (int i = 0; i < 400; i++)
        cr_assert_eq(put_one(e, i), 0);
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(e, &t), 0);
    for (int i = 0; i < 300; i++) {
        char id[32];
        snprintf(id, sizeof id, "v%d", i);
        cr_assert_eq(ix_delete(t, IX_VACANCY, id, (uint32_t)strlen(id), 0), 0);
    }
    cr_assert_eq(ix_write_commit(t), 0);
    ix_stats_t st;
    cr_assert_eq(ix_read_begin(e, &t), 0);
    cr_assert_eq(ix_stats(t, &st), 0);
    ix_read_end(t);

    strcpy(copy_dir, "/tmp/ixcopy-XXXXXX");
    cr_assert_not_null(mkdtemp(copy_dir));
    ix_backup_info_t info;
    int rc = ix_backup(e, copy_dir, &info);
    cr_assert_eq(rc, 0, "ix_backup: %s", ix_strerror(rc));
    cr_assert_eq(info.last_seq, st.last_seq);
    /* Free pages are left out: smaller than the live store's used part. */
    cr_assert_lt(info.bytes, st.map_used, "copy %llu bytes, store uses %llu",
                 (unsigned long long)info.bytes, (unsigned long long)st.map_used);
    char p[128];
    struct stat sb;
    snprintf(p, sizeof p, "%s/data.mdb", copy_dir);
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq((uint64_t)sb.st_size, info.bytes);
    /* A second copy into the same place is refused, the first kept. */
    cr_assert_eq(ix_backup(e, copy_dir, &info), -EEXIST);
    cr_assert_eq(stat(p, &sb), 0);
    ix_close(e);

    ix_env_t *c;
    ix_options_t o = {.map_size = 8 << 20, .sync = IX_SYNC_NONE};
    cr_assert_eq(ix_open(copy_dir, &o, &c), 0);
    char report[256];
    cr_assert_eq(ix_read_begin(c, &t), 0);
    cr_assert_eq(ix_check(t, report, sizeof report), 0, "%s", report);
    ix_stats_t cst;
    cr_assert_eq(ix_stats(t, &cst), 0);
    cr_assert_eq(cst.vacancies, 100u);
    cr_assert_eq(cst.last_seq, st.last_seq);
    ix_record_t rec;
    cr_assert_eq(ix_get(t, IX_VACANCY, "v0", 2, &rec), -ENOENT);
    cr_assert_eq(ix_get(t, IX_VACANCY, "v399", 4, &rec), 0);
    ix_read_end(t);
    ix_close(c);
}

typedef struct copier {
    ix_env_t *e;
    int rc;
} copier_t;

static void *
copy_on(void *arg)
{
    copier_t *c = arg;
    ix_backup_info_t info;
    c->rc = ix_backup(c->e, copy_dir, &info);
    return NULL;
}

/* Shutdown cancels a backup under way; the partial copy goes, and later
 * backups are refused. */
Test(env, a_cancelled_backup_leaves_nothing)
{
    ix_env_t *e = open_env(64 << 20);
    ix_txn_t *t;
    static char value[4000];
    memset(value, 'y', sizeof value);
    cr_assert_eq(ix_write_begin(e, &t), 0);
    for (int i = 0; i < 5000; i++) {
        char id[32];
        snprintf(id, sizeof id, "big%d", i);
        const char *occ = "6-05-02-03";
        uint32_t occ_len = 10;
        ix_doc_t d = {
            .kind = IX_VACANCY, .id = id, .id_len = (uint32_t)strlen(id),
            .region = {'1', '1', '0', '1', '0', '5'}, .occupations = &occ,
            .occupation_lens = &occ_len, .n_occupations = 1,
            .value = value, .value_len = sizeof value,
        };
        cr_assert_eq(ix_put(t, &d, 0, NULL), 0);
    }
    cr_assert_eq(ix_write_commit(t), 0);

    strcpy(copy_dir, "/tmp/ixcopy-XXXXXX");
    cr_assert_not_null(mkdtemp(copy_dir));
    char p[128];
    snprintf(p, sizeof p, "%s/data.mdb", copy_dir);
    copier_t c = {.e = e};
    pthread_t th;
    pthread_create(&th, NULL, copy_on, &c);
    struct stat sb;
    for (int i = 0; i < 100000 && !(stat(p, &sb) == 0 && sb.st_size > 0); i++)
        usleep(10);
    ix_backup_cancel(e);
    pthread_join(th, NULL);
    /* Usually cut short; a copy that was quicker than the cancel is whole. */
    cr_assert(c.rc == -ECANCELED || c.rc == 0, "ix_backup: %s", ix_strerror(c.rc));
    if (c.rc == -ECANCELED)
        cr_assert_neq(stat(p, &sb), 0, "a cancelled backup left its file");
    unlink(p);
    ix_backup_info_t info;
    cr_assert_eq(ix_backup(e, copy_dir, &info), -ECANCELED);
    cr_assert_neq(stat(p, &sb), 0);
    /* The store itself is untouched. */
    char report[256];
    cr_assert_eq(ix_read_begin(e, &t), 0);
    cr_assert_eq(ix_check(t, report, sizeof report), 0, "%s", report);
    ix_read_end(t);
    ix_close(e);
    if (c.rc == -ECANCELED)
        cr_log_info("the backup was cut short");
}

/* Another process grows the map past this one's and fills it: this
 * process's readers and writer adopt the new size by themselves. */
Test(env, a_map_grown_by_another_process_is_adopted)
{
    ix_env_t *e = open_env(1 << 20);
    cr_assert_eq(put_one(e, 0), 0);
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(e, &t), 0);  /* a pooled handle, reset below */
    ix_read_end(t);

    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        ix_env_t *ce;
        ix_options_t o = {.map_size = 8 << 20, .sync = IX_SYNC_NONE};
        if (ix_open(dir, &o, &ce) != 0)
            _exit(1);
        for (int i = 1; i <= 1000; i++)
            if (put_one(ce, i) != 0)
                _exit(2);
        ix_close(ce);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the other process failed: %d",
              status);

    /* 1000 records of 2 KiB do not fit the 1 MiB this process mapped. */
    cr_assert(has(e, 1000), "a reader did not see the other process's writes");
    cr_assert_geq(ix_map_size(e), 8u << 20);
    cr_assert_eq(put_one(e, 1001), 0);
    char report[256];
    cr_assert_eq(ix_read_begin(e, &t), 0);
    cr_assert_eq(ix_check(t, report, sizeof report), 0, "%s", report);
    ix_read_end(t);
    ix_close(e);
}

/* Whether this process's mapping of the store's data file is advised for
 * huge pages: 1 or 0, -1 when the file is not mapped. */
static int
data_map_advised_huge(void)
{
    char path[96];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    return jt_map_has_flag(0, path, "hg");
}

/* The map is advised at open and again after each remap (growing it maps
 * the file anew); without the option it is not. Where the kernel has no
 * transparent huge pages the advice fails and the store works the same. */
Test(env, huge_pages_advise_the_map_and_every_remap_of_it)
{
    bool kernel_has_thp = access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0;
    ix_env_t *e = open_env_with(1 << 20, true);
    if (kernel_has_thp)
        cr_assert_eq(data_map_advised_huge(), 1);
    int n = 0, rc;
    while ((rc = put_one(e, n)) == 0)
        n++;
    cr_assert_eq(rc, -ENOSPC);
    uint64_t size = 0;
    cr_assert_eq(ix_grow(e, 4u << 20, &size), 0);
    cr_assert_eq(size, 2u << 20);
    if (kernel_has_thp)
        cr_assert_eq(data_map_advised_huge(), 1, "the grown map lost the advice");
    cr_assert_eq(put_one(e, n), 0);
    for (int i = 0; i <= n; i++)
        cr_assert(has(e, i), "v%d lost", i);
    ix_close(e);
    cr_assert_eq(data_map_advised_huge(), -1);

    e = open_env_with(1 << 20, false);
    cr_assert_eq(data_map_advised_huge(), 0);
    cr_assert(has(e, n));
    ix_close(e);
}
