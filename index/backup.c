/* backup.c - ix_backup: a compacted hot copy of the store, made from one
 * read snapshot while the writer goes on, and checked by opening it.
 */
#include "internal.h"

#include <fcntl.h>
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

int
ix_backup(ix_env_t *e, const char *dir, ix_backup_info_t *out)
{
    if (!e || !dir || !out)
        return -EINVAL;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;

    /* The copy reads through its own transaction, which holds the map
     * (map_lock) for the whole run. */
    pthread_rwlock_rdlock(&e->map_lock);
    ix_long_read_begin(e);
    int rc = mdb_env_copyfd2(e->env, fd, MDB_CP_COMPACT);
    ix_long_read_end(e);
    pthread_rwlock_unlock(&e->map_lock);
    rc = rc > 0 ? -rc : ix_mdb_err(rc);

    struct stat st;
    if (rc == 0 && (fsync(fd) != 0 || fstat(fd, &st) != 0))
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0) {
        /* The new file's directory entry must reach the disk too. */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0)
            rc = -errno;
        if (dfd >= 0)
            close(dfd);
    }
    if (rc == 0)
        rc = copy_last_seq(dir, &out->last_seq);
    if (rc != 0) {
        unlink(path);
        return rc;
    }
    out->bytes = (uint64_t)st.st_size;
    return 0;
}
