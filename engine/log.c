/* log.c - leveled log lines on stderr, one write(2) each. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum en_log_level en_log_threshold = EN_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int
en_log_level_parse(const char *name)
{
    for (int i = 0; i <= EN_LOG_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void
en_log(enum en_log_level level, const char *fmt, ...)
{
    if (level > en_log_threshold)
        return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %s ",
                  ts.tv_nsec / 1000000, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* A failed log write has nowhere better to be reported. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}

bool
en_log_limit_pass(en_log_limit_t *limit, unsigned long long *held)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = ts.tv_sec * 1000000000LL + ts.tv_nsec;
    long long next = atomic_load(&limit->next_ns);
    if (now < next || !atomic_compare_exchange_strong(&limit->next_ns, &next, now + 1000000000LL)) {
        atomic_fetch_add(&limit->held, 1);
        return false;
    }
    *held = atomic_exchange(&limit->held, 0);
    return true;
}
