/* test_stats.c - admin.stats and the metrics endpoint against known
 * traffic: request and error counts by operation and code, latency
 * percentiles bounded by what the client measured, connections (refused
 * ones too), commits and batches; the Prometheus text parses (every
 * sample has a declared family with HELP and TYPE) and agrees with
 * admin.stats; the endpoint answers only GET /metrics, and only on a
 * loopback address. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "daemon.h"
#include "wire.h"

static const char ini[] = "[keys]\ndesk = counselor:desk-secret\n";

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const msgpack_object *
op_stats(const msgpack_object *stats, const char *op)
{
    return jt_need(jt_need(stats, "ops"), op);
}

static int64_t
code_count(const msgpack_object *op, const char *code)
{
    const msgpack_object *n = jt_get(jt_need(op, "by_code"), code);
    return n ? (int64_t)n->via.u64 : 0;
}

/* ---- the metrics endpoint, over a plain socket ------------------------ */

/* The metrics URL's host:port from the daemon's ready file. */
static void
metrics_addr(const jt_daemon_t *d, char *host, size_t host_len, int *port)
{
    char path[400], line[256];
    snprintf(path, sizeof path, "%s/ready", d->dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "metrics http://%63[0-9.]:%d/metrics", host, port) == 2;
    fclose(f);
    (void)host_len;
    cr_assert(found, "no metrics line in the ready file");
}

/* Sends request text, returns the whole answer (status line, headers,
 * body); malloc'd. */
static char *
http(const jt_daemon_t *d, const char *request)
{
    char host[64];
    int port;
    metrics_addr(d, host, sizeof host, &port);
    return jt_http(host, port, request);
}

static bool
valid_name(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
            return false;
    return true;
}

/* Parses the exposition text: every line is a HELP, a TYPE or a sample
 * `name{label="value",...} number`; a family's HELP and TYPE come before
 * its samples, once each; a summary's samples are the name with a
 * quantile label, _sum or _count. Returns the value of the sample whose
 * text before the value equals want (or -1 when absent). */
typedef struct family {
    char name[128];
    char type[16];
    bool help;
} family_t;

static double
parse_exposition(const char *body, const char *want, unsigned *n_samples)
{
    family_t fams[64];
    size_t n_fams = 0;
    double found = -1;
    *n_samples = 0;
    char *copy = strdup(body), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
            bool help = line[2] == 'H';
            char *name = line + 7, *sp = strchr(name, ' ');
            cr_assert_not_null(sp, "no text after the name: %s", line);
            cr_assert(valid_name(name, (size_t)(sp - name)), "bad name: %s", line);
            cr_assert_gt(strlen(sp + 1), 0, "empty: %s", line);
            family_t *f = NULL;
            for (size_t i = 0; i < n_fams; i++)
                if (strlen(fams[i].name) == (size_t)(sp - name) &&
                    strncmp(fams[i].name, name, (size_t)(sp - name)) == 0)
                    f = &fams[i];
            if (!f) {
                cr_assert_lt(n_fams, 64);
                f = &fams[n_fams++];
                memset(f, 0, sizeof *f);
                snprintf(f->name, sizeof f->name, "%.*s", (int)(sp - name), name);
            }
            if (help) {
                cr_assert(!f->help, "second HELP for %s", f->name);
                f->help = true;
            } else {
                cr_assert_eq(f->type[0], '\0', "second TYPE for %s", f->name);
                const char *t = sp + 1;
                cr_assert(strcmp(t, "counter") == 0 || strcmp(t, "gauge") == 0 ||
                          strcmp(t, "summary") == 0 || strcmp(t, "histogram") == 0 ||
                          strcmp(t, "untyped") == 0, "bad type: %s", line);
                snprintf(f->type, sizeof f->type, "%s", t);
            }
            continue;
        }
        cr_assert_neq(line[0], '#', "unknown comment: %s", line);
        /* A sample. */
        size_t nlen = strcspn(line, "{ ");
        cr_assert(valid_name(line, nlen), "bad sample name: %s", line);
        const char *p = line + nlen;
        bool has_quantile = false;
        if (*p == '{') {
            p++;
            while (*p != '}') {
                size_t klen = strcspn(p, "=");
                cr_assert(valid_name(p, klen), "bad label: %s", line);
                has_quantile |= klen == 8 && strncmp(p, "quantile", 8) == 0;
                p += klen;
                cr_assert_eq(p[0], '=', "%s", line);
                cr_assert_eq(p[1], '"', "%s", line);
                p += 2;
                while (*p && *p != '"') {
                    if (*p == '\\')
                        p++;
                    p++;
                }
                cr_assert_eq(*p, '"', "unterminated label value: %s", line);
                p++;
                if (*p == ',')
                    p++;
                else
                    cr_assert_eq(*p, '}', "%s", line);
            }
            p++;
        }
        cr_assert_eq(*p, ' ', "no value: %s", line);
        char *end;
        double v = strtod(p + 1, &end);
        cr_assert(end != p + 1 && *end == '\0', "bad value: %s", line);
        /* Its family: the name, or for a summary the name less _sum or
         * _count. */
        family_t *f = NULL;
        for (size_t i = 0; i < n_fams && !f; i++) {
            size_t fl = strlen(fams[i].name);
            if (fl == nlen && strncmp(fams[i].name, line, nlen) == 0)
                f = &fams[i];
            else if (strcmp(fams[i].type, "summary") == 0 && strncmp(fams[i].name, line, fl) == 0 &&
                     ((nlen == fl + 4 && strncmp(line + fl, "_sum", 4) == 0) ||
                      (nlen == fl + 6 && strncmp(line + fl, "_count", 6) == 0)))
                f = &fams[i];
        }
        cr_assert_not_null(f, "sample before its HELP and TYPE: %s", line);
        cr_assert(f->help && f->type[0], "family %s lacks HELP or TYPE", f->name);
        if (has_quantile)
            cr_assert_str_eq(f->type, "summary", "%s", line);
        if (strncmp(line, want, strlen(want)) == 0 && line[strlen(want)] == ' ')
            found = v;
        (*n_samples)++;
    }
    free(copy);
    return found;
}

static const char *
body_of(const char *answer)
{
    const char *b = strstr(answer, "\r\n\r\n");
    cr_assert_not_null(b, "no header end in: %.200s", answer);
    return b + 4;
}

Test(stats, counts_and_percentiles_follow_known_traffic, .timeout = 90)
{
    const char *args[] = {"--max-clients", "4", "--metrics-listen", "127.0.0.1:0", NULL};
    /* A peer no one listens for: each network-wide request leaves it out. */
    char with_peer[256];
    snprintf(with_peer, sizeof with_peer, "%s[peers]\ngone = 127.0.0.1:%d gone-key\n", ini,
             jt_free_port());
    jt_daemon_t *d = jt_daemon_start_ini(with_peer, args);
    jm_client_t *admin = jt_connect_admin(d);
    jm_client_t *anon = jt_connect(d);
    jm_client_t *desk = jt_connect_key(d, "desk-secret", "counselor");

    /* 200 pings, each timed by the client. */
    int64_t slowest = 0;
    for (int i = 0; i < 200; i++) {
        int64_t t0 = now_ns();
        jm_reply_t *r = jt_call_json(anon, "ping", NULL);
        int64_t took = now_ns() - t0;
        jt_expect_ok(r, "ping");
        jm_reply_free(r);
        if (took > slowest)
            slowest = took;
    }
    /* Errors of several codes. */
    for (int i = 0; i < 7; i++) {
        jm_reply_t *r = jt_call_json(desk, "worker.get", "{\"id\": \"nobody\"}");
        jt_expect_error(r, "not_found", NULL);
        jm_reply_free(r);
    }
    for (int i = 0; i < 5; i++) {
        jm_reply_t *r = jt_call_json(anon, "worker.get", "{\"id\": \"w1\"}");
        jt_expect_error(r, "forbidden", NULL);
        jm_reply_free(r);
    }
    for (int i = 0; i < 3; i++) {
        jm_reply_t *r = jt_call_json(anon, "vacancy.fly", "{}");
        jt_expect_error(r, "unknown_op", NULL);
        jm_reply_free(r);
    }
    jm_reply_t *r = jt_call_json(desk, "vacancy.put_many", "{\"vacancies\": [{\"id\": \"x\"}]}");
    jt_expect_error(r, "bad_request", NULL);
    jm_reply_free(r);
    /* Writes. */
    for (int i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof id, "v%d", i);
        jt_put_vacancy(desk, id, "110105", "6-05-02-03", "weld:2");
    }
    /* Two network-wide matches, without the peer. */
    for (int i = 0; i < 2; i++) {
        r = jt_call_json(desk, "match.vacancies",
                         "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\", "
                         "\"skills\": [{\"id\": \"weld\", \"level\": 3}]}, "
                         "\"scope\": \"network\"}");
        jt_expect_ok(r, "match.vacancies, scope network");
        cr_assert_eq(jt_need(&r->result, "missing")->via.array.size, 1);
        jm_reply_free(r);
    }
    /* One connection too many is refused. */
    jm_client_t *fourth = jt_connect(d);
    int fd = jt_raw_connect(d);
    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    msgpack_object reply;
    cr_assert_eq(jt_raw_read_frame(fd, &z, &reply), 0);
    cr_assert_str_eq(jt_get_str(jt_need(&reply, "error"), "code"), "overloaded");
    msgpack_zone_destroy(&z);
    close(fd);

    r = jt_call_json(admin, "admin.stats", NULL);
    jt_expect_ok(r, "admin.stats");
    const msgpack_object *st = &r->result;
    const msgpack_object *ping = op_stats(st, "ping");
    cr_assert_eq(jt_get_int(ping, "requests"), 200);
    cr_assert_eq(jt_get_int(ping, "errors"), 0);
    const msgpack_object *lat = jt_need(ping, "latency_us");
    double p50 = jt_get_double(lat, "p50"), p90 = jt_get_double(lat, "p90"),
           p99 = jt_get_double(lat, "p99"), max = jt_get_double(lat, "max"),
           mean = jt_get_double(lat, "mean");
    cr_assert(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= max,
              "ping p50 %g p90 %g p99 %g max %g", p50, p90, p99, max);
    cr_assert(mean > 0 && mean <= max, "mean %g max %g", mean, max);
    /* The server's time is part of what the client waited. */
    cr_assert_leq(max, (double)slowest / 1000.0, "server max %g us, client slowest %g us", max,
                  (double)slowest / 1000.0);
    cr_log_info("ping latency (us): p50 %.1f p90 %.1f p99 %.1f max %.1f; client slowest %.1f",
                p50, p90, p99, max, (double)slowest / 1000.0);

    const msgpack_object *get = op_stats(st, "worker.get");
    cr_assert_eq(jt_get_int(get, "requests"), 12);
    cr_assert_eq(jt_get_int(get, "errors"), 12);
    cr_assert_eq(code_count(get, "not_found"), 7);
    cr_assert_eq(code_count(get, "forbidden"), 5);
    const msgpack_object *other = op_stats(st, "other");
    cr_assert_eq(jt_get_int(other, "requests"), 3);
    cr_assert_eq(code_count(other, "unknown_op"), 3);
    const msgpack_object *many = op_stats(st, "vacancy.put_many");
    cr_assert_eq(jt_get_int(many, "requests"), 1);
    cr_assert_eq(code_count(many, "bad_request"), 1);
    const msgpack_object *put = op_stats(st, "vacancy.put");
    cr_assert_eq(jt_get_int(put, "requests"), 20);
    cr_assert_eq(jt_get_int(put, "errors"), 0);
    cr_assert_gt(jt_get_double(jt_need(put, "latency_us"), "p50"), 0);
    cr_assert_eq(jt_get_int(op_stats(st, "match.workers"), "requests"), 0);

    const msgpack_object *conns = jt_need(st, "connections");
    cr_assert_eq(jt_get_int(conns, "current"), 4);
    cr_assert_eq(jt_get_int(conns, "total"), 4);
    cr_assert_eq(jt_get_int(conns, "refused"), 1);
    const msgpack_object *wr = jt_need(st, "writer");
    int64_t commits = jt_get_int(wr, "commits");
    cr_assert_geq(commits, 1);
    cr_assert_leq(commits, 20);
    cr_assert_eq(jt_get_int(wr, "fsyncs"), commits, "sync = full flushes every commit");
    cr_assert_eq(jt_get_int(wr, "writes"), 20);
    const msgpack_object *batch = jt_need(wr, "batch");
    cr_assert_geq(jt_get_double(batch, "p50"), 1);
    cr_assert_geq(jt_get_double(batch, "max"), jt_get_double(batch, "p99"));
    const msgpack_object *recs = jt_need(st, "records");
    cr_assert_eq(jt_get_int(recs, "vacancies"), 20);
    cr_assert_eq(jt_get_int(recs, "changelog_seq"), 20);
    cr_assert_geq(jt_get_int(st, "uptime"), 0);
    const msgpack_object *net = jt_need(st, "network");
    cr_assert_eq(jt_get_int(net, "requests"), 2);
    cr_assert_eq(jt_get_int(net, "ranked_again"), 0);
    cr_assert_eq(jt_get_int(jt_need(net, "missing"), "gone"), 2);
    jm_reply_free(r);

    /* The same counts through the metrics endpoint. */
    char *answer = http(d, "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(strncmp(answer, "HTTP/1.0 200", 12) == 0 || strncmp(answer, "HTTP/1.1 200", 12) == 0,
                 true, "%.100s", answer);
    cr_assert_not_null(strcasestr(answer, "Content-Type: text/plain; version=0.0.4"));
    const char *body = body_of(answer);
    unsigned n_samples;
    cr_assert_eq(parse_exposition(body, "jobmatch_requests_total{op=\"ping\"}", &n_samples), 200);
    cr_assert_gt(n_samples, 50);
    cr_assert_eq(parse_exposition(body,
                                  "jobmatch_request_errors_total{op=\"worker.get\",code=\"not_found\"}",
                                  &n_samples), 7);
    cr_assert_eq(parse_exposition(body, "jobmatch_request_duration_seconds_count{op=\"ping\"}",
                                  &n_samples), 200);
    double q99 = parse_exposition(body,
                                  "jobmatch_request_duration_seconds{op=\"ping\",quantile=\"0.99\"}",
                                  &n_samples);
    cr_assert(q99 > 0 && q99 <= (double)slowest / 1e9, "ping p99 %g s", q99);
    cr_assert_eq(parse_exposition(body, "jobmatch_connections_refused_total", &n_samples), 1);
    cr_assert_eq(parse_exposition(body, "jobmatch_records{kind=\"vacancy\"}", &n_samples), 20);
    cr_assert_eq(parse_exposition(body, "jobmatch_commits_total", &n_samples), (double)commits);
    cr_assert_eq(parse_exposition(body, "jobmatch_network_requests_total", &n_samples), 2);
    cr_assert_eq(parse_exposition(body, "jobmatch_network_peer_missing_total{peer=\"gone\"}",
                                  &n_samples), 2);
    free(answer);

    /* Only GET /metrics. */
    answer = http(d, "GET /other HTTP/1.0\r\n\r\n");
    cr_assert_not_null(strstr(answer, " 404 "), "%.100s", answer);
    free(answer);
    answer = http(d, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    cr_assert_not_null(strstr(answer, " 405 "), "%.100s", answer);
    free(answer);
    answer = http(d, "garbage\r\n\r\n");
    cr_assert_not_null(strstr(answer, " 400 "), "%.100s", answer);
    free(answer);
    /* And the daemon goes on. */
    r = jt_call_json(admin, "ping", NULL);
    jt_expect_ok(r, "ping after HTTP");
    jm_reply_free(r);

    /* jobmatch metrics prints admin.stats as JSON. Its connection takes
     * the place of the fourth once the daemon has seen that one close
     * (a moment later, longer under valgrind). */
    jm_close(fourth);
    fourth = NULL;
    for (int tries = 0;; tries++) {
        r = jt_call_json(admin, "admin.stats", NULL);
        jt_expect_ok(r, "admin.stats");
        int64_t current = jt_get_int(jt_need(&r->result, "connections"), "current");
        jm_reply_free(r);
        if (current < 4)
            break;
        cr_assert_lt(tries, 500, "the closed connection is still counted");
        jt_sleep_ms(10);
    }
    const char *cli = getenv("JOBMATCH_CLI");
    cr_assert(cli && *cli, "JOBMATCH_CLI is not set");
    char *cmd;
    cr_assert_gt(asprintf(&cmd, "'%s' -a %s -k '%s' metrics", cli, d->addr, JT_ADMIN_KEY), 0);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char *text = NULL;
    size_t cap = 0;
    cr_assert_gt(getdelim(&text, &cap, '\0', p), 0);
    int status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "jobmatch metrics: %d", status);
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    cr_assert_not_null(j, "not JSON: %s", text);
    json_t *pings = json_object_get(json_object_get(json_object_get(j, "ops"), "ping"), "requests");
    cr_assert_eq(json_integer_value(pings), 201);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "connections"), "refused")), 1);
    json_decref(j);
    free(text);
    free(cmd);

    jm_close(desk);
    jm_close(anon);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* Runs jobmatchd with args and returns its exit status (bounded wait). */
static int
run_daemon(const char *const *args)
{
    const char *bin = getenv("JOBMATCHD");
    cr_assert(bin && *bin);
    char dir[] = "/tmp/jm-metrics-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    /* No secret key: the default one would be made beside dir and
     * outlive it. */
    const char *argv[16] = {bin, "--data", dir, "--listen", "127.0.0.1:0", "--log-level", "error",
                            "--secret-key-file", "none"};
    size_t n = 9;
    for (size_t i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("JOBMATCH_ADMIN_KEY", "k", 1);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status = -1;
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        usleep(50000);
        status = -1;
    }
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        status = -1;
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    return status;
}

Test(stats, metrics_only_on_loopback)
{
    const char *public_addr[] = {"--metrics-listen", "0.0.0.0:0", NULL};
    int status = run_daemon(public_addr);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0,
              "a non-loopback metrics address must stop start-up (status %d)", status);
    const char *junk[] = {"--metrics-listen", "localhost", NULL};
    status = run_daemon(junk);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %d", status);
}
