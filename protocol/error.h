/* error.h - the wire error codes and the error value every protocol
 * function fills in.
 *
 * A pr_error_t carries one contract error code and a human-readable message
 * that names the offending field ("vacancy.skills[2].level: must be 1..5").
 * Messages never contain the value of a personal field.
 */
#ifndef JM_PROTOCOL_ERROR_H
#define JM_PROTOCOL_ERROR_H

typedef enum pr_code {
    PR_OK = 0,
    PR_BAD_FRAME,
    PR_BAD_REQUEST,
    PR_UNKNOWN_OP,
    PR_UNAUTHORIZED,
    PR_FORBIDDEN,
    PR_NOT_FOUND,
    PR_CONFLICT,
    PR_TOO_LARGE,
    PR_OVERLOADED,
    PR_STORAGE_FULL,
    PR_INTERNAL,
    PR_CODE_COUNT
} pr_code_t;

#define PR_MESSAGE_MAX 240

typedef struct pr_error {
    pr_code_t code;
    char message[PR_MESSAGE_MAX];
} pr_error_t;

/* The wire name of a code ("bad_request"); "internal" for unknown values. */
const char *pr_code_name(pr_code_t code);

/* Sets err->code and a printf-formatted message (truncated to fit).
 * err may be NULL. Always returns -1 so callers can write
 * `return pr_fail(err, PR_BAD_REQUEST, "%s: required", path);`. */
int pr_fail(pr_error_t *err, pr_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
