/* test_stale_readers.c - a process killed while reading the store leaves
 * its reader slot behind; the daemon clears it at start and says so. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "index.h"
#include "wire.h"

/* A child process that opens the store in dir (and begins a read when
 * read_txn), tells the parent so, and waits to be killed. */
static pid_t
open_store_in_child(const char *dir, bool read_txn)
{
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        ix_env_t *e;
        ix_txn_t *t;
        ix_options_t o = {.sync = IX_SYNC_NONE};
        if (ix_open(dir, &o, &e) != 0 || (read_txn && ix_read_begin(e, &t) != 0))
            _exit(1);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(ready[1]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the child could not open the store");
    close(ready[0]);
    return pid;
}

static void
kill_child(pid_t pid)
{
    int status;
    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
}

Test(stale_readers, cleared_at_start_and_logged, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start_logged(NULL, NULL);
    jm_client_t *c = jt_connect_admin(d);
    jt_put_vacancy(c, "v-1", "110105", "6-05-02-03", "weld:3");
    jm_close(c);
    cr_assert_eq(jt_daemon_term(d), 0);

    /* The first process to open a store resets its reader table, so the
     * slot stays stale only while another process holds the store open. */
    pid_t holder = open_store_in_child(d->dir, false);
    kill_child(open_store_in_child(d->dir, true));

    cr_assert_eq(jt_daemon_restart(d), -1);
    char *log = jt_daemon_log(d);
    cr_assert(strstr(log, "cleared 1 stale reader slot(s)"), "log: %s", log);
    free(log);
    c = jt_connect_admin(d);
    jt_put_vacancy(c, "v-2", "110105", "6-05-02-03", "weld:3");
    cr_assert_eq(jt_admin_count(c, "vacancies"), 2);
    jm_reply_t *r = jt_call_json(c, "admin.check", "{}");
    jt_expect_ok(r, "admin.check");
    cr_assert(jt_get_bool(&r->result, "ok"), "%s", jt_get_str(&r->result, "report"));
    jm_reply_free(r);
    jm_close(c);
    kill_child(holder);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
