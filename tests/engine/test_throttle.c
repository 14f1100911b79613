/* test_throttle.c - failed hellos per address, and their delays. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "throttle.h"

Test(throttle, delays_double_up_to_the_cap)
{
    cr_assert_eq(en_throttle_delay_ms(1), 100);
    cr_assert_eq(en_throttle_delay_ms(2), 200);
    cr_assert_eq(en_throttle_delay_ms(5), 1600);
    cr_assert_eq(en_throttle_delay_ms(6), 3200);
    cr_assert_eq(en_throttle_delay_ms(7), EN_THROTTLE_DELAY_MAX_MS);
    cr_assert_eq(en_throttle_delay_ms(4000000000u), EN_THROTTLE_DELAY_MAX_MS);
}

Test(throttle, counts_per_address_whatever_the_port)
{
    en_throttle_t *t = en_throttle_new();
    cr_assert_not_null(t);
    cr_assert_eq(en_throttle_fail(t, "10.0.0.1:5000", 100), 1);
    cr_assert_eq(en_throttle_fail(t, "10.0.0.1:5001", 101), 2);
    cr_assert_eq(en_throttle_fail(t, "10.0.0.2:5000", 102), 1);
    cr_assert_eq(en_throttle_fail(t, "[2001:db8::1]:7000", 103), 1);
    cr_assert_eq(en_throttle_fail(t, "[2001:db8::1]:7001", 104), 2);
    cr_assert_eq(en_throttle_fail(t, "[2001:db8::2]:7000", 105), 1);
    cr_assert_eq(en_throttle_fail(t, "unix", 106), 1);
    cr_assert_eq(en_throttle_fail(t, "unix", 107), 2);
    cr_assert_eq(en_throttle_fail(t, "10.0.0.1:6000", 108), 3);
    en_throttle_free(t);
}

Test(throttle, an_address_is_forgiven_after_the_window)
{
    en_throttle_t *t = en_throttle_new();
    for (unsigned i = 1; i <= 4; i++)
        cr_assert_eq(en_throttle_fail(t, "10.0.0.9:1", 1000 + i), i);
    /* Each failure restarts the window... */
    cr_assert_eq(en_throttle_fail(t, "10.0.0.9:1", 1004 + EN_THROTTLE_WINDOW), 5);
    /* ...and a quiet window forgets. */
    cr_assert_eq(en_throttle_fail(t, "10.0.0.9:1", 1005 + 2 * EN_THROTTLE_WINDOW), 1);
    en_throttle_free(t);
}

Test(throttle, a_full_table_still_counts)
{
    en_throttle_t *t = en_throttle_new();
    /* Far more addresses than slots: the table reuses the stalest. */
    for (unsigned i = 0; i < 20000; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "10.%u.%u.%u:1", i >> 16, (i >> 8) & 255, i & 255);
        cr_assert_eq(en_throttle_fail(t, addr, i), 1);
    }
    /* The latest of them, and a new one, go on counting. */
    cr_assert_eq(en_throttle_fail(t, "10.0.78.31:2", 20000), 2);  /* i = 19999 */
    for (unsigned n = 1; n <= 3; n++)
        cr_assert_eq(en_throttle_fail(t, "192.0.2.7:9", 20000 + n), n);
    en_throttle_free(t);
}
