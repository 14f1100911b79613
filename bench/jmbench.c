/* jmbench.c - load generator for jobmatchd, built on libjobmatch only.
 *
 * One thread per connection. Each thread keeps `depth` requests in flight
 * (jm_send ahead, jm_recv in order), times every request from send to reply
 * with CLOCK_MONOTONIC, and stores the latencies in per-thread arrays sized
 * up front, so the measuring loop neither locks nor allocates in the common
 * case. At the end the arrays are merged per operation and a table of
 * counts, errors, throughput and latency percentiles is printed.
 *
 * Records for vacancy.put are packed directly with msgpack-c from built-in
 * value lists that follow the contract's field rules, so the tool needs no
 * JSON; --put-file instead replays records from a JSON Lines file, turned
 * into msgpack once, before the run, by the client library.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "jobmatch.h"

enum op { OP_GET, OP_PUT, OP_PING, OP_WGET, OP_MV, OP_MW, OP_SUB, OP_SUGGEST, N_OPS };

static const char *const op_names[N_OPS] = {"get", "put", "ping", "wget", "mv", "mw", "sub",
                                            "suggest"};
static const char *const op_wire[N_OPS] = {"vacancy.get", "vacancy.put", "ping",
                                           "worker.get", "match.vacancies",
                                           "match.workers", "alert.subscribe",
                                           "occupation.suggest"};

/* Job titles as people type them, for occupation.suggest; each request
 * sends a prefix of one (type-ahead: every keystroke asks again). */
static const char *const suggest_titles[] = {
    "抖音客服专员", "java开发工程师", "外卖骑手", "幼儿园老师", "招聘专员", "仓库管理员",
    "叉车司机", "UI设计师", "护士", "挖掘机司机", "电商运营", "会计助理", "销售代表",
    "前台接待", "保安", "厨师", "快递员", "电工", "焊工", "数据分析师", "产品经理",
    "室内设计师", "英语老师", "药店营业员", "汽车维修工", "水电工", "网络主播",
    "行政文员", "物业管理员", "美容师", "Python后端开发", "CNC操作工", "货车司机",
};

/* The first 1..all code points of a random title, into buf. */
static void pick_suggest_text(uint64_t *rs, char *buf, size_t len);

/* A list of record ids, either read from a file or generated. */
typedef struct idset {
    char **ids;       /* from a file; NULL when generated */
    size_t n;
    const char *prefix;
} idset_t;

/* One pre-packed vacancy from --put-file: the whole args map. */
typedef struct packed {
    char *data;
    size_t len;
} packed_t;

typedef struct config {
    const char *addr;
    const char *key;
    int conns;
    int depth;
    uint64_t total;   /* requests in all, or 0 when time-bound */
    double seconds;   /* run time when total is 0 */
    int weights[N_OPS];
    idset_t vac_ids, wrk_ids;
    uint64_t put_range;
    const char *scope;  /* for mv and mw */
    int limit;          /* for mv and mw */
    int64_t as_of;      /* for mv and mw; 0 = not sent (the daemon's now) */
    packed_t *puts;   /* --put-file records, or NULL */
    size_t n_puts;
    uint64_t seed;
    int64_t now;
} config_t;

/* Latencies of one operation kind in one thread, in nanoseconds. */
typedef struct lat {
    uint64_t *v;
    size_t n, cap;
    uint64_t errors;
} lat_t;

typedef struct worker {
    pthread_t tid;
    int index;
    const config_t *cfg;
    lat_t lat[N_OPS];
    uint64_t transport_errors;
    char fatal[300];  /* why the connection died, if it did */
} worker_t;

static atomic_uint_fast64_t g_tickets; /* requests handed out (count mode) */
static atomic_bool g_stop;             /* set when the deadline has passed */
static int64_t g_deadline_ns;
static pthread_mutex_t g_err_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_first_error[400];

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *msg)
{
    fprintf(stderr, "jmbench: %s\n", msg);
    exit(1);
}

/* Records the first server error message of the run, for the report. */
static void note_error(const char *op, const char *code, const char *msg)
{
    pthread_mutex_lock(&g_err_lock);
    if (!g_first_error[0])
        snprintf(g_first_error, sizeof(g_first_error), "%s: %s: %s", op, code, msg);
    pthread_mutex_unlock(&g_err_lock);
}

/* ------------------------------------------------------------------------ */
/* Per-thread PRNG (xorshift64*): cheap, and good enough to pick ids.        */

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rnd(s) * n) >> 64);
}

/* ------------------------------------------------------------------------ */
/* Request arguments.                                                         */

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_kstr(msgpack_packer *pk, const char *k, const char *v)
{
    pack_str(pk, k);
    pack_str(pk, v);
}

static void pack_kint(msgpack_packer *pk, const char *k, int64_t v)
{
    pack_str(pk, k);
    msgpack_pack_int64(pk, v);
}

/* Picks a record id: from the list, or prefix + 9 digits in 1..n. */
static void pick_id(const idset_t *ids, uint64_t *rs, char *buf, size_t len)
{
    if (ids->ids)
        snprintf(buf, len, "%s", ids->ids[rnd_below(rs, ids->n)]);
    else
        snprintf(buf, len, "%s%09" PRIu64, ids->prefix, 1 + rnd_below(rs, ids->n));
}

/* Real codes and skill ids, so generated records are valid and look like
 * the generator's. */
static const char *const regions[] = {
    "440305", "440304", "440106", "440104", "310115", "310104", "110105",
    "110108", "500112", "510107", "330106", "420106", "320506", "120104",
    "610113", "320106", "430104", "410105", "441900", "370212", "130102",
    "350203", "210102", "530102", "230103", "450103", "520102", "620102",
};
static const char *const occupations[] = {
    "2-02-10-03", "2-02-10-04", "4-01-02-01", "4-02-02-01", "4-03-01-01",
    "4-07-03-01", "4-12-01-01", "6-18-02-01", "6-25-01-01", "6-29-01-01",
    "3-01-01-02", "4-04-05-04", "2-06-06-01", "4-10-01-01", "4-01-06-01",
};
static const char *const skill_ids[] = {
    "onet:2.A.1.a", "onet:2.A.1.b", "onet:2.A.1.d", "onet:2.A.2.a",
    "onet:2.B.1.a", "onet:2.B.3.a", "onet:2.C.1.a", "onet:2.C.3.a",
    "onet:2.C.4.a", "onet:2.C.10", "tech:microsoft-excel", "tech:microsoft-word",
    "tech:sap-software", "tech:python", "tech:mysql", "tech:autodesk-autocad",
    "tech:linux", "tech:oracle-java", "tech:javascript", "tech:microsoft-outlook",
};
static const char *const titles[] = {"软件开发工程师", "销售代表", "仓库管理员",
                                     "电工", "会计", "客服专员", "汽车维修工",
                                     "焊工", "餐厅服务员", "数控车工"};
static const char *const employers[] = {"深圳市恒达科技有限公司",
                                        "广州市瑞丰商贸有限公司",
                                        "上海鑫源物流有限公司",
                                        "北京华信建筑工程有限公司"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Packs {"vacancy": {...}} for an id in 1..put_range: a valid record, so
 * every put is an insert or a replace. */
static void pack_vacancy(msgpack_packer *pk, const config_t *cfg, uint64_t *rs)
{
    char id[80];
    snprintf(id, sizeof(id), "%s%09" PRIu64, cfg->vac_ids.prefix,
             1 + rnd_below(rs, cfg->put_range));
    msgpack_pack_map(pk, 1);
    pack_str(pk, "vacancy");
    msgpack_pack_map(pk, 14); /* keep in step with the fields below */
    pack_kstr(pk, "id", id);
    pack_kstr(pk, "employer", employers[rnd_below(rs, NELEM(employers))]);
    pack_kstr(pk, "title", titles[rnd_below(rs, NELEM(titles))]);
    pack_kstr(pk, "occupation", occupations[rnd_below(rs, NELEM(occupations))]);
    pack_kstr(pk, "region", regions[rnd_below(rs, NELEM(regions))]);

    int n = 2 + (int)rnd_below(rs, 5);
    size_t first = rnd_below(rs, NELEM(skill_ids));
    size_t step = 1 + rnd_below(rs, 3); /* n * step < 20 keeps ids unique */
    pack_str(pk, "skills");
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        msgpack_pack_map(pk, 2);
        pack_kstr(pk, "id", skill_ids[(first + (size_t)i * step) % NELEM(skill_ids)]);
        pack_kint(pk, "level", 1 + (int64_t)rnd_below(rs, 5));
    }
    int edu = (int)rnd_below(rs, 8);
    int64_t wmin = 2000 + 100 * (int64_t)rnd_below(rs, 150);
    int64_t wmax = rnd_below(rs, 10) == 0 ? 0 : wmin + 100 * (int64_t)rnd_below(rs, 100);
    int64_t posted = cfg->now - (int64_t)rnd_below(rs, 90 * 86400);
    pack_kint(pk, "education_min", edu);
    pack_kint(pk, "wage_min", wmin);
    pack_kint(pk, "wage_max", wmax);
    pack_kint(pk, "headcount", 1 + (int64_t)rnd_below(rs, 5));
    pack_kint(pk, "posted", posted);
    pack_kint(pk, "expires", rnd_below(rs, 4) == 0 ? 0 : posted + 90 * 86400);
    pack_kstr(pk, "status", "open");
    pack_str(pk, "priority_categories");
    if (rnd_below(rs, 6) == 0) {
        msgpack_pack_array(pk, 1);
        pack_str(pk, "laid_off");
    } else {
        msgpack_pack_array(pk, 0);
    }
}

static void pick_suggest_text(uint64_t *rs, char *buf, size_t len)
{
    const char *t = suggest_titles[rnd_below(rs, sizeof suggest_titles / sizeof *suggest_titles)];
    size_t points = 0, n = strlen(t);
    for (size_t i = 0; i < n; i++)
        points += ((unsigned char)t[i] & 0xc0) != 0x80;
    size_t keep = 1 + (size_t)rnd_below(rs, points), end = 0;
    for (size_t seen = 0; end < n; end++) {
        if (((unsigned char)t[end] & 0xc0) != 0x80 && seen++ == keep)
            break;
    }
    snprintf(buf, len, "%.*s", (int)end, t);
}

/* Builds the args of one request into sbuf (cleared first). Returns the
 * bytes to send and their length through the out-parameters. */
static void build_args(enum op op, const config_t *cfg, uint64_t *rs,
                       msgpack_sbuffer *sbuf, msgpack_packer *pk,
                       const char **data, size_t *len)
{
    char id[200];
    msgpack_sbuffer_clear(sbuf);
    switch (op) {
    case OP_GET:
    case OP_WGET:
        pick_id(op == OP_GET ? &cfg->vac_ids : &cfg->wrk_ids, rs, id, sizeof(id));
        msgpack_pack_map(pk, 1);
        pack_kstr(pk, "id", id);
        break;
    case OP_PUT:
        if (cfg->puts) {
            const packed_t *p = &cfg->puts[rnd_below(rs, cfg->n_puts)];
            *data = p->data;
            *len = p->len;
            return;
        }
        pack_vacancy(pk, cfg, rs);
        break;
    case OP_MV:
    case OP_MW:
        pick_id(op == OP_MV ? &cfg->wrk_ids : &cfg->vac_ids, rs, id, sizeof(id));
        msgpack_pack_map(pk, cfg->as_of ? 4 : 3);
        pack_kstr(pk, op == OP_MV ? "worker" : "vacancy", id);
        pack_kstr(pk, "scope", cfg->scope);
        msgpack_pack_str_with_body(pk, "limit", 5);
        msgpack_pack_int(pk, cfg->limit);
        if (cfg->as_of) {
            msgpack_pack_str_with_body(pk, "as_of", 5);
            msgpack_pack_int64(pk, cfg->as_of);
        }
        break;
    case OP_SUGGEST:
        pick_suggest_text(rs, id, sizeof(id));
        msgpack_pack_map(pk, 2);
        pack_kstr(pk, "text", id);
        msgpack_pack_str_with_body(pk, "limit", 5);
        msgpack_pack_int(pk, 10);
        break;
    case OP_SUB:
        pick_id(&cfg->wrk_ids, rs, id, sizeof(id));
        msgpack_pack_map(pk, 2);
        pack_kstr(pk, "worker", id);
        pack_kstr(pk, "scope", cfg->scope);
        break;
    case OP_PING:
    case N_OPS:
        *data = NULL;
        *len = 0;
        return;
    }
    *data = sbuf->data;
    *len = sbuf->size;
}

/* ------------------------------------------------------------------------ */
/* The per-connection loop.                                                   */

static void lat_add(lat_t *l, uint64_t ns)
{
    if (l->n == l->cap) {
        /* Only reached when the up-front estimate was too small. */
        size_t cap = l->cap ? l->cap * 2 : 4096;
        uint64_t *v = realloc(l->v, cap * sizeof(uint64_t));
        if (!v)
            die("out of memory for latencies");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = ns;
}

/* Claims the right to send one more request. */
static bool take_ticket(const config_t *cfg)
{
    if (cfg->total)
        return atomic_fetch_add(&g_tickets, 1) < cfg->total;
    if (atomic_load_explicit(&g_stop, memory_order_relaxed))
        return false;
    if (now_ns() >= g_deadline_ns) {
        atomic_store(&g_stop, true);
        return false;
    }
    return true;
}

static enum op pick_op(const config_t *cfg, uint64_t *rs)
{
    int total = 0;
    for (int i = 0; i < N_OPS; i++)
        total += cfg->weights[i];
    int x = (int)rnd_below(rs, (uint64_t)total);
    for (int i = 0; i < N_OPS; i++) {
        if (x < cfg->weights[i])
            return (enum op)i;
        x -= cfg->weights[i];
    }
    return OP_PING;
}

/* One request in flight: what it was, its id, when it left. */
typedef struct slot {
    enum op op;
    uint64_t id;
    int64_t sent;
} slot_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    const config_t *cfg = w->cfg;
    char errbuf[256] = "";
    uint64_t rs = cfg->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)w->index * 0xbf58476d1ce4e5b9ULL + 1;
    if (!rs)
        rs = 1;

    jm_client_t *c = jm_connect(cfg->addr, 30000, errbuf, sizeof(errbuf));
    if (!c) {
        snprintf(w->fatal, sizeof(w->fatal), "connect %s: %s", cfg->addr, errbuf);
        w->transport_errors++;
        return NULL;
    }
    if (cfg->key) {
        char role[32];
        int rc = jm_hello(c, cfg->key, role, sizeof(role));
        if (rc != 0) {
            snprintf(w->fatal, sizeof(w->fatal), "hello: %s", c->errstr);
            w->transport_errors++;
            jm_close(c);
            return NULL;
        }
    }

    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);

    slot_t *ring = calloc((size_t)cfg->depth, sizeof(slot_t));
    if (!ring)
        die("out of memory");
    size_t head = 0, inflight = 0; /* ring[head] is the oldest request */
    bool more = true, dead = false;

    while (!dead && (more || inflight > 0)) {
        /* Top the pipeline up to depth. */
        while (more && inflight < (size_t)cfg->depth) {
            if (!take_ticket(cfg)) {
                more = false;
                break;
            }
            enum op op = pick_op(cfg, &rs);
            const char *data = NULL;
            size_t len = 0;
            build_args(op, cfg, &rs, &sbuf, &pk, &data, &len);
            slot_t *s = &ring[(head + inflight) % (size_t)cfg->depth];
            s->op = op;
            s->sent = now_ns();
            if (jm_send(c, op_wire[op], data, len, &s->id) != 0) {
                snprintf(w->fatal, sizeof(w->fatal), "send: %s", c->errstr);
                dead = true;
                break;
            }
            inflight++;
        }
        if (dead || inflight == 0)
            break;

        jm_reply_t *r = NULL;
        int rc = jm_recv(c, &r);
        int64_t t = now_ns();
        if (rc != 0 && rc != JM_ESERVER) {
            snprintf(w->fatal, sizeof(w->fatal), "recv: %s", c->errstr);
            dead = true;
            break;
        }
        if (r && r->id == 0 && r->ok) {
            jm_reply_free(r); /* a pushed frame: not an answer */
            continue;
        }
        slot_t *s = &ring[head];
        head = (head + 1) % (size_t)cfg->depth;
        inflight--;
        lat_t *l = &w->lat[s->op];
        lat_add(l, (uint64_t)(t - s->sent));
        if (r && r->id == 0 && !r->ok) {
            /* The server could not read a frame; it closes next. */
            l->errors++;
            note_error(op_names[s->op], r->error_code, r->error_message);
        } else if (!r || r->id != s->id) {
            l->errors++;
            note_error(op_names[s->op], "protocol", "reply id does not match the request");
        } else if (!r->ok) {
            l->errors++;
            note_error(op_names[s->op], r->error_code, r->error_message);
        }
        jm_reply_free(r);
    }
    if (dead) {
        w->transport_errors++;
        /* Requests that never got a reply count as errors of their op. */
        for (size_t i = 0; i < inflight; i++)
            w->lat[ring[(head + i) % (size_t)cfg->depth].op].errors++;
        if (!cfg->total)
            atomic_store(&g_stop, true);
    }
    free(ring);
    msgpack_sbuffer_destroy(&sbuf);
    jm_close(c);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Set-up: options, id files, put files.                                      */

static void usage(FILE *f)
{
    fputs("usage: jmbench -a ADDR [-k KEY] [-c CONNECTIONS] [-d DEPTH]\n"
          "               (-n TOTAL_REQUESTS | -s SECONDS) [--mix get:80,put:20]\n"
          "               [--ids-from FILE.jsonl | --id-prefix v --id-count N]\n"
          "               [--wids-from FILE.jsonl | --worker-prefix w --worker-count N]\n"
          "               [--put-file vacancies.jsonl | --put-range N]\n"
          "               [--seed S] [--now UNIXTIME] [--scope S] [--limit N]\n"
          "               [--as-of UNIXTIME]\n"
          "ops: get (vacancy.get), put (vacancy.put), ping, wget (worker.get),\n"
          "     mv (match.vacancies of a random worker), mw (match.workers of a\n"
          "     random vacancy), at --scope (default city) with --limit (20),\n"
          "     as of --as-of (default: the daemon's now);\n"
          "     sub (alert.subscribe for a random worker, at --scope);\n"
          "     suggest (occupation.suggest of a prefix of a built-in job title).\n"
          "Generated ids are PREFIX + 9 digits, 1..N (as jmgen writes them).\n",
          f);
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
        fprintf(stderr, "jmbench: %s: expected an integer in %" PRIu64 "..%" PRIu64
                        ", got '%s'\n", opt, min, max, s);
        exit(2);
    }
    return (uint64_t)v;
}

static void parse_mix(config_t *cfg, const char *spec)
{
    memset(cfg->weights, 0, sizeof(cfg->weights));
    char *copy = strdup(spec);
    if (!copy)
        die("out of memory");
    int sum = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        int weight = 1;
        if (colon) {
            *colon = '\0';
            weight = (int)parse_u64("--mix", colon + 1, 0, 1000000);
        }
        int i;
        for (i = 0; i < N_OPS; i++)
            if (strcmp(tok, op_names[i]) == 0)
                break;
        if (i == N_OPS) {
            fprintf(stderr, "jmbench: --mix: unknown op '%s' (get, put, ping, wget, mv, mw, sub, suggest)\n", tok);
            exit(2);
        }
        cfg->weights[i] += weight;
        sum += weight;
    }
    free(copy);
    if (sum <= 0)
        die("--mix: the weights add up to 0");
}

/* Reads a line of any length; returns its length or -1 at the end. */
static ssize_t read_line(FILE *f, char **buf, size_t *cap)
{
    ssize_t n = getline(buf, cap, f);
    if (n > 0 && (*buf)[n - 1] == '\n')
        (*buf)[--n] = '\0';
    return n;
}

/* Reads the "id" of each line of a JSON Lines file. It looks for the first
 * "id":"..." member, which is where jmgen and the CLI's export put it; this
 * is a scan for one key, not a JSON parser. */
static void load_ids(idset_t *set, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "jmbench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t cap = 0, n = 0, lcap = 0;
    char **ids = NULL, *line = NULL;
    ssize_t len;
    while ((len = read_line(f, &line, &lcap)) >= 0) {
        char *p = strstr(line, "\"id\"");
        if (!p)
            continue;
        p += 4;
        while (*p == ' ' || *p == ':')
            p++;
        if (*p != '"')
            continue;
        char *end = strchr(++p, '"');
        if (!end || end == p || end - p > 64)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **v = realloc(ids, cap * sizeof(char *));
            if (!v)
                die("out of memory");
            ids = v;
        }
        ids[n] = strndup(p, (size_t)(end - p));
        if (!ids[n])
            die("out of memory");
        n++;
    }
    free(line);
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "jmbench: %s: no ids found\n", path);
        exit(1);
    }
    set->ids = ids;
    set->n = n;
}

#define MAX_PUT_RECORDS 200000

/* Packs up to MAX_PUT_RECORDS lines of a JSON Lines file as
 * {"vacancy": <line>} args maps, once, before the run. */
static void load_puts(config_t *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "jmbench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t cap = 1024, n = 0, lcap = 0;
    packed_t *v = malloc(cap * sizeof(packed_t));
    char *line = NULL, err[256];
    if (!v)
        die("out of memory");
    msgpack_sbuffer sb, rec;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&rec);
    ssize_t len;
    while (n < MAX_PUT_RECORDS && (len = read_line(f, &line, &lcap)) >= 0) {
        if (len == 0)
            continue;
        msgpack_sbuffer_clear(&rec);
        if (jm_json_to_msgpack(line, &rec, err, sizeof(err)) != 0) {
            fprintf(stderr, "jmbench: %s: line %zu: %s\n", path, n + 1, err);
            exit(1);
        }
        /* Wrap the record as the args map {"vacancy": record}. */
        msgpack_sbuffer_clear(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 1);
        pack_str(&pk, "vacancy");
        msgpack_sbuffer_write(&sb, rec.data, rec.size);
        if (n == cap) {
            cap *= 2;
            packed_t *nv = realloc(v, cap * sizeof(packed_t));
            if (!nv)
                die("out of memory");
            v = nv;
        }
        v[n].data = malloc(sb.size);
        if (!v[n].data)
            die("out of memory");
        memcpy(v[n].data, sb.data, sb.size);
        v[n].len = sb.size;
        n++;
    }
    msgpack_sbuffer_destroy(&rec);
    free(line);
    msgpack_sbuffer_destroy(&sb);
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "jmbench: %s: no records\n", path);
        exit(1);
    }
    cfg->puts = v;
    cfg->n_puts = n;
}

/* ------------------------------------------------------------------------ */
/* Report.                                                                     */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0 < q <= 1) of a sorted array, nearest-rank method. */
static uint64_t quantile(const uint64_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

static void print_row(const char *name, uint64_t *v, size_t n, uint64_t errors,
                      double elapsed)
{
    qsort(v, n, sizeof(uint64_t), cmp_u64);
    printf("%-6s %10zu %8" PRIu64 " %12.0f %9.1f %9.1f %10.1f\n", name, n, errors,
           elapsed > 0 ? (double)n / elapsed : 0.0, quantile(v, n, 0.50) / 1000.0,
           quantile(v, n, 0.99) / 1000.0, n ? v[n - 1] / 1000.0 : 0.0);
}

int main(int argc, char **argv)
{
    config_t cfg = {
        .conns = 1,
        .depth = 1,
        .seed = 1,
        .scope = "city",
        .limit = 20,
        .now = (int64_t)time(NULL),
    };
    cfg.vac_ids.prefix = "v";
    cfg.wrk_ids.prefix = "w";
    const char *ids_from = NULL, *wids_from = NULL, *put_file = NULL;
    uint64_t id_count = 0, worker_count = 0;
    bool have_mix = false;

    static const struct option opts[] = {
        {"addr", required_argument, NULL, 'a'},
        {"key", required_argument, NULL, 'k'},
        {"connections", required_argument, NULL, 'c'},
        {"depth", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'n'},
        {"seconds", required_argument, NULL, 's'},
        {"mix", required_argument, NULL, 'm'},
        {"ids-from", required_argument, NULL, 1},
        {"id-prefix", required_argument, NULL, 2},
        {"id-count", required_argument, NULL, 3},
        {"wids-from", required_argument, NULL, 4},
        {"worker-prefix", required_argument, NULL, 5},
        {"worker-count", required_argument, NULL, 6},
        {"put-file", required_argument, NULL, 7},
        {"put-range", required_argument, NULL, 8},
        {"seed", required_argument, NULL, 9},
        {"now", required_argument, NULL, 10},
        {"scope", required_argument, NULL, 11},
        {"limit", required_argument, NULL, 12},
        {"as-of", required_argument, NULL, 13},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "a:k:c:d:n:s:m:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'a': cfg.addr = optarg; break;
        case 'k': cfg.key = optarg; break;
        case 'c': cfg.conns = (int)parse_u64("-c", optarg, 1, 1024); break;
        case 'd': cfg.depth = (int)parse_u64("-d", optarg, 1, 4096); break;
        case 'n': cfg.total = parse_u64("-n", optarg, 1, UINT64_MAX / 2); break;
        case 's': cfg.seconds = (double)parse_u64("-s", optarg, 1, 86400); break;
        case 'm': parse_mix(&cfg, optarg); have_mix = true; break;
        case 1: ids_from = optarg; break;
        case 2: cfg.vac_ids.prefix = optarg; break;
        case 3: id_count = parse_u64("--id-count", optarg, 1, 999999999); break;
        case 4: wids_from = optarg; break;
        case 5: cfg.wrk_ids.prefix = optarg; break;
        case 6: worker_count = parse_u64("--worker-count", optarg, 1, 999999999); break;
        case 7: put_file = optarg; break;
        case 8: cfg.put_range = parse_u64("--put-range", optarg, 1, 999999999); break;
        case 9: cfg.seed = parse_u64("--seed", optarg, 0, UINT64_MAX); break;
        case 10: cfg.now = (int64_t)parse_u64("--now", optarg, 1, INT64_MAX); break;
        case 11: cfg.scope = optarg; break;
        case 12: cfg.limit = (int)parse_u64("--limit", optarg, 1, 200); break;
        case 13: cfg.as_of = (int64_t)parse_u64("--as-of", optarg, 1, INT64_MAX); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !cfg.addr || (!cfg.total && cfg.seconds <= 0) ||
        (cfg.total && cfg.seconds > 0)) {
        usage(stderr);
        return 2;
    }
    if (strlen(cfg.vac_ids.prefix) > 40 || strlen(cfg.wrk_ids.prefix) > 40)
        die("id prefixes are limited to 40 bytes");
    if (!have_mix)
        parse_mix(&cfg, "get");

    if (ids_from)
        load_ids(&cfg.vac_ids, ids_from);
    else
        cfg.vac_ids.n = id_count ? id_count : 1000;
    if (wids_from)
        load_ids(&cfg.wrk_ids, wids_from);
    else
        cfg.wrk_ids.n = worker_count ? worker_count : cfg.vac_ids.n;
    if (!cfg.put_range)
        cfg.put_range = 2 * cfg.vac_ids.n;
    if (put_file)
        load_puts(&cfg, put_file);

    worker_t *ws = calloc((size_t)cfg.conns, sizeof(worker_t));
    if (!ws)
        die("out of memory");
    /* Size the latency arrays for the expected count, so the measuring
     * loop does not grow them: exact in count mode, an estimate of up to
     * 200,000 requests per second in all when time-bound. */
    uint64_t expect = cfg.total ? cfg.total : (uint64_t)(cfg.seconds * 200000);
    size_t per = (size_t)(expect / (uint64_t)cfg.conns + (uint64_t)cfg.depth + 16);
    int wsum = 0;
    for (int i = 0; i < N_OPS; i++)
        wsum += cfg.weights[i];
    for (int i = 0; i < cfg.conns; i++) {
        ws[i].index = i;
        ws[i].cfg = &cfg;
        for (int o = 0; o < N_OPS; o++) {
            if (!cfg.weights[o])
                continue;
            size_t cap = (size_t)((double)per * cfg.weights[o] / wsum * 1.1) + 64;
            ws[i].lat[o].v = malloc(cap * sizeof(uint64_t));
            if (!ws[i].lat[o].v)
                die("out of memory for latencies");
            ws[i].lat[o].cap = cap;
        }
    }

    int64_t t0 = now_ns();
    g_deadline_ns = t0 + (int64_t)(cfg.seconds * 1e9);
    for (int i = 0; i < cfg.conns; i++)
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0)
            die("cannot start a thread");
    for (int i = 0; i < cfg.conns; i++)
        pthread_join(ws[i].tid, NULL);
    double elapsed = (double)(now_ns() - t0) / 1e9;

    printf("jmbench: %s, %d connection%s, depth %d, %.2f s\n", cfg.addr, cfg.conns,
           cfg.conns == 1 ? "" : "s", cfg.depth, elapsed);
    printf("%-6s %10s %8s %12s %9s %9s %10s\n", "op", "count", "errors", "req/s",
           "p50(us)", "p99(us)", "max(us)");
    uint64_t all_n = 0, all_err = 0, transport = 0;
    for (int i = 0; i < cfg.conns; i++) {
        transport += ws[i].transport_errors;
        for (int o = 0; o < N_OPS; o++)
            all_n += ws[i].lat[o].n;
    }
    uint64_t *all = malloc((all_n ? all_n : 1) * sizeof(uint64_t));
    if (!all)
        die("out of memory");
    size_t k_all = 0;
    for (int o = 0; o < N_OPS; o++) {
        if (!cfg.weights[o])
            continue;
        size_t n = 0;
        uint64_t errors = 0;
        for (int i = 0; i < cfg.conns; i++) {
            n += ws[i].lat[o].n;
            errors += ws[i].lat[o].errors;
        }
        uint64_t *v = malloc((n ? n : 1) * sizeof(uint64_t));
        if (!v)
            die("out of memory");
        size_t k = 0;
        for (int i = 0; i < cfg.conns; i++) {
            memcpy(v + k, ws[i].lat[o].v, ws[i].lat[o].n * sizeof(uint64_t));
            k += ws[i].lat[o].n;
        }
        memcpy(all + k_all, v, n * sizeof(uint64_t));
        k_all += n;
        all_err += errors;
        print_row(op_names[o], v, n, errors, elapsed);
        free(v);
    }
    print_row("total", all, k_all, all_err, elapsed);
    free(all);

    int status = 0;
    if (g_first_error[0]) {
        printf("first error: %s\n", g_first_error);
    }
    for (int i = 0; i < cfg.conns; i++)
        if (ws[i].fatal[0]) {
            printf("connection %d failed: %s\n", i, ws[i].fatal);
            status = 1;
        }
    if (transport)
        printf("connections lost: %" PRIu64 "\n", transport);
    for (int i = 0; i < cfg.conns; i++)
        for (int o = 0; o < N_OPS; o++)
            free(ws[i].lat[o].v);
    free(ws);
    if (cfg.puts) {
        for (size_t i = 0; i < cfg.n_puts; i++)
            free(cfg.puts[i].data);
        free(cfg.puts);
    }
    for (int s = 0; s < 2; s++) {
        idset_t *set = s ? &cfg.wrk_ids : &cfg.vac_ids;
        if (set->ids) {
            for (size_t i = 0; i < set->n; i++)
                free(set->ids[i]);
            free(set->ids);
        }
    }
    return status;
}
