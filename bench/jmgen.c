/* jmgen.c - deterministic generator of vacancy and worker records.
 *
 * Writes JSON Lines (one record per line) that follow the "Records" section
 * of the wire contract, for tests, the demo data set and benchmarks. The
 * values are drawn from the reference data in data/: real county-level
 * division codes, real leaf occupation codes of the 2022 classification and
 * the skill vocabulary derived from O*NET.
 *
 * Determinism: record i of a kind is produced by its own PRNG stream, seeded
 * from (seed, kind, i), so the same seed gives byte-identical output, and
 * record i does not depend on how many records are asked for. Popularity
 * rankings (which cities, occupations and skills are common) come from fixed
 * orders that do not depend on the seed, so every data set has the same
 * shape.
 *
 * Only libc and libm are used, so the tool builds without the rest of the
 * project.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Pseudo-random numbers: splitmix64 to seed, xoshiro256** to draw.          */

typedef struct rng {
    uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Seeds a stream from three integers. Mixing them through splitmix64 one
 * after the other keeps neighbouring indexes from giving related streams. */
static void rng_seed(rng_t *r, uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t x = seed;
    x = splitmix64(&x) ^ stream;
    x = splitmix64(&x) ^ index;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* A uniform integer in [0, n). The multiply-shift mapping has a bias of at
 * most n / 2^64, which is irrelevant here and keeps draws branch-free. */
static uint64_t rng_below(rng_t *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* A uniform integer in [lo, hi]. */
static int64_t rng_range(rng_t *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo + 1));
}

/* A uniform double in [0, 1). */
static double rng_double(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* True with probability p. */
static bool rng_chance(rng_t *r, double p)
{
    return rng_double(r) < p;
}

/* A standard normal variate (Box-Muller; the second value is dropped to
 * keep draws independent of call order). */
static double rng_normal(rng_t *r)
{
    double u = 1.0 - rng_double(r); /* (0, 1], so log() is finite */
    double v = rng_double(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Picks an index from a small table of integer weights. */
static int rng_weighted(rng_t *r, const int *weights, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += weights[i];
    int x = (int)rng_below(r, (uint64_t)total);
    for (int i = 0; i < n; i++) {
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    return n - 1;
}

/* Shuffles an index array with a fixed seed, so orders are stable. */
static void shuffle_fixed(int *a, int n, uint64_t stream)
{
    rng_t r;
    rng_seed(&r, 0x6a6d67656eULL, stream, 0);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* ------------------------------------------------------------------------ */
/* Zipf draws over ranks 0..n-1 with weight 1 / (rank + 1)^s.                */

typedef struct zipf {
    double *cdf; /* cdf[i] = sum of weights of ranks 0..i */
    int n;
} zipf_t;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("jmgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void zipf_init(zipf_t *z, int n, double s)
{
    z->n = n;
    z->cdf = xmalloc(sizeof(double) * (size_t)n);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        sum += pow((double)i + 1.0, -s);
        z->cdf[i] = sum;
    }
}

/* Draws a rank among the first k ranks of the table (1 <= k <= n), so one
 * table serves every group size up to n. */
static int zipf_draw(const zipf_t *z, int k, rng_t *r)
{
    if (k > z->n)
        k = z->n;
    double target = rng_double(r) * z->cdf[k - 1];
    int lo = 0, hi = k - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ------------------------------------------------------------------------ */
/* A small CSV reader (RFC 4180: quoted fields, "" inside quotes).           */

typedef struct csv {
    char *p;   /* next unread byte */
    char *end; /* one past the last byte */
} csv_t;

static char *load_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = xmalloc(cap + 1);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb)
                die("out of memory");
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        die("%s: read error", path);
    fclose(f);
    buf[len] = '\0';
    *len_out = len;
    return buf;
}

/* Splits the next row into at most maxf NUL-terminated fields, unescaping
 * quoted fields in place (the text only shrinks, so that is safe). Returns
 * the number of fields, or -1 at the end of the input. Extra fields are
 * dropped. */
static int csv_row(csv_t *c, char **fields, int maxf)
{
    if (c->p >= c->end)
        return -1;
    int nf = 0;
    for (;;) {
        char *out = c->p, *start = c->p;
        if (c->p < c->end && *c->p == '"') {
            c->p++;
            while (c->p < c->end) {
                if (*c->p == '"') {
                    if (c->p + 1 < c->end && c->p[1] == '"') {
                        *out++ = '"';
                        c->p += 2;
                        continue;
                    }
                    c->p++;
                    break;
                }
                *out++ = *c->p++;
            }
            /* Anything between the closing quote and the separator is
             * malformed; skip it rather than fail on it. */
            while (c->p < c->end && *c->p != ',' && *c->p != '\n')
                c->p++;
        } else {
            while (c->p < c->end && *c->p != ',' && *c->p != '\n')
                c->p++;
            out = c->p;
            if (out > start && out[-1] == '\r')
                out--;
        }
        char sep = c->p < c->end ? *c->p : '\n';
        *out = '\0';
        if (nf < maxf)
            fields[nf++] = start;
        c->p++;
        if (sep == '\n')
            return nf;
    }
}

/* ------------------------------------------------------------------------ */
/* Reference data.                                                            */

typedef struct county {
    char code[7];
} county_t;

typedef struct pref {
    char code4[5];
    const char *name; /* prefecture or, failing that, province name */
    int first;        /* index of its first county in the county array */
    int count;
    int rank;         /* popularity rank, 0 = largest */
} pref_t;

typedef struct occ {
    char code[11];
    char *title;       /* display name without the S / L markers */
} occ_t;

#define N_MAJORS 9

typedef struct model {
    county_t *counties;
    int n_counties;
    pref_t *prefs;      /* in popularity order */
    int n_prefs;
    int max_counties;   /* the most counties in one prefecture */

    occ_t *occs;
    int n_occs;
    int *major_occs[N_MAJORS]; /* occupation indexes per major group, in popularity order */
    int n_major[N_MAJORS];

    char **skills;      /* skill ids: general ones, then technologies */
    int n_skills;
    int pool_first[2];  /* pool 0 = general skills and knowledge, 1 = tools */
    int pool_len[2];    /* each pool is in popularity order */

    zipf_t zipf_pref_vac, zipf_pref_wrk, zipf_county, zipf_occ, zipf_skill,
        zipf_window, zipf_employer;

    char *region_text; /* file contents that prefecture names point into */
    char *skill_text;  /* file contents that skill ids point into */
} model_t;

/* Big cities first, roughly by size of their labour market; the remaining
 * prefectures follow in a fixed pseudo-random order. The 4-digit prefixes
 * of the municipalities (1101, 1201, 3101, 5001) group their districts. */
static const char *const big_cities[] = {
    "4403", "4401", "3101", "1101", "5001", "5101", "3301", "4201", "3205",
    "1201", "6101", "3201", "4301", "4101", "4419", "4406", "3702", "3302",
    "3401", "3701", "3501", "5301", "2101", "3502", "3202", "3303", "2301",
    "1301", "4501", "2201", "2102", "3601", "5201", "1401", "4413", "3206",
    "4420", "3505", "3204", "6501", "6201", "4601", "4404", "3706",
};

static bool is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return s[n] == '\0';
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void load_regions(model_t *m, const char *dir)
{
    char *path = path_join(dir, "cn_admin_divisions_mca_2024.csv");
    size_t len;
    char *buf = load_file(path, &len);
    m->region_text = buf; /* kept: names point into it */
    csv_t c = {buf, buf + len};
    char *f[2];
    csv_row(&c, f, 2); /* header */

    /* Two passes over a small file: collect rows, then group. */
    size_t cap = 4096;
    char (*codes)[7] = xmalloc(sizeof(*codes) * cap);
    const char **names = xmalloc(sizeof(*names) * cap);
    int n = 0, nf;
    while ((nf = csv_row(&c, f, 2)) >= 0) {
        if (nf < 2 || !is_digits(f[0], 6))
            continue;
        if ((size_t)n == cap)
            die("%s: too many rows", path);
        memcpy(codes[n], f[0], 7);
        names[n] = f[1];
        n++;
    }

    m->counties = xmalloc(sizeof(county_t) * (size_t)n);
    m->prefs = xmalloc(sizeof(pref_t) * (size_t)n);
    m->n_counties = 0;
    m->n_prefs = 0;
    /* The file lists each province, then each prefecture followed by its
     * counties, so counties of one 4-digit group are contiguous. A
     * prefecture without counties (e.g. 441900 东莞市) is its own region. */
    for (int i = 0; i < n; i++) {
        const char *code = codes[i];
        if (strcmp(code + 2, "0000") == 0)
            continue;
        bool is_pref = strcmp(code + 4, "00") == 0;
        pref_t *p = m->n_prefs ? &m->prefs[m->n_prefs - 1] : NULL;
        if (!p || memcmp(p->code4, code, 4) != 0) {
            p = &m->prefs[m->n_prefs++];
            memcpy(p->code4, code, 4);
            p->code4[4] = '\0';
            p->first = m->n_counties;
            p->count = 0;
            p->name = NULL;
            /* Municipalities have no prefecture rows: their districts are
             * named after the province-level city. Other groups without a
             * prefecture row (province-administered counties) take the
             * name of their first county below. */
            if (memcmp(code, "11", 2) == 0 || memcmp(code, "12", 2) == 0 ||
                memcmp(code, "31", 2) == 0 || memcmp(code, "50", 2) == 0) {
                for (int j = 0; j < n; j++)
                    if (memcmp(codes[j], code, 2) == 0 && strcmp(codes[j] + 2, "0000") == 0)
                        p->name = names[j];
            }
        }
        if (is_pref) {
            p->name = names[i];
            continue;
        }
        if (!p->name)
            p->name = names[i];
        memcpy(m->counties[m->n_counties++].code, code, 7);
        p->count++;
    }
    /* Prefectures without counties get their own code as the one region. */
    for (int i = 0; i < m->n_prefs; i++) {
        pref_t *p = &m->prefs[i];
        if (p->count > 0)
            continue;
        /* Appending keeps other groups contiguous; only this group moves. */
        p->first = m->n_counties;
        p->count = 1;
        snprintf(m->counties[m->n_counties++].code, 7, "%s00", p->code4);
    }
    if (m->n_prefs == 0)
        die("%s: no regions", path);

    /* Rank: the big-city list, then the rest in a fixed shuffled order. */
    int *order = xmalloc(sizeof(int) * (size_t)m->n_prefs);
    bool *taken = calloc((size_t)m->n_prefs, 1);
    if (!taken)
        die("out of memory");
    int k = 0;
    for (size_t b = 0; b < sizeof(big_cities) / sizeof(big_cities[0]); b++)
        for (int i = 0; i < m->n_prefs; i++)
            if (!taken[i] && strcmp(m->prefs[i].code4, big_cities[b]) == 0) {
                order[k++] = i;
                taken[i] = true;
            }
    int head = k;
    for (int i = 0; i < m->n_prefs; i++)
        if (!taken[i])
            order[k++] = i;
    shuffle_fixed(order + head, k - head, 1);
    pref_t *sorted = xmalloc(sizeof(pref_t) * (size_t)m->n_prefs);
    m->max_counties = 1;
    for (int i = 0; i < m->n_prefs; i++) {
        sorted[i] = m->prefs[order[i]];
        sorted[i].rank = i;
        if (sorted[i].count > m->max_counties)
            m->max_counties = sorted[i].count;
    }
    free(m->prefs);
    m->prefs = sorted;
    free(order);
    free(taken);
    free(codes);
    free(names);
    free(path);
}

/* Copies an occupation name without its trailing digital/green marker
 * ("S", "L" or "L/S"): the markers are ASCII after Chinese text. */
static char *strip_marker(const char *name)
{
    size_t n = strlen(name);
    while (n > 0 && (name[n - 1] == 'S' || name[n - 1] == 'L' || name[n - 1] == '/'))
        n--;
    char *s = xmalloc(n + 1);
    memcpy(s, name, n);
    s[n] = '\0';
    return s;
}

static bool is_leaf_code(const char *s)
{
    /* D-DD-DD-DD */
    static const char pat[] = "D-DD-DD-DD";
    for (int i = 0; i < 10; i++) {
        if (pat[i] == 'D' ? (s[i] < '0' || s[i] > '9') : s[i] != '-')
            return false;
    }
    return s[10] == '\0';
}

static void load_occupations(model_t *m, const char *dir)
{
    char *path = path_join(dir, "cn_occupation_classification_2022.csv");
    size_t len;
    char *buf = load_file(path, &len);
    csv_t c = {buf, buf + len};
    char *f[3];
    csv_row(&c, f, 3); /* header */

    size_t cap = 8192;
    char (*codes)[11] = xmalloc(sizeof(*codes) * cap);
    char **names = xmalloc(sizeof(*names) * cap);
    int *levels = xmalloc(sizeof(int) * cap);
    int n = 0, nf;
    while ((nf = csv_row(&c, f, 3)) >= 0) {
        if (nf < 3 || !is_leaf_code(f[1]))
            continue;
        if ((size_t)n == cap)
            die("%s: too many rows", path);
        memcpy(codes[n], f[1], 11);
        names[n] = f[2];
        levels[n] = atoi(f[0]);
        n++;
    }

    /* Keep distinct level-4 codes that never appear at another level; the
     * source repeats a few codes and lists 2-03-01-00 at two levels. */
    m->occs = xmalloc(sizeof(occ_t) * (size_t)(n ? n : 1));
    m->n_occs = 0;
    for (int i = 0; i < n; i++) {
        if (levels[i] != 4)
            continue;
        bool skip = false;
        for (int j = 0; j < n && !skip; j++)
            if (strcmp(codes[j], codes[i]) == 0 && (levels[j] != 4 || j < i))
                skip = true;
        if (skip)
            continue;
        occ_t *o = &m->occs[m->n_occs++];
        memcpy(o->code, codes[i], 11);
        o->title = strip_marker(names[i]);
    }
    if (m->n_occs == 0)
        die("%s: no level-4 occupations", path);

    for (int g = 0; g < N_MAJORS; g++) {
        m->major_occs[g] = xmalloc(sizeof(int) * (size_t)m->n_occs);
        m->n_major[g] = 0;
    }
    for (int i = 0; i < m->n_occs; i++) {
        int g = m->occs[i].code[0] - '0';
        if (g >= 0 && g < N_MAJORS)
            m->major_occs[g][m->n_major[g]++] = i;
    }
    for (int g = 0; g < N_MAJORS; g++)
        shuffle_fixed(m->major_occs[g], m->n_major[g], 100 + (uint64_t)g);
    free(codes);
    free(names);
    free(levels);
    free(buf);
    free(path);
}

static bool valid_skill_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || strchr("._:/-", ch)))
            return false;
    }
    return true;
}

static void load_skills(model_t *m, const char *dir)
{
    char *path = path_join(dir, "skills.csv");
    size_t len;
    char *buf = load_file(path, &len);
    m->skill_text = buf; /* kept: ids point into it */
    csv_t c = {buf, buf + len};
    char *f[2];
    csv_row(&c, f, 2);
    size_t cap = 4096;
    char **ids = xmalloc(sizeof(char *) * cap);
    int n = 0, nf;
    while ((nf = csv_row(&c, f, 2)) >= 0) {
        if (nf < 1 || f[0][0] == '\0')
            continue;
        if (!valid_skill_id(f[0]))
            die("%s: bad skill id '%s'", path, f[0]);
        if ((size_t)n == cap)
            die("%s: too many rows", path);
        ids[n++] = f[0];
    }
    if (n < 10)
        die("%s: need at least 10 skills", path);
    /* Split into general skills (O*NET elements and any other id) and
     * technologies ("tech:" ids), each shuffled into a fixed popularity
     * order, so that trades can lean on one pool or the other. */
    int *order = xmalloc(sizeof(int) * (size_t)n);
    int k = 0;
    for (int pool = 0; pool < 2; pool++) {
        m->pool_first[pool] = k;
        for (int i = 0; i < n; i++)
            if ((strncmp(ids[i], "tech:", 5) == 0) == (pool == 1))
                order[k++] = i;
        m->pool_len[pool] = k - m->pool_first[pool];
        shuffle_fixed(order + m->pool_first[pool], m->pool_len[pool], 2 + (uint64_t)pool);
    }
    m->skills = xmalloc(sizeof(char *) * (size_t)n);
    for (int i = 0; i < n; i++)
        m->skills[i] = ids[order[i]];
    m->n_skills = n;
    free(order);
    free(ids);
    free(path);
}

#define SKILL_WINDOW 24
#define N_EMPLOYERS 400

static void model_load(model_t *m, const char *dir)
{
    memset(m, 0, sizeof(*m));
    load_regions(m, dir);
    load_occupations(m, dir);
    load_skills(m, dir);
    /* Vacancies cluster in big cities much more than job seekers do. */
    zipf_init(&m->zipf_pref_vac, m->n_prefs, 0.95);
    zipf_init(&m->zipf_pref_wrk, m->n_prefs, 0.7);
    zipf_init(&m->zipf_county, m->max_counties, 0.5);
    zipf_init(&m->zipf_occ, m->n_occs, 1.0);
    zipf_init(&m->zipf_skill, m->n_skills, 0.9);
    zipf_init(&m->zipf_window, SKILL_WINDOW, 0.8);
    zipf_init(&m->zipf_employer, N_EMPLOYERS, 1.0);
}

static void model_free(model_t *m)
{
    zipf_t *z[] = {&m->zipf_pref_vac, &m->zipf_pref_wrk, &m->zipf_county, &m->zipf_occ,
                   &m->zipf_skill, &m->zipf_window, &m->zipf_employer};
    for (size_t i = 0; i < sizeof(z) / sizeof(z[0]); i++)
        free(z[i]->cdf);
    for (int i = 0; i < m->n_occs; i++)
        free(m->occs[i].title);
    free(m->occs);
    for (int g = 0; g < N_MAJORS; g++)
        free(m->major_occs[g]);
    free(m->counties);
    free(m->prefs);
    free(m->skills);
    free(m->region_text);
    free(m->skill_text);
}

/* ------------------------------------------------------------------------ */
/* Buffered JSON output.                                                      */

typedef struct out {
    FILE *f;
    const char *path;
    char *buf;
    size_t len;
} out_t;

#define OUT_CAP (1u << 20)
#define OUT_SLACK 8192 /* one record never needs more than this */

static void out_flush(out_t *o)
{
    if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len)
        die("%s: write failed: %s", o->path, strerror(errno));
    o->len = 0;
}

static inline void out_mem(out_t *o, const char *s, size_t n)
{
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static inline void out_lit(out_t *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

static void out_int(out_t *o, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        o->buf[o->len++] = '-';
    while (n)
        o->buf[o->len++] = tmp[--n];
}

/* Writes a JSON string. The input is trusted UTF-8 from the data files or
 * built here, so only quotes, backslashes and control bytes need escapes. */
static void out_str(out_t *o, const char *s)
{
    o->buf[o->len++] = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            o->buf[o->len++] = '\\';
            o->buf[o->len++] = (char)ch;
        } else if (ch < 0x20) {
            static const char hex[] = "0123456789abcdef";
            out_lit(o, "\\u00");
            o->buf[o->len++] = hex[ch >> 4];
            o->buf[o->len++] = hex[ch & 15];
        } else {
            o->buf[o->len++] = (char)ch;
        }
    }
    o->buf[o->len++] = '"';
}

static void out_kstr(out_t *o, const char *key, const char *val)
{
    out_lit(o, key);
    out_str(o, val);
}

static void out_kint(out_t *o, const char *key, int64_t val)
{
    out_lit(o, key);
    out_int(o, val);
}

static void out_open(out_t *o, const char *path)
{
    o->path = path;
    o->len = 0;
    o->buf = xmalloc(OUT_CAP + OUT_SLACK);
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
    } else {
        o->f = fopen(path, "wb");
        if (!o->f)
            die("%s: %s", path, strerror(errno));
    }
}

static void out_close(out_t *o)
{
    out_flush(o);
    if (o->f == stdout) {
        if (fflush(stdout) != 0)
            die("%s: write failed: %s", o->path, strerror(errno));
    } else if (fclose(o->f) != 0) {
        die("%s: write failed: %s", o->path, strerror(errno));
    }
    free(o->buf);
}

/* ------------------------------------------------------------------------ */
/* Shared field generators.                                                   */

enum { STREAM_VACANCY = 0x56, STREAM_WORKER = 0x57, STREAM_EMPLOYER = 0x45 };

static const char *const categories[] = {"laid_off", "unemployed", "graduate",
                                         "migrant", "other"};

/* Picks a region: a prefecture by Zipf rank, then a county inside it. */
static const pref_t *pick_region(const model_t *m, const zipf_t *zp, rng_t *r,
                                 const char **code)
{
    const pref_t *p = &m->prefs[zipf_draw(zp, m->n_prefs, r)];
    int c = zipf_draw(&m->zipf_county, p->count, r);
    *code = m->counties[p->first + c].code;
    return p;
}

/* Major groups 2 (professionals), 4 (services) and 6 (production) carry
 * most of the openings; 7 and 8 have no leaves in the data. */
static const int major_weights[N_MAJORS] = {0, 3, 22, 8, 34, 4, 29, 0, 0};

static int pick_occupation(const model_t *m, rng_t *r)
{
    int w[N_MAJORS];
    for (int g = 0; g < N_MAJORS; g++)
        w[g] = m->n_major[g] ? major_weights[g] : 0;
    int total = 0;
    for (int g = 0; g < N_MAJORS; g++)
        total += w[g];
    if (total == 0)
        return zipf_draw(&m->zipf_occ, m->n_occs, r);
    int g = rng_weighted(r, w, N_MAJORS);
    return m->major_occs[g][zipf_draw(&m->zipf_occ, m->n_major[g], r)];
}

/* Share of technology skills by major group: professionals use many
 * tools, production and farm trades few. */
static const double tech_share[N_MAJORS] = {0.3, 0.4, 0.6, 0.4, 0.25, 0.1, 0.15, 0.3, 0.3};

/* Writes "skills":[...] with n unique skills. Most are drawn from a window
 * of each pool tied to the occupation, so that openings and seekers of one
 * trade share skills, and the rest by overall popularity. */
static void out_skills(out_t *o, const model_t *m, int occ, int n, rng_t *r,
                       const int *level_weights)
{
    int chosen[16];
    int k = 0;
    int g = m->occs[occ].code[0] - '0';
    double share = (g >= 0 && g < N_MAJORS) ? tech_share[g] : 0.3;
    if (n > 16)
        n = 16;
    int attempts = 0;
    while (k < n && attempts++ < 200) {
        int pool = rng_chance(r, share) ? 1 : 0;
        if (m->pool_len[pool] == 0)
            pool = !pool;
        int len = m->pool_len[pool];
        int s;
        if (rng_chance(r, 0.65)) {
            int base = (int)((uint64_t)(occ + 1) * 2654435761u % (uint64_t)len);
            int window = SKILL_WINDOW < len ? SKILL_WINDOW : len;
            s = (base + zipf_draw(&m->zipf_window, window, r)) % len;
        } else {
            s = zipf_draw(&m->zipf_skill, len, r);
        }
        s += m->pool_first[pool];
        bool dup = false;
        for (int i = 0; i < k; i++)
            if (chosen[i] == s)
                dup = true;
        if (!dup)
            chosen[k++] = s;
    }
    out_lit(o, ",\"skills\":[");
    for (int i = 0; i < k; i++) {
        if (i)
            out_lit(o, ",");
        out_kstr(o, "{\"id\":", m->skills[chosen[i]]);
        out_kint(o, ",\"level\":", 1 + rng_weighted(r, level_weights, 5));
        out_lit(o, "}");
    }
    out_lit(o, "]");
}

/* A monthly wage in yuan for an education level and a city, rounded to
 * 100 and kept within 2,000..40,000. */
static int64_t pick_wage(const pref_t *p, int edu, double scale, rng_t *r)
{
    static const double base[8] = {3000, 3200, 3800, 4500, 5600, 7500, 10500, 14000};
    double city = p->rank < 5 ? 1.55 : p->rank < 15 ? 1.3 : p->rank < 44 ? 1.12 : 1.0;
    double w = base[edu] * city * scale * exp(0.3 * rng_normal(r));
    if (w < 2000)
        w = 2000;
    if (w > 40000)
        w = 40000;
    return (int64_t)(w / 100.0 + 0.5) * 100;
}

static void format_id(char *buf, char prefix, uint64_t i)
{
    snprintf(buf, 24, "%c%09" PRIu64, prefix, i);
}

/* ------------------------------------------------------------------------ */
/* Vacancies.                                                                 */

static const char *const trade_syl[] = {
    "恒", "达", "华", "盛", "泰", "鑫", "瑞", "宏", "信", "德", "通", "远",
    "正", "安", "兴", "隆", "和", "嘉", "源", "新", "创", "博", "中", "联",
    "天", "海", "金", "祥", "锦", "明", "诚", "立", "宇", "汇", "丰", "凯",
};
static const char *const industries[] = {
    "科技", "商贸", "制造", "物流", "餐饮管理", "建筑工程", "电子", "家政服务",
    "医药", "教育咨询", "人力资源", "机械", "食品", "纺织", "汽车服务",
    "物业管理", "软件", "新能源", "化工", "印刷", "酒店管理", "供应链",
};
static const char *const company_forms[] = {"有限公司", "有限公司", "有限公司",
                                            "股份有限公司", "有限责任公司"};

/* Employer k of a prefecture always gets the same name, so openings of one
 * employer recur across the data set. */
static void employer_name(char *buf, size_t len, const pref_t *p, int k)
{
    rng_t r;
    rng_seed(&r, (uint64_t)atoi(p->code4), STREAM_EMPLOYER, (uint64_t)k);
    size_t nsyl = sizeof(trade_syl) / sizeof(trade_syl[0]);
    const char *a = trade_syl[rng_below(&r, nsyl)];
    const char *b = trade_syl[rng_below(&r, nsyl)];
    const char *ind = industries[rng_below(&r, sizeof(industries) / sizeof(industries[0]))];
    const char *form = company_forms[rng_below(&r, sizeof(company_forms) / sizeof(company_forms[0]))];
    snprintf(buf, len, "%s%s%s%s%s", p->name, a, b, ind, form);
}

static const char *const title_suffix[] = {"", "", "", "", "", "", "", "",
                                           "（急聘）", "学徒", "主管", "（长期）",
                                           "（可兼职）", "储备干部"};

static void gen_vacancy(out_t *o, const model_t *m, uint64_t seed, uint64_t i,
                        int64_t now)
{
    rng_t r;
    rng_seed(&r, seed, STREAM_VACANCY, i);
    char id[24], employer[256], title[512];
    const char *region;
    const pref_t *p = pick_region(m, &m->zipf_pref_vac, &r, &region);
    int occ = pick_occupation(m, &r);

    format_id(id, 'v', i);
    employer_name(employer, sizeof(employer), p,
                  zipf_draw(&m->zipf_employer, N_EMPLOYERS, &r));
    snprintf(title, sizeof(title), "%s%s", m->occs[occ].title,
             title_suffix[rng_below(&r, sizeof(title_suffix) / sizeof(title_suffix[0]))]);

    out_kstr(o, "{\"id\":", id);
    out_kstr(o, ",\"employer\":", employer);
    out_kstr(o, ",\"title\":", title);
    out_kstr(o, ",\"occupation\":", m->occs[occ].code);
    out_kstr(o, ",\"region\":", region);
    static const int vac_levels[5] = {10, 30, 35, 18, 7};
    out_skills(o, m, occ, (int)rng_range(&r, 2, 10), &r, vac_levels);

    static const int edu_w[8] = {14, 2, 12, 25, 22, 20, 4, 1};
    int edu = rng_weighted(&r, edu_w, 8);
    out_kint(o, ",\"education_min\":", edu);

    if (rng_chance(&r, 0.45)) {
        static const int lo[] = {16, 18, 18, 20, 22};
        static const int hi[] = {0, 35, 40, 45, 45, 50, 55, 60};
        int amin = lo[rng_below(&r, 5)];
        int amax = hi[rng_below(&r, 8)];
        out_kint(o, ",\"age_min\":", amin);
        if (amax)
            out_kint(o, ",\"age_max\":", amax);
    }

    int64_t wmin = pick_wage(p, edu, 1.0, &r);
    int64_t wmax = 0;
    if (!rng_chance(&r, 0.10)) {
        wmax = (int64_t)((double)wmin * (1.15 + 0.6 * rng_double(&r)) / 100.0 + 0.5) * 100;
        if (wmax > 40000)
            wmax = 40000;
        if (wmax < wmin)
            wmax = wmin;
    }
    out_kint(o, ",\"wage_min\":", wmin);
    out_kint(o, ",\"wage_max\":", wmax);

    static const int hc_w[6] = {45, 20, 12, 13, 8, 2};
    static const int hc_lo[6] = {1, 2, 3, 4, 6, 21}, hc_hi[6] = {1, 2, 3, 5, 20, 100};
    int h = rng_weighted(&r, hc_w, 6);
    out_kint(o, ",\"headcount\":", rng_range(&r, hc_lo[h], hc_hi[h]));

    if (rng_chance(&r, 0.15)) {
        int a = (int)rng_below(&r, 4); /* never "other" */
        out_lit(o, ",\"priority_categories\":[");
        out_str(o, categories[a]);
        if (rng_chance(&r, 0.3)) {
            int b = (a + 1 + (int)rng_below(&r, 3)) % 4;
            out_lit(o, ",");
            out_str(o, categories[b]);
        }
        out_lit(o, "]");
    }

    int64_t posted = now - rng_range(&r, 0, 90 * 86400);
    int64_t expires = rng_chance(&r, 0.25) ? 0 : posted + rng_range(&r, 30 * 86400, 180 * 86400);
    out_kint(o, ",\"posted\":", posted);
    out_kint(o, ",\"expires\":", expires);
    out_kstr(o, ",\"status\":", rng_chance(&r, 0.92) ? "open" : "closed");
    out_lit(o, "}\n");
}

/* ------------------------------------------------------------------------ */
/* Workers.                                                                   */

static const char *const surnames[] = {
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
    "马", "朱", "胡", "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋",
    "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁",
    "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "欧阳", "司马",
};
static const char *const given_chars[] = {
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳",
    "杰", "娟", "涛", "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华",
    "建", "文", "辉", "玲", "鹏", "红", "宇", "浩", "婷", "雪", "琳", "晨",
    "欣", "佳", "子", "梓", "睿", "轩", "然", "思", "雨", "博", "俊", "志",
    "国", "海", "春", "兰", "燕", "波", "斌", "凯", "亮", "飞", "嘉", "怡",
};

static int days_in_month(int y, int mo)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[mo - 1];
}

/* Builds an 18-character citizen identity number (GB 11643): address code,
 * birth date, sequence (odd for men, even for women) and check character. */
static void national_id(char out[19], const char *region, int y, int mo, int d, int seq)
{
    static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[] = "10X98765432";
    snprintf(out, 19, "%.6s%04d%02d%02d%03d", region, y, mo, d, seq);
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * weights[i];
    out[17] = check[sum % 11];
    out[18] = '\0';
}

static void gen_worker(out_t *o, const model_t *m, uint64_t seed, uint64_t i,
                       int64_t now)
{
    rng_t r;
    rng_seed(&r, seed, STREAM_WORKER, i);
    char id[24], name[64], nid[19], phone[16], center[40];
    const char *region;
    const pref_t *p = pick_region(m, &m->zipf_pref_wrk, &r, &region);

    static const int cat_w[5] = {15, 35, 20, 20, 10};
    int cat = rng_weighted(&r, cat_w, 5);
    int year_now = 1970 + (int)(now / 31556952); /* close enough for ages */
    int birth_year;
    if (cat == 2) /* graduates are young */
        birth_year = (int)rng_range(&r, year_now - 26, year_now - 20);
    else
        birth_year = (int)(1988 + 8.5 * rng_normal(&r));
    if (birth_year < 1960)
        birth_year = 1960;
    if (birth_year > 2006)
        birth_year = 2006;

    static const int edu_w[8] = {2, 5, 25, 25, 20, 18, 4, 1};
    static const int grad_w[8] = {0, 0, 0, 10, 35, 45, 9, 1};
    int edu = rng_weighted(&r, cat == 2 ? grad_w : edu_w, 8);

    format_id(id, 'w', i);
    const char *sur = surnames[rng_below(&r, sizeof(surnames) / sizeof(surnames[0]))];
    size_t ng = sizeof(given_chars) / sizeof(given_chars[0]);
    const char *g1 = given_chars[rng_below(&r, ng)];
    const char *g2 = rng_chance(&r, 0.7) ? given_chars[rng_below(&r, ng)] : "";
    snprintf(name, sizeof(name), "%s%s%s", sur, g1, g2);

    int mo = (int)rng_range(&r, 1, 12);
    int d = (int)rng_range(&r, 1, days_in_month(birth_year, mo));
    national_id(nid, region, birth_year, mo, d, (int)rng_range(&r, 1, 999));

    static const char *const phone_pfx[] = {"130", "131", "132", "133", "135",
        "136", "137", "138", "139", "150", "151", "152", "153", "155", "156",
        "157", "158", "159", "180", "181", "182", "183", "185", "186", "187",
        "188", "189"};
    snprintf(phone, sizeof(phone), "%s%08" PRIu64,
             phone_pfx[rng_below(&r, sizeof(phone_pfx) / sizeof(phone_pfx[0]))],
             rng_below(&r, 100000000));

    out_kstr(o, "{\"id\":", id);
    out_kstr(o, ",\"name\":", name);
    out_kstr(o, ",\"national_id\":", nid);
    out_kstr(o, ",\"phone\":", phone);
    out_kint(o, ",\"birth_year\":", birth_year);
    out_kstr(o, ",\"region\":", region);
    out_kint(o, ",\"education\":", edu);

    /* The first wanted occupation (or a past one) shapes the skills. */
    int n_desired = (int)rng_below(&r, 4);
    int occs[3];
    for (int k = 0; k < n_desired; k++)
        occs[k] = pick_occupation(m, &r);
    int home = n_desired ? occs[0] : pick_occupation(m, &r);
    static const int wrk_levels[5] = {15, 30, 30, 18, 7};
    out_skills(o, m, home, (int)rng_range(&r, 2, 10), &r, wrk_levels);

    out_lit(o, ",\"desired_occupations\":[");
    char desired[3][11];
    int n_out = 0;
    for (int k = 0; k < n_desired; k++) {
        static const int len_w[4] = {50, 20, 20, 10};
        static const int lens[4] = {10, 7, 4, 1};
        int len = lens[rng_weighted(&r, len_w, 4)];
        char code[11];
        memcpy(code, m->occs[occs[k]].code, (size_t)len);
        code[len] = '\0';
        bool dup = false;
        for (int j = 0; j < n_out; j++)
            if (strcmp(desired[j], code) == 0)
                dup = true;
        if (dup)
            continue;
        memcpy(desired[n_out++], code, 11);
        if (n_out > 1)
            out_lit(o, ",");
        out_str(o, code);
    }
    out_lit(o, "]");

    out_kint(o, ",\"wage_min\":", rng_chance(&r, 0.15) ? 0 : pick_wage(p, edu, 0.9, &r));
    out_kstr(o, ",\"category\":", categories[cat]);
    snprintf(center, sizeof(center), "center-%s-%02d", region, (int)rng_range(&r, 1, 3));
    out_kstr(o, ",\"center\":", center);
    out_kint(o, ",\"registered\":", now - rng_range(&r, 0, 365 * 86400));
    static const int st_w[3] = {85, 10, 5};
    static const char *const st[3] = {"available", "employed", "inactive"};
    out_kstr(o, ",\"status\":", st[rng_weighted(&r, st_w, 3)]);
    out_lit(o, "}\n");
}

/* ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fputs("usage: jmgen [--data DIR] [--vacancies N] [--workers M] [--seed S]\n"
          "             [--now UNIXTIME] [--first I]\n"
          "             [--out-vacancies FILE] [--out-workers FILE]\n"
          "Writes JSON Lines records; '-' (the default) is standard output.\n"
          "Ids are v000000001.. and w000000001.. (from --first, default 1).\n"
          "The same seed and counts give byte-identical output.\n",
          f);
}

static uint64_t parse_u64(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        die("%s: not a non-negative integer: '%s'", opt, s);
    return (uint64_t)v;
}

int main(int argc, char **argv)
{
    const char *data = "data", *out_v = "-", *out_w = "-";
    uint64_t n_vac = 0, n_wrk = 0, seed = 1, first = 1;
    int64_t now = 1790000000;
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'D'},
        {"vacancies", required_argument, NULL, 'v'},
        {"workers", required_argument, NULL, 'w'},
        {"seed", required_argument, NULL, 's'},
        {"now", required_argument, NULL, 'n'},
        {"first", required_argument, NULL, 'f'},
        {"out-vacancies", required_argument, NULL, 'V'},
        {"out-workers", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'D': data = optarg; break;
        case 'v': n_vac = parse_u64("--vacancies", optarg); break;
        case 'w': n_wrk = parse_u64("--workers", optarg); break;
        case 's': seed = parse_u64("--seed", optarg); break;
        case 'n': now = (int64_t)parse_u64("--now", optarg); break;
        case 'f': first = parse_u64("--first", optarg); break;
        case 'V': out_v = optarg; break;
        case 'W': out_w = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (first + n_vac > 1000000000ULL || first + n_wrk > 1000000000ULL)
        die("ids are 9 digits: --first plus the count must stay below 10^9");
    if (now < 200 * 86400)
        die("--now is too small");

    model_t m;
    model_load(&m, data);

    if (n_vac) {
        out_t o;
        out_open(&o, out_v);
        for (uint64_t i = 0; i < n_vac; i++) {
            gen_vacancy(&o, &m, seed, first + i, now);
            if (o.len >= OUT_CAP)
                out_flush(&o);
        }
        out_close(&o);
    }
    if (n_wrk) {
        out_t o;
        out_open(&o, out_w);
        for (uint64_t i = 0; i < n_wrk; i++) {
            gen_worker(&o, &m, seed, first + i, now);
            if (o.len >= OUT_CAP)
                out_flush(&o);
        }
        out_close(&o);
    }
    model_free(&m);
    return 0;
}
