/* main.c - the jobmatch command-line client: global options, the
 * environment, connecting (and hello with a key), and dispatch to the
 * command handlers in cmd_*.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef JM_VERSION
#define JM_VERSION "0"
#endif

#define DEFAULT_ADDR "127.0.0.1:7411"
#define DEFAULT_TIMEOUT_MS 60000

static const char usage_text[] =
    "usage: jobmatch [-a ADDR] [-k KEY | -K KEYFILE] [-t TIMEOUT_MS] [-p]\n"
    "                COMMAND ...\n"
    "\n"
    "commands:\n"
    "  ping                                  check the server (prints pong)\n"
    "  info                                  server information (admin.info)\n"
    "  check                                 verify every index against the records\n"
    "                                        (admin.check; exit 1 when inconsistent)\n"
    "  backup DIR                            hot, compacted copy of the store into\n"
    "                                        DIR/data.mdb on the server's host; DIR\n"
    "                                        is new: absolute, or a name inside the\n"
    "                                        server's backup_dir (admin.backup)\n"
    "  get vacancy|worker ID                 print one record\n"
    "  put vacancy|worker FILE.json|-        insert or replace one record\n"
    "  delete vacancy|worker ID              delete one record\n"
    "  close vacancy ID                      close a vacancy\n"
    "  list vacancies|workers [--region P] [--occupation P] [--status S]\n"
    "       [--category C] [--limit N] [--cursor C] [--all]\n"
    "                                        one JSON record per line\n"
    "  import vacancies|workers FILE.jsonl|- [--batch N] [--sort N]\n"
    "                                        bulk load JSON lines, each run of\n"
    "                                        N lines (200000) in region order\n"
    "  export vacancies|workers [FILE|-]     every record as JSON lines, in id\n"
    "                                        order (import reads them back);\n"
    "                                        FILE is replaced only when all is\n"
    "                                        written\n"
    "  match vacancies (--worker ID | --profile FILE.json|-)\n"
    "       [--scope county|city|province|all|network] [--limit N] [--as-of T]\n"
    "       [--occupation P] [--employer E] [--min-wage W] [--why] [--json]\n"
    "                                        rank vacancies for a worker\n"
    "  match workers --vacancy ID [--scope S] [--limit N] [--as-of T]\n"
    "       [--category C] [--why] [--json]\n"
    "                                        rank workers for a vacancy\n"
    "                                        (--why: a reason per match)\n"
    "  explain (--worker ID | --profile FILE.json|-) --vacancy ID\n"
    "       [--scope S] [--as-of T] [--json]\n"
    "                                        why a pair matches or not\n"
    "  audit [--worker ID] [--key NAME] [--since T] [--until T]\n"
    "       [--limit N] [--cursor C] [--all]\n"
    "                                        who read or changed worker records\n"
    "                                        (audit.list; one JSON entry per line)\n"
    "  fair create ID --name NAME [--region R] [--date T]\n"
    "                                        (R: the fair's county, 6 digits)\n"
    "  fair add|remove FAIR vacancies|workers (ID... | --file FILE|-)\n"
    "  fair show FAIR\n"
    "  fair allocate FAIR [--scope S] [--as-of T] [--referrals] [--json]\n"
    "                                        job fairs: members and a stable\n"
    "                                        allocation of workers to places\n"
    "  metrics                               the daemon's request counts, latency\n"
    "                                        percentiles, connections and commits\n"
    "                                        (admin.stats)\n"
    "  refer create --worker ID --vacancy ID [--note TEXT]\n"
    "  refer update ID interviewed|hired|rejected|withdrawn [--note TEXT]\n"
    "  refer show ID\n"
    "  refer list [--worker ID] [--vacancy ID] [--status S] [--limit N]\n"
    "       [--cursor C] [--all]\n"
    "                                        referrals and their history\n"
    "                                        (tables; --json for JSON)\n"
    "  stats supply-demand --period P [--region R] [--by B] [--occupation O]\n"
    "       [--network]\n"
    "  stats wages [--region R] [--by B] [--occupation O] [--flag-limit N]\n"
    "  stats reemployment --period P [--region R] [--network]\n"
    "                                        labour-market figures as tables\n"
    "                                        (--json for JSON); P: 2026,\n"
    "                                        2026-Q1 or 2026-03; B: major,\n"
    "                                        middle, minor, detail, province,\n"
    "                                        city or county\n"
    "  alerts subscribe (--worker ID | --vacancy ID) [--min-score S]\n"
    "       [--scope S] [--occupation P] [--employer E] [--min-wage W]\n"
    "       [--category C]                   alert on new matches (alert.*)\n"
    "  alerts unsubscribe SUB | list SUB [--after SEQ] [--limit N]\n"
    "  alerts subscriptions [--worker ID | --vacancy ID]\n"
    "  alerts watch SUB...                   print alerts as they are pushed\n"
    "  suggest TEXT [--limit N] [--json]     occupation codes for a job title as\n"
    "                                        people write it (occupation.suggest)\n"
    "  call OP [JSON-ARGS]                   raw call, prints the result\n"
    "  help, --help, --version\n"
    "T is a time in Unix seconds.\n"
    "\n"
    "Without a command, on a terminal: an interactive shell running the\n"
    "same commands on one connection, with line editing, history\n"
    "(~/.jobmatch_history), Tab completion of commands, subcommands and\n"
    "options, match tables with a reason per line, and output longer than\n"
    "the screen paged ($PAGER, else a built-in pager: space, enter, q).\n"
    "Shell-only commands: help, quit (or exit, or Ctrl-D).\n"
    "\n"
    "options:\n"
    "  -a, --addr ADDR       host:port, [v6addr]:port or unix:/path\n"
    "                        (default $JOBMATCH_ADDR, else " DEFAULT_ADDR ")\n"
    "  -k, --key KEY         API key (default $JOBMATCH_KEY)\n"
    "  -K, --key-file FILE   file holding only the API key\n"
    "  -t, --timeout MS      bound on each read and write (default 60000,\n"
    "                        0 = none)\n"
    "  -p, --pretty          indent JSON output\n"
    "\n"
    "exit codes: 0 ok, 1 server error answer (or rejected lines),\n"
    "            2 usage or input error, 3 connection or transport error\n";

static const cli_command_t commands[] = {
    { "ping", cmd_ping, NULL },
    { "info", cmd_info, NULL },
    { "check", cmd_check, NULL },
    { "backup", cmd_backup, NULL },
    { "get", cmd_get, "vacancy worker" },
    { "put", cmd_put, "vacancy worker" },
    { "delete", cmd_delete, "vacancy worker" },
    { "close", cmd_close, "vacancy" },
    { "list", cmd_list, "vacancies workers --region --occupation --status "
                        "--category --limit --cursor --all" },
    { "import", cmd_import, "vacancies workers --batch --sort" },
    { "export", cmd_export, "vacancies workers" },
    { "suggest", cmd_suggest, "--limit --json" },
    { "match", cmd_match, "vacancies workers --worker --profile --vacancy "
                          "--scope --limit --as-of --occupation --employer "
                          "--min-wage --category --why --json county city "
                          "province all" },
    { "explain", cmd_explain, "--worker --profile --vacancy --scope --as-of "
                              "--json" },
    { "audit", cmd_audit, "--worker --key --since --until --limit --cursor "
                          "--all" },
    { "fair", cmd_fair, "create add remove show allocate vacancies workers "
                        "--name --region --date --file --scope --as-of "
                        "--json" },
    { "metrics", cmd_metrics, NULL },
    { "refer", cmd_refer, "create update show list --worker --vacancy --note "
                          "--status --limit --cursor --all --json interviewed "
                          "hired rejected withdrawn" },
    { "stats", cmd_stats, "supply-demand wages reemployment --period "
                          "--region --by --occupation --flag-limit --json "
                          "major middle minor detail province city county" },
    { "alerts", cmd_alerts, "subscribe unsubscribe list subscriptions watch "
                            "--worker --vacancy --min-score --scope "
                            "--occupation --employer --min-wage --category "
                            "--after --limit" },
    { "call", cmd_call, "occupation.suggest vacancy.get vacancy.list "
                        "worker.get worker.list match.vacancies "
                        "match.workers match.explain admin.info" },
};

/* Reads the key file: the key is its whole content less trailing line
 * ends and blanks. Returns a malloc'd string or NULL (message printed). */
static char *
read_key_file(const char *path)
{
    char *data;
    size_t len;

    if (cli_read_file(path, &data, &len) != 0)
        return NULL;
    while (len > 0 && strchr("\r\n \t", data[len - 1]) != NULL)
        data[--len] = '\0';
    if (len == 0 || strlen(data) != len) {
        cli_error("usage", "%s: empty or not a key", path);
        free(data);
        return NULL;
    }
    return data;
}

static int
parse_timeout(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 0 || v > 86400000)
        return -1;
    *out = (int)v;
    return 0;
}

int
cli_connect(cli_t *cli)
{
    char err[256], role[64];
    int rc = CLI_EXIT_OK;

    cli->client = jm_connect(cli->addr, cli->timeout_ms, err, sizeof err);
    if (cli->client == NULL) {
        cli_error("io", "%s", err);
        return CLI_EXIT_IO;
    }
    if (cli->key != NULL) {
        int hrc = jm_hello(cli->client, cli->key, role, sizeof role);

        if (hrc != 0) {
            /* The hello reply is gone by now; its text is in errstr as
             * "code: message", which is the required form already. */
            if (hrc == JM_ESERVER) {
                fprintf(stderr, "jobmatch: %s\n", cli->client->errstr);
                rc = CLI_EXIT_SERVER;
            } else {
                rc = cli_report(cli, hrc, NULL);
            }
        }
    }
    return rc;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "addr", required_argument, NULL, 'a' },
        { "key", required_argument, NULL, 'k' },
        { "key-file", required_argument, NULL, 'K' },
        { "timeout", required_argument, NULL, 't' },
        { "pretty", no_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *addr = getenv("JOBMATCH_ADDR");
    const char *key = NULL, *key_file = NULL;
    char *key_owned = NULL;
    const cli_command_t *cmd = NULL;
    int opt, timeout_ms = DEFAULT_TIMEOUT_MS, rc;
    bool shell;
    cli_t cli = { 0 };

    /* "+" stops at the command name, so command options are left alone. */
    while ((opt = getopt_long(argc, argv, "+a:k:K:t:phV", longopts,
                              NULL)) != -1) {
        switch (opt) {
        case 'a': addr = optarg; break;
        case 'k': key = optarg; break;
        case 'K': key_file = optarg; break;
        case 't':
            if (parse_timeout(optarg, &timeout_ms) != 0)
                return cli_usage("-t wants milliseconds, 0..86400000");
            break;
        case 'p': cli.pretty = true; break;
        case 'h': fputs(usage_text, stdout); return CLI_EXIT_OK;
        case 'V': printf("jobmatch %s\n", JM_VERSION); return CLI_EXIT_OK;
        default: return cli_usage("unknown option");
        }
    }
    /* No command on a terminal: the interactive shell. Without a terminal
     * a missing command stays a usage error, so scripts fail loudly. */
    shell = optind >= argc;
    if (shell && !isatty(STDIN_FILENO))
        return cli_usage("no command (the interactive shell needs a terminal)");
    if (!shell && strcmp(argv[optind], "help") == 0) {
        fputs(usage_text, stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; !shell && i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[optind], commands[i].name) == 0)
            cmd = &commands[i];
    if (!shell && cmd == NULL)
        return cli_usage("unknown command \"%s\"", argv[optind]);
    if (key != NULL && key_file != NULL)
        return cli_usage("-k and -K exclude each other");

    if (addr == NULL || *addr == '\0')
        addr = DEFAULT_ADDR;
    if (key == NULL && key_file != NULL) {
        key_owned = read_key_file(key_file);
        if (key_owned == NULL)
            return CLI_EXIT_USAGE;
        key = key_owned;
    }
    if (key == NULL && key_file == NULL) {
        key = getenv("JOBMATCH_KEY");
        if (key != NULL && *key == '\0')
            key = NULL;
    }
    cli.addr = addr;
    cli.key = key;
    cli.timeout_ms = timeout_ms;

    rc = cli_connect(&cli);
    if (rc == CLI_EXIT_OK && shell)
        rc = cli_shell(&cli, commands, sizeof commands / sizeof commands[0],
                       usage_text);
    else if (rc == CLI_EXIT_OK)
        rc = cmd->fn(&cli, argc - optind, argv + optind);
    if (cli.client != NULL)
        jm_close(cli.client);
    free(key_owned);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
        cli_error("io", "writing standard output failed");
        rc = CLI_EXIT_IO;
    }
    return rc;
}
