/* env.c - the LMDB environment and its transactions: opening the store and
 * its named databases, the pool of reusable read transactions, the one
 * write transaction, growing the map (and advising it for huge pages), and
 * the single place LMDB errors become errno values.
 *
 * Growing the map: mdb_env_set_mapsize remaps the file, so no transaction
 * of this process may be open meanwhile (values read point into the map).
 * Every transaction holds map_lock shared; a resize takes it exclusively.
 * The lock prefers writers, so a resize waits only for the transactions
 * open at that moment, not for a stream of new ones; but it never queues
 * readers behind a long reader (a check or backup): while one runs, the
 * resize only tries, and waits for it to end.
 */
#define _GNU_SOURCE  /* pthread_rwlockattr_setkind_np */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define IX_DEFAULT_MAP_SIZE (16ULL << 30)
#define IX_DEFAULT_READERS 126
#define IX_MAX_DBS 16

/* The LMDB code behind the last -EIO on this thread, for ix_strerror. */
static _Thread_local int last_mdb_rc;
static _Thread_local char errbuf[160];
/* The format version of the last store ix_open refused on this thread
 * (-1: unreadable), for ix_strerror(-EPROTO). */
static _Thread_local int refused_version = -1;

int
ix_mdb_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return -ENOENT;
    case MDB_MAP_FULL:
        return -ENOSPC;
    case MDB_TXN_FULL:
        return -EFBIG;
    case ENOSPC:  /* the file system, not the map: growing would not help */
    case EDQUOT:
        return -EDQUOT;
    case MDB_READERS_FULL:
        return -EBUSY;
    case MDB_MAP_RESIZED:
        return -ESTALE;
    default:
        last_mdb_rc = rc;
        return -EIO;
    }
}

const char *
ix_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case -ENOENT:
        return "no such record";
    case -EINVAL:
        return "invalid argument";
    case -ENOSPC:
        return "storage map is full";
    case -EFBIG:
        return "too many changes for one transaction";
    case -EDQUOT:
        return "no space left on the disk";
    case -EBUSY:
        return "out of reader slots";
    case -ESTALE:
        return "the map was resized by another process";
    case -EUCLEAN:
        return "index is inconsistent";
    case -ENOMEM:
        return "out of memory";
    case -EPROTO:
        if (refused_version >= 0)
            snprintf(errbuf, sizeof errbuf,
                     "store format version %d, this build reads %d",
                     refused_version, IX_FORMAT_VERSION);
        else
            snprintf(errbuf, sizeof errbuf,
                     "store format version unreadable, this build reads %d",
                     IX_FORMAT_VERSION);
        return errbuf;
    case -EIO:
        if (last_mdb_rc != 0) {
            snprintf(errbuf, sizeof errbuf, "storage error: %s",
                     mdb_strerror(last_mdb_rc));
            return errbuf;
        }
        return "storage error";
    default:
        snprintf(errbuf, sizeof errbuf, "error %d", err);
        return errbuf;
    }
}

/* Docs the upgrade reads per transaction, writing (before 14) each one's
 * id by docno, a vacancy's category postings and (from 11 or 12) the
 * matching postings of the open ones: some 14 postings each, their pages
 * well inside what one transaction may dirty. */
#define UPGRADE_BATCH 4096

/* The upgrade's ix_each_match_posting callback: puts one posting with a
 * raw mdb_put, since the upgrade runs before the index's write
 * transactions exist. */
typedef struct put_match {
    MDB_txn *txn;
    MDB_dbi match;
} put_match_t;

static int
put_match(void *ctx, const ix_match_posting_t *p)
{
    const put_match_t *m = ctx;
    MDB_val k = {p->klen, (void *)p->key}, v = {p->vlen, (void *)p->val};
    return mdb_put(m->txn, m->match, &k, &v, 0);
}

/* Puts the 'C' listing postings of a vacancy's priority categories, which
 * stores before format 15 lack (a worker's own category had its posting
 * already); putting one again, as an upgrade that starts over does,
 * changes nothing. */
static int
put_vacancy_categories(MDB_txn *txn, MDB_dbi post, const uint8_t *doc_key,
                       const ix_docview_t *v)
{
    if (doc_key[0] != IX_VACANCY)
        return 0;
    uint8_t key[IXK_CATEGORY_LEN], cats = ix_list_categories(IX_VACANCY, v);
    MDB_val empty = {0, ""};
    for (uint8_t c = 0; c < 8; c++) {
        if (!(cats & (1u << c)))
            continue;
        MDB_val k = {ixk_category(key, IX_VACANCY, c, ixk_get_be64(doc_key + 1)),
                     key};
        int rc = mdb_put(txn, post, &k, &empty, 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* meta "rebuilding": present, holding the format it came from, while the
 * store is upgraded. The first transaction writes it with the new
 * version, so that a build of the old format refuses a store left halfway
 * (its match dbi no longer in the old layout, or names half filled) and
 * this one starts over. */
static const MDB_val rebuilding_key = {10, "rebuilding"};

/* One transaction of the upgrade: from the doc at `at` (at_len 0: the
 * first transaction, which marks the store and empties names before 14,
 * match too from 11 or 12), the next UPGRADE_BATCH docs' category
 * postings (vacancies), names (before 14) and, from 11 or 12, the
 * matching postings of the open ones. Sets *done when it wrote
 * the last and finished the upgrade; moves `at` on. Returns an MDB
 * code. */
static int
upgrade_batch(ix_env_t *e, uint8_t from, uint8_t *at, size_t *at_len, bool *done)
{
    MDB_txn *txn;
    MDB_cursor *c;
    int rc = mdb_txn_begin(e->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    uint8_t ver = IX_FORMAT_VERSION;
    MDB_val vk = {7, "version"}, vv = {1, &ver}, fv = {1, &from};
    bool postings = from < 13, names = from < 14;
    if (*at_len == 0 &&
        ((postings && (rc = mdb_drop(txn, e->match, 0)) != 0) ||
         (names && (rc = mdb_drop(txn, e->names, 0)) != 0) ||
         (rc = mdb_put(txn, e->meta, &vk, &vv, 0)) != 0 ||
         (rc = mdb_put(txn, e->meta, (MDB_val *)&rebuilding_key, &fv, 0)) != 0)) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_cursor_open(txn, e->docs, &c)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    MDB_val k = {*at_len, at}, d;
    rc = *at_len ? mdb_cursor_get(c, &k, &d, MDB_SET_RANGE) : mdb_cursor_get(c, &k, &d, MDB_FIRST);
    for (unsigned n = 0; rc == 0 && n < UPGRADE_BATCH; rc = mdb_cursor_get(c, &k, &d, MDB_NEXT), n++) {
        ix_docview_t v;
        ix_brief_t b;
        const uint8_t *kb = k.mv_data;
        if (k.mv_size != IXK_DOC_LEN || ix_kind_index(kb[0]) < 0 ||
            ix_doc_decode(d.mv_data, d.mv_size, &v) != 0) {
            rc = MDB_CORRUPTED;
            break;
        }
        MDB_val id = {v.id_len, (void *)v.id};
        if ((names && (rc = mdb_put(txn, e->names, &k, &id, 0)) != 0) ||
            (rc = put_vacancy_categories(txn, e->post, kb, &v)) != 0)
            break;
        ix_brief_of(kb[0], &v, &b);
        if (!postings || !b.open)
            continue;
        uint8_t brief[IXK_BRIEF_VACANCY];
        ixk_brief_put(brief, kb[0], &b);
        put_match_t put = {txn, e->match};
        if ((rc = ix_each_match_posting(kb[0], ixk_get_be64(kb + 1), &v, brief, put_match,
                                        &put)) != 0)
            break;
    }
    /* Where the next transaction starts: the doc the cursor is on. */
    if (rc == 0)
        memcpy(at, k.mv_data, IXK_DOC_LEN);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) {
        *done = true;
        rc = mdb_del(txn, e->meta, (MDB_val *)&rebuilding_key, NULL);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) == 0 && !*done)
        *at_len = IXK_DOC_LEN;
    return rc;
}

/* The stores this build upgrades in place, and how: format 14 lacks only
 * the 'C' listing postings of vacancies (their priority categories);
 * 13 also the names dbi (each record's id by docno); 11 and 12 also
 * differ in the match dbi (11 kept postings of records that cannot match;
 * both began each value with the docno, where 13 puts the record's match
 * rank before it: keys.h). So the upgrade writes the vacancies' category
 * postings, before 14 fills names from the docs and, from 11 or 12,
 * empties match and writes every doc's postings again as store.c would,
 * in transactions of UPGRADE_BATCH docs. A store left halfway by a
 * crash (meta "rebuilding") starts over at the next open. Returns an MDB code
 * (MDB_MAP_FULL when the map has no room for the first transaction's
 * postings: docs/operations.md, "Upgrading"). */
static int
upgrade(ix_env_t *e, uint8_t from)
{
    uint8_t at[IXK_DOC_LEN];
    size_t at_len = 0;
    bool done = false;
    int rc = 0;
    while (!done && rc == 0)
        rc = upgrade_batch(e, from, at, &at_len, &done);
    return rc;
}

/* The format a store of version `ver` is upgraded from, or 0 when it
 * needs none: while an upgrade left halfway is marked, the format it came
 * from (the mark comes first: the builds of formats 13 and 14 marked
 * their own upgrades the same way, under their versions), else 11 to 14
 * as stored. */
static uint8_t
upgrade_from(MDB_txn *txn, const ix_env_t *e, const MDB_val *ver)
{
    if (ver->mv_size != 1)
        return 0;
    uint8_t v = *(const uint8_t *)ver->mv_data;
    MDB_val from;
    if (v >= 13 && v <= IX_FORMAT_VERSION &&
        mdb_get(txn, e->meta, (MDB_val *)&rebuilding_key, &from) == 0 && from.mv_size == 1) {
        uint8_t f = *(const uint8_t *)from.mv_data;
        if (f >= 11 && f < v)
            return f;
    }
    return v >= 11 && v < IX_FORMAT_VERSION ? v : 0;
}

/* Opens every dbi and checks (or, in a new store, writes) the format
 * version; a store of format 11 to 14 is upgraded in place. dbi
 * handles stay valid for the environment's life. */
static int
open_dbis(ix_env_t *e)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(e->env, NULL, 0, &txn);
    if (rc != 0)
        return ix_mdb_err(rc);
    /* match holds the skill and minor-group postings as fixed-size
     * duplicates (keys.h); a store of an older format has no match dbi
     * and is refused below by its version. */
    struct {
        const char *name;
        MDB_dbi *dbi;
        unsigned flags;
    } dbs[] = {
        {"ids", &e->ids, 0},
        {"names", &e->names, 0},
        {"docs", &e->docs, 0},
        {"post", &e->post, 0},
        {"match", &e->match, MDB_DUPSORT | MDB_DUPFIXED},
        {"counts", &e->counts, 0},
        {"log", &e->log, 0},
        {"meta", &e->meta, 0},
        {"audit", &e->audit, 0},
        {"fairs", &e->fairs, 0},
        {"stats", &e->stats, 0},
        {"referrals", &e->referrals, 0},
        {"alerts", &e->alerts, 0},
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE | dbs[i].flags,
                          dbs[i].dbi);
        if (rc != 0)
            goto fail;
    }
    MDB_val k = {7, "version"}, v;
    uint8_t from;
    rc = mdb_get(txn, e->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        uint8_t ver = IX_FORMAT_VERSION;
        v.mv_size = 1;
        v.mv_data = &ver;
        rc = mdb_put(txn, e->meta, &k, &v, 0);
        if (rc != 0)
            goto fail;
    } else if (rc != 0) {
        goto fail;
    } else if ((from = upgrade_from(txn, e, &v)) != 0) {
        if ((rc = mdb_txn_commit(txn)) != 0)
            return ix_mdb_err(rc);
        if (e->on_upgrade)
            e->on_upgrade(from, IX_FORMAT_VERSION, e->upgrade_ctx);
        if ((rc = upgrade(e, from)) != 0)
            return ix_mdb_err(rc);
        e->upgraded_from = from;
        return 0;
    } else if (v.mv_size != 1 ||
               *(const uint8_t *)v.mv_data != IX_FORMAT_VERSION) {
        /* A store written in another format: refuse rather than misread.
         * The operator rebuilds it (docs/operations.md, "Upgrading"). */
        refused_version = v.mv_size == 1 ? *(const uint8_t *)v.mv_data : -1;
        mdb_txn_abort(txn);
        return -EPROTO;
    }
    rc = mdb_txn_commit(txn);
    return ix_mdb_err(rc);
fail:
    mdb_txn_abort(txn);
    return ix_mdb_err(rc);
}

/* Asks the kernel to back the data file's map with 2 MiB pages
 * (MADV_HUGEPAGE), when the store was opened with huge_pages: a page read
 * into memory afterwards comes in a 2 MiB folio that one TLB entry maps,
 * which saves the page-table walks of reads spread over gigabytes. LMDB
 * remaps the file when the map's size changes, so this follows every
 * (re)map. LMDB does not tell where its map is: it is the mapping of the
 * data file's device and inode in /proc/self/maps. Failing costs only the
 * speed-up. */
static void
advise_huge_pages(ix_env_t *e)
{
    int fd;
    struct stat st;
    if (!e->huge_pages || mdb_env_get_fd(e->env, &fd) != 0 || fstat(fd, &st) != 0)
        return;
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps)
        return;
    char line[4096 + 128];
    while (fgets(line, sizeof line, maps)) {
        unsigned long start, end, offset, inode;
        unsigned dev_major, dev_minor;
        if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &start, &end, &offset, &dev_major,
                   &dev_minor, &inode) == 6 &&
            inode == st.st_ino && dev_major == major(st.st_dev) &&
            dev_minor == minor(st.st_dev) && offset == 0)
            madvise((void *)start, end - start, MADV_HUGEPAGE);
    }
    fclose(maps);
}

/* Creates and opens e->env with e's flags and reader slots, at least
 * `least` bytes of map, and opens its dbis. On failure nothing is left
 * open. */
static int
open_lmdb(ix_env_t *e, uint64_t least)
{
    int rc = mdb_env_create(&e->env);
    if (rc != 0)
        return ix_mdb_err(rc);
    /* No map size before opening: an existing store then opens with the
     * size its file records, which may have grown (ix_grow); the
     * configured size is only the least, set below. */
    if ((rc = mdb_env_set_maxdbs(e->env, IX_MAX_DBS)) != 0 ||
        (rc = mdb_env_set_maxreaders(e->env, e->max_readers)) != 0 ||
        (rc = mdb_env_open(e->env, e->dir, e->flags, 0664)) != 0) {
        /* mdb_env_open reports system errors as positive errno values. */
        int err = rc == ENOENT || rc == EACCES || rc == ENOTDIR ? -rc
                                                                : ix_mdb_err(rc);
        mdb_env_close(e->env);
        return err;
    }
    if (ix_map_size(e) < least && (rc = mdb_env_set_mapsize(e->env, least)) != 0) {
        mdb_env_close(e->env);
        return ix_mdb_err(rc);
    }
    /* A process that died inside a read transaction leaves its reader
     * slot behind, and the pages of its snapshot could never be reused:
     * cleared before anything writes, an upgrade included. */
    int dead = 0;
    if (mdb_reader_check(e->env, &dead) == 0 && dead > 0)
        e->stale_readers += (unsigned)dead;
    if ((rc = open_dbis(e)) != 0) {
        mdb_env_close(e->env);
        return rc;
    }
    advise_huge_pages(e);
    return 0;
}

int
ix_open(const char *dir, const ix_options_t *opts, ix_env_t **out)
{
    if (!dir || !out)
        return -EINVAL;
    *out = NULL;
    ix_options_t o = {0};
    if (opts)
        o = *opts;
    unsigned flags = MDB_NOTLS;
    switch (o.sync) {
    case IX_SYNC_FULL:
        break;
    case IX_SYNC_NOMETA:
        flags |= MDB_NOMETASYNC;
        break;
    case IX_SYNC_NONE:
        flags |= MDB_NOSYNC;
        break;
    default:
        return -EINVAL;
    }
    ix_env_t *e = calloc(1, sizeof *e);
    if (!e || !(e->dir = strdup(dir))) {
        free(e);
        return -ENOMEM;
    }
    e->flags = flags;
    e->max_readers = o.max_readers ? o.max_readers : IX_DEFAULT_READERS;
    e->huge_pages = o.huge_pages;
    e->on_upgrade = o.on_upgrade;
    e->upgrade_ctx = o.upgrade_ctx;
    int rc = open_lmdb(e, o.map_size ? o.map_size : IX_DEFAULT_MAP_SIZE);
    if (rc != 0) {
        free(e->dir);
        free(e);
        return rc;
    }
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&e->map_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&e->pool_lock, NULL);
    pthread_mutex_init(&e->backup_lock, NULL);
    e->backup_fd = -1;
    e->wtxn.env = e;
    if ((rc = ix_id_cache_open(e, o.id_cache_bytes)) != 0) {
        ix_close(e);
        return rc;
    }
    *out = e;
    return 0;
}

/* Aborts and frees every pooled read handle. None may be in use: each was
 * returned (ix_read_end) by the rule that none outlives the environment,
 * or map_lock is held exclusively. With MDB_NOTLS any thread may abort
 * them. */
static void
free_read_pool(ix_env_t *e)
{
    ix_txn_t *t = e->pool_all;
    while (t) {
        ix_txn_t *next = t->next_all;
        mdb_txn_abort(t->txn);
        free(t);
        t = next;
    }
    e->pool_all = e->pool_free = NULL;
}

void
ix_close(ix_env_t *e)
{
    if (!e)
        return;
    ix_id_cache_close(e);
    free_read_pool(e);
    ix_pending_free(&e->pend);
    pthread_mutex_destroy(&e->pool_lock);
    pthread_rwlock_destroy(&e->map_lock);
    pthread_mutex_destroy(&e->backup_lock);
    mdb_env_close(e->env);
    free(e->dir);
    free(e);
}

int
ix_sync(ix_env_t *e)
{
    if (!e)
        return -EINVAL;
    pthread_rwlock_rdlock(&e->map_lock);
    int rc = ix_mdb_err(mdb_env_sync(e->env, 1));
    pthread_rwlock_unlock(&e->map_lock);
    return rc;
}

/* Tries to take map_lock exclusively for 50 ms: readers that queue behind
 * the wait are held up that long at most. */
static bool
map_lock_exclusive_50ms(ix_env_t *e)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 50 * 1000 * 1000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return pthread_rwlock_timedwrlock(&e->map_lock, &until) == 0;
}

/* Takes map_lock exclusively, in bounded waits; while a long reader runs,
 * it only tries, every 10 ms, without making anyone wait. */
static void
map_lock_exclusive(ix_env_t *e)
{
    for (;;) {
        if (atomic_load(&e->long_readers) == 0) {
            if (map_lock_exclusive_50ms(e))
                return;
        } else if (pthread_rwlock_trywrlock(&e->map_lock) == 0) {
            return;
        } else {
            struct timespec pause = {0, 10 * 1000 * 1000L};
            nanosleep(&pause, NULL);
        }
    }
}

/* Takes a pooled handle (or a new one) and starts it; map_lock is held. */
static int
read_start(ix_env_t *e, ix_txn_t **out)
{
    pthread_mutex_lock(&e->pool_lock);
    ix_txn_t *t = e->pool_free;
    if (t)
        e->pool_free = t->next_free;
    pthread_mutex_unlock(&e->pool_lock);
    int rc;
    if (t) {
        rc = mdb_txn_renew(t->txn);
        if (rc != 0) {
            /* The handle is still reset and reusable: put it back. */
            pthread_mutex_lock(&e->pool_lock);
            t->next_free = e->pool_free;
            e->pool_free = t;
            pthread_mutex_unlock(&e->pool_lock);
            return ix_mdb_err(rc);
        }
    } else {
        t = calloc(1, sizeof *t);
        if (!t)
            return -ENOMEM;
        rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &t->txn);
        if (rc != 0) {
            free(t);
            return ix_mdb_err(rc);
        }
        t->env = e;
        t->rdonly = true;
        pthread_mutex_lock(&e->pool_lock);
        t->next_all = e->pool_all;
        e->pool_all = t;
        pthread_mutex_unlock(&e->pool_lock);
    }
    *out = t;
    return 0;
}

/* Adopts the size another process grew the map to. */
static int
adopt_map_size(ix_env_t *e)
{
    map_lock_exclusive(e);
    int rc = mdb_env_set_mapsize(e->env, 0);
    if (rc == 0)
        advise_huge_pages(e);
    pthread_rwlock_unlock(&e->map_lock);
    return ix_mdb_err(rc);
}

int
ix_read_begin(ix_env_t *e, ix_txn_t **out)
{
    if (!e || !out)
        return -EINVAL;
    uint64_t id_below[2];
    ix_id_cache_below(e->id_cache, id_below);  /* before the snapshot */
    pthread_rwlock_rdlock(&e->map_lock);
    int rc = read_start(e, out);
    int dead = 0;
    if (rc == -EBUSY && mdb_reader_check(e->env, &dead) == 0 && dead > 0) {
        /* Out of slots because other processes died holding theirs. */
        rc = read_start(e, out);
    }
    if (rc == -ESTALE) {
        pthread_rwlock_unlock(&e->map_lock);
        if ((rc = adopt_map_size(e)) != 0)
            return rc;
        pthread_rwlock_rdlock(&e->map_lock);
        rc = read_start(e, out);
    }
    if (rc != 0) {
        pthread_rwlock_unlock(&e->map_lock);
        return rc;
    }
    memcpy((*out)->id_below, id_below, sizeof id_below);
    return 0;
}

void
ix_read_end(ix_txn_t *t)
{
    if (!t)
        return;
    ix_env_t *e = t->env;
    /* Reset releases the snapshot (so old pages can be reused) but keeps
     * the reader slot for the next renew. */
    mdb_txn_reset(t->txn);
    pthread_mutex_lock(&e->pool_lock);
    t->next_free = e->pool_free;
    e->pool_free = t;
    pthread_mutex_unlock(&e->pool_lock);
    pthread_rwlock_unlock(&e->map_lock);
}

int
ix_write_begin(ix_env_t *e, ix_txn_t **out)
{
    if (!e || !out)
        return -EINVAL;
    MDB_txn *txn;
    uint64_t id_below[2];
    ix_id_cache_below(e->id_cache, id_below);  /* before the snapshot */
    pthread_rwlock_rdlock(&e->map_lock);
    /* Blocks while another thread writes; only then is wtxn ours. */
    int rc = ix_mdb_err(mdb_txn_begin(e->env, NULL, 0, &txn));
    if (rc == -ESTALE) {
        pthread_rwlock_unlock(&e->map_lock);
        if ((rc = adopt_map_size(e)) != 0)
            return rc;
        pthread_rwlock_rdlock(&e->map_lock);
        rc = ix_mdb_err(mdb_txn_begin(e->env, NULL, 0, &txn));
    }
    if (rc != 0) {
        pthread_rwlock_unlock(&e->map_lock);
        return rc;
    }
    ix_txn_t *t = &e->wtxn;
    t->env = e;
    t->txn = txn;
    t->rdonly = false;
    t->ret = 0;
    memcpy(t->id_below, id_below, sizeof id_below);
    ix_pending_reset(&e->pend);
    ix_id_cache_discard(e->id_cache);
    *out = t;
    return 0;
}

int
ix_write_commit(ix_txn_t *t)
{
    if (!t || t->rdonly)
        return -EINVAL;
    int rc = t->ret;
    if (rc == 0)
        rc = ix_write_settle(t);
    if (rc == 0)
        rc = ix_pending_flush(t);
    if (rc != 0) {
        mdb_txn_abort(t->txn);
    } else {
        rc = ix_mdb_err(mdb_txn_commit(t->txn));
    }
    if (rc == 0)
        ix_id_cache_publish(t->env->id_cache);
    ix_id_cache_discard(t->env->id_cache);
    t->txn = NULL;
    ix_pending_reset(&t->env->pend);
    pthread_rwlock_unlock(&t->env->map_lock);
    if (t->env->hooks.end)
        t->env->hooks.end(t->env->hooks.ctx, rc == 0);
    return rc;
}

int
ix_write_settle(ix_txn_t *t)
{
    if (!t || t->rdonly)
        return -EINVAL;
    const ix_hooks_t *h = &t->env->hooks;
    int rc = t->ret;
    if (rc == 0 && h->settle && (rc = h->settle(h->ctx, t)) != 0)
        return ix_fail(t, rc);
    return rc;
}

void
ix_write_abort(ix_txn_t *t)
{
    if (!t || t->rdonly)
        return;
    mdb_txn_abort(t->txn);
    t->txn = NULL;
    ix_pending_reset(&t->env->pend);
    ix_id_cache_discard(t->env->id_cache);
    pthread_rwlock_unlock(&t->env->map_lock);
    if (t->env->hooks.end)
        t->env->hooks.end(t->env->hooks.ctx, false);
}

uint64_t
ix_map_size(ix_env_t *e)
{
    MDB_envinfo info;
    mdb_env_info(e->env, &info);
    return info.me_mapsize;
}

int
ix_grow(ix_env_t *e, uint64_t ceiling, uint64_t *new_size)
{
    if (!e)
        return -EINVAL;
    uint64_t size = ix_map_size(e);
    if (size >= ceiling)
        return -ENOSPC;
    uint64_t next = size > ceiling / 2 ? ceiling : size * 2;
    map_lock_exclusive(e);
    int rc = mdb_env_set_mapsize(e->env, next);
    if (rc == 0)
        advise_huge_pages(e);
    pthread_rwlock_unlock(&e->map_lock);
    if (rc != 0)
        return ix_mdb_err(rc);
    if (new_size)
        *new_size = ix_map_size(e);
    return 0;
}

int
ix_release_memory(ix_env_t *e)
{
    if (!e)
        return -EINVAL;
    /* Reopening needs the environment's three descriptors back: make sure
     * the process is not at its limit before closing anything (another
     * thread may accept a connection meanwhile; a few spare descriptors
     * leave room for that). */
    int spare[6], n_spare = 0, rc = 0;
    for (; n_spare < 6; n_spare++)
        if ((spare[n_spare] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
            break;
    if (n_spare < 6)
        rc = -EMFILE;
    while (n_spare > 0)
        close(spare[--n_spare]);
    if (rc != 0)
        return rc;

    /* Unlike a resize, nothing needs it now: it does not wait for a long
     * reader (a backup would hold the writer for its whole run), and
     * waits for the reads open at this moment only once, bounded. */
    if (atomic_load(&e->long_readers) != 0 || !map_lock_exclusive_50ms(e))
        return -EBUSY;
    uint64_t size = ix_map_size(e);
    free_read_pool(e);
    ix_pending_free(&e->pend);  /* the writer's scratch grew with it too */
    mdb_env_close(e->env);
    e->env = NULL;
    rc = open_lmdb(e, size);
    pthread_rwlock_unlock(&e->map_lock);
    return rc;
}

unsigned
ix_stale_readers(const ix_env_t *e)
{
    return e->stale_readers;
}

unsigned
ix_upgraded_from(const ix_env_t *e)
{
    return e->upgraded_from;
}

void
ix_long_read_begin(ix_env_t *e)
{
    atomic_fetch_add(&e->long_readers, 1);
}

void
ix_long_read_end(ix_env_t *e)
{
    atomic_fetch_sub(&e->long_readers, 1);
}

void
ix_set_hooks(ix_env_t *e, const ix_hooks_t *hooks)
{
    if (hooks)
        e->hooks = *hooks;
    else
        memset(&e->hooks, 0, sizeof e->hooks);
}
