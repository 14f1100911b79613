/* daemon.h - test helpers that run the real jobmatchd as a child process
 * and connect to it.
 *
 * Every daemon gets its own mkdtemp data directory, listens on a free
 * loopback port and announces the address through its ready file. It is
 * given a secret key file of its own (for sealing personal fields), made
 * beside the data directory, never inside it. The
 * binary is the one named by the JOBMATCHD environment variable (ctest
 * sets it). Daemons still running when the test process exits, or when it
 * dies, are killed and their directories removed, so a failed assertion
 * never leaves a stray daemon behind.
 *
 * Helpers here fail the current Criterion test (cr_assert) on any setup
 * error rather than returning codes: a test cannot do anything useful
 * without its daemon.
 */
#ifndef JM_TESTS_DAEMON_H
#define JM_TESTS_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobmatch.h"
#include "wire.h"

/* The admin key every test daemon is given through JOBMATCH_ADMIN_KEY. */
extern const char JT_ADMIN_KEY[];

/* How long a daemon may take to write its ready file. */
#define JT_START_TIMEOUT_MS 10000
/* How long a SIGTERM may take; the daemon's own drain deadline is 8 s. */
#define JT_STOP_TIMEOUT_MS 15000
/* The read/write timeout of every client connection the helpers open. */
#define JT_IO_TIMEOUT_MS 10000

typedef struct jt_daemon {
    pid_t pid;           /* 0 when not running */
    char dir[256];       /* data directory (also holds ready file, config) */
    char key_file[300];  /* DIR.secret.key, or "" for none (--secret-key-file none) */
    bool key_default;    /* no --secret-key-file: the daemon makes DIR.secret.key */
    char addr[128];      /* "127.0.0.1:PORT" of the running instance */
    char **args;         /* extra arguments, kept for restarts (owned) */
    size_t n_args;
    bool capture_log;    /* stderr to DIR/stderr rather than the test's */
} jt_daemon_t;

/* Starts jobmatchd with `--listen 127.0.0.1:0 --data DIR --ready-file
 * DIR/ready --log-level warn` followed by extra_args (a NULL-terminated
 * array, or NULL for none) and waits until it is ready. The returned
 * daemon is owned by the caller and released with jt_daemon_stop(). */
jt_daemon_t *jt_daemon_start(const char *const *extra_args);

/* Like jt_daemon_start(), but with `--secret-key-file none`. */
jt_daemon_t *jt_daemon_start_keyless(const char *const *extra_args);

/* Like jt_daemon_start(), but with no --secret-key-file at all: the
 * daemon makes and uses its default key file (d->key_file). */
jt_daemon_t *jt_daemon_start_default_key(const char *const *extra_args);

/* Like jt_daemon_start(), but first writes ini_text to DIR/jobmatchd.ini
 * and passes `-c DIR/jobmatchd.ini` ahead of extra_args. */
jt_daemon_t *jt_daemon_start_ini(const char *ini_text,
                                 const char *const *extra_args);

/* Like jt_daemon_start_ini() (ini_text may be NULL for no config file),
 * but the daemon's stderr goes to DIR/stderr, appended across restarts,
 * for tests that read its log with jt_daemon_log(). */
jt_daemon_t *jt_daemon_start_logged(const char *ini_text,
                                    const char *const *extra_args);

/* Everything a jt_daemon_start_logged() daemon has logged so far,
 * NUL-terminated; the caller frees it. */
char *jt_daemon_log(const jt_daemon_t *d);

/* Stops the daemon with SIGTERM if it runs, then starts it again on the
 * same data directory with the same arguments (it gets a new port; d->addr
 * is updated). Returns the stopped instance's status as jt_daemon_stop()
 * reports it, or -1 when it was not running (e.g. after jt_daemon_kill9). */
int jt_daemon_restart(jt_daemon_t *d);

/* Starts the (stopped) daemon on its directory and arguments, expecting it
 * to refuse to start: fails the test if it becomes ready. Returns its exit
 * status, with what it wrote to stderr in err (NUL-terminated). */
int jt_daemon_start_fails(jt_daemon_t *d, char *err, size_t err_len);

/* Kills the daemon with SIGKILL and reaps it. The data directory stays, so
 * jt_daemon_restart() can start it again. */
void jt_daemon_kill9(jt_daemon_t *d);

/* Sends SIGTERM, waits (bounded) for the daemon to exit, removes the data
 * directory and frees d. Returns the exit status, 128 + signal number when
 * a signal ended it, or -1 when it was not running. */
int jt_daemon_stop(jt_daemon_t *d);

/* Sends SIGTERM and waits, but keeps the directory and d (for tests that
 * look at the exit status and then restart). Same return as above. */
int jt_daemon_term(jt_daemon_t *d);

/* A new connection to the daemon, anonymous (role kiosk by default).
 * Caller closes it with jm_close(). */
jm_client_t *jt_connect(const jt_daemon_t *d);

/* A new connection that said hello with JT_ADMIN_KEY (role admin). */
jm_client_t *jt_connect_admin(const jt_daemon_t *d);

/* A new connection that said hello with key and got role want_role. */
jm_client_t *jt_connect_key(const jt_daemon_t *d, const char *key,
                            const char *want_role);

/* The daemon's memory in KiB from /proc/<pid>/status: field "VmRSS"
 * (resident now) or "VmHWM" (the peak so far). Fails the test when the
 * daemon does not run or the field is missing. */
long jt_daemon_mem_kb(const jt_daemon_t *d, const char *field);

/* The daemon's resident KiB in every mapping but the LMDB map (data.mdb),
 * from /proc/<pid>/smaps: its own memory, whatever the store's size (the
 * figure bench/lib.sh's rss_outside_map prints). Fails the test when the
 * daemon does not run. */
long jt_daemon_rss_outside_map_kb(const jt_daemon_t *d);

/* Monotonic milliseconds, and a sleep of ms milliseconds. */
int64_t jt_now_ms(void);
void jt_sleep_ms(int ms);

/* True when the daemon runs under valgrind (scripts/valgrind-tests.sh) or
 * the tests are built with AddressSanitizer: memory figures then include
 * the tool's own bookkeeping and everything runs slower, so tests that
 * measure scale their loads and bounds with this. */
bool jt_instrumented(void);

/* A raw TCP socket to the daemon, for bytes libjobmatch refuses to send.
 * Reads time out after JT_IO_TIMEOUT_MS. Caller closes the fd. */
int jt_raw_connect(const jt_daemon_t *d);

/* A loopback port nothing listens on now, for a daemon given a fixed
 * address (a peer's configuration names it, or it must come back on the
 * same address after a restart). */
int jt_free_port(void);

/* A loopback socket that accepts connections (into its backlog) and never
 * answers, for a peer that does not respond; its port in *port. Caller
 * closes the fd. */
int jt_silent_listener(int *port);

#endif
