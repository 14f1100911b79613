/* shell.c - `jobmatch` with no command: the counselor's interactive shell.
 *
 * Lines are read with libedit (editing, history in ~/.jobmatch_history,
 * Tab completion from the command table's words), split like a shell's
 * words ('single', "double" quotes and backslashes) and run by the same
 * handlers as one-shot mode, on one connection, reopened when it breaks.
 *
 * A command's standard output goes to a temporary file first; when it is
 * longer than the terminal it is paged ($PAGER, else the built-in pager),
 * else copied out. `alerts watch` streams until interrupted, so it is not
 * held back.
 */
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <editline/readline.h>

#include "cli.h"

#define SHELL_MAX_ARGS 64
#define SHELL_HISTORY_FILE ".jobmatch_history"
#define SHELL_HISTORY_LINES 1000

static const cli_command_t *shell_commands;
static size_t shell_n_commands;
static const char *const shell_builtins[] = { "help", "quit", "exit" };

/* ---- completion ------------------------------------------------------- */

/* The words the generator offers, and how far it has got. */
static const char *complete_words;
static size_t complete_at;
static bool complete_first_word;

static char *
next_match(const char *text, int state)
{
    size_t len = strlen(text);

    if (state == 0)
        complete_at = 0;
    if (complete_first_word) {
        size_t n_builtins = sizeof shell_builtins / sizeof shell_builtins[0];

        while (complete_at < shell_n_commands + n_builtins) {
            size_t i = complete_at++;
            const char *name = i < shell_n_commands
                                   ? shell_commands[i].name
                                   : shell_builtins[i - shell_n_commands];
            if (strncmp(name, text, len) == 0)
                return strdup(name);
        }
        return NULL;
    }
    while (complete_words != NULL && complete_words[complete_at] != '\0') {
        const char *w = complete_words + complete_at;
        size_t wl = strcspn(w, " ");

        complete_at += wl + strspn(w + wl, " ");
        if (wl >= len && strncmp(w, text, len) == 0)
            return strndup(w, wl);
    }
    return NULL;
}

/* The first word is a command; later words come from that command's
 * words, and when none fits, file names (libedit's default). */
static char **
complete(const char *text, int start, int end)
{
    const char *line = rl_line_buffer;
    size_t lead = strspn(line, " \t");
    size_t first_len = strcspn(line + lead, " \t");

    (void)end;
    complete_first_word = (size_t)start <= lead;
    complete_words = NULL;
    if (!complete_first_word) {
        for (size_t i = 0; i < shell_n_commands; i++)
            if (strlen(shell_commands[i].name) == first_len &&
                strncmp(shell_commands[i].name, line + lead, first_len) == 0)
                complete_words = shell_commands[i].words;
        if (complete_words == NULL)
            return NULL;
    }
    return rl_completion_matches(text, next_match);
}

/* ---- words ------------------------------------------------------------ */

/* Splits line in place into argv. Returns the count, or -1 with a message
 * for an unterminated quote or too many words. */
static int
split_words(char *line, char **argv, int max)
{
    char *r = line, *w = line;
    int n = 0;

    for (;;) {
        while (*r == ' ' || *r == '\t')
            r++;
        if (*r == '\0')
            return n;
        if (n == max) {
            fprintf(stderr, "jobmatch: at most %d words on a line\n", max);
            return -1;
        }
        argv[n++] = w;
        char quote = 0;
        while (*r != '\0' && (quote || (*r != ' ' && *r != '\t'))) {
            if (quote && *r == quote) {
                quote = 0;
                r++;
            } else if (!quote && (*r == '\'' || *r == '"')) {
                quote = *r++;
            } else if (*r == '\\' && quote != '\'' && r[1] != '\0') {
                *w++ = r[1];
                r += 2;
            } else {
                *w++ = *r++;
            }
        }
        if (quote) {
            fprintf(stderr, "jobmatch: unterminated %c quote\n", quote);
            return -1;
        }
        if (*r != '\0')
            r++;
        *w++ = '\0';
    }
}

/* ---- paging ----------------------------------------------------------- */

static int
terminal_rows(void)
{
    struct winsize ws;

    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 2)
        return ws.ws_row;
    return 24;
}

/* Shows prompt and reads one key from the terminal, without waiting for
 * Enter or echoing. Raw mode starts before the prompt shows, so a key
 * typed as soon as it appears is neither echoed nor lost. */
static int
prompt_key(const char *prompt)
{
    struct termios saved, raw;
    unsigned char c;
    int got;

    if (tcgetattr(STDIN_FILENO, &saved) != 0)
        return 'q';
    raw = saved;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    fputs(prompt, stdout);
    fflush(stdout);
    got = (int)read(STDIN_FILENO, &c, 1);
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    return got == 1 ? c : 'q';
}

/* Shows f a screen at a time: space for the next screen, Enter for the
 * next line, q to stop. */
static void
builtin_pager(FILE *f, int rows)
{
    char *line = NULL;
    size_t cap = 0;
    int left = rows - 1;

    while (getline(&line, &cap, f) != -1) {
        if (left == 0) {
            int key;

            key = prompt_key("-- more: space next page, enter next line, q quit --");
            fputs("\r\033[K", stdout);
            if (key == 'q' || key == 'Q')
                break;
            left = key == '\n' || key == '\r' ? 1 : rows - 1;
        }
        fputs(line, stdout);
        left--;
    }
    free(line);
}

/* Runs $PAGER (through sh, as other tools do) with f as its input. */
static void
external_pager(FILE *f, const char *pager)
{
    pid_t pid = fork();

    if (pid == 0) {
        dup2(fileno(f), STDIN_FILENO);
        execl("/bin/sh", "sh", "-c", pager, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
}

/* Shows what a command wrote to f: paged when it is longer than the
 * terminal, else as it is. */
static void
show_output(FILE *f)
{
    int rows = terminal_rows(), lines = 0, c;
    const char *pager = getenv("PAGER");

    rewind(f);
    while ((c = getc(f)) != EOF)
        lines += c == '\n';
    rewind(f);
    if (lines >= rows - 1 && isatty(STDOUT_FILENO)) {
        if (pager != NULL && *pager != '\0')
            external_pager(f, pager);
        else
            builtin_pager(f, rows);
        return;
    }
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stdout);
}

/* ---- running commands ------------------------------------------------- */

static const cli_command_t *
find_command(const char *name)
{
    for (size_t i = 0; i < shell_n_commands; i++)
        if (strcmp(shell_commands[i].name, name) == 0)
            return &shell_commands[i];
    return NULL;
}

static bool
has_word(int argc, char **argv, const char *word)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], word) == 0)
            return true;
    return false;
}

/* Runs one command with its standard output and error held in a
 * temporary file, in the order written (a listing's "more follow" line
 * after its records), then shown (paged when long). */
static int
run_held(cli_t *cli, const cli_command_t *cmd, int argc, char **argv)
{
    FILE *held = tmpfile();
    int saved = held ? dup(STDOUT_FILENO) : -1, rc;
    int saved_err = saved >= 0 ? dup(STDERR_FILENO) : -1;

    if (saved_err < 0) {
        if (saved >= 0)
            close(saved);
        if (held)
            fclose(held);
        return cmd->fn(cli, argc, argv);
    }
    fflush(stdout);
    fflush(stderr);
    dup2(fileno(held), STDOUT_FILENO);
    dup2(fileno(held), STDERR_FILENO);
    rc = cmd->fn(cli, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved);
    close(saved_err);
    show_output(held);
    fclose(held);
    fflush(stdout);
    return rc;
}

static int
run_line(cli_t *cli, char *line, const char *usage)
{
    char *argv[SHELL_MAX_ARGS + 2];
    int argc = split_words(line, argv, SHELL_MAX_ARGS);
    const cli_command_t *cmd;
    int rc;

    if (argc <= 0)
        return argc;
    if (strcmp(argv[0], "help") == 0) {
        FILE *f = tmpfile();

        if (f) {
            fputs(usage, f);
            show_output(f);
            fclose(f);
        }
        return 0;
    }
    cmd = find_command(argv[0]);
    if (cmd == NULL) {
        fprintf(stderr, "jobmatch: unknown command \"%s\" (help lists them)\n", argv[0]);
        return CLI_EXIT_USAGE;
    }
    /* In the shell a match table always says why, unless JSON is asked. */
    if (strcmp(argv[0], "match") == 0 && !has_word(argc, argv, "--json") &&
        !has_word(argc, argv, "--why"))
        argv[argc++] = "--why";
    argv[argc] = NULL;
    if (strcmp(argv[0], "alerts") == 0 && argc > 1 && strcmp(argv[1], "watch") == 0)
        rc = cmd->fn(cli, argc, argv);
    else
        rc = run_held(cli, cmd, argc, argv);
    if (rc == CLI_EXIT_IO) {
        /* The connection is gone (idle timeout, restart): a new one for
         * the next command. The failed one is not run again, since it
         * may have been applied. */
        jm_close(cli->client);
        cli->client = NULL;
        if (cli_connect(cli) == CLI_EXIT_OK)
            fprintf(stderr, "jobmatch: reconnected to %s\n", cli->addr);
    }
    return rc;
}

int
cli_shell(cli_t *cli, const cli_command_t *commands, size_t n, const char *usage)
{
    char history[1024] = "";
    const char *home = getenv("HOME");
    char *line;

    /* libedit reads multibyte text (Chinese titles and names) only under
     * the user's UTF-8 locale. */
    setlocale(LC_CTYPE, "");
    shell_commands = commands;
    shell_n_commands = n;
    rl_readline_name = "jobmatch";
    rl_attempted_completion_function = complete;
    using_history();
    stifle_history(SHELL_HISTORY_LINES);
    if (home != NULL && *home != '\0') {
        snprintf(history, sizeof history, "%s/%s", home, SHELL_HISTORY_FILE);
        read_history(history);
    }
    printf("jobmatch %s shell on %s: help lists the commands, Tab completes, "
           "Ctrl-D quits\n", JM_VERSION, cli->addr);
    while ((line = readline("jobmatch> ")) != NULL) {
        size_t lead = strspn(line, " \t");

        if (strcmp(line + lead, "quit") == 0 || strcmp(line + lead, "exit") == 0) {
            free(line);
            break;
        }
        if (line[lead] != '\0') {
            add_history(line);
            /* Lines may hold workers' ids or personal fields: the file
             * is the user's alone. */
            if (history[0] && write_history(history) == 0)
                chmod(history, 0600);
            if (cli->client == NULL && cli_connect(cli) != CLI_EXIT_OK) {
                free(line);
                continue;
            }
            run_line(cli, line + lead, usage);
        }
        free(line);
    }
    putchar('\n');
    return CLI_EXIT_OK;
}
