/* match_search.c - finding the best matches for a probe without reading
 * every candidate.
 *
 * The probe's terms are its skills and the minor occupation groups of its
 * codes of 7 or 10 characters. Their postings are walked in rings around
 * the probe (its county, then the rest of its city, province, country, as
 * far as the scope goes) and within a ring county by county (each term's
 * postings in one county are one group, and the terms' groups are merged
 * in county order), so that one county's candidates accumulate in a small
 * table that stays in cache. Every posting carries the candidate's skill
 * level and a brief of its record: the walk alone decides the contract's
 * rules 1-5 and sums each candidate's skill part and bonuses, with no
 * record read. After each county, the candidates' sure scores raise the
 * bar (the k-th best), and those whose bound still reaches it become
 * finalists; the finalists are then read and scored exactly
 * (en_score_pair), best bound first, until none left can enter the list.
 *
 * Each term has a bound, the most it adds to a score. The terms whose
 * bounds, summed with every bonus a candidate may have, stay below the
 * bar cannot bring in a candidate that enters the list (MaxScore): they
 * are no longer walked, and the other terms' candidates are completed
 * from them by look-ups (or by reading a county's group whole, when the
 * candidates are many). See docs/matching.md.
 */
#include "match.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "match_rules.h"

/* Skill parts are accumulated in double precision, in the order the
 * terms are read, where en_score_pair sums them in the vacancy's skill
 * order: the two may differ in their last bits, and comparisons of bounds
 * keep a margin far wider than that. */
#define ACC_MARGIN(x) (1e-3 + fabs(x) * 1e-5)

/* One candidate met in the postings that meets rules 1-5. Bonuses are
 * kept in tenths: every bonus of the contract is a multiple of 0.1. The
 * accumulators live in the slots of an open-addressing table, so that a
 * posting costs one memory access; a slot is in use when its gen is the
 * table's. */
typedef struct acc {
    uint64_t docno;
    double skill;         /* skill contributions so far */
    uint32_t gen;
    uint8_t fixed;        /* county + priority bonus, exact */
    uint8_t occ;          /* occupation bonus known so far */
    uint8_t rank;         /* its match rank, for look-ups (ix_match_rank) */
    uint8_t occ_exact : 1;  /* 0: a worker met in no minor group (<= 0.6) */
    uint8_t dead : 1;       /* its bound fell below the bar: not a finalist */
} acc_t;

/* A candidate worth reading, with its bound, and its score when the
 * postings told all of it (every term, and its occupation bonus): then
 * its record is read for its id alone. */
typedef struct finalist {
    double upper;
    double score;
    uint64_t docno;
    bool exact;
} finalist_t;

/* An accumulator table: open addressing, cleared in O(1) by bumping its
 * generation, with the list of its slots in use (so that a small query
 * does not walk the table a large one grew). */
typedef struct acc_table {
    acc_t *slots;
    uint32_t cap, gen;
    uint32_t *used;       /* slot numbers in use (complete() reorders them) */
    uint32_t n_used;
} acc_table_t;

/* Memory a worker thread reuses for every query: the table of one
 * county's candidates (small, so that it stays in cache) and the
 * finalists. */
struct en_match_scratch {
    acc_table_t county;
    finalist_t *fin;
    uint32_t cap_fin;
};

en_match_scratch_t *
en_match_scratch_new(void)
{
    return calloc(1, sizeof(en_match_scratch_t));
}

static void
table_free(acc_table_t *t)
{
    free(t->slots);
    free(t->used);
}

void
en_match_scratch_free(en_match_scratch_t *sc)
{
    if (!sc)
        return;
    table_free(&sc->county);
    free(sc->fin);
    free(sc);
}

static void
table_reset(acc_table_t *t)
{
    t->n_used = 0;
    if (++t->gen == 0) {  /* wrapped: old stamps could alias */
        for (uint32_t i = 0; i < t->cap; i++)
            t->slots[i].gen = 0;
        t->gen = 1;
    }
}

static uint32_t
slot_of(uint64_t docno, uint32_t mask)
{
    return (uint32_t)((docno * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

static int
table_grow(acc_table_t *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 1024;
    acc_t *slots = calloc(cap, sizeof *slots);
    uint32_t *used = malloc((cap / 2) * sizeof *used);
    if (!slots || !used) {
        free(slots);
        free(used);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < t->n_used; i++) {
        acc_t *a = &t->slots[t->used[i]];
        uint32_t s = slot_of(a->docno, cap - 1);
        while (slots[s].gen == 1)
            s = (s + 1) & (cap - 1);
        slots[s] = *a;
        slots[s].gen = 1;
        used[i] = s;
    }
    table_free(t);
    t->slots = slots;
    t->used = used;
    t->cap = cap;
    t->gen = 1;
    return 0;
}

/* Finds docno's accumulator, or creates a zeroed one (*fresh = true).
 * NULL when out of memory. */
static acc_t *
table_get(acc_table_t *t, uint64_t docno, bool *fresh)
{
    if (t->n_used + 1 > t->cap / 2 && table_grow(t) != 0)
        return NULL;
    uint32_t mask = t->cap - 1;
    uint32_t s = slot_of(docno, mask);
    acc_t *a;
    while ((a = &t->slots[s])->gen == t->gen) {
        if (a->docno == docno) {
            *fresh = false;
            return a;
        }
        s = (s + 1) & mask;
    }
    *a = (acc_t){.docno = docno, .gen = t->gen};
    t->used[t->n_used++] = s;
    *fresh = true;
    return a;
}

/* docno's accumulator, or NULL. */
static acc_t *
table_find(acc_table_t *t, uint64_t docno)
{
    uint32_t mask = t->cap - 1;
    for (uint32_t s = slot_of(docno, mask); t->slots[s].gen == t->gen; s = (s + 1) & mask)
        if (t->slots[s].docno == docno)
            return &t->slots[s];
    return NULL;
}

/* ---- occupation codes as digits (the form briefs carry) --------------- */

/* 6-05-02-03 -> 6050203, 6-05-02 -> 60502, 6-05 -> 605, 6 -> 6. */
static uint32_t
code_digits(const char *code, uint32_t len)
{
    uint32_t v = 0;
    for (uint32_t i = 0; i < len; i++)
        if (code[i] >= '0' && code[i] <= '9')
            v = v * 10 + (uint32_t)(code[i] - '0');
    return v;
}

/* The digits a code of len characters has (1, 3, 5 or 7). */
static uint32_t
level_digits(uint32_t len)
{
    return len >= PR_OCCUPATION_LEN ? 7 : len >= 7 ? 5 : len >= 4 ? 3 : 1;
}

/* Cuts the digits of a code of `len` characters to the level of `to`
 * characters (to <= len): 6050203 at 10 -> 60502 at 7. */
static uint32_t
cut_digits(uint32_t digits, uint32_t len, uint32_t to)
{
    static const uint32_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    return digits / pow10[level_digits(len) - level_digits(to)];
}

/* ---- the search ------------------------------------------------------- */

/* A probe term: one of its skills, or one minor occupation group. */
typedef struct term {
    double idf;           /* a skill's idf */
    double bound;         /* the most it adds to a candidate's score, beyond
                           * the bonuses every candidate may have */
    int skill;            /* probe skill index, or -1 for a minor group */
    const char *minor;    /* 7 characters, for a minor group */
    double part[8];       /* a skill's contribution by the candidate's level */
} term_t;

/* What rules 1-5 and the filters a brief can decide ask of a candidate,
 * taken from the probe and the query once per query; the probe's fields
 * are those of match.vacancies (a worker) or match.workers (a vacancy). */
typedef struct brief_limits {
    int64_t as_of;
    int64_t min_wage;          /* filter of match.vacancies; <= 0 = off */
    uint32_t wage_min;         /* a worker probe's wish */
    uint32_t wage_max;         /* a vacancy probe's offer; 0 = negotiable */
    int age;                   /* a worker probe's age at as_of */
    int year;                  /* the calendar year of as_of (UTC) */
    int age_min, age_max;      /* a vacancy probe's bounds; 0 = none */
    int category;              /* filter of match.workers; -1 = off */
    uint8_t education;         /* the probe's education (minimum, for a vacancy) */
} brief_limits_t;

/* Rules 1-5 on a vacancy's brief fields, and on a worker's. Each rule is
 * a term of one expression with no branch: a walk reads many postings
 * that fail them, in no order a branch predictor could learn, and loops
 * over arrays of them vectorize. */
static inline bool
vacancy_passes(const brief_limits_t *l, uint8_t open, int64_t expires, uint32_t wage,
               uint8_t education, uint8_t age_min, uint8_t age_max)
{
    return (open != 0) & ((expires == 0) | (expires > l->as_of)) &
           ((wage == 0) | (l->wage_min <= wage)) & (education <= l->education) &
           ((age_min == 0) | (l->age >= age_min)) & ((age_max == 0) | (l->age <= age_max)) &
           ((l->min_wage <= 0) | (wage == 0) | (wage >= l->min_wage));
}

static inline bool
worker_passes(const brief_limits_t *l, uint8_t open, uint32_t wage, uint16_t birth_year,
              uint8_t education, uint8_t category)
{
    int age = l->year - (int)birth_year;
    return (open != 0) & ((l->wage_max == 0) | (wage <= l->wage_max)) &
           (l->education <= education) & ((l->age_min == 0) | (age >= l->age_min)) &
           ((l->age_max == 0) | (age <= l->age_max)) &
           ((l->category < 0) | (category == l->category));
}

typedef struct search {
    ix_txn_t *txn;
    acc_table_t *table;        /* the current county's candidates */
    double low[EN_MATCH_DEPTH_MAX];  /* min-heap of the k best sure scores */
    uint32_t n_low;
    uint32_t n_fin;            /* finalists so far (in sc->fin) */
    const en_match_query_t *q;
    const en_party_t *probe;
    uint8_t searched;
    double idf[IX_SKILLS_MAX];
    term_t terms[IX_SKILLS_MAX + IX_OCCUPATIONS_MAX];
    uint32_t n_terms, cur;
    uint32_t by_bound[IX_SKILLS_MAX + IX_OCCUPATIONS_MAX];  /* term numbers, smallest bound first */
    uint8_t occ_base;          /* tenths: the occupation bonus possible outside the minor groups */
    uint8_t priority_max;      /* tenths: the priority bonus possible */
    bool completing;           /* postings only add to candidates met before */
    double county_bar;         /* margined: a bar from the county's candidates so far */
    brief_limits_t limits;     /* what rules 1-5 ask of a candidate's brief */
    uint32_t filter_occ;       /* the occupation filter as digits */
    /* The probe worker's codes as digits cut to each level (UINT32_MAX
     * where the code is shorter), so that a vacancy's code is compared with
     * no division but by constants. */
    uint32_t code_cut[IX_OCCUPATIONS_MAX][4];  /* full, minor, middle, major */
    en_match_scratch_t *sc;
    en_match_result_t *out;
    int err;
} search_t;

/* The occupation bonus, in tenths, that the probe worker's desired codes
 * get from a vacancy code given as digits (en_code_bonus, on digits). */
static uint8_t
bonus_tenths(const search_t *s, uint32_t vocc)
{
    /* vocc has the 7 digits of a full code. */
    uint32_t v[4] = {vocc, vocc / 100, vocc / 10000, vocc / 1000000};
    static const uint8_t tenths[4] = {20, 12, 6, 2};
    uint8_t best = 0;
    for (uint32_t i = 0; i < s->probe->n_occ; i++)
        for (uint32_t l = 0; l < 4; l++)
            if (s->code_cut[i][l] == v[l]) {
                if (tenths[l] > best)
                    best = tenths[l];
                break;
            }
    return best;
}

/* match.vacancies' occupation filter on a vacancy's code as digits (set:
 * s->q->filters.occupation.ptr). */
static inline bool
occupation_passes(const search_t *s, uint32_t occupation)
{
    return cut_digits(occupation, PR_OCCUPATION_LEN, s->q->filters.occupation.len) ==
           s->filter_occ;
}

/* Rules 1-5 (the scope is the scan's prefix) and the extra filters that
 * a brief can decide. */
static inline bool
brief_passes(const search_t *s, const ix_brief_t *b)
{
    if (s->searched == IX_WORKER)
        return worker_passes(&s->limits, b->open, b->wage, b->birth_year, b->education,
                             b->category);
    return vacancy_passes(&s->limits, b->open, b->expires, b->wage, b->education, b->age_min,
                          b->age_max) &&
           (!s->q->filters.occupation.ptr || occupation_passes(s, b->occupation));
}

/* The accumulator of a candidate whose brief passed rules 1-5 (the brief
 * is the same in all of a record's postings, so a candidate that fails
 * once fails everywhere and takes no slot); NULL on error (s->err). A new
 * one gets its exact fixed bonuses: county (in tenths) is its county
 * bonus. */
static acc_t *
meet(search_t *s, uint64_t docno, uint8_t county, const ix_brief_t *b)
{
    bool fresh;
    acc_t *a = table_get(s->table, docno, &fresh);
    if (!a) {
        s->err = -ENOMEM;
        return NULL;
    }
    if (!fresh)
        return a;
    const en_party_t *p = s->probe;
    uint8_t priority = s->searched == IX_VACANCY
                           ? ((b->priority_mask >> p->category) & 1) * 5
                           : ((p->m.priority_mask >> b->category) & 1) * 5;
    a->fixed = county + priority;
    a->rank = ix_match_rank(s->searched, b->education);
    if (s->searched == IX_VACANCY) {
        a->occ = bonus_tenths(s, b->occupation);
        a->occ_exact = 1;
    }
    return a;
}

/* A skill term's contribution for a candidate of that level: idf(s) *
 * min(lw, lv) / lv, with lv the vacancy's level. */
static double
skill_part(const search_t *s, const term_t *t, uint8_t level)
{
    uint8_t probe_level = s->probe->skills[t->skill].level;
    uint8_t lw = s->searched == IX_VACANCY ? probe_level : level;
    uint8_t lv = s->searched == IX_VACANCY ? level : probe_level;
    return t->idf * (double)(lw < lv ? lw : lv) / (double)lv;
}

/* A skill term's contribution for a candidate of that level, from the
 * query's table for the levels the contract allows. */
static double
contribution(const search_t *s, const term_t *t, uint8_t level)
{
    return level > 0 && level < 8 ? t->part[level] : skill_part(s, t, level);
}

/* brief_passes for every posting of a run, into ok[]: a loop over the
 * run's arrays, which the compiler runs in vector registers (with AVX2
 * where the processor has it: the expiry is 64 bits wide). */
__attribute__((target_clones("avx2", "default"))) static void
run_passes(const search_t *s, const ix_skill_run_t *restrict r, uint8_t *restrict ok)
{
    const brief_limits_t l = s->limits;  /* a copy no store to ok[] can alias */
    uint32_t n = r->n;
    if (s->searched == IX_WORKER) {
        for (uint32_t i = 0; i < n; i++)
            ok[i] = worker_passes(&l, r->open[i], r->wage[i], r->birth_year[i],
                                  r->education[i], r->category[i]);
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        ok[i] = vacancy_passes(&l, r->open[i], r->expires[i], r->wage[i], r->education[i],
                               r->age_min[i], r->age_max[i]);
    if (s->q->filters.occupation.ptr)
        for (uint32_t i = 0; i < n; i++)
            ok[i] &= occupation_passes(s, r->occupation[i]);
}

static int
on_skill_run(void *ctx, const char region[6], const ix_skill_run_t *run)
{
    search_t *s = ctx;
    const term_t *t = &s->terms[s->cur];
    uint32_t n = run->n;
    s->out->postings_seen += n;
    if (s->completing) {
        /* Their briefs passed when they were met. */
        for (uint32_t i = 0; i < n; i++) {
            acc_t *a = table_find(s->table, run->docno[i]);
            if (a && !a->dead)
                a->skill += contribution(s, t, run->level[i]);
        }
        return 0;
    }
    /* The run's candidates that pass, then their accumulators. */
    uint8_t ok[IX_SKILL_RUN_MAX], pass[IX_SKILL_RUN_MAX];
    run_passes(s, run, ok);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        pass[m] = (uint8_t)i;
        m += ok[i];
    }
    uint8_t county = memcmp(region, s->probe->region, 6) == 0 ? 5 : 0;
    for (uint32_t j = 0; j < m; j++) {
        uint32_t i = pass[j];
        ix_brief_t b;
        ix_skill_run_brief(run, i, &b);
        acc_t *a = meet(s, run->docno[i], county, &b);
        if (!a)
            return s->err;
        a->skill += contribution(s, t, run->level[i]);
    }
    return 0;
}

static int
on_minor_posting(void *ctx, uint64_t docno, const char region[6],
                 const char *code, uint32_t code_len, const ix_brief_t *brief)
{
    search_t *s = ctx;
    s->out->postings_seen++;
    acc_t *a;
    if (s->completing) {
        a = table_find(s->table, docno);
        if (!a || a->dead)
            return 0;
    } else {
        if (!brief_passes(s, brief))
            return 0;
        a = meet(s, docno, memcmp(region, s->probe->region, 6) == 0 ? 5 : 0, brief);
        if (!a)
            return s->err;
    }
    if (s->searched == IX_WORKER) {
        /* A worker's code in the probe vacancy's minor group: its best
         * such code is its bonus, since codes outside the group give at
         * most 0.6. */
        const char *level;
        const en_party_t *v = s->probe;
        uint8_t b = (uint8_t)lround(10 * en_code_bonus(code, code_len, v->occ[0], v->occ_len[0], &level));
        if (b > a->occ)
            a->occ = b;
        a->occ_exact = 1;
    }
    return 0;
}

static void
add_terms(search_t *s)
{
    const en_party_t *p = s->probe;
    for (uint32_t i = 0; i < p->n_skills; i++)
        if (s->idf[i] > 0)  /* a skill no one holds finds no one */
            s->terms[s->n_terms++] = (term_t){.idf = s->idf[i], .skill = (int)i};
    for (uint32_t i = 0; i < p->n_occ; i++) {
        if (p->occ_len[i] < 7)
            continue;
        bool dup = false;
        for (uint32_t j = 0; j < s->n_terms && !dup; j++)
            dup = s->terms[j].skill < 0 && memcmp(s->terms[j].minor, p->occ[i], 7) == 0;
        if (!dup)
            s->terms[s->n_terms++] = (term_t){.skill = -1, .minor = p->occ[i]};
    }
    /* Outside the probe's minor groups a candidate's occupation bonus is at
     * most 0.6 (middle group), or 0.2 when the probe worker's codes are
     * all major groups, or 0 without codes; a minor group may add up to
     * 2.0 over none. A skill adds at most its idf (min(lw, lv) / lv <= 1). */
    s->occ_base = 0;
    for (uint32_t i = 0; i < p->n_occ; i++) {
        uint8_t b = s->searched == IX_VACANCY && p->occ_len[i] < 4 ? 2 : 6;
        if (b > s->occ_base)
            s->occ_base = b;
    }
    s->priority_max = s->searched == IX_WORKER && p->m.priority_mask == 0 ? 0 : 5;
    for (uint32_t j = 0; j < s->n_terms; j++) {
        term_t *t = &s->terms[j];
        t->bound = t->skill >= 0 ? t->idf : (20 - s->occ_base) / 10.0;
        for (uint8_t level = 1; level < 8 && t->skill >= 0; level++)
            t->part[level] = skill_part(s, t, level);
        uint32_t i = j;
        for (; i > 0 && s->terms[s->by_bound[i - 1]].bound > t->bound; i--)
            s->by_bound[i] = s->by_bound[i - 1];
        s->by_bound[i] = j;
    }
}

/* ---- choosing whom to read -------------------------------------------- */

/* Is a worse than b? Lower score, or equal score and greater id. */
static bool
hit_worse(const en_match_hit_t *a, const en_match_hit_t *b)
{
    int order = en_score_order(a->score, b->score);
    if (order != 0)
        return order > 0;
    uint32_t n = a->id_len < b->id_len ? a->id_len : b->id_len;
    int c = memcmp(a->id, b->id, n);
    return c != 0 ? c > 0 : a->id_len > b->id_len;
}

/* The result is a min-heap on "worse" while it fills. */
static void
heap_sift_down(en_match_hit_t *h, uint32_t n, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && hit_worse(&h[l], &h[m]))
            m = l;
        if (r < n && hit_worse(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        en_match_hit_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void
heap_offer(en_match_result_t *o, uint32_t limit, const en_match_hit_t *hit)
{
    if (o->n < limit) {
        uint32_t i = o->n++;
        o->hits[i] = *hit;
        while (i > 0) {
            uint32_t p = (i - 1) / 2;
            if (!hit_worse(&o->hits[i], &o->hits[p]))
                break;
            en_match_hit_t t = o->hits[i];
            o->hits[i] = o->hits[p];
            o->hits[p] = t;
            i = p;
        }
    } else if (hit_worse(&o->hits[0], hit)) {
        o->hits[0] = *hit;
        heap_sift_down(o->hits, o->n, 0);
    }
}

/* The bar: the k-th best sure score seen so far (a candidate's skill part
 * so far plus the bonuses it surely has), kept in a k-sized min-heap; -inf
 * until there are k, and always with the employer filter, which only a
 * read can decide. */
static double
bar(const search_t *s)
{
    if (s->q->filters.employer.ptr || s->n_low < s->q->limit)
        return -INFINITY;
    return s->low[0];
}

static void
bar_push(search_t *s, double low)
{
    double *h = s->low;
    uint32_t k = s->q->limit;
    if (s->n_low < k) {
        uint32_t j = s->n_low++;
        h[j] = low;
        while (j > 0 && h[(j - 1) / 2] > h[j]) {
            double swap = h[j];
            h[j] = h[(j - 1) / 2];
            h[(j - 1) / 2] = swap;
            j = (j - 1) / 2;
        }
        return;
    }
    if (low <= h[0])
        return;
    h[0] = low;
    for (uint32_t j = 0;;) {
        uint32_t l = 2 * j + 1, r = l + 1, m = j;
        if (l < k && h[l] < h[m])
            m = l;
        if (r < k && h[r] < h[m])
            m = r;
        if (m == j)
            break;
        double swap = h[j];
        h[j] = h[m];
        h[m] = swap;
        j = m;
    }
}

/* Drops the finalists the bar has passed. */
static void
prune_finalists(search_t *s)
{
    double b = bar(s);
    b -= ACC_MARGIN(b);
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_fin; i++)
        if (s->sc->fin[i].upper >= b)
            s->sc->fin[n++] = s->sc->fin[i];
    s->n_fin = n;
}

/* A candidate's bound from what is known of it: a worker met in no minor
 * group may still agree at the middle group, which only its record tells. */
static double
acc_upper(const search_t *s, const acc_t *a)
{
    uint8_t occ = a->occ_exact || a->occ >= s->occ_base ? a->occ : s->occ_base;
    return a->skill + (occ + a->fixed) / 10.0;
}

/* A candidate's score, once every term has been read for it and its
 * occupation bonus is exact: added up in en_score_pair's order (skill
 * part, occupation, county, priority bonus; adding 0 changes no bit), so
 * that the two differ only where the skill parts' own sums do, in the
 * last bits. */
static double
acc_score(const acc_t *a)
{
    double score = a->skill + a->occ / 10.0;
    for (uint8_t tenths = a->fixed; tenths >= 5; tenths -= 5)
        score += 0.5;
    return score;
}

static double
margined_bar(const search_t *s)
{
    double b = bar(s);
    return b - ACC_MARGIN(b);
}

/* The terms a county step did not read, which its candidates are looked up
 * in, smallest bound first, and the sum of those bounds. */
typedef struct unread {
    uint32_t term[IX_SKILLS_MAX + IX_OCCUPATIONS_MAX];
    uint32_t n;
    double bound;
} unread_t;

/* A look-up costs about as much as reading this many postings of a
 * group in a row. */
#define LOOKUP_POSTINGS 32

/* Completes the county's candidates from the unread terms, the largest
 * bound first. Before each term, the candidates whose bound (with the
 * terms still to come) falls below the bar are dropped; the others are
 * looked up in the term, or, when there are many, the term's group is
 * read whole, adding only to them. The living stay at the front of the
 * table's list of slots, so that each term's pass skips the dropped;
 * *alive is their count. */
static int
complete(search_t *s, ix_groups_t *const *g, const char here[6], const unread_t *u,
         uint32_t *alive)
{
    acc_table_t *t = s->table;
    uint32_t *used = t->used;
    uint32_t n_alive = t->n_used;
    double rest = u->bound;
    int rc = 0;
    s->completing = true;
    for (uint32_t x = u->n; x-- > 0 && rc == 0;) {
        double b = s->county_bar;
        uint32_t kept = 0;
        for (uint32_t i = 0; i < n_alive; i++) {
            acc_t *a = &t->slots[used[i]];
            if (acc_upper(s, a) + rest < b) {
                a->dead = 1;
                continue;
            }
            uint32_t slot = used[i];
            used[i] = used[kept];
            used[kept++] = slot;
        }
        n_alive = kept;
        if (n_alive == 0)
            break;
        s->cur = u->term[x];
        rest -= s->terms[s->cur].bound;
        size_t n;
        if ((rc = ix_groups_size(g[s->cur], here, &n)) != 0 || n == 0)
            continue;
        if ((size_t)n_alive * LOOKUP_POSTINGS > n) {
            rc = ix_groups_read(g[s->cur], here);
            continue;
        }
        for (uint32_t i = 0; i < n_alive && rc == 0; i++)
            rc = ix_groups_find(g[s->cur], here, t->slots[used[i]].rank,
                                t->slots[used[i]].docno);
    }
    s->completing = false;
    *alive = n_alive;
    return rc;
}

/* A county is read: its candidates are completed from the unread terms,
 * raise the bar with their sure scores, and those whose bound reaches the
 * bar become finalists. */
static int
flush_county(search_t *s, ix_groups_t *const *g, const char here[6], const unread_t *u)
{
    en_match_scratch_t *sc = s->sc;
    const acc_table_t *t = s->table;
    uint32_t alive;
    int rc = complete(s, g, here, u, &alive);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < alive; i++) {
        const acc_t *a = &t->slots[t->used[i]];
        bar_push(s, a->skill + (a->occ + a->fixed) / 10.0);
    }
    double b = margined_bar(s);
    for (uint32_t i = 0; i < alive; i++) {
        const acc_t *a = &t->slots[t->used[i]];
        double upper = acc_upper(s, a);
        if (upper < b)
            continue;
        if (s->n_fin == sc->cap_fin) {
            prune_finalists(s);
            if (s->n_fin * 2 >= sc->cap_fin) {
                uint32_t cap = sc->cap_fin ? sc->cap_fin * 2 : 1024;
                finalist_t *f = realloc(sc->fin, cap * sizeof *f);
                if (!f)
                    return -ENOMEM;
                sc->fin = f;
                sc->cap_fin = cap;
            }
        }
        sc->fin[s->n_fin++] = (finalist_t){
            .upper = upper,
            .score = acc_score(a),
            .docno = a->docno,
            .exact = a->occ_exact && !s->q->filters.employer.ptr,
        };
    }
    return 0;
}

static int
finalist_order(const void *x, const void *y)
{
    const finalist_t *a = x, *b = y;
    return a->upper < b->upper ? 1 : a->upper > b->upper ? -1 : 0;
}

/* Offers one finalist to the list: an exact one with its id, read from
 * names; any other read and scored, when every rule and filter holds. */
static int
judge(search_t *s, const finalist_t *f)
{
    uint64_t docno = f->docno;
    int rc;
    if (f->exact) {
        const char *id;
        uint32_t id_len;
        if ((rc = ix_id_of_docno(s->txn, s->searched, docno, &id, &id_len)) != 0)
            return rc;
        en_match_hit_t hit = {.score = f->score, .docno = docno, .id_len = id_len};
        memcpy(hit.id, id, id_len);
        heap_offer(s->out, s->q->limit, &hit);
        return 0;
    }
    ix_record_t rec;
    if ((rc = ix_get_docno(s->txn, s->searched, docno, &rec)) != 0)
        return rc;
    s->out->candidates_scored++;
    en_party_t cand;
    en_party_from_record(&cand, &rec);
    const en_party_t *w = s->searched == IX_VACANCY ? s->probe : &cand;
    const en_party_t *v = s->searched == IX_VACANCY ? &cand : s->probe;
    bool rule6;
    double score = en_score_pair(w, v, s->probe, s->idf, NULL, &rule6);
    if (!rule6 || !en_rules_hold(w, v, s->searched == IX_WORKER, s->q->scope, s->q->as_of))
        return 0;
    const pr_str_t *employer = &s->q->filters.employer;
    if (employer->ptr) {
        msgpack_zone zone;
        msgpack_object obj;
        size_t off = 0;
        bool same = false;
        msgpack_zone_init(&zone, 2048);
        if (msgpack_unpack(rec.value, rec.value_len, &off, &zone, &obj) == MSGPACK_UNPACK_SUCCESS) {
            const msgpack_object *e = pr_map_get(&obj, "employer");
            same = e && e->type == MSGPACK_OBJECT_STR && e->via.str.size == employer->len &&
                   memcmp(e->via.str.ptr, employer->ptr, employer->len) == 0;
        }
        msgpack_zone_destroy(&zone);
        if (!same)
            return 0;
    }
    en_match_hit_t hit = {.score = score, .docno = docno, .id_len = rec.id_len};
    memcpy(hit.id, rec.id, rec.id_len);
    heap_offer(s->out, s->q->limit, &hit);
    return 0;
}

/* Reads the finalists, best bound first, until the list is full and no
 * bound left reaches its last score. */
static int
finish(search_t *s)
{
    en_match_scratch_t *sc = s->sc;
    uint32_t k = s->q->limit;
    prune_finalists(s);
    uint32_t n = s->n_fin;
    if (n > 1)
        qsort(sc->fin, n, sizeof sc->fin[0], finalist_order);
    en_match_result_t *o = s->out;
    /* The first k are read whatever follows, so their ids are asked for
     * at once (the look-ups' cache misses then overlap). */
    uint64_t docnos[EN_MATCH_DEPTH_MAX];
    uint32_t n_warm = 0;
    for (uint32_t i = 0; i < n && n_warm < k; i++)
        if (sc->fin[i].exact)
            docnos[n_warm++] = sc->fin[i].docno;
    ix_id_warm(s->txn, s->searched, docnos, n_warm);
    for (uint32_t i = 0; i < n; i++) {
        if (o->n == k && sc->fin[i].upper + ACC_MARGIN(sc->fin[i].upper) < o->hits[0].score)
            break;
        int rc = judge(s, &sc->fin[i]);
        if (rc != 0)
            return rc;
    }
    /* Best first. */
    for (uint32_t m = o->n; m > 1; m--) {
        en_match_hit_t best = o->hits[0];
        o->hits[0] = o->hits[m - 1];
        o->hits[m - 1] = best;
        heap_sift_down(o->hits, m - 1, 0);
    }
    return 0;
}

/* How many of the smallest-bound terms cannot bring in a candidate that
 * enters the list (MaxScore): their bounds summed with every bonus a
 * candidate of the county may have stay below the margined bar b. */
static uint32_t
count_below(const search_t *s, bool own_county, double b)
{
    double sum = (s->occ_base + (own_county ? 5 : 0) + s->priority_max) / 10.0;
    uint32_t n = 0;
    while (n < s->n_terms && sum + s->terms[s->by_bound[n]].bound < b)
        sum += s->terms[s->by_bound[n++]].bound;
    return n;
}

/* The terms left by the bar are no longer walked; the other terms'
 * candidates are looked up in them. The bar only rises, so a term once
 * left stays left. */
static uint32_t
count_unread(const search_t *s, bool own_county)
{
    return count_below(s, own_county, margined_bar(s));
}

/* The bar the county's candidates alone give, margined: the k-th best of
 * their sure scores so far, which only grow (-inf with fewer than k, or
 * with the employer filter). */
static double
county_bar(const search_t *s)
{
    const acc_table_t *t = s->table;
    uint32_t k = s->q->limit;
    if (s->q->filters.employer.ptr || t->n_used < k)
        return -INFINITY;
    double h[EN_MATCH_DEPTH_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->n_used; i++) {
        const acc_t *a = &t->slots[t->used[i]];
        double v = a->skill + (a->occ + a->fixed) / 10.0;
        if (n < k) {  /* a min-heap of the k best */
            uint32_t j = n++;
            for (; j > 0 && h[(j - 1) / 2] > v; j = (j - 1) / 2)
                h[j] = h[(j - 1) / 2];
            h[j] = v;
        } else if (v > h[0]) {
            uint32_t j = 0;
            for (;;) {
                uint32_t l = 2 * j + 1, m = l + 1 < k && h[l + 1] < h[l] ? l + 1 : l;
                if (l >= k || h[m] >= v)
                    break;
                h[j] = h[m];
                j = m;
            }
            h[j] = v;
        }
    }
    return h[0] - ACC_MARGIN(h[0]);
}

/* One county: the walked terms with a group there are read, the largest
 * bound first, until the county's own candidates raise the bar above what
 * the rest could bring in; the candidates are then completed from the
 * terms left. */
static int
step_county(search_t *s, ix_groups_t *const *g, const char here[6], uint32_t n_unread)
{
    bool own = memcmp(here, s->probe->region, 6) == 0;
    table_reset(s->table);
    s->county_bar = margined_bar(s);
    int rc = 0;
    uint32_t x = s->n_terms;
    while (x > n_unread && rc == 0) {
        s->cur = s->by_bound[--x];
        const char *c = ix_groups_county(g[s->cur]);
        if (!c || memcmp(c, here, 6) != 0)
            continue;
        rc = ix_groups_take(g[s->cur]);
        if (s->err)
            rc = s->err;
        /* Past the first counties the bar of all those read is the
         * higher one; the county's own is worth its cost on large ones. */
        double b = own || s->n_low < s->q->limit || s->table->n_used >= 1024 ? county_bar(s)
                                                                             : -INFINITY;
        if (b > s->county_bar) {
            s->county_bar = b;
            if (count_below(s, own, b) >= x)
                break;
        }
    }
    if (rc != 0)
        return rc;
    /* Terms not read here move on to their next county. */
    for (uint32_t y = n_unread; y < x && rc == 0; y++) {
        const char *c = ix_groups_county(g[s->by_bound[y]]);
        if (c && memcmp(c, here, 6) == 0)
            rc = ix_groups_skip(g[s->by_bound[y]]);
    }
    unread_t u = {.n = 0, .bound = 0};
    for (uint32_t y = 0; y < x; y++) {
        const term_t *t = &s->terms[s->by_bound[y]];
        /* A vacancy's occupation bonus comes whole from its brief, so its
         * minor groups need no look-up. */
        if (t->skill >= 0 || s->searched == IX_WORKER) {
            u.term[u.n++] = s->by_bound[y];
            u.bound += t->bound;
        }
    }
    return rc != 0 ? rc : flush_county(s, g, here, &u);
}

static int
open_walks(search_t *s, uint32_t prefix_len, ix_groups_t **g)
{
    const en_party_t *probe = s->probe;
    /* Rule 4 leaves out the ranks above it, which the walks then do not
     * read. */
    uint8_t max_rank = ix_match_rank(s->searched, probe->m.education);
    int rc = 0;
    for (uint32_t j = 0; j < s->n_terms && rc == 0; j++) {
        const term_t *t = &s->terms[j];
        rc = t->skill >= 0
                 ? ix_groups_skill(s->txn, s->searched, probe->skills[t->skill].id,
                                   probe->skills[t->skill].id_len, probe->region,
                                   prefix_len, max_rank, on_skill_run, s, &g[j])
                 : ix_groups_minor(s->txn, s->searched, t->minor, probe->region,
                                   prefix_len, max_rank, on_minor_posting, s, &g[j]);
    }
    return rc;
}

static void
close_walks(search_t *s, ix_groups_t **g)
{
    for (uint32_t j = 0; j < s->n_terms; j++) {
        ix_groups_close(g[j]);
        g[j] = NULL;
    }
}

/* Walks the counties of the walks' range (the probe's region prefix of
 * ring digits), leaving out those of its prefix of done_len digits (read
 * before; 0: none), county by county, merging the walked terms by their
 * groups' county order. */
static int
walk_ring(search_t *s, ix_groups_t *const *g, uint32_t ring, uint32_t done_len)
{
    bool own = ring == EN_SCOPE_COUNTY;
    int rc = 0;
    while (rc == 0) {
        uint32_t n_unread = count_unread(s, own);
        const char *county = NULL;
        for (uint32_t x = n_unread; x < s->n_terms; x++) {
            const char *c = ix_groups_county(g[s->by_bound[x]]);
            if (c && (!county || memcmp(c, county, 6) < 0))
                county = c;
        }
        if (!county)
            break;
        char here[6];
        memcpy(here, county, 6);
        if (done_len > 0 && memcmp(here, s->probe->region, done_len) == 0) {
            for (uint32_t x = n_unread; x < s->n_terms && rc == 0; x++) {
                const char *c = ix_groups_county(g[s->by_bound[x]]);
                if (c && memcmp(c, here, 6) == 0)
                    rc = ix_groups_skip(g[s->by_bound[x]]);
            }
            continue;
        }
        rc = step_county(s, g, here, n_unread);
    }
    return rc;
}

/* The scope in rings around the probe: its own county, then the rest of
 * its city, of its province, of the country, as far as the scope goes.
 * The nearest candidates have the county bonus, and the more candidates
 * the bar has seen, the higher it is when the large rings are read. The
 * walks of the own county widen to each next ring. */
static int
walk_counties(search_t *s)
{
    static const uint32_t rings[] = {EN_SCOPE_COUNTY, EN_SCOPE_CITY, EN_SCOPE_PROVINCE,
                                     EN_SCOPE_ALL};
    uint32_t scope = (uint32_t)s->q->scope;
    ix_groups_t *g[IX_SKILLS_MAX + IX_OCCUPATIONS_MAX] = {0};
    int rc = open_walks(s, EN_SCOPE_COUNTY, g);
    for (uint32_t i = 0; i < 4 && rc == 0 && rings[i] >= scope; i++) {
        /* A term left stays left: its walk need not move. */
        for (uint32_t x = count_unread(s, false); i > 0 && x < s->n_terms && rc == 0; x++)
            rc = ix_groups_widen(g[s->by_bound[x]], rings[i]);
        if (rc == 0)
            rc = walk_ring(s, g, rings[i], i > 0 ? rings[i - 1] : 0);
    }
    close_walks(s, g);
    return rc;
}

int
en_match_run(ix_txn_t *txn, const en_match_query_t *q, en_match_result_t *out)
{
    search_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    const en_party_t *probe = q->probe;
    s->txn = txn;
    s->q = q;
    s->probe = probe;
    s->searched = probe->kind == IX_WORKER ? IX_VACANCY : IX_WORKER;
    s->sc = q->scratch;
    s->table = &s->sc->county;
    s->out = out;
    out->n = 0;
    out->postings_seen = out->candidates_scored = 0;
    out->terms = 0;
    table_reset(s->table);

    int rc = 0;
    if (q->idf)
        memcpy(s->idf, q->idf, probe->n_skills * sizeof *q->idf);
    else if ((rc = en_probe_idf(txn, probe, s->searched, s->idf)) != 0)
        goto done;
    /* match.workers finds no one for a vacancy that rule 1 rules out. */
    if (probe->kind == IX_VACANCY &&
        (probe->status != PR_VACANCY_OPEN ||
         (probe->m.expires != 0 && probe->m.expires <= q->as_of) ||
         (int64_t)probe->m.headcount - (int64_t)probe->filled <= 0))
        goto done;

    int year = en_utc_year(q->as_of);
    s->limits = (brief_limits_t){
        .as_of = q->as_of,
        .min_wage = q->filters.min_wage,
        .wage_min = probe->m.wage_min,
        .wage_max = probe->m.wage_max,
        .age = year - (int)probe->m.birth_year,
        .year = year,
        .age_min = probe->m.age_min,
        .age_max = probe->m.age_max,
        .category = q->filters.category,
        .education = probe->m.education,
    };
    if (q->filters.occupation.ptr)
        s->filter_occ = code_digits(q->filters.occupation.ptr, q->filters.occupation.len);
    static const uint32_t level_len[4] = {PR_OCCUPATION_LEN, 7, 4, 1};
    for (uint32_t i = 0; i < probe->n_occ; i++) {
        uint32_t len = probe->occ_len[i], d = code_digits(probe->occ[i], len);
        for (uint32_t l = 0; l < 4; l++)
            s->code_cut[i][l] = len < level_len[l] ? UINT32_MAX
                                : l == 0 && len != PR_OCCUPATION_LEN ? UINT32_MAX
                                : cut_digits(d, len, level_len[l]);
    }
    add_terms(s);

    rc = walk_counties(s);
    out->terms = s->n_terms;
    if (rc == 0)
        rc = finish(s);
done:
    free(s);
    return rc;
}
