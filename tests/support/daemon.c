/* daemon.c - runs jobmatchd as a child process for integration tests. */
#define _GNU_SOURCE  /* nftw, prctl */
#include "daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "files.h"
#include "seal.h"

extern char **environ;

const char JT_ADMIN_KEY[] = "test-admin-key-0123456789abcdef";

/* Every daemon this process started and has not yet stopped, so that an
 * aborted test still cleans up at exit. */
#define JT_MAX_DAEMONS 16
static jt_daemon_t *live[JT_MAX_DAEMONS];
static bool atexit_registered;

int64_t
jt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
jt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void
kill_leftovers(void)
{
    for (int i = 0; i < JT_MAX_DAEMONS; i++) {
        jt_daemon_t *d = live[i];
        if (!d)
            continue;
        if (d->pid > 0) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, NULL, 0);
        }
        jt_remove_tree(d->dir);
        if (d->key_file[0])
            unlink(d->key_file);
        live[i] = NULL;
    }
}

static void
track(jt_daemon_t *d)
{
    if (!atexit_registered) {
        atexit(kill_leftovers);
        atexit_registered = true;
    }
    for (int i = 0; i < JT_MAX_DAEMONS; i++) {
        if (!live[i]) {
            live[i] = d;
            return;
        }
    }
    cr_assert_fail("more than %d test daemons at once", JT_MAX_DAEMONS);
}

static void
untrack(jt_daemon_t *d)
{
    for (int i = 0; i < JT_MAX_DAEMONS; i++)
        if (live[i] == d)
            live[i] = NULL;
}

/* Turns a waitpid status into the number jt_daemon_stop() reports. */
static int
exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

/* The child's environment: ours, with JOBMATCH_ADMIN_KEY replaced. Built
 * before fork so the child only has to exec. */
static char **
child_environment(void)
{
    static char key_var[128];
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    cr_assert_not_null(env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "JOBMATCH_ADMIN_KEY=", 19) != 0)
            env[k++] = environ[i];
    snprintf(key_var, sizeof key_var, "JOBMATCH_ADMIN_KEY=%s", JT_ADMIN_KEY);
    env[k++] = key_var;
    env[k] = NULL;
    return env;
}

/* Reads DIR/ready once it exists; returns true with d->addr set. */
static bool
read_ready(jt_daemon_t *d)
{
    char path[300];
    snprintf(path, sizeof path, "%s/ready", d->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[120] = "";
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!ok)
        return false;
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "127.0.0.1:", 10) != 0 || atoi(line + 10) <= 0)
        return false;
    snprintf(d->addr, sizeof d->addr, "%s", line);
    return true;
}

/* Forks and execs the daemon on d->dir (stderr to err_path unless NULL);
 * returns its pid. */
static pid_t
fork_daemon(jt_daemon_t *d, const char *err_path)
{
    const char *bin = getenv("JOBMATCHD");
    cr_assert(bin && *bin,
              "JOBMATCHD is not set: run through ctest, or set it to the "
              "jobmatchd binary (e.g. JOBMATCHD=build/jobmatchd)");
    cr_assert(access(bin, X_OK) == 0, "JOBMATCHD=%s is not executable", bin);

    char ready[300];
    snprintf(ready, sizeof ready, "%s/ready", d->dir);
    unlink(ready);

    const char *fixed[] = {bin, "--listen", "127.0.0.1:0", "--data", d->dir,
                           "--ready-file", ready, "--log-level", "warn",
                           "--secret-key-file", d->key_file[0] ? d->key_file : "none"};
    size_t n_fixed = sizeof fixed / sizeof fixed[0] - (d->key_default ? 2 : 0);
    char **argv = calloc(n_fixed + d->n_args + 1, sizeof *argv);
    cr_assert_not_null(argv);
    for (size_t i = 0; i < n_fixed; i++)
        argv[i] = (char *)fixed[i];
    for (size_t i = 0; i < d->n_args; i++)
        argv[n_fixed + i] = d->args[i];
    char **env = child_environment();
    pid_t parent = getpid();
    char log_path[300];
    snprintf(log_path, sizeof log_path, "%s/stderr", d->dir);

    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* If the test process dies without cleaning up, take the daemon
         * with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (err_path || d->capture_log) {
            int fd = open(err_path ? err_path : log_path,
                          O_WRONLY | O_CREAT | (err_path ? O_TRUNC : O_APPEND) | O_CLOEXEC,
                          0600);
            if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
                _exit(127);
        }
        execve(bin, argv, env);
        _exit(127);
    }
    free(argv);
    free(env);
    return pid;
}

/* Forks and execs the daemon on d->dir, then waits for its ready file. */
static void
spawn(jt_daemon_t *d)
{
    pid_t pid = fork_daemon(d, NULL);
    d->pid = pid;
    char ready[300];
    snprintf(ready, sizeof ready, "%s/ready", d->dir);

    int64_t deadline = jt_now_ms() + JT_START_TIMEOUT_MS;
    for (;;) {
        if (read_ready(d))
            return;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            d->pid = 0;
            cr_assert_fail("jobmatchd exited during start-up with status %d",
                     exit_code(status));
        }
        if (jt_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            d->pid = 0;
            cr_assert_fail("jobmatchd did not write %s within %d ms", ready,
                     JT_START_TIMEOUT_MS);
        }
        jt_sleep_ms(5);
    }
}

/* Which secret key a daemon gets: its own file, made here and named on
 * the command line; none (`--secret-key-file none`); or the daemon's
 * default, which it makes itself at the same place. */
enum key_mode { KEY_OWN, KEY_NONE, KEY_DEFAULT };

static jt_daemon_t *
daemon_new(const char *const *extra_args, size_t n_prefix, enum key_mode key)
{
    jt_daemon_t *d = calloc(1, sizeof *d);
    cr_assert_not_null(d);
    const char *tmp = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/jobmatch-test-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(d->dir), "mkdtemp: %s", strerror(errno));
    if (key != KEY_NONE)
        snprintf(d->key_file, sizeof d->key_file, "%s.secret.key", d->dir);
    d->key_default = key == KEY_DEFAULT;
    if (key == KEY_OWN) {
        char why[600];
        cr_assert_geq(sodium_init(), 0);
        cr_assert_eq(en_seal_key_create(d->key_file, why, sizeof why), 0, "%s", why);
    }
    size_t n = 0;
    while (extra_args && extra_args[n])
        n++;
    d->args = calloc(n_prefix + n + 1, sizeof *d->args);
    cr_assert_not_null(d->args);
    for (size_t i = 0; i < n; i++)
        d->args[n_prefix + i] = strdup(extra_args[i]);
    d->n_args = n_prefix + n;
    track(d);
    return d;
}

jt_daemon_t *
jt_daemon_start(const char *const *extra_args)
{
    jt_daemon_t *d = daemon_new(extra_args, 0, KEY_OWN);
    spawn(d);
    return d;
}

jt_daemon_t *
jt_daemon_start_keyless(const char *const *extra_args)
{
    jt_daemon_t *d = daemon_new(extra_args, 0, KEY_NONE);
    spawn(d);
    return d;
}

jt_daemon_t *
jt_daemon_start_default_key(const char *const *extra_args)
{
    jt_daemon_t *d = daemon_new(extra_args, 0, KEY_DEFAULT);
    spawn(d);
    return d;
}

/* Writes ini_text to DIR/jobmatchd.ini and puts `-c` and its path in the
 * two argument slots daemon_new left first. */
static void
write_ini(jt_daemon_t *d, const char *ini_text)
{
    char path[300];
    snprintf(path, sizeof path, "%s/jobmatchd.ini", d->dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(ini_text, f);
    cr_assert_eq(fclose(f), 0);
    d->args[0] = strdup("-c");
    d->args[1] = strdup(path);
}

jt_daemon_t *
jt_daemon_start_ini(const char *ini_text, const char *const *extra_args)
{
    jt_daemon_t *d = daemon_new(extra_args, 2, KEY_OWN);
    write_ini(d, ini_text);
    spawn(d);
    return d;
}

jt_daemon_t *
jt_daemon_start_logged(const char *ini_text, const char *const *extra_args)
{
    jt_daemon_t *d = daemon_new(extra_args, ini_text ? 2 : 0, KEY_OWN);
    if (ini_text)
        write_ini(d, ini_text);
    d->capture_log = true;
    spawn(d);
    return d;
}

char *
jt_daemon_log(const jt_daemon_t *d)
{
    char path[300];
    snprintf(path, sizeof path, "%s/stderr", d->dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no log at %s (start the daemon with jt_daemon_start_logged)",
                       path);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Waits for pid to exit, up to timeout_ms; SIGKILLs it past that. Returns
 * the exit code, or -2 when it had to be killed. */
static int
reap(pid_t pid, int timeout_ms)
{
    int64_t deadline = jt_now_ms() + timeout_ms;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return exit_code(status);
        if (r < 0)
            return -1;
        if (jt_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -2;
        }
        jt_sleep_ms(5);
    }
}

int
jt_daemon_term(jt_daemon_t *d)
{
    if (d->pid <= 0)
        return -1;
    kill(d->pid, SIGTERM);
    int rc = reap(d->pid, JT_STOP_TIMEOUT_MS);
    d->pid = 0;
    cr_assert_neq(rc, -2, "jobmatchd did not exit within %d ms of SIGTERM",
                  JT_STOP_TIMEOUT_MS);
    return rc;
}

int
jt_daemon_restart(jt_daemon_t *d)
{
    int rc = jt_daemon_term(d);
    spawn(d);
    return rc;
}

int
jt_daemon_start_fails(jt_daemon_t *d, char *err, size_t err_len)
{
    cr_assert_eq(d->pid, 0, "the daemon still runs");
    char err_path[300], ready[300];
    snprintf(err_path, sizeof err_path, "%s/start.err", d->dir);
    snprintf(ready, sizeof ready, "%s/ready", d->dir);
    pid_t pid = fork_daemon(d, err_path);
    int64_t deadline = jt_now_ms() + JT_START_TIMEOUT_MS;
    int status;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (read_ready(d) || jt_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            cr_assert_fail("jobmatchd started although it should have refused to");
        }
        jt_sleep_ms(5);
    }
    err[0] = '\0';
    FILE *f = fopen(err_path, "r");
    if (f) {
        size_t n = fread(err, 1, err_len - 1, f);
        err[n] = '\0';
        fclose(f);
    }
    unlink(err_path);
    return exit_code(status);
}

void
jt_daemon_kill9(jt_daemon_t *d)
{
    if (d->pid <= 0)
        return;
    kill(d->pid, SIGKILL);
    waitpid(d->pid, NULL, 0);
    d->pid = 0;
}

int
jt_daemon_stop(jt_daemon_t *d)
{
    if (!d)
        return -1;
    int rc = jt_daemon_term(d);
    untrack(d);
    jt_remove_tree(d->dir);
    if (d->key_file[0])
        unlink(d->key_file);
    for (size_t i = 0; i < d->n_args; i++)
        free(d->args[i]);
    free(d->args);
    free(d);
    return rc;
}

jm_client_t *
jt_connect(const jt_daemon_t *d)
{
    char err[256] = "";
    jm_client_t *c = jm_connect(d->addr, JT_IO_TIMEOUT_MS, err, sizeof err);
    cr_assert_not_null(c, "connect to %s: %s", d->addr, err);
    return c;
}

jm_client_t *
jt_connect_key(const jt_daemon_t *d, const char *key, const char *want_role)
{
    jm_client_t *c = jt_connect(d);
    char role[32] = "";
    int rc = jm_hello(c, key, role, sizeof role);
    cr_assert_eq(rc, 0, "hello: %s", c->errstr);
    cr_assert_str_eq(role, want_role);
    return c;
}

jm_client_t *
jt_connect_admin(const jt_daemon_t *d)
{
    return jt_connect_key(d, JT_ADMIN_KEY, "admin");
}

long
jt_daemon_mem_kb(const jt_daemon_t *d, const char *field)
{
    cr_assert_gt(d->pid, 0, "the daemon does not run");
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)d->pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    size_t n = strlen(field);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    fclose(f);
    cr_assert_geq(kb, 0, "%s has no %s", path, field);
    return kb;
}

long
jt_daemon_rss_outside_map_kb(const jt_daemon_t *d)
{
    cr_assert_gt(d->pid, 0, "the daemon does not run");
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)d->pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    long kb = 0;
    bool in_map = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            size_t n = strcspn(line, "\n");
            in_map = n >= 8 && memcmp(line + n - 8, "data.mdb", 8) == 0;
        } else if (!in_map && strncmp(line, "Rss:", 4) == 0) {
            kb += strtol(line + 4, NULL, 10);
        }
    }
    fclose(f);
    return kb;
}

bool
jt_instrumented(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return true;
#else
    return getenv("JM_REAL_JOBMATCHD") != NULL;  /* set by valgrind-tests.sh */
#endif
}

int
jt_raw_connect(const jt_daemon_t *d)
{
    const char *colon = strrchr(d->addr, ':');
    cr_assert_not_null(colon);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct timeval tv = {JT_IO_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    cr_assert(connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0,
              "connect to %s: %s", d->addr, strerror(errno));
    return fd;
}

/* A socket bound to a loopback port the system picked (*port), listening
 * or not. */
static int
loopback_socket(int *port, bool listening)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    if (listening)
        cr_assert_eq(listen(fd, 16), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

int
jt_free_port(void)
{
    int port;
    close(loopback_socket(&port, false));
    return port;
}

int
jt_silent_listener(int *port)
{
    return loopback_socket(port, true);
}
