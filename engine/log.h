/* log.h - leveled log lines on stderr.
 *
 * One write(2) per line, so lines from different threads never interleave.
 * Personal fields of workers must never be passed to these functions.
 */
#ifndef JM_ENGINE_LOG_H
#define JM_ENGINE_LOG_H

#include <stdbool.h>

enum en_log_level { EN_LOG_ERROR = 0, EN_LOG_WARN, EN_LOG_INFO, EN_LOG_DEBUG };

/* Lines above this level are dropped. Set once at start-up. */
extern enum en_log_level en_log_threshold;

/* Parses "error", "warn", "info" or "debug"; -1 for anything else. */
int en_log_level_parse(const char *name);

void en_log(enum en_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define en_error(...) en_log(EN_LOG_ERROR, __VA_ARGS__)
#define en_warn(...) en_log(EN_LOG_WARN, __VA_ARGS__)
#define en_info(...) en_log(EN_LOG_INFO, __VA_ARGS__)
#define en_debug(...) \
    do { if (en_log_threshold >= EN_LOG_DEBUG) en_log(EN_LOG_DEBUG, __VA_ARGS__); } while (0)

/* A message that can repeat at a high rate (once per request, say): it
 * goes to the log at most once a second, and the line that passes says
 * how many were held back since the last. Zero-initialised; any thread. */
typedef struct {
    _Atomic long long next_ns;        /* CLOCK_MONOTONIC; before it, hold */
    _Atomic unsigned long long held;  /* held back since the last line */
} en_log_limit_t;

/* True when the caller should log now, with *held set to how many calls
 * were held back before this one; false when this one is held back. */
bool en_log_limit_pass(en_log_limit_t *limit, unsigned long long *held);

#endif
