/* test_keys.c - the key file (hashes only, refused when others can read
 * it), `jobmatchd --hash-key`, and SIGHUP reloading every key source. */
#define _GNU_SOURCE  /* mkdtemp */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "wire.h"

static const char DESK_SECRET[] = "desk-secret-0123456789";
static const char PEER_SECRET[] = "peer-secret-9876543210";
static const char HALL_SECRET[] = "hall-secret-abcdefabcdef";

static char dir[128];

static void
make_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/jobmatch-keys-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
}

static void
remove_dir(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(keys, .init = make_dir, .fini = remove_dir);

/* Runs `sh -c cmd` and returns its exit status, with its stdout and stderr
 * in out. */
static int
run(const char *cmd, char *out, size_t cap)
{
    char full[2048];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    cr_assert_not_null(p, "popen: %s", strerror(errno));
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status), "%s: did not exit", cmd);
    return WEXITSTATUS(status);
}

/* The key file line for a secret, made by `jobmatchd --hash-key`. */
static void
hash_line(const char *name, const char *role, const char *secret, char *line, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "printf '%%s\\n' '%s' | \"$JOBMATCHD\" --hash-key %s %s",
             secret, name, role);
    cr_assert_eq(run(cmd, line, cap), 0, "%s: %s", cmd, line);
    cr_assert_null(strstr(line, secret), "the key file line holds the secret: %s", line);
}

/* Writes text to DIR/name with mode, replacing it atomically (as an
 * operator's editor or deploy script would). Returns the path (static). */
static const char *
write_file(const char *name, const char *text, mode_t mode)
{
    static char path[256];
    char tmp[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(tmp, mode), 0);
    cr_assert_eq(rename(tmp, path), 0);
    return path;
}

/* A key file with the desk (counselor) and peer (node) keys. */
static const char *
write_key_file(mode_t mode)
{
    char desk[256], peer[256], text[700];
    hash_line("front-desk", "counselor", DESK_SECRET, desk, sizeof desk);
    hash_line("peer-city", "node", PEER_SECRET, peer, sizeof peer);
    snprintf(text, sizeof text, "# keys of the test\n\n%s%s", desk, peer);
    return write_file("keys", text, mode);
}

/* The role a hello with key gets on a new connection, or "unauthorized". */
static void
hello_role(const jt_daemon_t *d, const char *key, char *role, size_t cap)
{
    jm_client_t *c = jt_connect(d);
    int rc = jm_hello(c, key, role, cap);
    if (rc == JM_ESERVER) {
        cr_assert(strstr(c->errstr, "unauthorized"), "%s", c->errstr);
        snprintf(role, cap, "unauthorized");
    } else {
        cr_assert_eq(rc, 0, "hello: %s", c->errstr);
    }
    jm_close(c);
}

static void
expect_role(const jt_daemon_t *d, const char *key, const char *want)
{
    char role[32];
    hello_role(d, key, role, sizeof role);
    cr_assert_str_eq(role, want, "hello with %s", key);
}

Test(keys, hash_key_makes_key_file_lines, .timeout = 30)
{
    char line[256];
    hash_line("front-desk", "counselor", DESK_SECRET, line, sizeof line);
    /* name, role, and BLAKE2b-256 of the secret in hex. */
    cr_assert_eq(strncmp(line, "front-desk counselor blake2b:", 29), 0, "%s", line);
    cr_assert_eq(strlen(line), 29 + 64 + 1, "%s", line);
    cr_assert_eq(strspn(line + 29, "0123456789abcdef"), 64, "%s", line);

    /* Short secrets, unknown roles and bad names are refused. */
    char out[256];
    cr_assert_eq(run("echo short | \"$JOBMATCHD\" --hash-key k kiosk", out, sizeof out), 2);
    cr_assert(strstr(out, "secret: must be 16..1024 bytes"), "%s", out);
    cr_assert_eq(run("echo 0123456789abcdef0 | \"$JOBMATCHD\" --hash-key k wizard",
                     out, sizeof out), 2);
    cr_assert(strstr(out, "role:"), "%s", out);
    cr_assert_eq(run("echo 0123456789abcdef0 | \"$JOBMATCHD\" --hash-key 'a b' kiosk",
                     out, sizeof out), 2);
    cr_assert(strstr(out, "name:"), "%s", out);
}

Test(keys, key_file_keys_grant_their_roles, .timeout = 30)
{
    const char *path = write_key_file(0600);
    static const char ini[] = "[keys]\nhall-2 = kiosk:hall-secret-abcdefabcdef\n";
    const char *args[] = {"--key-file", path, NULL};
    jt_daemon_t *d = jt_daemon_start_ini(ini, args);

    expect_role(d, DESK_SECRET, "counselor");
    expect_role(d, PEER_SECRET, "node");
    /* The config's keys and the admin key work alongside. */
    expect_role(d, HALL_SECRET, "kiosk");
    expect_role(d, JT_ADMIN_KEY, "admin");
    /* Neither the hash nor the name is a key. */
    char line[256];
    hash_line("front-desk", "counselor", DESK_SECRET, line, sizeof line);
    line[strcspn(line, "\n")] = '\0';
    expect_role(d, strchr(strchr(line, ' ') + 1, ' ') + 1, "unauthorized");
    expect_role(d, "front-desk", "unauthorized");

    jm_client_t *c = jt_connect_key(d, DESK_SECRET, "counselor");
    jt_put_worker(c, "w1", "110105", NULL, NULL);
    jm_close(c);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* Starts jobmatchd with the key file and returns its exit status and what
 * it printed. */
static int
start_refused(const char *key_file, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "JOBMATCH_ADMIN_KEY=x \"$JOBMATCHD\" --listen 127.0.0.1:0 --data '%s/data' "
             "--key-file '%s'", dir, key_file);
    return run(cmd, out, cap);
}

Test(keys, key_file_refused_unless_private_to_the_daemon, .timeout = 60)
{
    char out[2048];
    static const mode_t loose[] = {0640, 0604, 0620, 0602, 0660, 0644};
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++) {
        const char *path = write_key_file(loose[i]);
        cr_assert_eq(start_refused(path, out, sizeof out), 1, "mode %04o: %s",
                     (unsigned)loose[i], out);
        cr_assert(strstr(out, "group or others have access to it"), "mode %04o: %s",
                  (unsigned)loose[i], out);
        char mode[16];
        snprintf(mode, sizeof mode, "mode %04o", (unsigned)loose[i]);
        cr_assert(strstr(out, mode), "%s", out);
    }

    /* Owned by another user: as root, give it away; otherwise any
     * root-owned file will do (the owner is checked first). */
    const char *path = write_key_file(0600);
    if (geteuid() == 0)
        cr_assert_eq(chown(path, 65534, 65534), 0);
    else
        path = "/etc/passwd";
    cr_assert_eq(start_refused(path, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "not by the daemon's user"), "%s", out);

    /* Missing, and not a regular file. */
    char missing[200];
    snprintf(missing, sizeof missing, "%s/no-such-keys", dir);
    cr_assert_eq(start_refused(missing, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "No such file"), "%s", out);
    cr_assert_eq(start_refused(dir, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "not a regular file") || strstr(out, "group or others"), "%s", out);
}

Test(keys, malformed_key_files_name_the_line, .timeout = 60)
{
    char good[256];
    hash_line("front-desk", "counselor", DESK_SECRET, good, sizeof good);
    const char *hash = strstr(good, "blake2b:");
    static const struct {
        const char *line;  /* %s = a good hash */
        const char *why;
    } cases[] = {
        {"desk counselor\n", "want three fields"},
        {"desk counselor %s extra\n", "want three fields"},
        {"desk wizard %s", "role: must be"},
        {"de$k counselor %s", "name: must be"},
        {"desk counselor sha256:00\n", "hash: must be blake2b:"},
        {"desk counselor blake2b:00\n", "hash: must be blake2b:"},
        {"desk counselor %sdesk counselor %s", "name desk: given twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024], out[2048];
        int n = snprintf(text, sizeof text, "# comment\n%s", good);
        snprintf(text + n, sizeof text - (size_t)n, cases[i].line, hash, hash);
        const char *path = write_file("keys", text, 0600);
        cr_assert_eq(start_refused(path, out, sizeof out), 1, "%s: %s", cases[i].line, out);
        cr_assert(strstr(out, cases[i].why), "%s: %s", cases[i].line, out);
        cr_assert(strstr(out, ", line "), "%s: %s", cases[i].line, out);
    }
}

/* Counts occurrences of needle in the daemon's log. */
static unsigned
log_count(const jt_daemon_t *d, const char *needle)
{
    char *log = jt_daemon_log(d);
    unsigned n = 0;
    for (const char *p = log; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(log);
    return n;
}

/* Sends SIGHUP and waits until the log shows its outcome. */
static void
reload(const jt_daemon_t *d, const char *outcome)
{
    unsigned before = log_count(d, outcome);
    cr_assert_eq(kill(d->pid, SIGHUP), 0);
    for (int i = 0; i < 500 && log_count(d, outcome) == before; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_gt(log_count(d, outcome), before, "no '%s' in the log after SIGHUP", outcome);
}

Test(keys, sighup_reloads_the_key_file_and_the_config_keys, .timeout = 60)
{
    const char *key_file = write_key_file(0600);
    char key_path[256];
    snprintf(key_path, sizeof key_path, "%s", key_file);
    const char *args[] = {"--key-file", key_path, "--log-level", "info", NULL};
    jt_daemon_t *d = jt_daemon_start_logged("[keys]\nhall-2 = kiosk:hall-secret-abcdefabcdef\n",
                                            args);
    jm_client_t *desk = jt_connect_key(d, DESK_SECRET, "counselor");

    /* The desk key leaves the key file, the hall key leaves the config
     * and a new one comes in each. */
    char peer[256], text[700];
    hash_line("peer-city", "node", PEER_SECRET, peer, sizeof peer);
    snprintf(text, sizeof text, "%s", peer);
    write_file("keys", text, 0600);
    char ini[300];
    snprintf(ini, sizeof ini, "%s/jobmatchd.ini", d->dir);
    FILE *f = fopen(ini, "w");
    cr_assert_not_null(f);
    fputs("[server]\nnode = ignored-on-reload\n[keys]\nhall-3 = kiosk:hall-3-secret-000000\n", f);
    cr_assert_eq(fclose(f), 0);
    reload(d, "keys reloaded");

    expect_role(d, PEER_SECRET, "node");
    expect_role(d, "hall-3-secret-000000", "kiosk");
    expect_role(d, JT_ADMIN_KEY, "admin");
    expect_role(d, DESK_SECRET, "unauthorized");
    expect_role(d, HALL_SECRET, "unauthorized");
    /* A connection keeps the role it has. */
    jt_call_ok(desk, "worker.list", NULL);
    /* Only keys reload: the node id stays. */
    char role[32];
    jm_client_t *c = jt_connect(d);
    jm_reply_t *r = jt_call_json(c, "hello", "{\"protocol\": 1}");
    jt_expect_ok(r, "hello");
    cr_assert_str_eq(jt_get_str(&r->result, "node"), "local");
    jm_reply_free(r);
    jm_close(c);

    /* A key file others can read, or one with a bad line, is not taken:
     * the keys in use stay, and the log says why. */
    cr_assert_eq(chmod(key_path, 0644), 0);
    reload(d, "keys not reloaded");
    cr_assert_gt(log_count(d, "group or others have access to it"), 0);
    expect_role(d, PEER_SECRET, "node");
    snprintf(text, sizeof text, "%sdesk counselor not-a-hash\n", peer);
    write_file("keys", text, 0600);
    reload(d, "keys not reloaded");
    cr_assert_gt(log_count(d, "line 2: hash: must be"), 0);
    expect_role(d, PEER_SECRET, "node");
    expect_role(d, DESK_SECRET, "unauthorized");

    /* Fixed, it is taken again. */
    char desk_line[256];
    hash_line("front-desk", "counselor", DESK_SECRET, desk_line, sizeof desk_line);
    write_file("keys", desk_line, 0600);
    reload(d, "keys reloaded");
    hello_role(d, DESK_SECRET, role, sizeof role);
    cr_assert_str_eq(role, "counselor");
    expect_role(d, PEER_SECRET, "unauthorized");

    /* No secret reached the log. */
    char *log = jt_daemon_log(d);
    const char *secrets[] = {DESK_SECRET, PEER_SECRET, HALL_SECRET, "hall-3-secret-000000",
                             JT_ADMIN_KEY};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        cr_assert_null(strstr(log, secrets[i]), "the log holds a secret: %s", secrets[i]);
    free(log);
    jm_close(desk);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(keys, reloads_under_a_stream_of_hellos_lose_no_key_that_stays, .timeout = 60)
{
    char desk[256], peer[256], both[600];
    hash_line("front-desk", "counselor", DESK_SECRET, desk, sizeof desk);
    hash_line("peer-city", "node", PEER_SECRET, peer, sizeof peer);
    snprintf(both, sizeof both, "%s%s", desk, peer);
    const char *key_file = write_file("keys", both, 0600);
    char key_path[256];
    snprintf(key_path, sizeof key_path, "%s", key_file);
    const char *args[] = {"--key-file", key_path, "--threads", "2", "--log-level", "info", NULL};
    jt_daemon_t *d = jt_daemon_start_logged(NULL, args);

    /* The desk key is in every version of the file; the peer key comes and
     * goes. Hellos on both worker threads race the swaps. */
    for (int i = 0; i < 200; i++) {
        if (i % 10 == 0) {
            write_file("keys", (i / 10) % 2 ? both : desk, 0600);
            cr_assert_eq(kill(d->pid, SIGHUP), 0);
        }
        expect_role(d, DESK_SECRET, "counselor");
    }
    write_file("keys", desk, 0600);
    reload(d, "keys reloaded");
    expect_role(d, DESK_SECRET, "counselor");
    expect_role(d, PEER_SECRET, "unauthorized");
    cr_assert_eq(log_count(d, "keys not reloaded"), 0);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(keys, an_admin_key_file_others_can_read_is_used_with_a_warning, .timeout = 30)
{
    /* Refusing it would break set-ups from before the key file: warn. */
    const char *path = write_file("admin.key", "admin-secret-0123456789\n", 0644);
    char cmd[1536], out[4096];
    /* Stopped as soon as it is ready (or after 30 s): it must run until then. */
    snprintf(cmd, sizeof cmd,
             "{ env -u JOBMATCH_ADMIN_KEY \"$JOBMATCHD\" --listen 127.0.0.1:0 "
             "--data '%s/data' --admin-key-file '%s' --ready-file '%s/ready' & p=$!; "
             "i=0; while [ ! -s '%s/ready' ] && [ $i -lt 600 ] && kill -0 $p 2>/dev/null; "
             "do sleep 0.05; i=$((i + 1)); done; kill -TERM $p; wait $p; }",
             dir, path, dir, dir);
    int rc = run(cmd, out, sizeof out);
    cr_assert_eq(rc, 0, "jobmatchd did not run until stopped (%d): %s", rc, out);
    cr_assert(strstr(out, "has mode 0644: group or others have access to it"), "%s", out);
    cr_assert(strstr(out, " ready: "), "%s", out);
    cr_assert_null(strstr(out, "admin-secret-0123456789"), "%s", out);
}
