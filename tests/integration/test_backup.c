/* test_backup.c - admin.backup: a hot copy taken while a client keeps
 * writing holds everything acknowledged before it was asked for, and a
 * daemon started on it (restored as docs/operations.md says) serves it and
 * passes admin.check; where a copy may not go; who may ask. */
#define _GNU_SOURCE  /* nftw */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "files.h"
#include "wire.h"

/* Writes batches of 1,000 vacancies bulk-<batch>-<i> in region, with
 * occupation and skills; a second call replaces the first's records. */
static void
put_bulk_as(jm_client_t *c, int batches, const char *region, const char *occupation,
            const char *skills)
{
    for (int b = 0; b < batches; b++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "bulk-%d", b);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        jt_args_vacancies(&sb, prefix, 1000, region, occupation, skills);
        jt_call_ok(c, "vacancy.put_many", &sb);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* Batches of 1,000 vacancies: enough that a copy of the store takes a
 * while. */
static void
put_bulk(jm_client_t *c, int batches)
{
    put_bulk_as(c, batches, "320102", "2-02-01-00", "a:3,b:2,c:4,d:1");
}

/* One client writing vacancies w-0, w-1, ... one at a time until told to
 * stop; `acked` is how many were acknowledged. */
typedef struct writer {
    const jt_daemon_t *d;
    atomic_int acked;
    atomic_bool stop;
} writer_t;

static void *
write_on(void *arg)
{
    writer_t *w = arg;
    jm_client_t *c = jt_connect_admin(w->d);
    for (int i = 0; !atomic_load(&w->stop); i++) {
        char id[32];
        snprintf(id, sizeof id, "w-%d", i);
        jt_put_vacancy(c, id, i % 2 ? "110105" : "440305", "6-05-02-03",
                       "weld:3,cnc:2,forklift:1");
        atomic_store(&w->acked, i + 1);
    }
    jm_close(c);
    return NULL;
}

Test(backup, hot_copy_while_writing_restores, .timeout = 120)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    /* Bulk first, so the copy takes long enough to overlap the writes. */
    put_bulk(c, 10);
    jm_reply_t *r = jt_call_json(c, "vacancy.delete", "{\"id\": \"bulk-0-0\"}");
    jt_expect_ok(r, "delete");
    jm_reply_free(r);

    writer_t w = {.d = d};
    pthread_t t;
    pthread_create(&t, NULL, write_on, &w);
    while (atomic_load(&w.acked) < 50)
        usleep(1000);

    char root[] = "/tmp/jm-backup-test.XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char path[300];
    snprintf(path, sizeof path, "%s/copy", root);
    int acked_before = atomic_load(&w.acked);
    uint64_t seq_before = jt_admin_count(c, "changelog_seq");
    r = jt_call_json(c, "admin.backup", "{\"path\": \"%s\"}", path);
    int acked_after = atomic_load(&w.acked);
    atomic_store(&w.stop, true);
    pthread_join(t, NULL);
    jt_expect_ok(r, "admin.backup");
    cr_assert_str_eq(jt_get_str(&r->result, "path"), path);
    int64_t bytes = jt_get_int(&r->result, "bytes");
    uint64_t seq = (uint64_t)jt_get_int(&r->result, "changelog_seq");
    cr_assert_geq(seq, seq_before, "the copy misses changes acknowledged before it");
    cr_assert_geq(jt_get_double(&r->result, "seconds"), 0.0);
    cr_assert_gt(jt_get_int(&r->result, "started"), 0);
    jm_reply_free(r);
    /* Usually some writes are acknowledged while the copy runs; on a busy
     * machine the copy may be quicker than one write. */
    cr_log_info("%d writes acknowledged while the backup ran", acked_after - acked_before);

    char file[340];
    snprintf(file, sizeof file, "%s/data.mdb", path);
    struct stat st;
    cr_assert_eq(stat(file, &st), 0, "%s: %s", file, strerror(errno));
    cr_assert_eq(st.st_size, bytes);
    /* The copy is its own store: nothing but data.mdb (no lock file). */
    char lock[340];
    snprintf(lock, sizeof lock, "%s/lock.mdb", path);
    cr_assert_neq(stat(lock, &st), 0, "a lock file was left in the backup");

    /* The same path again is refused; the first copy is untouched. */
    r = jt_call_json(c, "admin.backup", "{\"path\": \"%s\"}", path);
    jt_expect_error(r, "bad_request", "path: already exists");
    jm_reply_free(r);
    jt_expect_check_clean(c, "on the live store");
    jm_close(c);
    /* The secret key is kept apart from the data and outlives the daemon. */
    char key[300];
    snprintf(key, sizeof key, "%s/secret.key", root);
    cr_assert_eq(link(d->key_file, key), 0);
    cr_assert_eq(jt_daemon_stop(d), 0);

    /* Restore: data.mdb alone in an empty data directory, started with the
     * store's own secret key. */
    char restore[300];
    snprintf(restore, sizeof restore, "%s/restored", root);
    cr_assert_eq(mkdir(restore, 0700), 0);
    char dest[340];
    snprintf(dest, sizeof dest, "%s/data.mdb", restore);
    jt_copy_file(file, dest);
    const char *args[] = {"--data", restore, "--secret-key-file", key, NULL};
    jt_daemon_t *d2 = jt_daemon_start(args);
    c = jt_connect_admin(d2);
    jt_expect_check_clean(c, "on the restored copy");
    cr_assert_eq(jt_admin_count(c, "changelog_seq"), seq);
    for (int i = 0; i < acked_before; i++) {
        char id[32];
        snprintf(id, sizeof id, "w-%d", i);
        r = jt_call_json(c, "vacancy.get", "{\"id\": \"%s\"}", id);
        jt_expect_ok(r, id);
        jm_reply_free(r);
    }
    r = jt_call_json(c, "vacancy.get", "{\"id\": \"bulk-9-999\"}");
    jt_expect_ok(r, "bulk-9-999");
    jm_reply_free(r);
    r = jt_call_json(c, "vacancy.get", "{\"id\": \"bulk-0-0\"}");
    jt_expect_error(r, "not_found", "bulk-0-0");
    jm_reply_free(r);
    uint64_t n = jt_admin_count(c, "vacancies");
    cr_assert_geq(n, 9999u + (uint64_t)acked_before);
    cr_assert_leq(n, 9999u + (uint64_t)acked_after);
    /* The restored store takes writes. */
    jt_put_vacancy(c, "after-restore", "110105", "6-05-02-03", "weld:3");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d2), 0);
    jt_remove_tree(root);
}

Test(backup, refuses_where_a_copy_may_not_go, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jm_reply_t *r = jt_call_json(c, "admin.backup", "{}");
    jt_expect_error(r, "bad_request", "path");
    jm_reply_free(r);
    r = jt_call_json(c, "admin.backup", "{\"path\": \"relative/copy\"}");
    jt_expect_error(r, "bad_request", "path: must be an absolute path");
    jm_reply_free(r);
    r = jt_call_json(c, "admin.backup", "{\"path\": \"/nonexistent-jm-dir/copy\"}");
    jt_expect_error(r, "bad_request", "path: the parent directory");
    jm_reply_free(r);
    r = jt_call_json(c, "admin.backup", "{\"path\": \"%s/inside\"}", d->dir);
    jt_expect_error(r, "bad_request", "path: must be outside the data directory");
    jm_reply_free(r);
    r = jt_call_json(c, "admin.backup", "{\"path\": \"%s/./x/..\"}", d->dir);
    jt_expect_error(r, "bad_request", "path: must name a new directory");
    jm_reply_free(r);
    r = jt_call_json(c, "admin.backup", "{\"path\": \"/tmp\"}");
    jt_expect_error(r, "bad_request", "path: already exists");
    jm_reply_free(r);
    char inside[300];
    snprintf(inside, sizeof inside, "%s/sub", d->dir);
    cr_assert_eq(mkdir(inside, 0700), 0);
    r = jt_call_json(c, "admin.backup", "{\"path\": \"%s/../sub/copy\"}", inside);
    jt_expect_error(r, "bad_request", "path: must be outside the data directory");
    jm_reply_free(r);
    /* Nothing was created, and the connection goes on. */
    struct stat st;
    char copy[340];
    snprintf(copy, sizeof copy, "%s/copy", inside);
    cr_assert_neq(stat(copy, &st), 0);
    r = jt_call_json(c, "ping", "{}");
    jt_expect_ok(r, "ping");
    jm_reply_free(r);
    jm_close(c);

    /* Only the admin may ask. */
    jm_client_t *kiosk = jt_connect(d);
    r = jt_call_json(kiosk, "admin.backup", "{\"path\": \"/tmp/jm-never\"}");
    jt_expect_error(r, "forbidden", "admin.backup");
    jm_reply_free(r);
    jm_close(kiosk);
    cr_assert_neq(stat("/tmp/jm-never", &st), 0);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* Requests pipelined behind a backup on its connection are answered after
 * it, in order, and see the store as it is then. */
Test(backup, pipelined_requests_wait_their_turn, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    jt_put_vacancy(c, "v-1", "110105", "6-05-02-03", "weld:3");
    char root[] = "/tmp/jm-backup-test.XXXXXX";
    cr_assert_not_null(mkdtemp(root));

    int fd = jt_raw_connect(d);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    const char *ops[] = {"hello", "admin.backup", "vacancy.put", "vacancy.get"};
    for (unsigned i = 0; i < 4; i++) {
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 3);
        jt_pack_kv_int(&pk, "id", i + 1);
        jt_pack_kv_str(&pk, "op", ops[i]);
        jt_pack_str(&pk, "args");
        if (i == 0) {
            msgpack_pack_map(&pk, 2);
            jt_pack_kv_int(&pk, "protocol", 1);
            jt_pack_kv_str(&pk, "key", JT_ADMIN_KEY);
        } else if (i == 1) {
            char path[300];
            snprintf(path, sizeof path, "%s/copy", root);
            msgpack_pack_map(&pk, 1);
            jt_pack_kv_str(&pk, "path", path);
        } else if (i == 2) {
            msgpack_pack_map(&pk, 1);
            jt_pack_str(&pk, "vacancy");
            jt_pack_vacancy(&pk, "v-2", "110105", "6-05-02-03", "weld:3");
        } else {
            msgpack_pack_map(&pk, 1);
            jt_pack_kv_str(&pk, "id", "v-2");
        }
        jt_raw_send_frame(fd, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    for (int i = 1; i <= 4; i++) {
        msgpack_zone zone;
        msgpack_zone_init(&zone, 4096);
        msgpack_object o;
        cr_assert_eq(jt_raw_read_frame(fd, &zone, &o), 0, "reply %d", i);
        cr_assert_eq(jt_get_int(&o, "id"), i, "replies out of order");
        cr_assert(jt_get_bool(&o, "ok"), "reply %d is an error", i);
        if (i == 4)  /* the put behind the backup landed before the get */
            cr_assert_str_eq(jt_get_str(jt_need(jt_need(&o, "result"), "vacancy"), "id"), "v-2");
        msgpack_zone_destroy(&zone);
    }
    close(fd);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
    jt_remove_tree(root);
}

/* With backup_dir configured, a bare name is a copy inside it. */
Test(backup, a_bare_name_goes_into_backup_dir, .timeout = 60)
{
    char root[] = "/tmp/jm-backup-test.XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    const char *args[] = {"--backup-dir", root, NULL};
    jt_daemon_t *d = jt_daemon_start(args);
    jm_client_t *c = jt_connect_admin(d);
    jt_put_vacancy(c, "v-1", "110105", "6-05-02-03", "weld:3");
    jm_reply_t *r = jt_call_json(c, "admin.backup", "{\"path\": \"nightly\"}");
    jt_expect_ok(r, "admin.backup nightly");
    char want[300];
    snprintf(want, sizeof want, "%s/nightly", root);
    cr_assert_str_eq(jt_get_str(&r->result, "path"), want);
    cr_assert_eq(jt_get_int(&r->result, "changelog_seq"), 1);
    jm_reply_free(r);
    r = jt_call_json(c, "admin.backup", "{\"path\": \"nightly/again\"}");
    jt_expect_error(r, "bad_request", "a name without '/'");
    jm_reply_free(r);
    r = jt_call_json(c, "admin.backup", "{\"path\": \"..\"}");
    jt_expect_error(r, "bad_request", "path:");
    jm_reply_free(r);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
    jt_remove_tree(root);
}

/* A SIGTERM during a backup does not wait for it: the daemon drains and
 * exits cleanly, the backup is answered (done, or cancelled and removed). */
Test(backup, sigterm_during_a_backup, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    put_bulk(c, 20);
    jm_close(c);
    char root[] = "/tmp/jm-backup-test.XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char path[300];
    snprintf(path, sizeof path, "%s/copy", root);

    int fd = jt_raw_connect(d);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    jt_pack_kv_int(&pk, "id", 1);
    jt_pack_kv_str(&pk, "op", "hello");
    jt_pack_str(&pk, "args");
    msgpack_pack_map(&pk, 2);
    jt_pack_kv_int(&pk, "protocol", 1);
    jt_pack_kv_str(&pk, "key", JT_ADMIN_KEY);
    jt_raw_send_frame(fd, sb.data, sb.size);
    sb.size = 0;
    msgpack_pack_map(&pk, 3);
    jt_pack_kv_int(&pk, "id", 2);
    jt_pack_kv_str(&pk, "op", "admin.backup");
    jt_pack_str(&pk, "args");
    msgpack_pack_map(&pk, 1);
    jt_pack_kv_str(&pk, "path", path);
    jt_raw_send_frame(fd, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    /* The backup has begun once its directory exists. */
    struct stat st;
    for (int i = 0; i < 10000 && stat(path, &st) != 0; i++)
        usleep(100);
    cr_assert_eq(jt_daemon_term(d), 0, "the daemon did not exit cleanly");

    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object o;
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &o), 0, "hello reply");
    cr_assert_eq(jt_raw_read_frame(fd, &zone, &o), 0, "the backup was not answered");
    cr_assert_eq(jt_get_int(&o, "id"), 2);
    char file[340];
    snprintf(file, sizeof file, "%s/data.mdb", path);
    if (jt_get_bool(&o, "ok")) {
        cr_assert_eq(stat(file, &st), 0, "an acknowledged backup has no file");
    } else {
        const msgpack_object *err = jt_need(&o, "error");
        cr_assert_str_eq(jt_get_str(err, "code"), "internal");
        cr_assert(strstr(jt_get_str(err, "message"), "cancelled"), "%s",
                  jt_get_str(err, "message"));
        cr_assert_neq(stat(path, &st), 0, "a cancelled backup left its directory");
        cr_log_info("the backup was cancelled");
    }
    msgpack_zone_destroy(&zone);
    close(fd);
    /* The store is whole. */
    cr_assert_eq(jt_daemon_restart(d), -1);
    c = jt_connect_admin(d);
    jt_expect_check_clean(c, "after the shutdown");
    cr_assert_eq(jt_admin_count(c, "vacancies"), 20000u);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
    jt_remove_tree(root);
}

/* A daemon killed during a backup leaves no data.mdb that looks whole:
 * the copy is written as data.mdb.partial and renamed only once whole. */
Test(backup, a_kill_during_a_backup_leaves_no_data_mdb, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    put_bulk(c, 20);
    char root[] = "/tmp/jm-backup-test.XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char path[300], file[340], partial[360];
    snprintf(path, sizeof path, "%s/copy", root);
    snprintf(file, sizeof file, "%s/data.mdb", path);
    snprintf(partial, sizeof partial, "%s/data.mdb.partial", path);
    char args[400];
    snprintf(args, sizeof args, "{\"path\": \"%s\"}", path);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    jt_args_json(&sb, "%s", args);
    cr_assert_eq(jm_send(c, "admin.backup", sb.data, sb.size, NULL), 0);
    msgpack_sbuffer_destroy(&sb);
    struct stat st;
    for (int i = 0; i < 100000 && stat(partial, &st) != 0; i++)
        usleep(50);
    cr_assert_eq(stat(partial, &st), 0, "the copy is not written as data.mdb.partial");
    jt_daemon_kill9(d);
    struct stat whole_st, cut_st;
    bool whole = stat(file, &whole_st) == 0, cut = stat(partial, &cut_st) == 0;
    /* Both names only between the link and the unlink: the same file. */
    cr_assert(!(whole && cut) || whole_st.st_ino == cut_st.st_ino,
              "data.mdb beside another data.mdb.partial");
    cr_log_info("killed %s the rename", whole ? "after" : "before");
    jm_close(c);
    jt_remove_tree(root);
    cr_assert_eq(jt_daemon_restart(d), -1);  /* it was not running */
    c = jt_connect_admin(d);
    jt_expect_check_clean(c, "after the kill");
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* Compaction as docs/operations.md says ("Compaction"): with the daemon
 * stopped, `mdb_copy -c` writes the store without its free pages, the
 * copy replaces data.mdb, and the daemon started on it serves the same
 * records and passes admin.check. */
Test(backup, an_offline_compaction_keeps_every_record_in_a_smaller_file, .timeout = 120)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(d);
    put_bulk(c, 4);
    /* Replacing every record with other postings leaves free pages. */
    put_bulk_as(c, 4, "110105", "6-05-02-03", "e:2,f:3");
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0, "the daemon did not exit cleanly");

    char data[300], compact[300], compact_data[320], cmd[700];
    snprintf(data, sizeof data, "%s/data.mdb", d->dir);
    snprintf(compact, sizeof compact, "%s.compact", d->dir);
    snprintf(compact_data, sizeof compact_data, "%s/data.mdb", compact);
    cr_assert_eq(mkdir(compact, 0700), 0, "%s: %s", compact, strerror(errno));
    snprintf(cmd, sizeof cmd, "mdb_copy -c '%s' '%s'", d->dir, compact);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
    struct stat before, after;
    cr_assert_eq(stat(data, &before), 0);
    cr_assert_eq(stat(compact_data, &after), 0);
    cr_log_info("data.mdb: %lld bytes, compacted %lld", (long long)before.st_size,
                (long long)after.st_size);
    cr_assert_lt(after.st_size, before.st_size, "the compacted copy is no smaller");
    cr_assert_eq(rename(compact_data, data), 0, "%s", strerror(errno));
    cr_assert_eq(rmdir(compact), 0, "%s", strerror(errno));

    cr_assert_eq(jt_daemon_restart(d), -1);
    c = jt_connect_admin(d);
    jt_expect_check_clean(c, "after the compaction");
    cr_assert_eq(jt_admin_count(c, "vacancies"), 4000u);
    jm_reply_t *rep = jt_call_json(c, "vacancy.get", "{\"id\": \"bulk-3-999\"}");
    jt_expect_ok(rep, "vacancy.get");
    const msgpack_object *v = jt_need(&rep->result, "vacancy");
    cr_assert_str_eq(jt_get_str(v, "region"), "110105");
    jm_reply_free(rep);
    jt_put_vacancy(c, "after-compaction", "110105", "6-05-02-03", "weld:4");
    cr_assert_eq(jt_admin_count(c, "vacancies"), 4001u);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
