/* test_export.c - `jobmatch export` writes JSON Lines that `jobmatch
 * import` loads into a fresh daemon so that exporting again gives the very
 * same bytes; across several pages, with personal fields, unicode, every
 * optional field, and a refused export that leaves no file behind. */
#define _GNU_SOURCE  /* asprintf */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "files.h"
#include "wire.h"

#define N_VACANCIES 2345   /* more than two pages of 1,000 */
#define N_WORKERS 1210
#define BATCH 200

static char dir[256];

static void
make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/jm-export-test.XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void
remove_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Runs the tool against d with the admin key (or key), stdout to out_path
 * (NULL: /dev/null), stderr to dir/err. Returns its exit status. */
static int
run_cli(const jt_daemon_t *d, const char *key, const char *out_path, const char *const *args)
{
    const char *bin = getenv("JOBMATCH_CLI");
    cr_assert(bin && *bin, "JOBMATCH_CLI is not set");
    const char *argv[32];
    size_t n = 0;
    argv[n++] = bin;
    argv[n++] = "-a";
    argv[n++] = d->addr;
    if (key) {
        argv[n++] = "-k";
        argv[n++] = key;
    }
    for (; *args; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    char err_path[300];
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out < 0 || err < 0)
            _exit(127);
        dup2(out, 1);
        dup2(err, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static size_t
count_lines(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n;
}

/* Puts records i of a kind in batches through put_many. */
static void
load(jm_client_t *c)
{
    static const char *const employers[] = {"Acme", "顺丰速运", "O'Brien \\\"&\\\" Sons",
                                            "北京🚀科技"};
    char *batch = NULL;
    for (int start = 0; start < N_VACANCIES; start += BATCH) {
        size_t cap = 0;
        FILE *m = open_memstream(&batch, &cap);
        fputs("{\"vacancies\": [", m);
        for (int i = start; i < start + BATCH && i < N_VACANCIES; i++) {
            fprintf(m,
                    "%s{\"id\": \"v%05d\", \"employer\": \"%s\", \"title\": \"焊工 %d\","
                    " \"occupation\": \"6-18-02-04\", \"region\": \"%s\","
                    " \"skills\": [{\"id\": \"weld\", \"level\": %d}, {\"id\": \"tech:excel\", \"level\": 1}],"
                    " \"education_min\": %d, \"wage_min\": %d, \"wage_max\": %d,"
                    " \"headcount\": %d%s}",
                    i > start ? ", " : "", i, employers[i % 4], i,
                    i % 3 ? "110105" : "440305", 1 + i % 5, i % 8, 3000 + i, 6000 + 2 * i,
                    1 + i % 7,
                    i % 5 ? "" : ", \"age_min\": 18, \"age_max\": 45, \"priority_categories\": [\"graduate\"]");
        }
        fputs("]}", m);
        fclose(m);
        jm_reply_t *r = jt_call_json(c, "vacancy.put_many", "%s", batch);
        jt_expect_ok(r, "vacancy.put_many");
        jm_reply_free(r);
        free(batch);
    }
    for (int start = 0; start < N_WORKERS; start += BATCH) {
        size_t cap = 0;
        FILE *m = open_memstream(&batch, &cap);
        fputs("{\"workers\": [", m);
        for (int i = start; i < start + BATCH && i < N_WORKERS; i++) {
            fprintf(m,
                    "%s{\"id\": \"w%05d\", \"name\": \"王芳%d\", \"phone\": \"138%08d\","
                    " \"birth_year\": %d, \"region\": \"110105\", \"education\": %d,"
                    " \"skills\": [{\"id\": \"weld\", \"level\": %d}],"
                    " \"desired_occupations\": [\"6-18\", \"6-18-02-04\"],"
                    " \"category\": \"%s\"}",
                    i > start ? ", " : "", i, i, i, 1960 + i % 40, i % 8, 1 + i % 5,
                    i % 2 ? "laid_off" : "graduate");
        }
        fputs("]}", m);
        fclose(m);
        jm_reply_t *r = jt_call_json(c, "worker.put_many", "%s", batch);
        jt_expect_ok(r, "worker.put_many");
        jm_reply_free(r);
        free(batch);
    }
}

Test(export, import_of_an_export_exports_the_same_bytes, .timeout = 120)
{
    make_dir();
    jt_daemon_t *a = jt_daemon_start(NULL), *b = jt_daemon_start(NULL);
    jm_client_t *c = jt_connect_admin(a);
    load(c);
    jm_close(c);

    static const char *const kinds[] = {"vacancies", "workers"};
    static const size_t counts[] = {N_VACANCIES, N_WORKERS};
    for (size_t k = 0; k < 2; k++) {
        char first[300], second[300], piped[300];
        snprintf(first, sizeof first, "%s/%s-1.jsonl", dir, kinds[k]);
        snprintf(second, sizeof second, "%s/%s-2.jsonl", dir, kinds[k]);
        snprintf(piped, sizeof piped, "%s/%s-stdout.jsonl", dir, kinds[k]);
        const char *export1[] = {"export", kinds[k], first, NULL};
        cr_assert_eq(run_cli(a, JT_ADMIN_KEY, NULL, export1), 0);
        const char *import[] = {"import", kinds[k], first, NULL};
        cr_assert_eq(run_cli(b, JT_ADMIN_KEY, NULL, import), 0);
        const char *export2[] = {"export", kinds[k], second, NULL};
        cr_assert_eq(run_cli(b, JT_ADMIN_KEY, NULL, export2), 0);
        const char *to_stdout[] = {"export", kinds[k], NULL};
        cr_assert_eq(run_cli(b, JT_ADMIN_KEY, piped, to_stdout), 0);

        size_t l1, l2, l3;
        char *s1 = jt_read_file(first, &l1), *s2 = jt_read_file(second, &l2);
        char *s3 = jt_read_file(piped, &l3);
        cr_assert_eq(count_lines(s1, l1), counts[k], "%s: one line per record", kinds[k]);
        cr_assert_eq(l1, l2, "%s: same size", kinds[k]);
        cr_assert(memcmp(s1, s2, l1) == 0, "%s: byte-identical", kinds[k]);
        cr_assert(l1 == l3 && memcmp(s1, s3, l1) == 0, "%s: stdout is the same", kinds[k]);
        /* Personal fields travel in the clear to the counselor's file. */
        if (k == 1)
            cr_assert_not_null(strstr(s1, "\"name\":\"王芳7\""));
        else
            cr_assert_not_null(strstr(s1, "北京🚀科技"));
        free(s1);
        free(s2);
        free(s3);
    }
    jt_daemon_stop(a);
    jt_daemon_stop(b);
    remove_dir();
}

Test(export, a_refused_export_leaves_no_file_and_says_why)
{
    make_dir();
    jt_daemon_t *d = jt_daemon_start(NULL);
    char path[300], err_path[300];
    snprintf(path, sizeof path, "%s/workers.jsonl", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);

    /* A kiosk may not list workers: exit 1, the error on stderr. */
    const char *workers[] = {"export", "workers", path, NULL};
    cr_assert_eq(run_cli(d, NULL, NULL, workers), 1);
    size_t len;
    char *err = jt_read_file(err_path, &len);
    cr_assert_not_null(strstr(err, "forbidden"), "%s", err);
    free(err);
    cr_assert_eq(access(path, F_OK), -1, "no file after a refusal");

    /* The previous file stays as it was. */
    FILE *f = fopen(path, "w");
    fputs("previous\n", f);
    fclose(f);
    cr_assert_eq(run_cli(d, NULL, NULL, workers), 1);
    char *kept = jt_read_file(path, &len);
    cr_assert_str_eq(kept, "previous\n");
    free(kept);

    const char *pets[] = {"export", "pets", NULL};
    cr_assert_eq(run_cli(d, JT_ADMIN_KEY, NULL, pets), 2);
    const char *extra[] = {"export", "workers", path, "more", NULL};
    cr_assert_eq(run_cli(d, JT_ADMIN_KEY, NULL, extra), 2);

    /* Only the two files of this test are in the directory: no leftovers. */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 2", dir);
    cr_assert_eq(system(cmd), 0, "a temporary file was left behind");
    jt_daemon_stop(d);
    remove_dir();
}
