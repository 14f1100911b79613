/* test_log.c - the limit on lines that can repeat at a high rate. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "log.h"

static double
seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(log_limit, the_first_passes_the_rest_of_the_second_are_counted)
{
    en_log_limit_t limit = {0};
    unsigned long long held = 99;
    cr_assert(en_log_limit_pass(&limit, &held));
    cr_assert_eq(held, 0);
    for (int i = 0; i < 5; i++)
        cr_assert_not(en_log_limit_pass(&limit, &held));
    struct timespec pause = {1, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    cr_assert(en_log_limit_pass(&limit, &held));
    cr_assert_eq(held, 5, "the line after the second says 5 were held back, not %llu", held);
    cr_assert_not(en_log_limit_pass(&limit, &held));
}

enum { THREADS = 4, CALLS = 20000 };

static en_log_limit_t shared_limit;
static atomic_ullong passed, reported_held;

static void *
call_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < CALLS; i++) {
        unsigned long long held;
        if (en_log_limit_pass(&shared_limit, &held)) {
            atomic_fetch_add(&passed, 1);
            atomic_fetch_add(&reported_held, held);
        }
    }
    return NULL;
}

Test(log_limit, threads_at_once_let_one_line_through_a_second)
{
    double start = seconds_now();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, call_many, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    double elapsed = seconds_now() - start;
    unsigned long long lines = atomic_load(&passed);
    cr_assert_geq(lines, 1);
    cr_assert_leq((double)lines, 1 + elapsed, "%llu lines in %.2f s", lines, elapsed);
    /* Every call is either a line or counted by one (or still held). */
    cr_assert_eq(lines + atomic_load(&reported_held) + atomic_load(&shared_limit.held),
                 (unsigned long long)THREADS * CALLS);
}
