/* test_stats.c - the log-linear histogram behind admin.stats: percentiles
 * of known values within the bucket width, exact maxima and counts, and
 * per-thread copies merged. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "stats.h"

static en_hist_sum_t
summed(const en_hist_t *h)
{
    en_hist_sum_t s = {0};
    en_hist_merge(&s, h);
    return s;
}

/* A percentile read back is at most 12.5% above the true value and never
 * below it. */
static void
expect_near(uint64_t got, uint64_t want)
{
    cr_assert_geq(got, want, "%llu below %llu", (unsigned long long)got,
                  (unsigned long long)want);
    cr_assert_leq((double)got, (double)want * 1.125, "%llu too far above %llu",
                  (unsigned long long)got, (unsigned long long)want);
}

Test(stats, percentiles_of_a_uniform_spread)
{
    en_hist_t *h = calloc(1, sizeof *h);
    cr_assert_not_null(h);
    /* 1..1000 microseconds, in nanoseconds, shuffled order does not matter. */
    for (uint64_t us = 1000; us >= 1; us--)
        en_hist_add(h, us * 1000);
    en_hist_sum_t s = summed(h);
    cr_assert_eq(s.count, 1000);
    cr_assert_eq(s.max, 1000000);
    cr_assert_eq(s.sum, 500500ull * 1000);
    expect_near(en_hist_quantile(&s, 0.5), 500000);
    expect_near(en_hist_quantile(&s, 0.9), 900000);
    expect_near(en_hist_quantile(&s, 0.99), 990000);
    cr_assert_eq(en_hist_quantile(&s, 1.0), 1000000, "p100 is the maximum");
    expect_near(en_hist_quantile(&s, 0.001), 1000);
    free(h);
}

Test(stats, skewed_values_and_edges)
{
    en_hist_t *h = calloc(1, sizeof *h);
    cr_assert_not_null(h);
    en_hist_sum_t s = summed(h);
    cr_assert_eq(en_hist_quantile(&s, 0.5), 0, "empty");
    /* 98 fast, 2 slow: p50 and p90 fast, p99 slow. */
    for (int i = 0; i < 98; i++)
        en_hist_add(h, 20000);
    en_hist_add(h, 50000000);
    en_hist_add(h, 70000000);
    s = summed(h);
    expect_near(en_hist_quantile(&s, 0.5), 20000);
    expect_near(en_hist_quantile(&s, 0.9), 20000);
    expect_near(en_hist_quantile(&s, 0.99), 50000000);
    cr_assert_eq(s.max, 70000000);
    /* Small values are exact; a huge one lands in the last bucket and the
     * maximum caps what is read back. */
    en_hist_t *e = calloc(1, sizeof *e);
    for (uint64_t v = 0; v < 8; v++)
        en_hist_add(e, v);
    s = summed(e);
    cr_assert_eq(en_hist_quantile(&s, 0.5), 3);
    cr_assert_eq(en_hist_quantile(&s, 1.0), 7);
    en_hist_add(e, UINT64_MAX / 2);
    s = summed(e);
    cr_assert_eq(en_hist_quantile(&s, 1.0), UINT64_MAX / 2);
    free(e);
    free(h);
}

Test(stats, threads_merge_into_one_report)
{
    en_stats_t *a = en_stats_new(), *b = en_stats_new();
    cr_assert(a && b);
    size_t n;
    const en_command_t *cmds = en_commands(&n);
    size_t ping = n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(cmds[i].name, "ping") == 0)
            ping = i;
    cr_assert_lt(ping, n);
    cr_assert_eq(en_stats_other_slot(), n);
    for (int i = 0; i < 10; i++)
        en_stats_request(a, ping, PR_OK, 1000);
    for (int i = 0; i < 5; i++)
        en_stats_request(b, ping, PR_OK, 3000);
    en_stats_request(b, en_stats_other_slot(), PR_UNKNOWN_OP, 500);
    /* Out of range slots are ignored rather than written past the end. */
    en_stats_request(b, n + 1, PR_OK, 1);

    en_op_report_t r = {0};
    en_stats_merge(&r, a, ping);
    en_stats_merge(&r, b, ping);
    cr_assert_eq(r.requests, 15);
    cr_assert_eq(r.errors, 0);
    cr_assert_eq(r.latency.max, 3000);
    cr_assert_eq(r.latency.sum, 10 * 1000 + 5 * 3000);
    expect_near(en_hist_quantile(&r.latency, 0.5), 1000);
    expect_near(en_hist_quantile(&r.latency, 0.9), 3000);
    en_op_report_t o = {0};
    en_stats_merge(&o, a, n);
    en_stats_merge(&o, b, n);
    cr_assert_eq(o.requests, 1);
    cr_assert_eq(o.errors, 1);
    cr_assert_eq(o.by_code[PR_UNKNOWN_OP], 1);
    en_stats_free(a);
    en_stats_free(b);
}
