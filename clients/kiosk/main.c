/* main.c - jobmatch-kiosk: the options, the HTTP listener and the event
 * loop. The requests themselves are answered in api.c and files.c. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/http.h>

#include "kiosk.h"

#ifndef JM_VERSION
#define JM_VERSION "0"
#endif
#ifndef JM_KIOSK_WWW
#define JM_KIOSK_WWW "clients/kiosk/www"
#endif
#ifndef JM_KIOSK_DATA
#define JM_KIOSK_DATA "data"
#endif

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_DAEMON "127.0.0.1:7411"
#define DEFAULT_TIMEOUT_MS 5000

static const char usage_text[] =
    "usage: jobmatch-kiosk [OPTION]...\n"
    "\n"
    "The job-fair kiosk: serves a touch-screen page and its JSON API over HTTP,\n"
    "and asks jobmatchd with the kiosk role only (public vacancies, matching by\n"
    "profile, statistics; never a worker record). Open http://LISTEN/ in a browser.\n"
    "\n"
    "options:\n"
    "  -l, --listen HOST:PORT  where to serve HTTP (default $JOBMATCH_KIOSK_LISTEN,\n"
    "                          else " DEFAULT_LISTEN "); port 0 picks a free one\n"
    "  -a, --daemon ADDR       jobmatchd's address: host:port, [v6]:port or\n"
    "                          unix:/path (default $JOBMATCH_ADDR, else " DEFAULT_DAEMON ")\n"
    "  -K, --key-file FILE     read the kiosk key from the first line of FILE\n"
    "                          (default: the key in $JOBMATCH_KIOSK_KEY, else none:\n"
    "                          the daemon's anonymous role). The role granted must\n"
    "                          be 'kiosk'; with any other the kiosk refuses to start\n"
    "  -t, --timeout MS        bound on each exchange with jobmatchd (default 5000)\n"
    "      --period P          statistics period for the chart: 2026, 2026-Q1 or\n"
    "                          2026-03 (default: the current calendar year, UTC)\n"
    "      --www DIR           the page's files (default " JM_KIOSK_WWW ")\n"
    "      --data DIR          the reference data: region, occupation and skill\n"
    "                          lists (default " JM_KIOSK_DATA ")\n"
    "      --ready-file FILE   once listening, write the page's URL to FILE\n"
    "  -h, --help              this text\n"
    "  -V, --version           the version\n"
    "\n"
    "The daemon may start later or restart: the kiosk connects when asked and the\n"
    "page says when the job service cannot be reached. SIGINT or SIGTERM stops it.\n"
    "Exit status: 0 after a signal, 1 on a start-up error, 2 on a usage error.\n"
    "API and page: docs/kiosk.md.\n";

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopexit(arg, NULL);
}

/* Reads the first line of path into a malloc'd string. */
static char *
read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "jobmatch-kiosk: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n <= 0) {
        fprintf(stderr, "jobmatch-kiosk: %s: no key on its first line\n", path);
        free(line);
        return NULL;
    }
    return line;
}

/* Splits "HOST:PORT" (or "[V6]:PORT"). */
static int
split_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hostlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

/* The page's URL as bound (the port chosen when 0 was asked). */
static int
bound_url(struct evhttp_bound_socket *bound, const char *host, char *url, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    bool v6 = strchr(host, ':') != NULL;
    snprintf(url, len, "http://%s%s%s:%d/", v6 ? "[" : "", host, v6 ? "]" : "", port);
    return 0;
}

/* Written whole, then renamed, so a reader never sees half a line. */
static int
write_ready(const char *path, const char *url)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", url);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return -1;
    return 0;
}

int
main(int argc, char **argv)
{
    const char *listen = getenv("JOBMATCH_KIOSK_LISTEN");
    const char *daemon = getenv("JOBMATCH_ADDR");
    const char *key_file = NULL, *ready_file = NULL;
    kiosk_t k = {.www = JM_KIOSK_WWW};
    const char *data = JM_KIOSK_DATA;
    long timeout_ms = DEFAULT_TIMEOUT_MS;
    enum { OPT_PERIOD = 256, OPT_WWW, OPT_DATA, OPT_READY };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"daemon", required_argument, NULL, 'a'},
        {"key-file", required_argument, NULL, 'K'},
        {"timeout", required_argument, NULL, 't'},
        {"period", required_argument, NULL, OPT_PERIOD},
        {"www", required_argument, NULL, OPT_WWW},
        {"data", required_argument, NULL, OPT_DATA},
        {"ready-file", required_argument, NULL, OPT_READY},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "l:a:K:t:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'l': listen = optarg; break;
        case 'a': daemon = optarg; break;
        case 'K': key_file = optarg; break;
        case 't': {
            char *end;
            timeout_ms = strtol(optarg, &end, 10);
            if (*end || timeout_ms < 1 || timeout_ms > 600000) {
                fprintf(stderr, "jobmatch-kiosk: --timeout: 1 to 600000 milliseconds\n");
                return 2;
            }
            break;
        }
        case OPT_PERIOD: k.period = optarg; break;
        case OPT_WWW: k.www = optarg; break;
        case OPT_DATA: data = optarg; break;
        case OPT_READY: ready_file = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("jobmatch-kiosk %s\n", JM_VERSION); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "jobmatch-kiosk: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (k.period && (strlen(k.period) < 4 || strlen(k.period) > 7)) {
        fprintf(stderr, "jobmatch-kiosk: --period: a year (2026), a quarter (2026-Q1) "
                        "or a month (2026-03)\n");
        return 2;
    }
    if (!listen)
        listen = DEFAULT_LISTEN;
    if (!daemon)
        daemon = DEFAULT_DAEMON;
    char host[256];
    int port;
    if (split_listen(listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "jobmatch-kiosk: --listen: expected HOST:PORT, got '%s'\n", listen);
        return 2;
    }

    char *key = NULL;
    if (key_file) {
        if (!(key = read_key(key_file)))
            return 1;
    } else if (getenv("JOBMATCH_KIOSK_KEY") && *getenv("JOBMATCH_KIOSK_KEY")) {
        key = strdup(getenv("JOBMATCH_KIOSK_KEY"));
    }

    char err[512];
    if (refdata_load(&k.rd, data, err, sizeof err) != 0) {
        fprintf(stderr, "jobmatch-kiosk: reference data: %s\n", err);
        free(key);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    k.up = upstream_new(daemon, key, (int)timeout_ms);
    if (key)
        memset(key, 0, strlen(key));
    free(key);
    int status = 1;
    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    struct event *sigint = NULL, *sigterm = NULL;
    if (!k.up || !http) {
        fprintf(stderr, "jobmatch-kiosk: out of memory\n");
        goto out;
    }

    /* A key that is refused, or that gives more than the kiosk role, is a
     * set-up mistake to stop at now; a daemon that is not up yet is not. */
    upstream_error_t uerr;
    int rc = upstream_check(k.up, &uerr);
    if (rc == UP_ROLE || (rc == UP_REFUSED && strcmp(uerr.code, "unauthorized") == 0)) {
        fprintf(stderr, "jobmatch-kiosk: %s\n", uerr.message);
        goto out;
    }
    if (rc == UP_DOWN)
        fprintf(stderr, "jobmatch-kiosk: warning: %s; the page will say so until it is up\n",
                uerr.message);

    evhttp_set_gencb(http, kiosk_handle, &k);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
    evhttp_set_max_body_size(http, 65536);
    evhttp_set_max_headers_size(http, 16384);
    evhttp_set_timeout(http, 30);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
    if (!bound) {
        fprintf(stderr, "jobmatch-kiosk: cannot listen on %s: %s\n", listen, strerror(errno));
        goto out;
    }
    char url[600];
    if (bound_url(bound, host, url, sizeof url) != 0) {
        fprintf(stderr, "jobmatch-kiosk: cannot read the bound address: %s\n", strerror(errno));
        goto out;
    }
    if (ready_file && write_ready(ready_file, url) != 0) {
        fprintf(stderr, "jobmatch-kiosk: %s: %s\n", ready_file, strerror(errno));
        goto out;
    }
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    if (!sigint || !sigterm || event_add(sigint, NULL) || event_add(sigterm, NULL)) {
        fprintf(stderr, "jobmatch-kiosk: cannot handle signals\n");
        goto out;
    }
    fprintf(stderr, "jobmatch-kiosk: serving %s for jobmatchd at %s\n", url,
            upstream_addr(k.up));
    event_base_dispatch(base);
    status = 0;
out:
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (http)
        evhttp_free(http);
    if (base)
        event_base_free(base);
    upstream_free(k.up);
    refdata_free(&k.rd);
    free(k.regions_json);
    return status;
}
