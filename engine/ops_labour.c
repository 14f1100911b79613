/* ops_labour.c - stats.supply_demand, stats.wages and stats.reemployment:
 * labour-market figures read from the aggregates the index keeps exact on
 * every write (index.h, "Labour-market aggregates"), never from a scan of
 * the records, plus the wage guideline overlay.
 *
 * Periods are calendar months (UTC); a request names a month, a quarter
 * or a year. Groups are occupation groups (the first 1, 4, 7 or 10
 * characters of a code) or regions (the first 2, 4 or 6 digits).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "command.h"
#include "conn.h"
#include "federate.h"
#include "index.h"
#include "labour.h"
#include "record.h"
#include "rollup.h"

#define FLAG_LIMIT_DEFAULT 100
#define FLAG_LIMIT_MAX 1000

/* ---- arguments -------------------------------------------------------- */

typedef struct period {
    int64_t from, to;     /* month numbers, inclusive */
} period_t;

typedef struct grouping {
    bool by_region;
    uint32_t len;         /* characters of the code or region kept */
    const char *name;
} grouping_t;

typedef struct scope {
    pr_str_t region;      /* prefix; len 0 = everywhere */
    pr_str_t occupation;  /* level prefix; len 0 = every occupation */
    grouping_t by;
} scope_t;

static int
digits(const char *p, uint32_t n, int *out)
{
    int v = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

static int
get_period(const msgpack_object *args, pr_error_t *err, period_t *p, pr_str_t *label)
{
    static const char rule[] = "period: must be a year (2026), a quarter (2026-Q1) or a month "
                               "(2026-03), years 1..9999";
    if (pr_get_str(args, "period", "period", PR_REQUIRED, 4, 7, label, err) != 0)
        return -1;
    const char *s = label->ptr;
    int year, n;
    if (digits(s, 4, &year) != 0 || year < 1)
        return pr_fail(err, PR_BAD_REQUEST, "%s", rule);
    int64_t first = (int64_t)year * 12;
    if (label->len == 4) {
        p->from = first;
        p->to = first + 11;
    } else if (label->len == 7 && s[4] == '-' && s[5] == 'Q' && s[6] >= '1' && s[6] <= '4') {
        p->from = first + (s[6] - '1') * 3;
        p->to = p->from + 2;
    } else if (label->len == 7 && s[4] == '-' && digits(s + 5, 2, &n) == 0 && n >= 1 &&
               n <= 12) {
        p->from = p->to = first + n - 1;
    } else {
        return pr_fail(err, PR_BAD_REQUEST, "%s", rule);
    }
    return 0;
}

static const grouping_t groupings[] = {
    {false, 1, "major"},    {false, 4, "middle"}, {false, 7, "minor"},
    {false, 10, "detail"},  {true, 2, "province"}, {true, 4, "city"},
    {true, 6, "county"},
};
#define N_GROUPINGS (sizeof groupings / sizeof groupings[0])

static int
get_scope(const msgpack_object *args, pr_error_t *err, bool with_occupation, scope_t *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->by = groupings[0];
    int rc = pr_get_str(args, "region", "region", 0, 1, 6, &sc->region, err);
    if (rc < 0)
        return -1;
    int ignored;
    if (rc == 0 && digits(sc->region.ptr, sc->region.len, &ignored) != 0)
        return pr_fail(err, PR_BAD_REQUEST, "region: must be 1 to 6 digits");
    if (rc == 1)
        sc->region = (pr_str_t){"", 0};
    if (with_occupation) {
        rc = pr_get_str(args, "occupation", "occupation", 0, 1, PR_OCCUPATION_LEN,
                        &sc->occupation, err);
        if (rc < 0)
            return -1;
        if (rc == 0 && !pr_occupation_prefix_valid(sc->occupation.ptr, sc->occupation.len))
            return pr_fail(err, PR_BAD_REQUEST,
                           "occupation: must be a code or level prefix such as 6, 6-05, 6-05-02 or 6-05-02-03");
        if (rc == 1)
            sc->occupation = (pr_str_t){"", 0};
        pr_str_t by;
        rc = pr_get_str(args, "by", "by", 0, 1, 16, &by, err);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            size_t i = 0;
            while (i < N_GROUPINGS && !pr_str_eq(by, groupings[i].name))
                i++;
            if (i == N_GROUPINGS)
                return pr_fail(err, PR_BAD_REQUEST,
                               "by: must be major, middle, minor, detail, province, city or county");
            sc->by = groupings[i];
        } else {
            /* By default the groups of the occupation's own level: major,
             * or as fine as the prefix asked for (a valid prefix is one of
             * the levels' lengths). */
            for (size_t i = 0; i < N_GROUPINGS; i++)
                if (!groupings[i].by_region && groupings[i].len == sc->occupation.len)
                    sc->by = groupings[i];
        }
        if (!sc->by.by_region && sc->by.len < sc->occupation.len)
            return pr_fail(err, PR_BAD_REQUEST,
                           "by: must be an occupation level at least as fine as occupation");
    }
    return 0;
}

/* True when an occupation code (or group) lies under the scope's
 * occupation prefix. */
static bool
under_occupation(const scope_t *sc, const char *code, uint32_t len)
{
    return sc->occupation.len == 0 ||
           (len >= sc->occupation.len && memcmp(code, sc->occupation.ptr, sc->occupation.len) == 0);
}

static void
month_label(char buf[16], int64_t month)
{
    snprintf(buf, 16, "%04d-%02d", (int)(month / 12), (int)(month % 12) + 1);
}

/* ---- groups ------------------------------------------------------------ */

typedef struct group {
    char key[PR_OCCUPATION_LEN];
    uint8_t len;
    bool used;
    uint64_t openings, vacancies, applicants;
    uint64_t count;                 /* wages */
    uint32_t p10, p50, p90;         /* wages, twice the yuan */
} group_t;

typedef struct groups {
    group_t *tab;
    uint32_t cap, used;
} groups_t;

static uint32_t
hash_label(const char *k, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)k[i]) * 16777619u;
    return h;
}

/* Finds (or, with create, adds) a group by label. A returned pointer is
 * valid until the next call with create: growing moves every entry. */
static group_t *
group_find(groups_t *g, const char *key, uint32_t len, bool create)
{
    if (create && (g->used + 1) * 2 > g->cap) {
        uint32_t ncap = g->cap ? g->cap * 2 : 64;
        group_t *nt = calloc(ncap, sizeof *nt);
        if (!nt)
            return NULL;
        for (uint32_t i = 0; i < g->cap; i++) {
            if (!g->tab[i].used)
                continue;
            uint32_t j = hash_label(g->tab[i].key, g->tab[i].len) & (ncap - 1);
            while (nt[j].used)
                j = (j + 1) & (ncap - 1);
            nt[j] = g->tab[i];
        }
        free(g->tab);
        g->tab = nt;
        g->cap = ncap;
    }
    if (!g->cap)
        return NULL;
    uint32_t j = hash_label(key, len) & (g->cap - 1);
    while (g->tab[j].used) {
        if (g->tab[j].len == len && memcmp(g->tab[j].key, key, len) == 0)
            return &g->tab[j];
        j = (j + 1) & (g->cap - 1);
    }
    if (!create)
        return NULL;
    group_t *e = &g->tab[j];
    e->used = true;
    e->len = (uint8_t)len;
    memcpy(e->key, key, len);
    g->used++;
    return e;
}

static int
cmp_group(const void *a, const void *b)
{
    const group_t *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (int)x->len - (int)y->len;
}

/* Moves the groups to the front of the table in label order; the table
 * is no longer searchable afterwards. */
static uint32_t
groups_sorted(groups_t *g)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->cap; i++)
        if (g->tab[i].used)
            g->tab[n++] = g->tab[i];
    if (n)
        qsort(g->tab, n, sizeof *g->tab, cmp_group);
    return n;
}

/* The group a cell falls in: its region or its code cut to the level.
 * False when the code does not reach the level. */
static bool
group_of(const scope_t *sc, const char region[6], const char *code, uint32_t code_len,
         const char **key, uint32_t *len)
{
    if (sc->by.by_region) {
        *key = region;
        *len = sc->by.len;
        return true;
    }
    if (code_len < sc->by.len)
        return false;
    *key = code;
    *len = sc->by.len;
    return true;
}

static void
pack_scope(msgpack_packer *pk, const scope_t *sc, bool with_occupation)
{
    pr_pack_cstr(pk, "region");
    pr_pack_str(pk, sc->region);
    if (!with_occupation)
        return;
    pr_pack_cstr(pk, "occupation");
    if (sc->occupation.len)
        pr_pack_str(pk, sc->occupation);
    else
        msgpack_pack_nil(pk);
    pr_pack_cstr(pk, "by");
    pr_pack_cstr(pk, sc->by.name);
}

static void
pack_period(msgpack_packer *pk, pr_str_t label, const period_t *p)
{
    char m[16];
    pr_pack_cstr(pk, "period");
    pr_pack_str(pk, label);
    pr_pack_cstr(pk, "from");
    month_label(m, p->from);
    pr_pack_cstr(pk, m);
    pr_pack_cstr(pk, "to");
    month_label(m, p->to);
    pr_pack_cstr(pk, m);
}

/* ---- stats.supply_demand ---------------------------------------------- */

typedef struct sd_ctx {
    const scope_t *sc;
    groups_t g;
    uint64_t openings, vacancies, applicants;
    bool totals_only;     /* applicants scan for the total */
    bool oom;
} sd_ctx_t;

/* Adds a vacancy cell to its group and the totals, or (copy) takes the
 * cells of a copy of another node's vacancies out again: those were added
 * with the rest, so their group is there and holds at least as much. */
static int
sd_vacancy_cell(sd_ctx_t *x, const ix_agg_cell_t *c, bool copy)
{
    const char *key;
    uint32_t len;
    if (!under_occupation(x->sc, c->code, c->code_len) ||
        !group_of(x->sc, c->region, c->code, c->code_len, &key, &len))
        return 0;
    group_t *g = group_find(&x->g, key, len, !copy);
    if (copy) {
        if (!g || g->openings < c->sum || g->vacancies < c->count)
            return -EIO;
        g->openings -= c->sum;
        g->vacancies -= c->count;
        x->openings -= c->sum;
        x->vacancies -= c->count;
        return 0;
    }
    if (!g)
        return x->oom = true, -ENOMEM;
    g->openings += c->sum;
    g->vacancies += c->count;
    x->openings += c->sum;
    x->vacancies += c->count;
    return 0;
}

static int
sd_openings(void *ctx, const ix_agg_cell_t *c)
{
    return sd_vacancy_cell(ctx, c, false);
}

/* Applicant cells: per occupation group (applicants aggregate) or per
 * category (registered aggregate, code_len 0). */
static int
sd_applicants(void *ctx, const ix_agg_cell_t *c)
{
    sd_ctx_t *x = ctx;
    const scope_t *sc = x->sc;
    bool by_group = !sc->by.by_region;
    /* With an occupation filter and region groups (or for the total),
     * only the cells of exactly the filter's group count: a worker is
     * counted once per group. */
    if (sc->occupation.len && (!by_group || x->totals_only) &&
        (c->code_len != sc->occupation.len ||
         memcmp(c->code, sc->occupation.ptr, sc->occupation.len) != 0))
        return 0;
    if (x->totals_only) {
        x->applicants += c->count;
        return 0;
    }
    const char *key = c->region;
    uint32_t len = sc->by.len;
    if (by_group) {
        if (!under_occupation(sc, c->code, c->code_len) && sc->occupation.len)
            return 0;
        key = c->code;
        len = c->code_len;
    }
    group_t *g = group_find(&x->g, key, len, true);
    if (!g)
        return x->oom = true, -ENOMEM;
    g->applicants += c->count;
    if (!by_group)
        x->applicants += c->count;
    return 0;
}

static int
sd_copies(void *ctx, const ix_agg_cell_t *c)
{
    return sd_vacancy_cell(ctx, c, true);
}

int
en_supply_demand(ix_env_t *ix, const msgpack_object *args, bool own, msgpack_packer *pk,
                 pr_error_t *err)
{
    period_t p;
    pr_str_t label;
    scope_t sc;
    if (get_period(args, err, &p, &label) != 0 || get_scope(args, err, true, &sc) != 0)
        return -1;
    sd_ctx_t x = {.sc = &sc};
    ix_txn_t *txn;
    int rc = ix_read_begin(ix, &txn);
    if (rc != 0)
        return en_storage_error(err, rc);
    const char *rp = sc.region.ptr;
    uint32_t rl = sc.region.len;
    rc = ix_agg_scan(txn, IX_AGG_OPENINGS, p.from, p.to, 0, rp, rl, sd_openings, &x);
    if (rc == 0 && own)
        rc = ix_agg_scan(txn, IX_AGG_COPY_OPENINGS, p.from, p.to, 0, rp, rl, sd_copies, &x);
    if (rc == 0) {
        if (!sc.by.by_region) {
            rc = ix_agg_scan(txn, IX_AGG_APPLICANTS, p.from, p.to, (uint8_t)sc.by.len, rp, rl,
                             sd_applicants, &x);
            x.totals_only = true;
        }
        if (rc == 0 && sc.occupation.len)
            rc = ix_agg_scan(txn, IX_AGG_APPLICANTS, p.from, p.to,
                             (uint8_t)sc.occupation.len, rp, rl, sd_applicants, &x);
        else if (rc == 0)
            rc = ix_agg_scan(txn, IX_AGG_REGISTERED, p.from, p.to, 0, rp, rl, sd_applicants,
                             &x);
    }
    ix_read_end(txn);
    if (rc != 0) {
        free(x.g.tab);
        return x.oom ? pr_fail(err, PR_INTERNAL, "out of memory") : en_storage_error(err, rc);
    }
    uint32_t n = groups_sorted(&x.g), listed = 0;
    /* A group only copies made up has nothing left of this node's own. */
    for (uint32_t i = 0; i < n; i++)
        listed += x.g.tab[i].openings || x.g.tab[i].vacancies || x.g.tab[i].applicants;
    msgpack_pack_map(pk, 8);
    pack_period(pk, label, &p);
    pack_scope(pk, &sc, true);
    pr_pack_cstr(pk, "groups");
    msgpack_pack_array(pk, listed);
    for (uint32_t i = 0; i < n; i++) {
        const group_t *g = &x.g.tab[i];
        if (!g->openings && !g->vacancies && !g->applicants)
            continue;
        en_rollup_pack_figures(pk, g->key, g->len,
                               (const uint64_t[3]){g->openings, g->vacancies, g->applicants});
    }
    pr_pack_cstr(pk, "total");
    en_rollup_pack_figures(pk, NULL, 0,
                           (const uint64_t[3]){x.openings, x.vacancies, x.applicants});
    free(x.g.tab);
    return 0;
}

/* A network roll-up (federate.h), once its arguments are known good:
 * a bad one is refused here, before anything goes out. */
static int
start_rollup(en_req_t *req, bool with_occupation, int (*federate)(en_req_t *))
{
    if (req->conn->role & EN_ROLE_NODE)
        return pr_fail(&req->err, PR_FORBIDDEN,
                       "network: is not asked of a node by a node (it answers for itself)");
    period_t p;
    pr_str_t label;
    scope_t sc;
    if (get_period(req->rq->args, &req->err, &p, &label) != 0 ||
        get_scope(req->rq->args, &req->err, with_occupation, &sc) != 0)
        return -1;
    return federate(req);
}

int
en_op_stats_supply_demand(en_req_t *req)
{
    const msgpack_object *args = req->rq->args;
    bool network = false, own = false;
    if (pr_get_bool(args, "network", "network", 0, &network, &req->err) < 0 ||
        pr_get_bool(args, "own", "own", 0, &own, &req->err) < 0)
        return -1;
    if (network && own)
        return pr_fail(&req->err, PR_BAD_REQUEST, "own: not with network");
    if (network)
        return start_rollup(req, true, en_federate_supply_demand);
    /* On failure what was begun is discarded (command.h). */
    en_reply_ok(req);
    return en_supply_demand(req->srv->ix, args, own, req->pk, &req->err);
}

/* ---- stats.wages ------------------------------------------------------- */

typedef struct wage_val {
    uint32_t group;       /* the group's slot, once the table stops growing */
    uint32_t wage2;
    uint64_t count;
    /* The group's label: the table moves its entries while it grows, so
     * a value finds its group again by label afterwards. */
    char key[PR_OCCUPATION_LEN];
    uint8_t key_len;
} wage_val_t;

typedef struct flag {
    const char *id;
    uint32_t id_len;
    const group_t *g;
    uint32_t wage2;
    uint64_t docno;
} flag_t;

typedef struct wage_ctx {
    const scope_t *sc;
    groups_t g;
    wage_val_t *vals;
    uint32_t n_vals, cap_vals;
    ix_txn_t *txn;
    uint8_t kind;          /* flags being collected */
    flag_t *flags[2];
    uint32_t n_flags[2];
    uint32_t limit;
    bool truncated;
    bool oom;
} wage_ctx_t;

static int
wage_cell(void *ctx, const ix_agg_cell_t *c)
{
    wage_ctx_t *x = ctx;
    const char *key;
    uint32_t len;
    if (!under_occupation(x->sc, c->code, c->code_len) ||
        !group_of(x->sc, c->region, c->code, c->code_len, &key, &len))
        return 0;
    if (x->n_vals == x->cap_vals) {
        uint32_t ncap = x->cap_vals ? x->cap_vals * 2 : 1024;
        wage_val_t *nv = realloc(x->vals, ncap * sizeof *nv);
        if (!nv)
            return x->oom = true, -ENOMEM;
        x->vals = nv;
        x->cap_vals = ncap;
    }
    group_t *g = group_find(&x->g, key, len, true);
    if (!g)
        return x->oom = true, -ENOMEM;
    wage_val_t *v = &x->vals[x->n_vals++];
    *v = (wage_val_t){.wage2 = c->wage2, .count = c->count, .key_len = (uint8_t)len};
    memcpy(v->key, key, len);
    g->count += c->count;
    return 0;
}

static int
cmp_val(const void *a, const void *b)
{
    const wage_val_t *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->wage2 < y->wage2 ? -1 : x->wage2 > y->wage2;
}

/* Nearest rank: the smallest value with at least p percent of the values
 * at or below it, i.e. the ceil(p * n / 100)-th smallest. */
static uint32_t
percentile(const wage_val_t *v, uint32_t n, uint64_t total, unsigned p)
{
    uint64_t rank = (p * total + 99) / 100, seen = 0;
    if (rank == 0)
        rank = 1;
    for (uint32_t i = 0; i < n; i++) {
        seen += v[i].count;
        if (seen >= rank)
            return v[i].wage2;
    }
    return n ? v[n - 1].wage2 : 0;
}

static void
set_percentiles(group_t *g, const wage_val_t *v, uint32_t n)
{
    g->p10 = percentile(v, n, g->count, 10);
    g->p50 = percentile(v, n, g->count, 50);
    g->p90 = percentile(v, n, g->count, 90);
}

/* The overlay: which postings of a cell to visit. */
static int
flag_pick(void *ctx, const char region[6], const char *code, uint32_t code_len, uint32_t *lo,
          uint32_t *hi)
{
    wage_ctx_t *x = ctx;
    const char *key;
    uint32_t len;
    /* A worker without a desired code (code_len 0) is under no
     * occupation group: it is flagged only in region groups without an
     * occupation filter. */
    if (!under_occupation(x->sc, code, code_len) ||
        !group_of(x->sc, region, code, code_len, &key, &len))
        return 1;
    group_t *g = group_find(&x->g, key, len, false);
    if (!g || !g->count)
        return 1;
    if (x->kind == IX_VACANCY) {
        *lo = 0;
        *hi = g->p10;
    } else {
        *lo = g->p90 + 1;
        *hi = UINT32_MAX;
    }
    return 0;
}

static int
flag_take(void *ctx, uint64_t docno, const char region[6], const char *code, uint32_t code_len,
          uint32_t wage2)
{
    wage_ctx_t *x = ctx;
    int k = x->kind == IX_VACANCY ? 0 : 1;
    const char *key;
    uint32_t len;
    if (!group_of(x->sc, region, code, code_len, &key, &len))
        return 0;
    const group_t *g = group_find(&x->g, key, len, false);
    /* A worker with two desired codes in one group is flagged once. */
    for (uint32_t i = 0; k == 1 && i < x->n_flags[k]; i++)
        if (x->flags[k][i].docno == docno && x->flags[k][i].g == g)
            return 0;
    if (x->n_flags[k] == x->limit) {
        x->truncated = true;
        return 1;
    }
    ix_record_t rec;
    int rc = ix_get_docno(x->txn, x->kind, docno, &rec);
    if (rc != 0)
        return rc;
    x->flags[k][x->n_flags[k]++] = (flag_t){rec.id, rec.id_len, g, wage2, docno};
    return 0;
}

static void
pack_wage(msgpack_packer *pk, const char *key, uint32_t wage2)
{
    pr_pack_cstr(pk, key);
    msgpack_pack_double(pk, wage2 / 2.0);
}

static void
pack_flags(msgpack_packer *pk, const wage_ctx_t *x, int k)
{
    pr_pack_cstr(pk, k == 0 ? "below_p10" : "above_p90");
    msgpack_pack_array(pk, x->n_flags[k]);
    for (uint32_t i = 0; i < x->n_flags[k]; i++) {
        const flag_t *f = &x->flags[k][i];
        msgpack_pack_map(pk, 3);
        pr_pack_cstr(pk, "id");
        msgpack_pack_str_with_body(pk, f->id, f->id_len);
        pr_pack_cstr(pk, "group");
        msgpack_pack_str_with_body(pk, f->g->key, f->g->len);
        if (k == 0) {
            pack_wage(pk, "wage", f->wage2);
        } else {
            pr_pack_cstr(pk, "wage_min");
            msgpack_pack_uint32(pk, f->wage2 / 2);
        }
    }
}

static void
pack_wage_stats(msgpack_packer *pk, const group_t *g, bool with_group)
{
    msgpack_pack_map(pk, with_group ? 5 : 4);
    if (with_group) {
        pr_pack_cstr(pk, "group");
        msgpack_pack_str_with_body(pk, g->key, g->len);
    }
    pr_pack_cstr(pk, "count");
    msgpack_pack_uint64(pk, g->count);
    if (g->count) {
        pack_wage(pk, "p10", g->p10);
        pack_wage(pk, "p50", g->p50);
        pack_wage(pk, "p90", g->p90);
    } else {
        pr_pack_cstr(pk, "p10");
        msgpack_pack_nil(pk);
        pr_pack_cstr(pk, "p50");
        msgpack_pack_nil(pk);
        pr_pack_cstr(pk, "p90");
        msgpack_pack_nil(pk);
    }
}

static void
wage_ctx_free(wage_ctx_t *x)
{
    free(x->g.tab);
    free(x->vals);
    free(x->flags[0]);
    free(x->flags[1]);
}

/* Percentiles per group and overall. Afterwards the group table is
 * still searchable (the values are sorted, not the groups). */
static int
compute_percentiles(wage_ctx_t *x, group_t *total)
{
    for (uint32_t i = 0; i < x->n_vals; i++) {
        const group_t *g = group_find(&x->g, x->vals[i].key, x->vals[i].key_len, false);
        x->vals[i].group = (uint32_t)(g - x->g.tab);
    }
    if (x->n_vals)
        qsort(x->vals, x->n_vals, sizeof *x->vals, cmp_val);
    for (uint32_t i = 0; i < x->n_vals;) {
        uint32_t j = i;
        while (j < x->n_vals && x->vals[j].group == x->vals[i].group)
            j++;
        set_percentiles(&x->g.tab[x->vals[i].group], x->vals + i, j - i);
        i = j;
    }
    /* Overall: the same values in wage order, whatever the group. */
    for (uint32_t i = 0; i < x->n_vals; i++) {
        x->vals[i].group = 0;
        total->count += x->vals[i].count;
    }
    if (x->n_vals)
        qsort(x->vals, x->n_vals, sizeof *x->vals, cmp_val);
    set_percentiles(total, x->vals, x->n_vals);
    return 0;
}

int
en_op_stats_wages(en_req_t *req)
{
    scope_t sc;
    if (get_scope(req->rq->args, &req->err, true, &sc) != 0)
        return -1;
    int64_t limit = FLAG_LIMIT_DEFAULT;
    if (pr_get_int(req->rq->args, "flag_limit", "flag_limit", 0, 0, FLAG_LIMIT_MAX, &limit,
                   &req->err) < 0)
        return -1;
    /* Flags name records a counselor can act on; kiosks and nodes get the
     * figures only. */
    bool flags = (req->conn->role & (EN_ROLE_COUNSELOR | EN_ROLE_ADMIN)) != 0;
    wage_ctx_t x = {.sc = &sc, .limit = (uint32_t)limit};
    if (flags && limit > 0) {
        x.flags[0] = malloc((size_t)limit * sizeof(flag_t));
        x.flags[1] = malloc((size_t)limit * sizeof(flag_t));
        if (!x.flags[0] || !x.flags[1]) {
            wage_ctx_free(&x);
            return pr_fail(&req->err, PR_INTERNAL, "out of memory");
        }
    }
    ix_txn_t *txn;
    int rc = ix_read_begin(req->srv->ix, &txn);
    if (rc != 0) {
        wage_ctx_free(&x);
        return en_storage_error(&req->err, rc);
    }
    x.txn = txn;
    group_t total = {0};
    rc = ix_agg_scan(txn, IX_AGG_WAGES, 0, 0, 0, sc.region.ptr, sc.region.len, wage_cell, &x);
    if (rc == 0)
        rc = compute_percentiles(&x, &total);
    /* Walked with flag_limit 0 too: the first entry found says the lists
     * were cut (truncated) and ends the walk. */
    if (rc == 0 && flags) {
        x.kind = IX_VACANCY;
        rc = ix_wage_walk(txn, IX_VACANCY, sc.region.ptr, sc.region.len, flag_pick, flag_take,
                          &x);
        x.kind = IX_WORKER;
        if (rc == 0)
            rc = ix_wage_walk(txn, IX_WORKER, sc.region.ptr, sc.region.len, flag_pick,
                              flag_take, &x);
    }
    if (rc != 0) {
        ix_read_end(txn);
        wage_ctx_free(&x);
        return x.oom ? pr_fail(&req->err, PR_INTERNAL, "out of memory")
                     : en_storage_error(&req->err, rc);
    }
    /* Flags point at groups; sort copies of them for the reply. */
    uint32_t n = 0;
    group_t *sorted = malloc((x.g.used ? x.g.used : 1) * sizeof *sorted);
    if (!sorted) {
        ix_read_end(txn);
        wage_ctx_free(&x);
        return pr_fail(&req->err, PR_INTERNAL, "out of memory");
    }
    for (uint32_t i = 0; i < x.g.cap; i++)
        if (x.g.tab[i].used)
            sorted[n++] = x.g.tab[i];
    if (n)
        qsort(sorted, n, sizeof *sorted, cmp_group);
    msgpack_packer *pk = req->pk;
    en_reply_ok(req);
    msgpack_pack_map(pk, flags ? 8 : 5);
    pack_scope(pk, &sc, true);
    pr_pack_cstr(pk, "groups");
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        pack_wage_stats(pk, &sorted[i], true);
    pr_pack_cstr(pk, "total");
    pack_wage_stats(pk, &total, false);
    if (flags) {
        pack_flags(pk, &x, 0);
        pack_flags(pk, &x, 1);
        pr_pack_cstr(pk, "truncated");
        if (x.truncated)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
    }
    ix_read_end(txn);
    free(sorted);
    wage_ctx_free(&x);
    return 0;
}

/* ---- stats.reemployment ------------------------------------------------ */

typedef struct reemp_ctx {
    en_reemp_sums_t sums;
    bool hires;
} reemp_ctx_t;

static int
reemp_cell(void *ctx, const ix_agg_cell_t *c)
{
    reemp_ctx_t *x = ctx;
    if (c->category >= PR_CAT_COUNT)
        return 0;
    (x->hires ? x->sums.hired : x->sums.registered)[c->category] += c->count;
    return 0;
}

int
en_reemployment(ix_env_t *ix, const msgpack_object *args, msgpack_packer *pk, pr_error_t *err)
{
    period_t p;
    pr_str_t label;
    scope_t sc;
    if (get_period(args, err, &p, &label) != 0 || get_scope(args, err, false, &sc) != 0)
        return -1;
    reemp_ctx_t x = {0};
    ix_txn_t *txn;
    int rc = ix_read_begin(ix, &txn);
    if (rc != 0)
        return en_storage_error(err, rc);
    rc = ix_agg_scan(txn, IX_AGG_REGISTERED, p.from, p.to, 0, sc.region.ptr, sc.region.len,
                     reemp_cell, &x);
    x.hires = true;
    if (rc == 0)
        rc = ix_agg_scan(txn, IX_AGG_HIRED, p.from, p.to, 0, sc.region.ptr, sc.region.len,
                         reemp_cell, &x);
    ix_read_end(txn);
    if (rc != 0)
        return en_storage_error(err, rc);
    msgpack_pack_map(pk, 6);
    pack_period(pk, label, &p);
    pack_scope(pk, &sc, false);
    en_reemp_pack(pk, &x.sums);
    return 0;
}

int
en_op_stats_reemployment(en_req_t *req)
{
    const msgpack_object *args = req->rq->args;
    bool network = false;
    if (pr_get_bool(args, "network", "network", 0, &network, &req->err) < 0)
        return -1;
    if (network)
        return start_rollup(req, false, en_federate_reemployment);
    /* On failure what was begun is discarded (command.h). */
    en_reply_ok(req);
    return en_reemployment(req->srv->ix, args, req->pk, &req->err);
}
