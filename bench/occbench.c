/* occbench.c - how well occupation.suggest's matcher (engine/occupation.c)
 * finds the labelled occupation of real job titles: top-1 and top-5
 * accuracy, and the time of one search, in process.
 *
 *   occbench [--classification FILE] [--aliases FILE] [--folds K]
 *            [--learn FILE] TESTCASES.csv
 *
 * TESTCASES.csv has the header job_name,expected_code,expected_name.
 * With --aliases (a code,alias CSV) those aliases are added before scoring;
 * the figure is honest only when the aliases were not learned from these
 * test cases. --folds K measures learning from the test cases themselves
 * by K-fold cross-validation: case i is in fold i mod K, and each fold is
 * scored with the titles of the other folds added as aliases of their
 * labels, so no case is scored with its own title learned. --learn FILE
 * writes every case whose code is loaded as a code,alias CSV (what
 * data/cn_occupation_jobtitle_aliases_2022.csv is made from).
 */
#include <getopt.h>
#include <stdbool.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "occupation.h"

#define MAX_CASES 100000

typedef struct testcase {
    char *title;
    char code[16];
} testcase_t;

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Splits one CSV line (RFC 4180 quoting, no line breaks inside fields)
 * into at most max fields, in place. Returns the number of fields. */
static size_t
split_csv(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *r = line, *w = line;
    while (n < max) {
        fields[n++] = w;
        bool quoted = *r == '"';
        if (quoted)
            r++;
        for (;;) {
            if (quoted && r[0] == '"' && r[1] == '"') {
                *w++ = '"';
                r += 2;
            } else if (quoted && r[0] == '"') {
                quoted = false;
                r++;
            } else if (*r == '\0' || (!quoted && *r == ',')) {
                break;
            } else {
                *w++ = *r++;
            }
        }
        bool more = *r == ',';
        *w++ = '\0';
        if (!more)
            break;
        r++;
    }
    return n;
}

/* Test cases: job_name,expected_code,expected_name. */
static size_t
read_cases(const char *path, testcase_t *cases, size_t max)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    char line[4096];
    size_t n = 0;
    if (!fgets(line, sizeof line, f) || strncmp(line, "job_name,expected_code", 22) != 0) {
        fprintf(stderr, "%s: expected the header job_name,expected_code,expected_name\n",
                path);
        exit(2);
    }
    while (n < max && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *fields[3];
        if (split_csv(line, fields, 3) != 3 || strlen(fields[1]) >= sizeof cases[n].code) {
            fprintf(stderr, "%s: skipped a line that is not three fields\n", path);
            continue;
        }
        cases[n].title = strdup(fields[0]);
        snprintf(cases[n].code, sizeof cases[n].code, "%s", fields[1]);
        n++;
    }
    fclose(f);
    return n;
}

static void
write_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Writes cases (all but those of fold `skip` out of `folds`, or all when
 * folds is 0) whose code occ knows as a code,alias CSV. */
static int
write_aliases(const char *path, const en_occupations_t *occ, const testcase_t *cases,
              size_t n, size_t folds, size_t skip)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("code,alias\n", f);
    for (size_t i = 0; i < n; i++) {
        if ((folds && i % folds == skip) || !en_occupations_name(occ, cases[i].code))
            continue;
        fprintf(f, "%s,", cases[i].code);
        write_csv_field(f, cases[i].title);
        fputc('\n', f);
    }
    return fclose(f);
}

typedef struct tally {
    size_t n, top1, top5;
    double *ms;
} tally_t;

static void
score(const en_occupations_t *occ, const testcase_t *cases, size_t n, size_t folds,
      size_t fold, tally_t *t)
{
    const char *verbose = getenv("OCCBENCH_MISSES");
    for (size_t i = 0; i < n; i++) {
        if (folds && i % folds != fold)
            continue;
        en_suggestion_t out[5];
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        size_t k = en_occupations_suggest(occ, cases[i].title, strlen(cases[i].title), out, 5);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        t->ms[t->n++] =
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        size_t hit = k;
        for (size_t j = 0; j < k; j++)
            if (strcmp(out[j].code, cases[i].code) == 0) {
                hit = j;
                break;
            }
        t->top1 += hit == 0;
        t->top5 += hit < 5;
        if (verbose && hit >= 5)
            printf("miss\t%s\t%s\t%s\t%s\n", cases[i].title, cases[i].code,
                   k ? out[0].code : "-", k ? out[0].name : "-");
    }
}

static void
usage(FILE *out)
{
    fprintf(out, "usage: occbench [--classification FILE] [--aliases FILE] [--folds K]\n"
                 "                [--learn FILE] TESTCASES.csv\n");
}

int
main(int argc, char **argv)
{
    const char *classification = "data/cn_occupation_classification_2022.csv";
    const char *aliases = NULL, *learn = NULL;
    size_t folds = 0;
    static const struct option opts[] = {
        {"classification", required_argument, NULL, 'c'},
        {"aliases", required_argument, NULL, 'a'},
        {"folds", required_argument, NULL, 'k'},
        {"learn", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:a:k:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': classification = optarg; break;
        case 'a': aliases = optarg; break;
        case 'k': folds = strtoul(optarg, NULL, 10); break;
        case 'l': learn = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc || folds == 1) {
        usage(stderr);
        return 2;
    }
    char why[512];
    en_occupations_t *occ = en_occupations_load(classification, why, sizeof why);
    if (!occ) {
        fprintf(stderr, "occbench: %s\n", why);
        return 2;
    }
    if (aliases && en_occupations_add_aliases(occ, aliases, why, sizeof why) != 0) {
        fprintf(stderr, "occbench: %s\n", why);
        return 2;
    }
    testcase_t *cases = calloc(MAX_CASES, sizeof *cases);
    size_t n = read_cases(argv[optind], cases, MAX_CASES);
    if (learn) {
        if (write_aliases(learn, occ, cases, n, 0, 0) != 0) {
            perror(learn);
            return 2;
        }
        printf("wrote %s\n", learn);
    }
    tally_t t = {0, 0, 0, calloc(n ? n : 1, sizeof(double))};
    if (!folds) {
        score(occ, cases, n, 0, 0, &t);
    } else {
        char tmp[] = "/tmp/occbench-XXXXXX";
        int fd = mkstemp(tmp);
        if (fd < 0) {
            perror("mkstemp");
            return 2;
        }
        close(fd);
        for (size_t fold = 0; fold < folds; fold++) {
            en_occupations_t *learned = en_occupations_load(classification, why, sizeof why);
            if (!learned || (aliases && en_occupations_add_aliases(learned, aliases, why,
                                                                   sizeof why) != 0) ||
                write_aliases(tmp, learned, cases, n, folds, fold) != 0 ||
                en_occupations_add_aliases(learned, tmp, why, sizeof why) != 0) {
                fprintf(stderr, "occbench: fold %zu: %s\n", fold, why);
                return 2;
            }
            score(learned, cases, n, folds, fold, &t);
            en_occupations_free(learned);
        }
        unlink(tmp);
    }
    qsort(t.ms, t.n, sizeof *t.ms, cmp_double);
    printf("cases %zu  occupations %zu  %s\n", t.n, en_occupations_count(occ),
           folds ? "titles of the other folds learned as aliases" : "names and aliases only");
    if (folds)
        printf("%zu-fold cross-validation: no case is scored with its own title learned\n",
               folds);
    printf("top-1 %.1f%%  top-5 %.1f%%\n", t.n ? 100.0 * (double)t.top1 / (double)t.n : 0,
           t.n ? 100.0 * (double)t.top5 / (double)t.n : 0);
    if (t.n)
        printf("search ms  p50 %.3f  p99 %.3f  max %.3f\n", t.ms[t.n / 2],
               t.ms[t.n * 99 / 100], t.ms[t.n - 1]);
    for (size_t i = 0; i < n; i++)
        free(cases[i].title);
    free(cases);
    free(t.ms);
    en_occupations_free(occ);
    return 0;
}
