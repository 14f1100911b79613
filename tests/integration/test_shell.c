/* test_shell.c - `jobmatch` with no command, driven through a pseudo-
 * terminal as a counselor would use it: Tab completion of commands and
 * options, a match table with a reason per line, the built-in pager on a
 * long listing, a Chinese job title, an error that leaves the shell
 * running, history kept in the home directory, and Ctrl-D to leave. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "daemon.h"
#include "wire.h"

#define N_VACANCIES 30   /* longer than the 12-row terminal */
#define WAIT_MS 10000

typedef struct term {
    pid_t pid;
    int fd;
    char *seen;          /* everything the shell wrote since the last mark */
    size_t len, cap;
} term_t;

static void
term_open(term_t *t, const jt_daemon_t *d, const char *home)
{
    const char *bin = getenv("JOBMATCH_CLI");
    cr_assert(bin && *bin, "JOBMATCH_CLI is not set");
    struct winsize ws = {.ws_row = 12, .ws_col = 200};
    memset(t, 0, sizeof *t);
    t->pid = forkpty(&t->fd, NULL, NULL, &ws);
    cr_assert_geq(t->pid, 0, "forkpty: %s", strerror(errno));
    if (t->pid == 0) {
        setenv("HOME", home, 1);
        setenv("TERM", "vt100", 1);
        setenv("LC_ALL", "C.UTF-8", 1);
        unsetenv("PAGER");
        execl(bin, bin, "-a", d->addr, "-k", JT_ADMIN_KEY, (char *)NULL);
        _exit(127);
    }
}

/* Reads what the shell writes until want appears (then forgets what came
 * before it), failing the test after WAIT_MS. */
static void
expect(term_t *t, const char *want)
{
    int64_t deadline = jt_now_ms() + WAIT_MS;
    for (;;) {
        if (t->seen && memmem(t->seen, t->len, want, strlen(want))) {
            char *at = memmem(t->seen, t->len, want, strlen(want)) + strlen(want);
            t->len -= (size_t)(at - t->seen);
            memmove(t->seen, at, t->len);
            t->seen[t->len] = '\0';
            return;
        }
        int64_t left = deadline - jt_now_ms();
        cr_assert_gt(left, 0, "waited for \"%s\"; the shell wrote:\n%.*s", want, (int)t->len,
                     t->seen ? t->seen : "");
        struct pollfd p = {.fd = t->fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        if (t->cap - t->len < 4097) {
            t->cap = t->cap ? t->cap * 2 : 65536;
            t->seen = realloc(t->seen, t->cap);
            cr_assert_not_null(t->seen);
        }
        ssize_t n = read(t->fd, t->seen + t->len, 4096);
        cr_assert_gt(n, 0, "the shell closed the terminal while we waited for \"%s\"", want);
        t->len += (size_t)n;
        t->seen[t->len] = '\0';
    }
}

static void
type(term_t *t, const char *keys)
{
    cr_assert_eq(write(t->fd, keys, strlen(keys)), (ssize_t)strlen(keys));
}

/* Waits until the line editor has the terminal in raw mode. Keys typed
 * before that meet the terminal's own line discipline, which turns a
 * Ctrl-D on an empty line into an end-of-file mark the editor never sees
 * as Ctrl-D (a person cannot type that fast after a prompt). */
static void
wait_raw(term_t *t)
{
    struct termios tio;
    int64_t deadline = jt_now_ms() + WAIT_MS;
    while (tcgetattr(t->fd, &tio) == 0 && (tio.c_lflag & ICANON)) {
        cr_assert_lt(jt_now_ms(), deadline, "the line editor never took the terminal");
        jt_sleep_ms(5);
    }
}

/* Waits for the shell to exit; returns its status. */
static int
term_wait(term_t *t)
{
    int status = -1;
    fcntl(t->fd, F_SETFL, fcntl(t->fd, F_GETFL) | O_NONBLOCK);
    for (int i = 0; i < WAIT_MS / 10; i++) {
        ssize_t n;
        /* Keep reading, so the shell never blocks on a full terminal. */
        do {
            if (t->cap - t->len < 4097) {
                t->cap = t->cap ? t->cap * 2 : 65536;
                t->seen = realloc(t->seen, t->cap);
                cr_assert_not_null(t->seen);
            }
            n = read(t->fd, t->seen + t->len, 4096);
            if (n > 0)
                t->len += (size_t)n;
        } while (n > 0);
        pid_t got = waitpid(t->pid, &status, WNOHANG);
        if (got == t->pid)
            break;
        jt_sleep_ms(10);
    }
    if (!WIFEXITED(status))
        kill(t->pid, SIGKILL);
    cr_assert(WIFEXITED(status), "the shell did not exit; it wrote:\n%.*s", (int)t->len,
              t->seen ? t->seen : "");
    close(t->fd);
    free(t->seen);
    return WEXITSTATUS(status);
}

static void
load(jt_daemon_t *d)
{
    jm_client_t *c = jt_connect_admin(d);
    for (int i = 1; i <= N_VACANCIES; i++) {
        jm_reply_t *r = jt_call_json(
            c, "vacancy.put",
            "{\"vacancy\": {\"id\": \"v%02d\", \"employer\": \"Acme\", \"title\": \"焊工\","
            " \"occupation\": \"6-18-02-04\", \"region\": \"110105\","
            " \"skills\": [{\"id\": \"weld\", \"level\": %d}]}}",
            i, 1 + i % 5);
        jt_expect_ok(r, "vacancy.put");
        jm_reply_free(r);
    }
    jm_reply_t *r = jt_call_json(
        c, "worker.put",
        "{\"worker\": {\"id\": \"w1\", \"birth_year\": 1990, \"region\": \"110105\","
        " \"skills\": [{\"id\": \"weld\", \"level\": 4}],"
        " \"desired_occupations\": [\"6-18-02-04\"]}}");
    jt_expect_ok(r, "worker.put");
    jm_reply_free(r);
    jm_close(c);
}

Test(shell, a_counselor_session_through_a_terminal, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    load(d);
    char home[] = "/tmp/jm-shell-home.XXXXXX";
    cr_assert_not_null(mkdtemp(home));

    term_t t;
    term_open(&t, d, home);
    expect(&t, "jobmatch> ");

    /* Tab completes a command name... */
    type(&t, "pi\t\r");
    expect(&t, "pong");
    expect(&t, "jobmatch> ");

    /* ...and a command's subcommands and options; a match table says
     * why each vacancy matches, without --why. */
    type(&t, "mat\tvac\t--wor\tw1 --scope all --limit 3\r");
    /* The editor redraws the completed words with cursor moves between
     * them: what completion added shows as the rest of each word. */
    expect(&t, "ch");
    expect(&t, "ancies");
    expect(&t, "ker w1 --scope all");
    expect(&t, "rank");
    expect(&t, "why");
    expect(&t, "shares weld");
    expect(&t, "jobmatch> ");

    /* A listing longer than the screen stops at the pager's prompt. */
    type(&t, "list vacancies --all\r");
    expect(&t, "\"v01\"");
    expect(&t, "-- more");
    cr_assert_null(memmem(t.seen, t.len, "\"v30\"", 5), "the pager showed everything");
    type(&t, " ");            /* the next page */
    expect(&t, "\"v1");
    expect(&t, "-- more");
    type(&t, "q");
    expect(&t, "jobmatch> ");
    cr_assert_null(memmem(t.seen, t.len, "\"v30\"", 5), "q stops the pager");

    /* A page of a listing, then the way on: after the records. */
    type(&t, "list vacancies --limit 2\r");
    expect(&t, "\"v02\"");  /* forgets what came before */
    expect(&t, "more vacancies follow");
    expect(&t, "jobmatch> ");

    /* Chinese text through the line editor. */
    type(&t, "suggest 外卖骑手 --limit 3\r");
    expect(&t, "4-10-08-01");
    expect(&t, "网约配送员");
    expect(&t, "jobmatch> ");

    /* Errors are reported and the shell goes on. */
    type(&t, "get vacancy nope\r");
    expect(&t, "not_found");
    expect(&t, "jobmatch> ");
    type(&t, "frobnicate\r");
    expect(&t, "unknown command \"frobnicate\"");
    expect(&t, "jobmatch> ");
    type(&t, "suggest '\r");
    expect(&t, "unterminated");
    expect(&t, "jobmatch> ");

    wait_raw(&t);
    type(&t, "\x04");         /* Ctrl-D */
    cr_assert_eq(term_wait(&t), 0);

    /* The history went to the home directory... */
    char path[300], cmd[400];
    snprintf(path, sizeof path, "%s/.jobmatch_history", home);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no history file");
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    cr_assert_not_null(strstr(buf, "ping"), "history: %s", buf);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "history mode %o", st.st_mode & 0777);

    /* ...and a new shell has it: Up brings back the last line. */
    term_open(&t, d, home);
    expect(&t, "jobmatch> ");
    type(&t, "\033[A");
    expect(&t, "suggest '");
    type(&t, "\r");
    expect(&t, "unterminated");
    expect(&t, "jobmatch> ");
    type(&t, "quit\r");
    cr_assert_eq(term_wait(&t), 0);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    cr_assert_eq(system(cmd), 0);
    jt_daemon_stop(d);
}

Test(shell, without_a_terminal_a_missing_command_is_a_usage_error)
{
    jt_daemon_t *d = jt_daemon_start(NULL);
    const char *bin = getenv("JOBMATCH_CLI");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' -a %s </dev/null >/dev/null 2>&1", bin, d->addr);
    int status = system(cmd);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 2);
    jt_daemon_stop(d);
}
