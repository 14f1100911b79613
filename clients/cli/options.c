/* options.c - the one parser of the jobmatch tool's command options. */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The entry of opts that arg is: the option it names ("--name" or
 * "--name=..."), the word when it is no option, or n. */
static size_t
find(const char *arg, const cli_opt_t *opts, size_t n)
{
    bool word = arg[0] != '-' || strcmp(arg, "-") == 0;
    for (size_t i = 0; i < n; i++) {
        if (!opts[i].name) {
            if (word)
                return i;
            continue;
        }
        size_t len = strlen(opts[i].name);
        if (strncmp(arg, opts[i].name, len) == 0 && (arg[len] == '\0' || arg[len] == '='))
            return i;
    }
    return n;
}

int
cli_parse_options(int argc, char **argv, const cli_opt_t *opts, size_t n, unsigned cmd,
                  const char **values, const char *usage)
{
    for (size_t i = 0; i < n; i++)
        values[i] = NULL;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        size_t j = find(arg, opts, n);
        if (j == n || (opts[j].in != 0 && !(opts[j].in & cmd)))
            return cli_usage("unknown argument \"%s\"; %s", arg, usage);
        const cli_opt_t *o = &opts[j];
        if (!o->name) {
            if (values[j] != NULL)
                return cli_usage("unexpected argument \"%s\"; %s", arg, usage);
            values[j] = arg;
            continue;
        }
        if (values[j] != NULL)
            return cli_usage("%s given twice", o->name);
        const char *eq = arg[strlen(o->name)] == '=' ? arg + strlen(o->name) + 1 : NULL;
        if (o->flag) {
            if (eq)
                return cli_usage("%s takes no value", o->name);
            values[j] = o->name;
        } else if (eq) {
            values[j] = eq;
        } else if (i + 1 < argc) {
            values[j] = argv[++i];
        } else {
            return cli_usage("%s needs a value", o->name);
        }
    }
    return 0;
}

int
cli_int_option(const char *name, const char *val, long long min, long long max,
               long long *out)
{
    char *end;
    errno = 0;
    *out = strtoll(val, &end, 10);
    if (*val != '\0' && *end == '\0' && errno == 0 && *out >= min && *out <= max)
        return 0;
    if (min == LLONG_MIN && max == LLONG_MAX)
        return cli_usage("%s wants an integer, not \"%s\"", name, val);
    if (min == 1 && max == LLONG_MAX)
        return cli_usage("%s wants a positive integer, not \"%s\"", name, val);
    return cli_usage("%s wants an integer %lld..%lld, not \"%s\"", name, min, max, val);
}
