/* cli.h - what the files of the `jobmatch` command-line client share:
 * the run context, exit codes, output helpers and the command handlers.
 *
 * The tool uses only the public client library (jobmatch.h) and
 * msgpack-c, so it doubles as an example of the library's use.
 */
#ifndef JM_CLI_H
#define JM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <msgpack.h>

#include "jobmatch.h"

/* Exit codes, as documented in `jobmatch help`. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_SERVER = 1,   /* the server answered an error, or lines were rejected */
    CLI_EXIT_USAGE = 2,    /* bad command line or unreadable/invalid input */
    CLI_EXIT_IO = 3,       /* connection or transport failure */
};

/* One run of the tool. The client is connected (and hello'd when a key
 * was given) before a command handler is called. */
typedef struct cli {
    jm_client_t *client;
    bool pretty;           /* -p: indent JSON output */
    FILE *out;             /* where cli_print writes; NULL = stdout */
    const char *addr;      /* where to (re)connect, and with what key */
    const char *key;       /* NULL = anonymous */
    int timeout_ms;
} cli_t;

/* A command handler: argv[0] is the command name. Returns an exit code. */
typedef int (*cli_cmd_fn)(cli_t *cli, int argc, char **argv);

/* An entry of the command table (main.c): words are what the shell
 * completes after the name (subcommands and options, space-separated). */
typedef struct cli_command {
    const char *name;
    cli_cmd_fn fn;
    const char *words;
} cli_command_t;

/* ---- main.c ---- */

/* Connects cli->client to cli->addr and says hello with cli->key when
 * there is one. Returns an exit code (errors reported on stderr). */
int cli_connect(cli_t *cli);

/* ---- shell.c ---- */

/* The interactive shell: reads command lines with editing, history (in
 * ~/.jobmatch_history) and completion, runs each through the same table
 * as one-shot mode on one connection, and pages output longer than the
 * terminal. Returns 0 at end of input. */
int cli_shell(cli_t *cli, const cli_command_t *commands, size_t n, const char *usage);

/* ---- output.c ---- */

/* Prints "jobmatch: <code>: <message>" to stderr. */
void cli_error(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints a usage error and returns CLI_EXIT_USAGE. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports a failed library call (rc < 0) on stderr and returns the exit
 * code for it. r is the reply when the server answered an error (may be
 * NULL); the function does not free it. */
int cli_report(const cli_t *cli, int rc, const jm_reply_t *r);

/* Writes o as one line of JSON (indented with -p) on cli->out. Returns 0,
 * or CLI_EXIT_SERVER when o cannot be written as JSON. */
int cli_print(const cli_t *cli, const msgpack_object *o);

/* Reads a whole file ("-" = standard input) into a malloc'd,
 * NUL-terminated buffer. Returns 0 or -1 (message printed). */
int cli_read_file(const char *path, char **data, size_t *len);

/* Packs JSON text that must be one object into sb (appended). Returns 0,
 * or -1 with the reason in err. */
int cli_pack_object(const char *json, msgpack_sbuffer *sb, char *err,
                    size_t errlen);

/* Looks key up in a str-keyed msgpack map; NULL when absent. */
const msgpack_object *cli_map_get(const msgpack_object *map, const char *key);

/* Appends a msgpack str holding s. */
void cli_pack_str(msgpack_packer *pk, const char *s);

/* True when the first byte of packed msgpack is a map header. */
bool cli_is_packed_map(const char *data, size_t len);

/* Aligned tables: a header and rows of text cells, columns as wide as
 * their widest cell, two blanks apart; align holds 'l' or 'r' per column
 * (NULL = all left). Cells are copied. */
#define CLI_TABLE_MAX_COLS 16
typedef struct cli_table {
    unsigned ncols;
    const char *const *head;
    const char *align;
    char **cells;
    size_t rows, cap;
} cli_table_t;
void cli_table_init(cli_table_t *t, unsigned ncols, const char *const *head,
                    const char *align);
void cli_table_row(cli_table_t *t, const char *const *cells);
void cli_table_print(cli_table_t *t);
void cli_table_free(cli_table_t *t);

/* Writes a msgpack value as table text: strings as they are, integers in
 * decimal, floats with `decimals` places, nil as "-". */
void cli_cell(char *buf, size_t len, const msgpack_object *o, int decimals);

/* Calls op; on success *out is the reply (caller frees), else the error
 * is reported and its exit code returned. */
int cli_call_reply(cli_t *cli, const char *op, const msgpack_sbuffer *args,
                   jm_reply_t **out);

/* ---- cmd_records.c ---- */

/* Calls op with packed args (NULL = none) and prints result[key] (the
 * whole result when key is NULL or absent) as JSON. Returns an exit code. */
int cli_call_print(cli_t *cli, const char *op, const msgpack_sbuffer *args,
                   const char *key);
int cmd_ping(cli_t *cli, int argc, char **argv);
int cmd_info(cli_t *cli, int argc, char **argv);
int cmd_check(cli_t *cli, int argc, char **argv);
int cmd_backup(cli_t *cli, int argc, char **argv);
int cmd_get(cli_t *cli, int argc, char **argv);
int cmd_put(cli_t *cli, int argc, char **argv);
int cmd_delete(cli_t *cli, int argc, char **argv);
int cmd_close(cli_t *cli, int argc, char **argv);
int cmd_list(cli_t *cli, int argc, char **argv);
int cmd_call(cli_t *cli, int argc, char **argv);

/* Packs the arguments of one page of a listing (cursor NULL on the
 * first page unless the user gave one). */
typedef void (*cli_pack_page_fn)(msgpack_sbuffer *sb, const void *ctx,
                                 const char *cursor, size_t cursor_len);

/* Runs a paged listing: calls op page after page (following "cursor"
 * when all is set, else telling on stderr how to go on) and prints each
 * item of the result's items_key array as a JSON line. */
int cli_listing(cli_t *cli, const char *op, const char *items_key,
                cli_pack_page_fn pack, const void *ctx,
                const char *first_cursor, bool all);

/* ---- cmd_suggest.c ---- */

/* `suggest TEXT [--limit N] [--json]`: occupation codes for a job title
 * (occupation.suggest), as a ranked table. */
int cmd_suggest(cli_t *cli, int argc, char **argv);

/* ---- cmd_export.c ---- */

/* `export vacancies|workers [FILE]`: every record as JSON Lines, in id
 * order, in the form `import` reads back. */
int cmd_export(cli_t *cli, int argc, char **argv);

/* ---- cmd_admin.c ---- */
int cmd_audit(cli_t *cli, int argc, char **argv);
int cmd_metrics(cli_t *cli, int argc, char **argv);

/* ---- cmd_import.c ---- */
int cmd_import(cli_t *cli, int argc, char **argv);

/* ---- cmd_match.c ---- */

/* `match vacancies|workers ...`: match.vacancies / match.workers, shown as
 * a ranked table (with --why a reason per match) or, with --json, as the
 * result JSON. */
int cmd_match(cli_t *cli, int argc, char **argv);

/* `explain ...`: match.explain for one worker (or profile) and vacancy,
 * shown as rules met or not, score parts, missing skills and a verdict,
 * or with --json as the result JSON. */
int cmd_explain(cli_t *cli, int argc, char **argv);

/* ---- cmd_refer.c ---- */

/* `refer create|update|show|list ...`: referrals (referral.*), shown as
 * tables or, with --json, as the result JSON. */
int cmd_refer(cli_t *cli, int argc, char **argv);

/* ---- cmd_stats.c ---- */

/* `stats supply-demand|wages|reemployment ...`: labour-market figures
 * (stats.*) as aligned tables or, with --json, the result JSON. */
int cmd_stats(cli_t *cli, int argc, char **argv);

/* ---- cmd_alerts.c ---- */

/* `alerts subscribe|unsubscribe|list|subscriptions|watch ...`: match
 * alerts (alert.*); watch prints pushed alerts until interrupted. */
int cmd_alerts(cli_t *cli, int argc, char **argv);

/* ---- cmd_fair.c ---- */

/* `fair create|add|remove|show|allocate ...`: job fairs (fair.*). */
int cmd_fair(cli_t *cli, int argc, char **argv);

#endif
