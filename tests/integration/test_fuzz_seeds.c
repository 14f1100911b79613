/* test_fuzz_seeds.c - the request fuzzer's seed corpus covers every
 * operation of the server's table with a request the live daemon accepts,
 * so that fuzzing starts from each operation's valid shape (and an
 * operation added later without a seed is noticed here). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "daemon.h"
#include "wire.h"

#define SEED_DIR "tests/fuzz/corpus/request"

static char *
read_seed(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    char *buf = malloc(1 << 20);
    cr_assert_not_null(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

/* The records, the fair, the referral and the alert subscriptions (1 and
 * 2) the seeds refer to, as the fuzz harness preloads them. */
static void
put_seed_records(jm_client_t *c)
{
    jm_reply_t *r = jt_call_json(
        c, "vacancy.put",
        "{\"vacancy\": {\"id\": \"v-1\", \"employer\": \"Acme\", \"title\": \"Welder\","
        " \"occupation\": \"6-05-02-03\", \"region\": \"110105\","
        " \"skills\": [{\"id\": \"weld\", \"level\": 3}], \"priority_categories\": [\"laid_off\"]}}");
    jt_expect_ok(r, "seed vacancy");
    jm_reply_free(r);
    r = jt_call_json(
        c, "worker.put",
        "{\"worker\": {\"id\": \"w-1\", \"name\": \"Li Lei\", \"birth_year\": 1990,"
        " \"region\": \"110105\", \"skills\": [{\"id\": \"weld\", \"level\": 4}],"
        " \"desired_occupations\": [\"6-05\"], \"category\": \"laid_off\"}}");
    jt_expect_ok(r, "seed worker");
    jm_reply_free(r);
    r = jt_call_json(c, "fair.create", "{\"id\": \"fair-1\", \"name\": \"Fair\"}");
    cr_assert(r->ok || strcmp(r->error_code, "conflict") == 0, "seed fair: %s", r->error_code);
    jm_reply_free(r);
    r = jt_call_json(c, "fair.register",
                     "{\"fair\": \"fair-1\", \"vacancies\": [\"v-1\"], \"workers\": [\"w-1\"]}");
    jt_expect_ok(r, "seed fair members");
    jm_reply_free(r);
    r = jt_call_json(c, "vacancy.put",
                     "{\"vacancy\": {\"id\": \"v-9\", \"employer\": \"Acme\", \"title\": \"Fitter\","
                     " \"occupation\": \"6-05-02-03\", \"region\": \"110105\", \"headcount\": 1000}}");
    jt_expect_ok(r, "seed vacancy v-9");
    jm_reply_free(r);
    /* r-1, once; later runs find it open (conflict) or moved on. */
    r = jt_call_json(c, "referral.create", "{\"worker\": \"w-1\", \"vacancy\": \"v-9\"}");
    cr_assert(r->ok || strcmp(r->error_code, "conflict") == 0, "seed referral: %s", r->error_code);
    jm_reply_free(r);
    static bool subscribed;
    for (int i = 0; i < 2 && !subscribed; i++) {
        r = jt_call_json(c, "alert.subscribe", "{\"worker\": \"w-1\"}");
        jt_expect_ok(r, "seed subscription");
        jm_reply_free(r);
    }
    subscribed = true;
}

Test(fuzz_seeds, every_operation_has_a_seed_the_daemon_accepts, .timeout = 120)
{
    const char *src = getenv("JOBMATCH_SOURCE");
    cr_assert_not_null(src, "JOBMATCH_SOURCE is not set (ctest sets it)");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/" SEED_DIR, src);

    /* admin.backup's seed names a copy inside the daemon's backup_dir. */
    char backups[] = "/tmp/jm-seed-backups.XXXXXX";
    cr_assert_not_null(mkdtemp(backups));
    const char *args[] = {"--backup-dir", backups, NULL};
    jt_daemon_t *d = jt_daemon_start_ini("[keys]\ndesk = counselor:desk-key\n", args);
    size_t n_ops;
    const en_command_t *ops = en_commands(&n_ops);
    cr_assert_gt(n_ops, 0);
    bool *seeded = calloc(n_ops, sizeof *seeded);

    DIR *dh = opendir(dir);
    cr_assert_not_null(dh, "cannot open %s", dir);
    unsigned n_seeds = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (strncmp(e->d_name, "op-", 3) != 0)
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *body = read_seed(path, &len);

        /* A fresh admin connection and the records in place, so each seed
         * runs alone whatever the others did (deletes included). */
        jm_client_t *c = jt_connect_admin(d);
        put_seed_records(c);
        cr_assert_eq(jm_send_raw(c, body, len), 0, "%s: %s", e->d_name, c->errstr);
        jm_reply_t *r = NULL;
        int rc = jm_recv(c, &r);
        cr_assert(rc == 0 || rc == JM_ESERVER, "%s: %s", e->d_name, c->errstr);
        cr_assert(r->ok, "seed %s is refused: %s: %s", e->d_name, r->error_code,
                  r->error_message);
        jm_reply_free(r);
        jm_close(c);
        free(body);
        n_seeds++;

        /* op-<name> or op-<name>-<variant>. */
        for (size_t i = 0; i < n_ops; i++) {
            size_t n = strlen(ops[i].name);
            const char *rest = e->d_name + 3;
            if (strncmp(rest, ops[i].name, n) == 0 && (rest[n] == '\0' || rest[n] == '-'))
                seeded[i] = true;
        }
    }
    closedir(dh);
    cr_assert_geq(n_seeds, n_ops);
    for (size_t i = 0; i < n_ops; i++)
        cr_assert(seeded[i],
                  "operation %s has no seed %s/op-%s: add a valid request to "
                  "tests/fuzz/make-seeds.py and run it",
                  ops[i].name, SEED_DIR, ops[i].name);
    free(seeded);
    cr_assert_eq(jt_daemon_stop(d), 0);
    char copy[300];
    snprintf(copy, sizeof copy, "%s/seed-copy/data.mdb", backups);
    unlink(copy);
    snprintf(copy, sizeof copy, "%s/seed-copy", backups);
    rmdir(copy);
    cr_assert_eq(rmdir(backups), 0, "the backup seed left more than its copy");
}
