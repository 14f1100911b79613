/* test_audit.c - the audit trail through the daemon: which operations on
 * worker records leave entries (and which do not), who they name, the
 * filters and cursor of audit.list, that it is for admins only, that
 * entries survive a crash once a later write is acknowledged, and the
 * `jobmatch audit` command. */
#define _GNU_SOURCE  /* asprintf */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "daemon.h"
#include "index.h"
#include "wire.h"

static const char ini[] =
    "[keys]\n"
    "desk-1 = counselor:counselor-secret-1\n"
    "desk-2 = counselor:counselor-secret-2\n";

/* The audit entries an admin sees for args (JSON), as lines
 * "key role op worker", oldest first; pages of `limit` followed to the
 * end. */
static char *
audit_lines(jm_client_t *admin, const char *args_json, int limit)
{
    size_t cap = 8192, used = 0;
    char *out = calloc(1, cap);
    cr_assert_not_null(out);
    char cursor[64] = "";
    int pages = 0;
    do {
        char args[512];
        snprintf(args, sizeof args, "%.*s%s\"limit\": %d%s%s%s}",
                 (int)strlen(args_json) - 1, args_json, strlen(args_json) > 2 ? ", " : "",
                 limit, cursor[0] ? ", \"cursor\": \"" : "", cursor, cursor[0] ? "\"" : "");
        jm_reply_t *r = jt_call_json(admin, "audit.list", "%s", args);
        jt_expect_ok(r, "audit.list");
        const msgpack_object *entries = jt_need(&r->result, "entries");
        cr_assert_eq(entries->type, MSGPACK_OBJECT_ARRAY);
        cr_assert_leq(entries->via.array.size, (uint32_t)limit);
        for (uint32_t i = 0; i < entries->via.array.size; i++) {
            const msgpack_object *e = &entries->via.array.ptr[i];
            const msgpack_object *key = jt_need(e, "key");
            char line[300];
            char keyname[80] = "-";
            if (key->type == MSGPACK_OBJECT_STR)
                snprintf(keyname, sizeof keyname, "%.*s", (int)key->via.str.size, key->via.str.ptr);
            int64_t t = jt_get_int(e, "time");
            cr_assert(t > 1700000000 && t <= (int64_t)time(NULL) + 1, "time %lld", (long long)t);
            cr_assert_gt(jt_get_int(e, "seq"), 0);
            char role[32], op[64];
            snprintf(role, sizeof role, "%s", jt_get_str(e, "role"));
            snprintf(op, sizeof op, "%s", jt_get_str(e, "op"));
            snprintf(line, sizeof line, "%s %s %s %s\n", keyname, role, op,
                     jt_get_str(e, "worker"));
            if (used + strlen(line) + 1 > cap) {
                cap *= 2;
                out = realloc(out, cap);
                cr_assert_not_null(out);
            }
            memcpy(out + used, line, strlen(line) + 1);
            used += strlen(line);
        }
        const msgpack_object *next = jt_need(&r->result, "cursor");
        if (next->type == MSGPACK_OBJECT_STR)
            snprintf(cursor, sizeof cursor, "%.*s", (int)next->via.str.size, next->via.str.ptr);
        else
            cursor[0] = '\0';
        jm_reply_free(r);
        cr_assert_lt(++pages, 100);
    } while (cursor[0]);
    return out;
}

/* Read audits are committed by the writer after the reply: a write on the
 * same connection is answered only once they are in. */
static void
settle(jm_client_t *c)
{
    jt_put_vacancy(c, "settle", "110105", "6-05-02-03", "weld:2");
}

static void
call_ok(jm_client_t *c, const char *op, const char *args)
{
    jm_reply_t *r = jt_call_json(c, op, "%s", args);
    jt_expect_ok(r, op);
    jm_reply_free(r);
}

#define WORKER(id, skills)                                                   \
    "{\"id\": \"" id "\", \"name\": \"Wang Fang\", \"phone\": \"13900000000\", " \
    "\"birth_year\": 1990, \"region\": \"110105\", \"skills\": [" skills "]}"

Test(audit, worker_reads_and_changes_are_recorded, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    jm_client_t *desk1 = jt_connect_key(d, "counselor-secret-1", "counselor");
    jm_client_t *desk2 = jt_connect_key(d, "counselor-secret-2", "counselor");
    jm_client_t *kiosk = jt_connect(d);
    jm_client_t *admin = jt_connect_admin(d);

    /* Changes. */
    call_ok(desk1, "worker.put", "{\"worker\": " WORKER("w1", "{\"id\": \"weld\", \"level\": 3}") "}");
    call_ok(desk1, "worker.put_many", "{\"workers\": [" WORKER("w2", "{\"id\": \"weld\", \"level\": 4}")
            ", " WORKER("w3", "") "]}");
    call_ok(desk2, "worker.delete", "{\"id\": \"w3\"}");
    /* Reads. */
    call_ok(desk2, "worker.get", "{\"id\": \"w1\"}");
    call_ok(desk2, "worker.list", "{\"limit\": 10}");
    jt_put_vacancy(desk1, "v1", "110105", "6-05-02-03", "weld:2");
    call_ok(desk1, "match.workers", "{\"vacancy\": \"v1\"}");
    call_ok(desk1, "match.vacancies", "{\"worker\": \"w2\"}");
    call_ok(desk1, "match.explain", "{\"worker\": \"w1\", \"vacancy\": \"v1\"}");
    /* Not audited: failures, vacancies, profiles, refused requests. */
    jm_reply_t *r = jt_call_json(desk2, "worker.get", "{\"id\": \"nobody\"}");
    jt_expect_error(r, "not_found", NULL);
    jm_reply_free(r);
    r = jt_call_json(desk2, "worker.delete", "{\"id\": \"w3\"}");
    jt_expect_error(r, "not_found", NULL);
    jm_reply_free(r);
    r = jt_call_json(kiosk, "worker.get", "{\"id\": \"w1\"}");
    jt_expect_error(r, "forbidden", NULL);
    jm_reply_free(r);
    call_ok(desk1, "vacancy.get", "{\"id\": \"v1\"}");
    call_ok(kiosk, "match.vacancies", "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\"}}");
    call_ok(desk1, "match.explain",
            "{\"profile\": {\"birth_year\": 1990, \"region\": \"110105\"}, \"vacancy\": \"v1\"}");
    settle(desk1);
    settle(desk2);

    char *all = audit_lines(admin, "{}", 100);
    cr_assert_str_eq(all,
                     "desk-1 counselor worker.put w1\n"
                     "desk-1 counselor worker.put_many w2\n"
                     "desk-1 counselor worker.put_many w3\n"
                     "desk-2 counselor worker.delete w3\n"
                     "desk-2 counselor worker.get w1\n"
                     "desk-2 counselor worker.list w1\n"
                     "desk-2 counselor worker.list w2\n"
                     "desk-1 counselor match.workers w1\n"
                     "desk-1 counselor match.workers w2\n"
                     "desk-1 counselor match.vacancies w2\n"
                     "desk-1 counselor match.explain w1\n");
    /* Pages of one or two give the same. */
    char *paged = audit_lines(admin, "{}", 1);
    cr_assert_str_eq(paged, all);
    free(paged);
    paged = audit_lines(admin, "{}", 2);
    cr_assert_str_eq(paged, all);
    free(paged);
    free(all);

    /* Filters. */
    char *lines = audit_lines(admin, "{\"worker\": \"w1\"}", 2);
    cr_assert_str_eq(lines,
                     "desk-1 counselor worker.put w1\n"
                     "desk-2 counselor worker.get w1\n"
                     "desk-2 counselor worker.list w1\n"
                     "desk-1 counselor match.workers w1\n"
                     "desk-1 counselor match.explain w1\n");
    free(lines);
    lines = audit_lines(admin, "{\"key\": \"desk-2\"}", 100);
    cr_assert_str_eq(lines,
                     "desk-2 counselor worker.delete w3\n"
                     "desk-2 counselor worker.get w1\n"
                     "desk-2 counselor worker.list w1\n"
                     "desk-2 counselor worker.list w2\n");
    free(lines);
    lines = audit_lines(admin, "{\"worker\": \"w3\", \"key\": \"desk-2\"}", 100);
    cr_assert_str_eq(lines, "desk-2 counselor worker.delete w3\n");
    free(lines);
    char args[128];
    snprintf(args, sizeof args, "{\"since\": %lld}", (long long)time(NULL) + 3600);
    lines = audit_lines(admin, args, 100);
    cr_assert_str_eq(lines, "");
    free(lines);
    snprintf(args, sizeof args, "{\"since\": 0, \"until\": %lld}", (long long)time(NULL) + 5);
    lines = audit_lines(admin, args, 100);
    cr_assert_eq(strlen(lines) > 0 && strstr(lines, "match.explain w1") != NULL, true);
    free(lines);
    lines = audit_lines(admin, "{\"worker\": \"nobody\"}", 100);
    cr_assert_str_eq(lines, "");
    free(lines);

    /* The admin's own reads are recorded too. */
    call_ok(admin, "worker.get", "{\"id\": \"w2\"}");
    settle(admin);
    lines = audit_lines(admin, "{\"key\": \"admin\"}", 100);
    cr_assert_str_eq(lines, "admin admin worker.get w2\n");
    free(lines);

    /* Bad arguments name the field and leave the connection usable. */
    r = jt_call_json(admin, "audit.list", "{\"worker\": \"a b\"}");
    jt_expect_error(r, "bad_request", "worker:");
    jm_reply_free(r);
    r = jt_call_json(admin, "audit.list", "{\"cursor\": \"zz\"}");
    jt_expect_error(r, "bad_request", "cursor:");
    jm_reply_free(r);
    r = jt_call_json(admin, "audit.list", "{\"cursor\": \"00ff\"}");
    jt_expect_error(r, "bad_request", "cursor:");
    jm_reply_free(r);
    r = jt_call_json(admin, "audit.list", "{\"limit\": 0}");
    jt_expect_error(r, "bad_request", "limit:");
    jm_reply_free(r);
    r = jt_call_json(admin, "audit.list", "{\"since\": \"yesterday\"}");
    jt_expect_error(r, "bad_request", "since:");
    jm_reply_free(r);
    /* Admins only. */
    r = jt_call_json(desk1, "audit.list", "{}");
    jt_expect_error(r, "forbidden", NULL);
    jm_reply_free(r);
    r = jt_call_json(kiosk, "audit.list", "{}");
    jt_expect_error(r, "forbidden", NULL);
    jm_reply_free(r);

    jt_expect_check_clean(admin, "after the audited changes");
    jm_close(desk1);
    jm_close(desk2);
    jm_close(kiosk);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* A fair's allocation reads and ranks every worker taking part. */
Test(audit, fair_allocations_are_recorded_per_worker, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    jm_client_t *desk1 = jt_connect_key(d, "counselor-secret-1", "counselor");
    jm_client_t *admin = jt_connect_admin(d);
    call_ok(desk1, "worker.put_many", "{\"workers\": [" WORKER("w1", "{\"id\": \"weld\", \"level\": 3}")
            ", " WORKER("w2", "{\"id\": \"weld\", \"level\": 4}") ", " WORKER("w3", "") "]}");
    jt_put_vacancy(desk1, "v1", "110105", "6-05-02-03", "weld:2");
    call_ok(desk1, "fair.create", "{\"id\": \"f1\", \"name\": \"Spring fair\"}");
    call_ok(desk1, "fair.register", "{\"fair\": \"f1\", \"vacancies\": [\"v1\"], "
            "\"workers\": [\"w1\", \"w2\"]}");
    /* Membership alone reveals no record: fair.get leaves no entry. */
    call_ok(desk1, "fair.get", "{\"fair\": \"f1\"}");
    call_ok(desk1, "fair.allocate", "{\"fair\": \"f1\"}");
    settle(desk1);
    for (int i = 1; i <= 3; i++) {
        char args[64];
        snprintf(args, sizeof args, "{\"worker\": \"w%d\"}", i);
        char *lines = audit_lines(admin, args, 100);
        char want[200];
        snprintf(want, sizeof want, "desk-1 counselor worker.put_many w%d\n%s", i,
                 i < 3 ? (i == 1 ? "desk-1 counselor fair.allocate w1\n"
                                 : "desk-1 counselor fair.allocate w2\n")
                       : "");
        cr_assert_str_eq(lines, want);
        free(lines);
    }
    jm_close(desk1);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* Changes and their entries share one transaction: when the store is
 * full, a refused change leaves no entry and every acknowledged one has
 * its own. Reads go on; the entry of each is committed or, when it does
 * not fit, counted as lost. */
Test(audit, a_full_store_keeps_changes_and_entries_together, .timeout = 120)
{
    const char *args[] = {"--map-size", "1M", "--map-max", "1M", NULL};
    jt_daemon_t *d = jt_daemon_start_ini(ini, args);
    jm_client_t *desk1 = jt_connect_key(d, "counselor-secret-1", "counselor");
    jm_client_t *admin = jt_connect_admin(d);
    int acked = 0;
    char id[32];
    for (;;) {
        cr_assert_lt(acked, 20000, "a 1 MiB map should fill up");
        snprintf(id, sizeof id, "full-%d", acked);
        jm_reply_t *r = jt_call_json(desk1, "worker.put",
                                     "{\"worker\": {\"id\": \"%s\", \"name\": \"Zhang Wei Zhang Wei\","
                                     " \"birth_year\": 1985, \"region\": \"110105\", \"skills\": ["
                                     "{\"id\": \"weld\", \"level\": 3}, {\"id\": \"cnc-%d\", \"level\": 2}]}}",
                                     id, acked);
        bool ok = r->ok;
        if (!ok)
            jt_expect_error(r, "storage_full", NULL);
        jm_reply_free(r);
        if (!ok)
            break;
        acked++;
    }
    cr_assert_gt(acked, 10);
    char args_json[64];
    snprintf(args_json, sizeof args_json, "{\"worker\": \"%s\"}", id);
    char *lines = audit_lines(admin, args_json, 100);
    cr_assert_str_eq(lines, "", "the refused put left an entry");
    free(lines);
    lines = audit_lines(admin, "{\"key\": \"desk-1\"}", 1000);
    int n = 0;
    for (const char *p = lines; (p = strstr(p, " worker.put full-")); p++)
        n++;
    cr_assert_eq(n, acked, "%d entries for %d acknowledged puts", n, acked);
    free(lines);

    /* Reads are still answered. Each one's entry is either committed or,
     * when it no longer fits, counted as lost: never silently dropped. */
    enum { READS = 300 };
    for (int i = 0; i < READS; i++) {
        jm_reply_t *r = jt_call_json(desk1, "worker.get", "{\"id\": \"full-0\"}");
        jt_expect_ok(r, "worker.get in a full store");
        jm_reply_free(r);
    }
    /* A write on the same connection is answered (stored or refused) only
     * after the writer has handled every entry queued before it. */
    jm_reply_t *r = jt_call_json(desk1, "vacancy.put", "{\"vacancy\": {\"id\": \"v\", "
                                 "\"employer\": \"E\", \"title\": \"T\", \"occupation\": \"6-05-02-03\", "
                                 "\"region\": \"110105\"}}");
    if (!r->ok)
        jt_expect_error(r, "storage_full", NULL);
    jm_reply_free(r);
    r = jt_call_json(admin, "admin.stats", NULL);
    jt_expect_ok(r, "admin.stats");
    int64_t lost = jt_get_int(jt_need(&r->result, "writer"), "audit_lost");
    jm_reply_free(r);
    lines = audit_lines(admin, "{\"worker\": \"full-0\"}", 1000);
    int recorded = 0;
    for (const char *p = lines; (p = strstr(p, " worker.get full-0")); p++)
        recorded++;
    free(lines);
    cr_assert_eq(recorded + lost, READS, "%d reads recorded and %lld lost of %d", recorded,
                 (long long)lost, READS);
    cr_log_info("full store: %d puts acknowledged; of %d reads, %d recorded, %lld lost", acked,
                READS, recorded, (long long)lost);
    jt_expect_check_clean(admin, "with the store full");
    jm_close(desk1);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

Test(audit, entries_survive_a_crash_and_the_cli_lists_them, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    jm_client_t *desk1 = jt_connect_key(d, "counselor-secret-1", "counselor");
    call_ok(desk1, "worker.put", "{\"worker\": " WORKER("w1", "") "}");
    call_ok(desk1, "worker.get", "{\"id\": \"w1\"}");
    /* The change's entry committed with it; the read's entry with this. */
    settle(desk1);
    jm_close(desk1);
    jt_daemon_kill9(d);
    jt_daemon_restart(d);
    jm_client_t *admin = jt_connect_admin(d);
    char *lines = audit_lines(admin, "{}", 100);
    cr_assert_str_eq(lines,
                     "desk-1 counselor worker.put w1\n"
                     "desk-1 counselor worker.get w1\n");
    free(lines);
    jm_close(admin);

    /* jobmatch audit: one JSON entry per line. */
    const char *cli = getenv("JOBMATCH_CLI");
    cr_assert(cli && *cli, "JOBMATCH_CLI is not set");
    char *cmd;
    cr_assert_gt(asprintf(&cmd, "'%s' -a %s -k '%s' audit --worker w1 --key desk-1 --limit 1 --all",
                          cli, d->addr, JT_ADMIN_KEY), 0);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, p)) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        cr_assert_not_null(j, "not JSON: %s", line);
        cr_assert_str_eq(json_string_value(json_object_get(j, "key")), "desk-1");
        cr_assert_str_eq(json_string_value(json_object_get(j, "worker")), "w1");
        cr_assert_str_eq(json_string_value(json_object_get(j, "op")),
                         n == 0 ? "worker.put" : "worker.get");
        json_decref(j);
        n++;
    }
    int status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "jobmatch audit status %d", status);
    cr_assert_eq(n, 2);
    free(cmd);
    /* A counselor is refused: exit 1. */
    cr_assert_gt(asprintf(&cmd, "'%s' -a %s -k counselor-secret-1 audit >/dev/null 2>&1", cli,
                          d->addr), 0);
    status = system(cmd);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    free(cmd);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

static int64_t
writer_count(jm_client_t *admin, const char *field)
{
    jm_reply_t *r = jt_call_json(admin, "admin.stats", NULL);
    jt_expect_ok(r, "admin.stats");
    int64_t v = jt_get_int(jt_need(&r->result, "writer"), field);
    jm_reply_free(r);
    return v;
}

static int64_t
monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* With no write waiting, the entries of a stream of reads wait a moment
 * (20 ms) to share a commit rather than each taking one; a drain commits
 * those still waiting. */
Test(audit, entries_of_read_streams_share_commits_and_a_drain_keeps_them, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    jm_client_t *desk1 = jt_connect_key(d, "counselor-secret-1", "counselor");
    jm_client_t *admin = jt_connect_admin(d);
    call_ok(desk1, "worker.put", "{\"worker\": " WORKER("w1", "{\"id\": \"weld\", \"level\": 3}") "}");
    jt_put_vacancy(desk1, "v1", "110105", "6-05-02-03", "weld:2");
    int64_t commits0 = writer_count(admin, "commits");
    int64_t t0 = monotonic_ms();
    enum { READS = 400 };
    for (int i = 0; i < READS; i++)
        call_ok(desk1, i % 2 ? "worker.get" : "match.vacancies",
                i % 2 ? "{\"id\": \"w1\"}" : "{\"worker\": \"w1\"}");
    int64_t elapsed = monotonic_ms() - t0;
    int64_t commits = writer_count(admin, "commits") - commits0;
    /* Each commit of entries alone waited 20 ms for more. */
    cr_assert_leq(commits, elapsed / 20 + 2, "%lld commits for %d reads in %lld ms",
                  (long long)commits, READS, (long long)elapsed);
    cr_log_info("%d audited reads in %lld ms: %lld commits", READS, (long long)elapsed,
                (long long)commits);
    jm_close(desk1);
    jm_close(admin);

    /* No write follows them: SIGTERM commits the last ones. */
    cr_assert_eq(jt_daemon_term(d), 0);
    jt_daemon_restart(d);
    admin = jt_connect_admin(d);
    char *lines = audit_lines(admin, "{\"worker\": \"w1\"}", 1000);
    int gets = 0, matches = 0;
    for (const char *p = lines; (p = strstr(p, " worker.get w1")); p++)
        gets++;
    for (const char *p = lines; (p = strstr(p, " match.vacancies w1")); p++)
        matches++;
    free(lines);
    cr_assert_eq(gets, READS / 2);
    cr_assert_eq(matches, READS / 2);
    cr_assert_eq(writer_count(admin, "audit_lost"), 0);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* Reads worker w1 until one read is held HELD_MS or longer: its
 * connection's last entry waited for room behind a slowed commit. (A
 * writer growing its batch can take entries as fast as they come for a
 * while, so a fixed number of reads may never wait.) */
enum { HELD_MS = 200, MAX_READS = 2000 };

typedef struct {
    const jt_daemon_t *d;
    int reads;            /* answered */
    int64_t slowest_ms;
    atomic_bool finished;
    char error[200];
} audited_reader_t;

static void *
audited_reader_main(void *arg)
{
    audited_reader_t *a = arg;
    jm_client_t *admin = jt_connect_admin(a->d);
    while (a->slowest_ms < HELD_MS && a->reads < MAX_READS) {
        int64_t t0 = monotonic_ms();
        jm_reply_t *r = jt_call_json(admin, "worker.get", "{\"id\": \"w1\"}");
        int64_t took = monotonic_ms() - t0;
        if (!r->ok)
            snprintf(a->error, sizeof a->error, "worker.get %d failed", a->reads);
        jm_reply_free(r);
        a->reads++;
        if (took > a->slowest_ms)
            a->slowest_ms = took;
    }
    jm_close(admin);
    atomic_store(&a->finished, true);
    return NULL;
}

/* A daemon on one thread whose writer takes one read audit entry at a
 * time and holds every commit up commit_delay_ms, as a slow disk would,
 * with worker w1 stored; *admin is connected to it. */
static jt_daemon_t *
start_slow_writer(unsigned commit_delay_ms, jm_client_t **admin)
{
    char ini_slow[512];
    snprintf(ini_slow, sizeof ini_slow,
             "[server]\nthreads = 1\naudit_queue_max = 1\ntest_commit_delay_ms = %u\n%s",
             commit_delay_ms, ini);
    jt_daemon_t *d = jt_daemon_start_ini(ini_slow, NULL);
    *admin = jt_connect_admin(d);
    call_ok(*admin, "worker.put", "{\"worker\": " WORKER("w1", "{\"id\": \"weld\", \"level\": 3}") "}");
    return d;
}

/* With the writer's queue of read audit entries full (one entry here, and
 * every commit held up 500 ms as by a slow disk), only the connections
 * whose reads could not queue their entries wait: a kiosk on the same
 * event loop goes on being answered at once, and no entry is lost. */
Test(audit, a_full_audit_queue_holds_only_the_reading_connection, .timeout = 120)
{
    jm_client_t *admin;
    jt_daemon_t *d = start_slow_writer(500, &admin);
    jm_client_t *kiosk = jt_connect(d);

    enum { READERS = 3 };
    audited_reader_t readers[READERS];
    pthread_t threads[READERS];
    for (int i = 0; i < READERS; i++) {
        readers[i] = (audited_reader_t){.d = d};
        cr_assert_eq(pthread_create(&threads[i], NULL, audited_reader_main, &readers[i]), 0);
    }
    int64_t slowest = 0;
    int pings = 0;
    for (;;) {
        bool running = false;
        for (int i = 0; i < READERS; i++)
            running |= !atomic_load(&readers[i].finished);
        if (!running)
            break;
        int64_t t0 = monotonic_ms();
        call_ok(kiosk, "ping", "{}");
        int64_t took = monotonic_ms() - t0;
        if (took > slowest)
            slowest = took;
        pings++;
        jt_sleep_ms(10);
    }
    int reads = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(threads[i], NULL);
        cr_assert_eq(readers[i].error[0], '\0', "reader %d: %s", i, readers[i].error);
        cr_assert_geq(readers[i].slowest_ms, HELD_MS, "reader %d was never held (%d reads)", i,
                      readers[i].reads);
        reads += readers[i].reads;
    }
    int64_t waits = writer_count(admin, "audit_waits");
    cr_log_info("%d kiosk pings, slowest %lld ms; %d reads, %lld held for the writer", pings,
                (long long)slowest, reads, (long long)waits);
    cr_assert_gt(waits, 0, "the queue never filled: the test proves nothing");
    /* Each reader was held HELD_MS while the kiosk pinged every 10 ms. */
    cr_assert_gt(pings, 5);
    /* A commit takes 500 ms: a kiosk held behind one would wait that long. */
    cr_assert_lt(slowest, 250, "a kiosk waited %lld ms for a ping", (long long)slowest);

    /* Every read's entry is there. */
    int gets = 0;
    for (int tries = 0; tries < 100 && gets < reads; tries++) {
        char *lines = audit_lines(admin, "{\"worker\": \"w1\"}", 1000);
        gets = 0;
        for (const char *p = lines; (p = strstr(p, " worker.get w1")); p++)
            gets++;
        free(lines);
        if (gets < reads)
            jt_sleep_ms(100);
    }
    cr_assert_eq(gets, reads);
    cr_assert_eq(writer_count(admin, "audit_lost"), 0);
    jm_close(kiosk);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

typedef struct {
    const jt_daemon_t *d;
    atomic_int answered;  /* reads answered ok, until the first that was not */
} draining_reader_t;

static void *
draining_reader_main(void *arg)
{
    draining_reader_t *a = arg;
    jm_client_t *admin = jt_connect_admin(a->d);
    msgpack_sbuffer args;
    msgpack_sbuffer_init(&args);
    jt_args_json(&args, "{\"id\": \"w1\"}");
    for (;;) {
        /* The drain ends this loop: a refusal or a closed connection. */
        jm_reply_t *r = NULL;
        int rc = jm_call(admin, "worker.get", args.data, args.size, &r);
        bool ok = rc == 0 && r && r->ok;
        jm_reply_free(r);
        if (!ok)
            break;
        atomic_fetch_add(&a->answered, 1);
    }
    msgpack_sbuffer_destroy(&args);
    jm_close(admin);
    return NULL;
}

/* A SIGTERM while connections hold the entries of reads the writer had no
 * room for: every read that was answered has its entry after a restart. */
Test(audit, a_drain_keeps_the_entries_held_for_the_writer, .timeout = 120)
{
    jm_client_t *admin;
    jt_daemon_t *d = start_slow_writer(300, &admin);

    enum { READERS = 4 };
    draining_reader_t readers[READERS];
    pthread_t threads[READERS];
    for (int i = 0; i < READERS; i++) {
        readers[i] = (draining_reader_t){.d = d};
        cr_assert_eq(pthread_create(&threads[i], NULL, draining_reader_main, &readers[i]), 0);
    }
    /* Until some reader is held (its entry waits on the connection). */
    int64_t waits = 0;
    for (int tries = 0; tries < 200 && waits == 0; tries++) {
        jt_sleep_ms(20);
        waits = writer_count(admin, "audit_waits");
    }
    cr_assert_gt(waits, 0, "the queue never filled: the test proves nothing");
    jm_close(admin);
    cr_assert_eq(jt_daemon_term(d), 0);
    int answered = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(threads[i], NULL);
        answered += atomic_load(&readers[i].answered);
    }
    cr_assert_gt(answered, 0);

    jt_daemon_restart(d);
    admin = jt_connect_admin(d);
    char *lines = audit_lines(admin, "{\"worker\": \"w1\"}", 1000);
    int gets = 0;
    for (const char *p = lines; (p = strstr(p, " worker.get w1")); p++)
        gets++;
    free(lines);
    cr_log_info("%d reads answered before the drain, %d entries", answered, gets);
    /* A read cut by the drain after its entry was taken may have one too. */
    cr_assert_geq(gets, answered);
    cr_assert_leq(gets, answered + READERS);
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}

/* With audit_retention_days set, the writer removes the entries older
 * than that (here, entries dated three days back, written into the
 * stopped daemon's store) and keeps the rest; the store checks clean. */
Test(audit, entries_past_the_retention_are_removed, .timeout = 60)
{
    jt_daemon_t *d = jt_daemon_start_ini(ini, NULL);
    jm_client_t *admin = jt_connect_admin(d);
    call_ok(admin, "worker.put", "{\"worker\": " WORKER("w-1", "") "}");
    call_ok(admin, "worker.get", "{\"id\": \"w-1\"}");
    jm_close(admin);
    cr_assert_eq(jt_daemon_term(d), 0);

    ix_env_t *ix;
    cr_assert_eq(ix_open(d->dir, NULL, &ix), 0);
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(ix, &t), 0);
    const char *subjects[] = {"w-1", "w-old", "w-1"};
    for (int i = 0; i < 3; i++) {
        ix_audit_t e = {
            .time = (int64_t)time(NULL) - 3 * 86400 + i, .actor = "desk-1", .actor_len = 6,
            .role = "counselor", .role_len = 9, .op = "worker.get", .op_len = 10,
            .kind = IX_WORKER, .subject = subjects[i], .subject_len = (uint32_t)strlen(subjects[i]),
        };
        cr_assert_eq(ix_audit_append(t, &e), 0);
    }
    cr_assert_eq(ix_write_commit(t), 0);
    ix_close(ix);

    /* The same configuration, plus the retention. */
    char path[300];
    snprintf(path, sizeof path, "%s/jobmatchd.ini", d->dir);
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f);
    fputs("[server]\naudit_retention_days = 1\n", f);
    fclose(f);
    cr_assert_eq(jt_daemon_restart(d), -1, "it was stopped already");
    admin = jt_connect_admin(d);
    char *lines = NULL;
    for (int tries = 0; tries < 200; tries++) {
        free(lines);
        lines = audit_lines(admin, "{}", 10);
        if (!strstr(lines, "desk-1"))
            break;
        jt_sleep_ms(20);
    }
    cr_assert_str_eq(lines, "admin admin worker.put w-1\n"
                            "admin admin worker.get w-1\n");
    free(lines);
    jt_expect_check_clean(admin, "after the retention");
    jm_close(admin);
    cr_assert_eq(jt_daemon_stop(d), 0);
}
