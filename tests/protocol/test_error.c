/* test_error.c - wire names of the error codes and pr_fail(). */
#include <criterion/criterion.h>
#include <string.h>

#include "error.h"

Test(error, code_names)
{
    const char *want[PR_CODE_COUNT] = {
        [PR_BAD_FRAME] = "bad_frame",       [PR_BAD_REQUEST] = "bad_request",
        [PR_UNKNOWN_OP] = "unknown_op",     [PR_UNAUTHORIZED] = "unauthorized",
        [PR_FORBIDDEN] = "forbidden",       [PR_NOT_FOUND] = "not_found",
        [PR_CONFLICT] = "conflict",         [PR_TOO_LARGE] = "too_large",
        [PR_OVERLOADED] = "overloaded",     [PR_STORAGE_FULL] = "storage_full",
        [PR_INTERNAL] = "internal",
    };
    for (int c = PR_BAD_FRAME; c < PR_CODE_COUNT; c++)
        cr_assert_str_eq(pr_code_name((pr_code_t)c), want[c]);
    cr_assert_str_eq(pr_code_name(PR_CODE_COUNT), "internal");
    cr_assert_str_eq(pr_code_name((pr_code_t)-1), "internal");
    cr_assert_str_eq(pr_code_name((pr_code_t)1000), "internal");
}

Test(error, fail_formats_and_returns_minus_one)
{
    pr_error_t err = {0};
    cr_assert_eq(pr_fail(&err, PR_NOT_FOUND, "%s: no vacancy %d", "id", 7),
                 -1);
    cr_assert_eq(err.code, PR_NOT_FOUND);
    cr_assert_str_eq(err.message, "id: no vacancy 7");
}

Test(error, fail_truncates)
{
    pr_error_t err;
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(pr_fail(&err, PR_INTERNAL, "%s", big), -1);
    cr_assert_eq(strlen(err.message), PR_MESSAGE_MAX - 1);
    cr_assert_eq(err.code, PR_INTERNAL);
}

Test(error, fail_accepts_null)
{
    cr_assert_eq(pr_fail(NULL, PR_BAD_REQUEST, "ignored %d", 1), -1);
}
