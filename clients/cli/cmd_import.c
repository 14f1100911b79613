/* cmd_import.c - `jobmatch import`: bulk loading of JSON lines through
 * vacancy.put_many / worker.put_many.
 *
 * Lines are packed locally (a line that is not a JSON object is rejected
 * here and never sent), gathered into batches bounded both in records and
 * in packed bytes (so every request fits the server's default 1 MiB
 * frame), and sent with up to IMPORT_IN_FLIGHT batches in flight so that the
 * server is never idle waiting for the next batch, and can commit several at
 * once. The server writes a batch all or nothing: when it refuses one
 * because some records break a rule, it names them, and the batch is sent
 * again without them so that the valid lines still load.
 *
 * Lines are read a run at a time (--sort N, 200,000 by default) and each
 * run is sent in region order. A transaction's index entries then land in
 * the keys of a few regions instead of all of them, so each commit
 * rewrites far fewer index pages: a million vacancies in random order
 * load in less than half the time (bench/README.md). The lines of one id
 * keep their file order (they all take the region of the last of them),
 * so a later line still replaces an earlier one.
 */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"

#define IMPORT_DEFAULT_BATCH 5000
#define IMPORT_DEFAULT_SORT 200000
#define IMPORT_MAX_SORT 10000000
#define IMPORT_MAX_BATCH 10000
/* Packed records per request; the envelope adds a few dozen bytes and the
 * server's default max frame is 1 MiB. */
#define IMPORT_MAX_BYTES (900u * 1024u)
#define IMPORT_IN_FLIGHT 32
/* A refusal names at most 100 records, so a batch with more bad records
 * needs more than one resend; each resend drops at least one record, and
 * this bounds the round trips a hopeless batch can cost. */
#define IMPORT_MAX_RESENDS 8
#define IMPORT_SHOW_REJECTS 20
#define IMPORT_MSG_MAX 200

/* One batch of packed records and where each came from. */
typedef struct batch {
    msgpack_sbuffer recs;  /* the packed records, back to back */
    size_t *off;           /* record i is recs.data[off[i] .. off[i+1]) */
    long *line;            /* input line number of record i */
    uint32_t n, cap;
    uint64_t id;           /* request id while in flight */
    int resends;           /* how often this content was sent again */
} batch_t;

/* One packed record of the run being read, where it came from and what
 * orders it. */
typedef struct held {
    size_t off, len;           /* in run.recs */
    size_t id_off;             /* its "id" string in run.recs (id_len 0: none) */
    uint32_t id_len;
    long line;
    char region[8];            /* NUL-padded; all NUL when it has none */
} held_t;

/* A run of up to sort_max records: being read, or sorted and being
 * sent (held[next..n) are still to send). */
typedef struct run {
    msgpack_sbuffer recs;
    held_t *held;
    size_t n, cap, next;
} run_t;

typedef struct reject {
    long line;
    char msg[IMPORT_MSG_MAX];
} reject_t;

typedef struct import {
    cli_t *cli;
    const char *one, *many;        /* "vacancy", "vacancies" */
    char op[64];                   /* "vacancy.put_many" */
    uint32_t batch_max;
    uint32_t sort_max;             /* records per run sent in region order */
    run_t reading, sending;        /* two runs, so that reading goes on while one is sent */
    msgpack_zone zone;             /* for reading each record's id and region */
    batch_t *cur;                  /* being filled */
    batch_t *queue[IMPORT_IN_FLIGHT + 2];  /* in flight, oldest first */
    int nqueue;
    uint64_t imported, created, replaced, rejected;
    reject_t shown[IMPORT_SHOW_REJECTS];  /* the lowest line numbers */
    int nshown;
    int fatal;                     /* exit code of a fatal failure, or 0 */
    /* Progress, drawn only on a terminal. */
    bool progress;
    off_t total_bytes;             /* 0 when unknown (a pipe) */
    off_t bytes_read;
    double t0, last_draw;
} import_t;

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static batch_t *
batch_new(void)
{
    batch_t *b = calloc(1, sizeof *b);

    if (b != NULL)
        msgpack_sbuffer_init(&b->recs);
    return b;
}

static void
batch_free(batch_t *b)
{
    if (b == NULL)
        return;
    msgpack_sbuffer_destroy(&b->recs);
    free(b->off);
    free(b->line);
    free(b);
}

/* Appends one packed record. Returns 0 or -1 when out of memory. */
static int
batch_add(batch_t *b, const char *rec, size_t len, long line)
{
    if (b->n + 1 >= b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 256;
        size_t *off = realloc(b->off, (cap + 1) * sizeof *off);
        long *ln;

        if (off == NULL)
            return -1;
        b->off = off;
        ln = realloc(b->line, cap * sizeof *ln);
        if (ln == NULL)
            return -1;
        b->line = ln;
        b->cap = cap;
    }
    b->off[b->n] = b->recs.size;
    if (msgpack_sbuffer_write(&b->recs, rec, len) != 0)
        return -1;
    b->line[b->n] = line;
    b->n++;
    b->off[b->n] = b->recs.size;
    return 0;
}

/* Notes one rejected line: counted always, its text kept when it is among
 * the lowest line numbers seen, so the summary lists the first ones. */
static void
reject_line(import_t *im, long line, const char *msg)
{
    int i;

    im->rejected++;
    if (im->nshown == IMPORT_SHOW_REJECTS &&
        im->shown[IMPORT_SHOW_REJECTS - 1].line < line)
        return;
    if (im->nshown < IMPORT_SHOW_REJECTS)
        im->nshown++;
    for (i = im->nshown - 1; i > 0 && im->shown[i - 1].line > line; i--)
        im->shown[i] = im->shown[i - 1];
    im->shown[i].line = line;
    snprintf(im->shown[i].msg, sizeof im->shown[i].msg, "%s", msg);
}

static void
draw_progress(import_t *im, bool force)
{
    double t = now_s(), rate;

    if (!im->progress || (!force && t - im->last_draw < 0.2))
        return;
    im->last_draw = t;
    rate = t > im->t0 ? (double)(im->imported + im->rejected) / (t - im->t0)
                      : 0.0;
    if (im->total_bytes > 0)
        fprintf(stderr, "\r\033[Kimported %llu, rejected %llu  %5.1f%%  "
                "%.0f rec/s", (unsigned long long)im->imported,
                (unsigned long long)im->rejected,
                100.0 * (double)im->bytes_read / (double)im->total_bytes,
                rate);
    else
        fprintf(stderr, "\r\033[Kimported %llu, rejected %llu  %.0f rec/s",
                (unsigned long long)im->imported,
                (unsigned long long)im->rejected, rate);
}

/* Sends b and queues it. Takes b in every case. */
static int
send_batch(import_t *im, batch_t *b)
{
    msgpack_sbuffer req;
    msgpack_packer pk;
    int rc;

    msgpack_sbuffer_init(&req);
    msgpack_packer_init(&pk, &req, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    cli_pack_str(&pk, im->many);
    msgpack_pack_array(&pk, b->n);
    if (msgpack_sbuffer_write(&req, b->recs.data, b->recs.size) != 0 ||
        req.data == NULL) {
        rc = JM_ENOMEM;
    } else {
        rc = jm_send(im->cli->client, im->op, req.data, req.size, &b->id);
    }
    msgpack_sbuffer_destroy(&req);
    if (rc != 0) {
        im->fatal = cli_report(im->cli, rc, NULL);
        batch_free(b);
        return -1;
    }
    im->queue[im->nqueue++] = b;
    return 0;
}

static uint64_t
get_count(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = cli_map_get(map, key);

    return o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64
                                                                   : 0;
}

/* Drops the "vacancies[12]" head of a server message: the line number
 * says which record it was, and the batch index means nothing to a user. */
static const char *
strip_index(const import_t *im, const char *msg, size_t *len)
{
    size_t m = strlen(im->many);
    const char *p, *end = msg + *len;

    if (*len <= m || memcmp(msg, im->many, m) != 0 || msg[m] != '[')
        return msg;
    p = memchr(msg + m, ']', *len - m);
    if (p == NULL)
        return msg;
    p++;
    if (p < end && *p == '.')
        p++;
    else if (end - p >= 2 && p[0] == ':' && p[1] == ' ')
        p += 2;
    *len = (size_t)(end - p);
    return p;
}

/* Marks the records a refusal names as rejected. Returns how many were. */
static uint32_t
take_record_errors(import_t *im, batch_t *b, const msgpack_object *errors,
                   bool *bad)
{
    uint32_t n = 0;

    if (errors == NULL || errors->type != MSGPACK_OBJECT_ARRAY)
        return 0;
    for (uint32_t i = 0; i < errors->via.array.size; i++) {
        const msgpack_object *e = &errors->via.array.ptr[i];
        const msgpack_object *idx = cli_map_get(e, "index");
        const msgpack_object *msg = cli_map_get(e, "message");
        char text[IMPORT_MSG_MAX];
        const char *s = "rejected";
        size_t len = strlen(s);

        if (idx == NULL || idx->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            idx->via.u64 >= b->n || bad[idx->via.u64])
            continue;
        if (msg != NULL && msg->type == MSGPACK_OBJECT_STR) {
            s = msg->via.str.ptr;
            len = msg->via.str.size;
            s = strip_index(im, s, &len);
        }
        snprintf(text, sizeof text, "%.*s", (int)len, s);
        bad[idx->via.u64] = true;
        reject_line(im, b->line[idx->via.u64], text);
        n++;
    }
    return n;
}

/* Handles the refusal of batch b. Takes b. */
static void
refused(import_t *im, batch_t *b, const jm_reply_t *r)
{
    bool *bad = calloc(b->n ? b->n : 1, sizeof *bad);
    uint32_t named = 0, i;
    batch_t *again = NULL;
    char text[IMPORT_MSG_MAX];

    if (bad == NULL) {
        im->fatal = cli_report(im->cli, JM_ENOMEM, NULL);
        batch_free(b);
        return;
    }
    if (strcmp(r->error_code, "bad_request") == 0)
        named = take_record_errors(im, b, cli_map_get(&r->error, "errors"),
                                   bad);
    if (named == 0 && strcmp(r->error_code, "bad_request") != 0 &&
        strcmp(r->error_code, "too_large") != 0) {
        /* Not about the records (unauthorized, overloaded, ...): going on
         * would only fail the same way. */
        cli_error(r->error_code, "%s", r->error_message);
        im->fatal = CLI_EXIT_SERVER;
        free(bad);
        batch_free(b);
        return;
    }
    if (named > 0 && named < b->n && b->resends < IMPORT_MAX_RESENDS &&
        !im->fatal) {
        again = batch_new();
        for (i = 0; again != NULL && i < b->n; i++) {
            if (bad[i])
                continue;
            if (batch_add(again, b->recs.data + b->off[i],
                          b->off[i + 1] - b->off[i], b->line[i]) != 0) {
                batch_free(again);
                again = NULL;
            }
        }
        if (again == NULL) {
            im->fatal = cli_report(im->cli, JM_ENOMEM, NULL);
        } else {
            again->resends = b->resends + 1;
            send_batch(im, again);
        }
    } else if (named < b->n) {
        /* Refused as a whole without naming what is left: those records
         * share the batch's message. */
        if (snprintf(text, sizeof text, "batch refused: %s: %s",
                     r->error_code, r->error_message) < 0)
            text[0] = '\0';
        for (i = 0; i < b->n; i++)
            if (!bad[i])
                reject_line(im, b->line[i], text);
    }
    free(bad);
    batch_free(b);
}

/* Reads the next reply and accounts for the batch it answers. Replies
 * come in request order by contract; they are still matched by id, so
 * that a reply out of order is credited to the right lines. */
static void
handle_reply(import_t *im)
{
    batch_t *b = NULL;
    jm_reply_t *r = NULL;
    int rc, i;

    for (;;) {
        rc = jm_recv(im->cli->client, &r);
        /* Pushed frames may come between replies; they are not ours. */
        if (rc == 0 && r->id == 0 && cli_map_get(&r->result, "push")) {
            jm_reply_free(r);
            continue;
        }
        break;
    }
    if (r == NULL) {
        im->fatal = cli_report(im->cli, rc, NULL);
        /* Nothing more will come; the batches in flight are lost. */
        while (im->nqueue > 0)
            batch_free(im->queue[--im->nqueue]);
        return;
    }
    for (i = 0; i < im->nqueue; i++) {
        if (im->queue[i]->id == r->id) {
            b = im->queue[i];
            memmove(im->queue + i, im->queue + i + 1,
                    (size_t)(im->nqueue - i - 1) * sizeof b);
            im->nqueue--;
            break;
        }
    }
    if (b == NULL) {
        /* An answer to no batch: id 0 is the server refusing a frame. */
        if (rc == JM_ESERVER)
            cli_error(r->error_code, "%s", r->error_message);
        else
            cli_error("protocol", "reply %llu answers no request in flight",
                      (unsigned long long)r->id);
        im->fatal = CLI_EXIT_IO;
        while (im->nqueue > 0)
            batch_free(im->queue[--im->nqueue]);
    } else if (rc == 0) {
        im->imported += get_count(&r->result, "count");
        im->created += get_count(&r->result, "created");
        im->replaced += get_count(&r->result, "replaced");
        batch_free(b);
    } else {
        refused(im, b, r);
    }
    jm_reply_free(r);
    draw_progress(im, false);
}

/* Sends the batch being filled, first making room in the pipeline. */
static void
flush_current(import_t *im)
{
    batch_t *b = im->cur;

    im->cur = NULL;
    if (b == NULL || b->n == 0) {
        batch_free(b);
        return;
    }
    while (im->nqueue >= IMPORT_IN_FLIGHT && !im->fatal)
        handle_reply(im);
    if (im->fatal) {
        batch_free(b);
        return;
    }
    send_batch(im, b);
}

/* Adds one packed record to the batch being filled, sending that batch
 * first when the record would not fit. */
static void
add_to_batch(import_t *im, const char *rec, size_t len, long line)
{
    if (im->cur != NULL && (im->cur->n >= im->batch_max ||
                            im->cur->recs.size + len > IMPORT_MAX_BYTES))
        flush_current(im);
    if (im->fatal)
        return;
    if (im->cur == NULL)
        im->cur = batch_new();
    if (im->cur == NULL || batch_add(im->cur, rec, len, line) != 0)
        im->fatal = cli_report(im->cli, JM_ENOMEM, NULL);
}

static void
run_free(run_t *r)
{
    msgpack_sbuffer_destroy(&r->recs);
    free(r->held);
}

static int
held_by_id(const void *x, const void *y, void *base)
{
    const held_t *a = x, *b = y;
    uint32_t n = a->id_len < b->id_len ? a->id_len : b->id_len;
    int c = memcmp((const char *)base + a->id_off, (const char *)base + b->id_off, n);

    if (c == 0 && a->id_len != b->id_len)
        c = a->id_len < b->id_len ? -1 : 1;
    return c != 0 ? c : (a->line > b->line) - (a->line < b->line);
}

static int
held_by_region(const void *x, const void *y)
{
    const held_t *a = x, *b = y;
    int c = memcmp(a->region, b->region, sizeof a->region);

    return c != 0 ? c : (a->line > b->line) - (a->line < b->line);
}

/* Puts a run in the order it is sent: by region, the lines of one id
 * taking the region of its last line, so that they stay in file order
 * among themselves. */
static void
sort_run(run_t *r)
{
    held_t *h = r->held;

    r->next = 0;
    if (r->n < 2)
        return;
    qsort_r(h, r->n, sizeof *h, held_by_id, r->recs.data);
    for (size_t i = 0, j; i < r->n; i = j) {
        for (j = i + 1; j < r->n && h[i].id_len > 0 && h[j].id_len == h[i].id_len &&
                        memcmp(r->recs.data + h[j].id_off, r->recs.data + h[i].id_off,
                               h[i].id_len) == 0;
             j++)
            ;
        for (size_t k = i; k + 1 < j; k++)
            memcpy(h[k].region, h[j - 1].region, sizeof h[k].region);
    }
    qsort(h, r->n, sizeof *h, held_by_region);
}

/* Sends what is left of the run being sent. Without wait, only as much
 * as the pipeline takes without waiting for a reply not yet here. */
static void
pump(import_t *im, bool wait)
{
    run_t *r = &im->sending;
    struct pollfd pfd = {.fd = jm_fd(im->cli->client), .events = POLLIN};

    while (r->next < r->n && !im->fatal) {
        if (!wait && im->nqueue >= IMPORT_IN_FLIGHT) {
            if (poll(&pfd, 1, 0) <= 0)
                return;
            handle_reply(im);
            continue;
        }
        held_t *h = &r->held[r->next++];
        add_to_batch(im, r->recs.data + h->off, h->len, h->line);
    }
    r->n = r->next = 0;
    r->recs.size = 0;
}

/* The run read is complete: once the one before it is sent, it is sorted
 * and becomes the one being sent. */
static void
turn_runs(import_t *im)
{
    run_t done;

    pump(im, true);
    done = im->sending;
    im->sending = im->reading;
    im->reading = done;
    sort_run(&im->sending);
}

/* Notes where a packed record's top-level "id" and "region" strings are. */
static void
find_keys(import_t *im, held_t *h, const char *base)
{
    msgpack_object obj;
    size_t off = 0;

    h->id_len = 0;
    memset(h->region, 0, sizeof h->region);
    msgpack_zone_clear(&im->zone);
    if (msgpack_unpack(base + h->off, h->len, &off, &im->zone, &obj) != MSGPACK_UNPACK_SUCCESS)
        return;
    const msgpack_object *id = cli_map_get(&obj, "id");
    const msgpack_object *region = cli_map_get(&obj, "region");
    if (id != NULL && id->type == MSGPACK_OBJECT_STR && id->via.str.size > 0) {
        h->id_off = (size_t)(id->via.str.ptr - base);
        h->id_len = id->via.str.size;
    }
    if (region != NULL && region->type == MSGPACK_OBJECT_STR && region->via.str.size > 0)
        memcpy(h->region, region->via.str.ptr,
               region->via.str.size < sizeof h->region ? region->via.str.size
                                                       : sizeof h->region);
}

/* Takes one input line (without its newline). */
static void
take_line(import_t *im, msgpack_sbuffer *scratch, char *line, long lineno)
{
    char err[IMPORT_MSG_MAX];
    run_t *r = &im->reading;

    if (line[strspn(line, " \t\r\f\v")] == '\0')
        return;
    scratch->size = 0;
    if (cli_pack_object(line, scratch, err, sizeof err) != 0) {
        reject_line(im, lineno, err);
        return;
    }
    if (scratch->size > IMPORT_MAX_BYTES) {
        reject_line(im, lineno, "record larger than 900 KiB packed");
        return;
    }
    if (im->sort_max <= 1) {
        add_to_batch(im, scratch->data, scratch->size, lineno);
        return;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        held_t *h = realloc(r->held, cap * sizeof *h);

        if (h == NULL) {
            im->fatal = cli_report(im->cli, JM_ENOMEM, NULL);
            return;
        }
        r->held = h;
        r->cap = cap;
    }
    held_t *h = &r->held[r->n];
    h->off = r->recs.size;
    h->len = scratch->size;
    h->line = lineno;
    if (msgpack_sbuffer_write(&r->recs, scratch->data, scratch->size) != 0) {
        im->fatal = cli_report(im->cli, JM_ENOMEM, NULL);
        return;
    }
    find_keys(im, h, r->recs.data);
    if (++r->n >= im->sort_max)
        turn_runs(im);
    else if ((r->n & 63) == 0)
        pump(im, false);
}

static void
summary(const import_t *im)
{
    if (im->progress)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "imported %llu (created %llu, replaced %llu), "
            "rejected %llu\n", (unsigned long long)im->imported,
            (unsigned long long)im->created,
            (unsigned long long)im->replaced,
            (unsigned long long)im->rejected);
    for (int i = 0; i < im->nshown; i++)
        fprintf(stderr, "  line %ld: %s\n", im->shown[i].line,
                im->shown[i].msg);
    if (im->rejected > (uint64_t)im->nshown)
        fprintf(stderr, "  ... and %llu more rejected lines\n",
                (unsigned long long)(im->rejected - (uint64_t)im->nshown));
}

static const char import_usage[] =
    "import vacancies|workers FILE.jsonl|- [--batch N] [--sort N]";

static int
parse_import_args(int argc, char **argv, import_t *im, const char **path)
{
    static const cli_opt_t opts[] = {CLI_WORD, CLI_OPT("--batch"), CLI_OPT("--sort")};
    const char *v[3];
    long long batch, sort;

    if (cli_parse_options(argc - 2, argv + 2, opts, 3, 0, v, import_usage) != 0)
        return CLI_EXIT_USAGE;
    if ((*path = v[0]) == NULL)
        return cli_usage("%s", import_usage);
    if (v[1]) {
        if (cli_int_option("--batch", v[1], 1, IMPORT_MAX_BATCH, &batch) != 0)
            return CLI_EXIT_USAGE;
        im->batch_max = (uint32_t)batch;
    }
    if (v[2]) {
        if (cli_int_option("--sort", v[2], 0, IMPORT_MAX_SORT, &sort) != 0)
            return CLI_EXIT_USAGE;
        im->sort_max = (uint32_t)sort;
    }
    return 0;
}

int
cmd_import(cli_t *cli, int argc, char **argv)
{
    import_t im = { .cli = cli, .batch_max = IMPORT_DEFAULT_BATCH,
                    .sort_max = IMPORT_DEFAULT_SORT };
    msgpack_sbuffer scratch;
    const char *path;
    struct stat st;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    FILE *f;
    int rc;

    if (argc >= 2 && (strcmp(argv[1], "vacancies") == 0 ||
                      strcmp(argv[1], "vacancy") == 0)) {
        im.one = "vacancy";
        im.many = "vacancies";
    } else if (argc >= 2 && (strcmp(argv[1], "workers") == 0 ||
                             strcmp(argv[1], "worker") == 0)) {
        im.one = "worker";
        im.many = "workers";
    } else {
        return cli_usage("%s", import_usage);
    }
    if ((rc = parse_import_args(argc, argv, &im, &path)) != 0)
        return rc;
    snprintf(im.op, sizeof im.op, "%s.put_many", im.one);
    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        cli_error("input", "%s: %s", path, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    im.progress = isatty(STDERR_FILENO);
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
        im.total_bytes = st.st_size;
    im.t0 = now_s();

    msgpack_sbuffer_init(&scratch);
    msgpack_sbuffer_init(&im.reading.recs);
    msgpack_sbuffer_init(&im.sending.recs);
    msgpack_zone_init(&im.zone, 4096);
    while (!im.fatal && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        im.bytes_read += n;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        take_line(&im, &scratch, line, lineno);
        draw_progress(&im, false);
    }
    if (!im.fatal && ferror(f)) {
        cli_error("input", "%s: read error", path);
        im.fatal = CLI_EXIT_USAGE;
    }
    free(line);
    msgpack_sbuffer_destroy(&scratch);
    if (f != stdin)
        fclose(f);

    if (!im.fatal) {
        turn_runs(&im);
        pump(&im, true);
    }
    run_free(&im.reading);
    run_free(&im.sending);
    msgpack_zone_destroy(&im.zone);
    if (!im.fatal)
        flush_current(&im);
    else
        batch_free(im.cur);
    /* Replies still owed are read even after a failure, so that counts
     * of what did load are right; a dead connection fails them at once. */
    while (im.nqueue > 0) {
        if (im.fatal == CLI_EXIT_IO) {
            batch_free(im.queue[--im.nqueue]);
            continue;
        }
        handle_reply(&im);
    }
    summary(&im);
    if (im.fatal)
        return im.fatal;
    return im.rejected > 0 ? CLI_EXIT_SERVER : CLI_EXIT_OK;
}
