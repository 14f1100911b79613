/* backup.c - admin.backup: checks where the copy goes, then makes it with
 * ix_backup on its own thread and answers through the worker, as the
 * writer answers a write.
 */
#include "backup.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "log.h"

/* Longest `path` accepted as given; resolved, it must leave room for
 * "/data.mdb.partial" within PATH_MAX (below). */
#define EN_BACKUP_PATH_MAX 1024

typedef struct backup {
    en_server_t *srv;
    char path[PATH_MAX];      /* the new directory, canonical */
    int64_t started;
    double seconds;
    ix_backup_info_t info;
} backup_t;

void
en_backup_init(en_backup_slot_t *s)
{
    pthread_mutex_init(&s->lock, NULL);
    s->busy = false;
    s->joinable = false;
}

void
en_backup_finish(en_backup_slot_t *s)
{
    if (s->joinable)
        pthread_join(s->thread, NULL);
    s->joinable = false;
    pthread_mutex_destroy(&s->lock);
}

static double
seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void *
backup_main(void *arg)
{
    en_write_t *job = arg;
    backup_t *b = job->data;
    en_server_t *srv = b->srv;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = ix_backup(srv->ix, b->path, &b->info);
    b->seconds = seconds_since(&t0);
    if (rc == 0) {
        en_info("backup to %s: %llu bytes, changelog seq %llu, %.1f s", b->path,
                (unsigned long long)b->info.bytes,
                (unsigned long long)b->info.last_seq, b->seconds);
    } else {
        /* Leave nothing behind, so the same path can be tried again. */
        rmdir(b->path);
        const char *why = rc == -EIO ? ix_strerror(rc) : strerror(-rc);
        en_warn("backup to %s failed: %s", b->path, why);
        job->failed = true;
        if (rc == -ENOSPC || rc == -EDQUOT)
            pr_fail(&job->err, PR_STORAGE_FULL, "backup: no space left where the copy goes");
        else if (rc == -ECANCELED)
            pr_fail(&job->err, PR_INTERNAL, "backup cancelled: the server is shutting down");
        else
            pr_fail(&job->err, PR_INTERNAL, "backup failed: %s", why);
    }
    /* Free the slot first: the client may ask again as soon as it has
     * the answer. */
    pthread_mutex_lock(&srv->backup.lock);
    srv->backup.busy = false;
    pthread_mutex_unlock(&srv->backup.lock);
    en_worker_complete(job->worker, job);
    return NULL;
}

static void
backup_reply(en_write_t *job, msgpack_packer *pk)
{
    const backup_t *b = job->data;
    msgpack_pack_map(pk, 5);
    pr_pack_cstr(pk, "path");
    pr_pack_cstr(pk, b->path);
    pr_pack_cstr(pk, "bytes");
    msgpack_pack_uint64(pk, b->info.bytes);
    pr_pack_cstr(pk, "changelog_seq");
    msgpack_pack_uint64(pk, b->info.last_seq);
    pr_pack_cstr(pk, "started");
    msgpack_pack_int64(pk, b->started);
    pr_pack_cstr(pk, "seconds");
    msgpack_pack_double(pk, b->seconds);
}

/* Resolves the requested path (absolute, or a bare name inside
 * backup_dir) to its canonical form (the parent must exist; the last
 * component must not) and refuses a place inside the data directory, where
 * the copy would be taken for part of the store. */
static int
resolve_path(en_req_t *req, pr_str_t arg, char *out)
{
    char given[PATH_MAX];
    memcpy(given, arg.ptr, arg.len);
    given[arg.len] = '\0';
    if (strlen(given) != arg.len)
        return pr_fail(&req->err, PR_BAD_REQUEST, "path: must not contain NUL");
    if (given[0] != '/') {
        /* A bare name goes into the configured backup directory. */
        const char *dir = req->srv->cfg->backup_dir;
        if (!dir[0])
            return pr_fail(&req->err, PR_BAD_REQUEST,
                           "path: must be an absolute path (no backup_dir is configured)");
        if (strchr(given, '/') || strcmp(given, ".") == 0 || strcmp(given, "..") == 0)
            return pr_fail(&req->err, PR_BAD_REQUEST,
                           "path: must be an absolute path or a name without '/'");
        char joined[sizeof given];
        if (snprintf(joined, sizeof joined, "%s/%s", dir, given) >= (int)sizeof joined)
            return pr_fail(&req->err, PR_BAD_REQUEST, "path: too long");
        if (joined[0] != '/') {
            /* A relative backup_dir: relative to the daemon's directory. */
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof cwd) ||
                snprintf(given, sizeof given, "%s/%s", cwd, joined) >= (int)sizeof given)
                return pr_fail(&req->err, PR_BAD_REQUEST, "path: too long");
        } else {
            memcpy(given, joined, sizeof given);
        }
    }
    size_t n = strlen(given);
    while (n > 1 && given[n - 1] == '/')
        given[--n] = '\0';
    char *slash = strrchr(given, '/');
    const char *base = slash + 1;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return pr_fail(&req->err, PR_BAD_REQUEST, "path: must name a new directory");
    *slash = '\0';
    char parent[PATH_MAX];
    if (!realpath(given[0] ? given : "/", parent))
        return pr_fail(&req->err, PR_BAD_REQUEST,
                       "path: the parent directory cannot be resolved: %s", strerror(errno));
    if (snprintf(out, PATH_MAX, "%s/%s", strcmp(parent, "/") == 0 ? "" : parent,
                 base) >= PATH_MAX - 32)
        return pr_fail(&req->err, PR_BAD_REQUEST, "path: too long");
    char data[PATH_MAX];
    if (!realpath(req->srv->cfg->data_dir, data))
        return pr_fail(&req->err, PR_INTERNAL, "the data directory cannot be resolved");
    size_t dl = strlen(data);
    if (strncmp(out, data, dl) == 0 && (out[dl] == '/' || out[dl] == '\0' || dl == 1))
        return pr_fail(&req->err, PR_BAD_REQUEST,
                       "path: must be outside the data directory");
    return 0;
}

int
en_op_admin_backup(en_req_t *req)
{
    pr_str_t arg;
    if (pr_get_str(req->rq->args, "path", "path", PR_REQUIRED, 1, EN_BACKUP_PATH_MAX,
                   &arg, &req->err) < 0)
        return -1;
    backup_t *b = calloc(1, sizeof *b);
    if (!b)
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    if (resolve_path(req, arg, b->path) != 0) {
        free(b);
        return -1;
    }
    b->srv = req->srv;
    b->started = req->now;

    en_backup_slot_t *slot = &req->srv->backup;
    pthread_mutex_lock(&slot->lock);
    if (slot->busy) {
        pthread_mutex_unlock(&slot->lock);
        free(b);
        return pr_fail(&req->err, PR_CONFLICT, "a backup is already running");
    }
    if (mkdir(b->path, 0700) != 0) {
        int err = errno;
        pthread_mutex_unlock(&slot->lock);
        free(b);
        if (err == EEXIST)
            return pr_fail(&req->err, PR_BAD_REQUEST, "path: already exists");
        return pr_fail(&req->err, PR_BAD_REQUEST, "path: cannot create the directory: %s",
                       strerror(err));
    }
    char made[PATH_MAX];
    memcpy(made, b->path, sizeof made);
    if (en_job_new(req, b, NULL, backup_reply) != 0) {  /* frees b */
        rmdir(made);
        pthread_mutex_unlock(&slot->lock);
        return -1;
    }
    /* The previous backup's thread has ended or is ending. */
    if (slot->joinable)
        pthread_join(slot->thread, NULL);
    slot->joinable = false;
    if (pthread_create(&slot->thread, NULL, backup_main, req->job) != 0) {
        rmdir(made);
        pthread_mutex_unlock(&slot->lock);
        en_write_free(req->job);
        req->job = NULL;
        return pr_fail(&req->err, PR_INTERNAL, "cannot start the backup thread");
    }
    slot->joinable = true;
    slot->busy = true;
    pthread_mutex_unlock(&slot->lock);
    return 0;
}
