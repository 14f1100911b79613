/* backup.c - ix_backup: a compacted hot copy of the store, made from one
 * read snapshot while the writer goes on, and checked by opening it.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads the last changelog seq from the copy, which also proves that it
 * opens. Read-only and without a lock file, so the backup directory ends
 * up holding data.mdb alone. */
static int
copy_last_seq(const char *dir, uint64_t *out)
{
    MDB_env *env;
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    int rc = mdb_env_create(&env);
    if (rc != 0)
        return ix_mdb_err(rc);
    if ((rc = mdb_env_set_maxdbs(env, 8)) != 0 ||
        (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS,
                           0)) != 0 ||
        (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", 0, &meta)) != 0)
        goto out;
    MDB_val k = {3, "seq"}, v;
    rc = mdb_get(txn, meta, &k, &v);
    *out = 0;
    if (rc == 0 && v.mv_size == 8)
        *out = ixk_get_be64(v.mv_data);
    else if (rc == MDB_NOTFOUND)
        rc = 0;
out:
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return ix_mdb_err(rc);
}

/* Claims the one backup slot of e for fd. */
static int
backup_claim(ix_env_t *e, int fd)
{
    int rc = 0;
    pthread_mutex_lock(&e->backup_lock);
    if (e->backup_cancelled)
        rc = -ECANCELED;
    else if (e->backup_fd >= 0)
        rc = -EBUSY;
    else
        e->backup_fd = fd;
    pthread_mutex_unlock(&e->backup_lock);
    return rc;
}

/* Gives the slot back; true when the backup was cancelled meanwhile. */
static bool
backup_release(ix_env_t *e)
{
    pthread_mutex_lock(&e->backup_lock);
    e->backup_fd = -1;
    bool cancelled = e->backup_cancelled;
    pthread_mutex_unlock(&e->backup_lock);
    return cancelled;
}

void
ix_backup_cancel(ix_env_t *e)
{
    pthread_mutex_lock(&e->backup_lock);
    e->backup_cancelled = true;
    if (e->backup_fd >= 0) {
        /* The copy cannot be interrupted, but its writes can be made to
         * fail: once the fd names a read-only file, the next write gets
         * EBADF and LMDB abandons the copy. */
        int ro = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ro >= 0) {
            dup2(ro, e->backup_fd);
            close(ro);
        }
    }
    pthread_mutex_unlock(&e->backup_lock);
}

int
ix_backup(ix_env_t *e, const char *dir, ix_backup_info_t *out)
{
    if (!e || !dir || !out)
        return -EINVAL;
    /* The copy is written under another name and takes its own once whole
     * and on the disk: a process killed mid-copy leaves data.mdb.partial,
     * which nobody mistakes for a backup (a cut-off data.mdb opens, and
     * crashes whoever reads past its end). */
    char path[4096], partial[4096];
    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path ||
        snprintf(partial, sizeof partial, "%s/data.mdb.partial", dir) >= (int)sizeof partial)
        return -ENAMETOOLONG;
    struct stat st;
    if (lstat(path, &st) == 0)
        return -EEXIST;  /* another copy's: never replaced */
    int fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = backup_claim(e, fd);
    if (rc != 0) {
        close(fd);
        unlink(partial);
        return rc;
    }

    /* The copy reads through its own transaction, which holds the map
     * (map_lock) for the whole run. */
    pthread_rwlock_rdlock(&e->map_lock);
    ix_long_read_begin(e);
    rc = mdb_env_copyfd2(e->env, fd, MDB_CP_COMPACT);
    ix_long_read_end(e);
    pthread_rwlock_unlock(&e->map_lock);
    rc = rc > 0 ? -rc : ix_mdb_err(rc);

    if (rc == 0 && (fsync(fd) != 0 || fstat(fd, &st) != 0))
        rc = -errno;
    /* From here on fd is ours alone again. */
    if (backup_release(e))
        rc = -ECANCELED;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    /* A link, not a rename, so that a data.mdb made meanwhile stays. */
    bool named = rc == 0 && link(partial, path) == 0;
    if (rc == 0 && !named)
        rc = -errno;
    unlink(partial);
    if (rc == 0) {
        /* The new name's directory entry must reach the disk too. */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0)
            rc = -errno;
        if (dfd >= 0)
            close(dfd);
    }
    if (rc == 0)
        rc = copy_last_seq(dir, &out->last_seq);
    if (rc != 0) {
        if (named)
            unlink(path);
        return rc;
    }
    out->bytes = (uint64_t)st.st_size;
    return 0;
}
