/* error.c - wire names of the error codes and the one helper that fills a
 * pr_error_t.
 *
 * Every failure in the protocol layer ends here, so that the code sent on
 * the wire and the message shown to the client are always set together.
 */
#include <stdarg.h>
#include <stdio.h>

#include "error.h"

/* Indexed by pr_code_t; PR_OK has no wire name of its own because a
 * success is never sent as an error. */
static const char *const code_names[PR_CODE_COUNT] = {
    [PR_OK] = "ok",
    [PR_BAD_FRAME] = "bad_frame",
    [PR_BAD_REQUEST] = "bad_request",
    [PR_UNKNOWN_OP] = "unknown_op",
    [PR_UNAUTHORIZED] = "unauthorized",
    [PR_FORBIDDEN] = "forbidden",
    [PR_NOT_FOUND] = "not_found",
    [PR_CONFLICT] = "conflict",
    [PR_TOO_LARGE] = "too_large",
    [PR_OVERLOADED] = "overloaded",
    [PR_STORAGE_FULL] = "storage_full",
    [PR_INTERNAL] = "internal",
};

const char *pr_code_name(pr_code_t code)
{
    /* The cast guards against values outside the enum that arrive through
     * an int; any such value is reported as an internal error. */
    if ((unsigned)code >= PR_CODE_COUNT)
        return "internal";
    return code_names[code];
}

int pr_fail(pr_error_t *err, pr_code_t code, const char *fmt, ...)
{
    if (err == NULL)
        return -1;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    /* vsnprintf truncates and always terminates, which is what a bounded
     * message wants; the return value is of no interest here. */
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (n < 0)
        err->message[0] = '\0';
    return -1;
}
