/* options.h - the one parser of the jobmatch tool's command options.
 *
 * A command describes the options it takes in a table; each is given as
 * "--name VALUE", "--name=VALUE" or, for a flag, "--name" alone, at most
 * once, in any order.
 */
#ifndef JM_CLI_OPTIONS_H
#define JM_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cli_opt {
    const char *name;   /* "--limit"; NULL: a word that is no option ("-" is one) */
    bool flag;          /* takes no value */
    unsigned in;        /* the commands (bits of cmd below) taking it; 0 = all */
} cli_opt_t;

/* An option with a value, a flag, and a word that every command of a
 * table takes. */
#define CLI_OPT(name) { (name), false, 0 }
#define CLI_FLAG(name) { (name), true, 0 }
#define CLI_WORD { NULL, false, 0 }

/* Parses every argument of argv[0..argc) against opts[0..n), as command
 * cmd: values[i] (n of them, NULL-initialised here) becomes the value of
 * opts[i], a flag's its name, a word's the word. An unknown argument, an
 * option or word given twice, a flag with a value or an option without one
 * is a usage error (printed, with usage). Returns 0 or CLI_EXIT_USAGE. */
int cli_parse_options(int argc, char **argv, const cli_opt_t *opts, size_t n,
                      unsigned cmd, const char **values, const char *usage);

/* Reads val, the value of option name, as an integer in min..max into
 * *out. Returns 0 or CLI_EXIT_USAGE (printed). */
int cli_int_option(const char *name, const char *val, long long min,
                   long long max, long long *out);

#endif
