/* match.c - ranking version 1 over the index's postings.
 *
 * The search is term-at-a-time with max-score pruning. The probe's terms
 * are its skills (upper bound: the skill's idf, since min(lw, lv) / lv <=
 * 1) and the minor occupation groups of its codes of 7 or 10 characters
 * (upper bound: the occupation bonus a code in that group can give).
 * Terms are walked from the highest bound down. A candidate is judged at
 * its first posting only: it cannot appear in an earlier term's postings,
 * so its score is at most what this posting gives, plus the bounds of the
 * terms still to come, plus the bonuses it could still get. When that is
 * below the current k-th best score the candidate is passed over without
 * being read; when it is below for every candidate a whole term could
 * bring, the search stops. See docs/matching.md.
 */
#include "match.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Score comparisons allow for the rounding of sums taken in another order. */
#define EPS 1e-9

#define BONUS_FULL 2.0
#define BONUS_MINOR 1.2
#define BONUS_MIDDLE 0.6
#define BONUS_MAJOR 0.2
#define BONUS_COUNTY 0.5
#define BONUS_PRIORITY 0.5

/* ---- parties ---------------------------------------------------------- */

void
en_party_from_record(en_party_t *p, const ix_record_t *rec)
{
    p->kind = rec->kind;
    p->id = rec->id;
    p->id_len = rec->id_len;
    memcpy(p->region, rec->region, 6);
    p->status = rec->status;
    p->category = rec->category;
    p->filled = rec->filled;
    p->m = rec->match;
    p->n_occ = rec->n_occupations;
    for (uint32_t i = 0; i < p->n_occ; i++) {
        p->occ[i] = rec->occupations[i];
        p->occ_len[i] = rec->occupation_lens[i];
    }
    p->n_skills = rec->n_skills;
    memcpy(p->skills, rec->skills, rec->n_skills * sizeof rec->skills[0]);
}

static void
copy_skills(en_party_t *p, const pr_skill_t *skills, uint32_t n)
{
    p->n_skills = n;
    for (uint32_t i = 0; i < n; i++) {
        p->skills[i].id = skills[i].id.ptr;
        p->skills[i].id_len = skills[i].id.len;
        p->skills[i].level = skills[i].level;
    }
}

void
en_party_from_worker(en_party_t *p, const pr_worker_t *w)
{
    memset(p, 0, sizeof *p);
    p->kind = IX_WORKER;
    p->id = w->id.ptr;
    p->id_len = w->id.len;
    memcpy(p->region, w->region.ptr, 6);
    p->status = (uint8_t)w->status;
    p->category = (uint8_t)w->category;
    p->m.since = w->registered;
    p->m.wage_min = (uint32_t)w->wage_min;
    p->m.birth_year = (uint16_t)w->birth_year;
    p->m.education = (uint8_t)w->education;
    p->n_occ = w->n_desired;
    for (uint32_t i = 0; i < w->n_desired; i++) {
        p->occ[i] = w->desired[i].ptr;
        p->occ_len[i] = w->desired[i].len;
    }
    copy_skills(p, w->skills, w->n_skills);
}

void
en_party_from_vacancy(en_party_t *p, const pr_vacancy_t *v)
{
    memset(p, 0, sizeof *p);
    p->kind = IX_VACANCY;
    p->id = v->id.ptr;
    p->id_len = v->id.len;
    memcpy(p->region, v->region.ptr, 6);
    p->status = (uint8_t)v->status;
    p->filled = (uint32_t)v->filled;
    p->m.since = v->posted;
    p->m.expires = v->expires;
    p->m.headcount = (uint32_t)v->headcount;
    p->m.wage_min = (uint32_t)v->wage_min;
    p->m.wage_max = (uint32_t)v->wage_max;
    p->m.education = (uint8_t)v->education_min;
    p->m.age_min = (uint8_t)v->age_min;
    p->m.age_max = (uint8_t)v->age_max;
    p->m.priority_mask = v->priority_mask;
    p->n_occ = 1;
    p->occ[0] = v->occupation.ptr;
    p->occ_len[0] = v->occupation.len;
    copy_skills(p, v->skills, v->n_skills);
}

int
en_scope_parse(pr_str_t s)
{
    if (pr_str_eq(s, "county"))
        return EN_SCOPE_COUNTY;
    if (pr_str_eq(s, "city"))
        return EN_SCOPE_CITY;
    if (pr_str_eq(s, "province"))
        return EN_SCOPE_PROVINCE;
    if (pr_str_eq(s, "all"))
        return EN_SCOPE_ALL;
    return -1;
}

const char *
en_scope_name(int scope)
{
    switch (scope) {
    case EN_SCOPE_COUNTY: return "county";
    case EN_SCOPE_CITY: return "city";
    case EN_SCOPE_PROVINCE: return "province";
    default: return "all";
    }
}

/* ---- the rules and the score ------------------------------------------ */

static int
utc_year(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return 1970;
    return tm.tm_year + 1900;
}

/* The occupation bonus of one desired code d against a vacancy's code: a
 * code counts only up to its own length. */
static double
code_bonus(const char *d, uint32_t dlen, const char *vocc, uint32_t vlen,
           const char **level)
{
    if (dlen == vlen && memcmp(d, vocc, dlen) == 0 && dlen == PR_OCCUPATION_LEN) {
        *level = "full";
        return BONUS_FULL;
    }
    if (dlen >= 7 && vlen >= 7 && memcmp(d, vocc, 7) == 0) {
        *level = "minor";
        return BONUS_MINOR;
    }
    if (dlen >= 4 && vlen >= 4 && memcmp(d, vocc, 4) == 0) {
        *level = "middle";
        return BONUS_MIDDLE;
    }
    if (dlen >= 1 && vlen >= 1 && d[0] == vocc[0]) {
        *level = "major";
        return BONUS_MAJOR;
    }
    *level = "none";
    return 0;
}

static double
occupation_bonus(const en_party_t *w, const en_party_t *v, en_breakdown_t *b)
{
    double best = 0;
    const char *best_level = "none";
    uint32_t best_i = UINT32_MAX;
    for (uint32_t i = 0; i < w->n_occ; i++) {
        const char *level;
        double bonus = code_bonus(w->occ[i], w->occ_len[i], v->occ[0], v->occ_len[0], &level);
        if (bonus > best) {
            best = bonus;
            best_level = level;
            best_i = i;
        }
    }
    if (b) {
        b->occupation_bonus = best;
        b->occupation_level = best_level;
        b->desired = best_i == UINT32_MAX ? NULL : w->occ[best_i];
        b->desired_len = best_i == UINT32_MAX ? 0 : w->occ_len[best_i];
    }
    return best;
}

static int
find_skill(const en_party_t *p, const char *id, uint32_t len)
{
    for (uint32_t i = 0; i < p->n_skills; i++)
        if (p->skills[i].id_len == len && memcmp(p->skills[i].id, id, len) == 0)
            return (int)i;
    return -1;
}

/* The contract's rules 1-5 (rule 6 needs the score's parts). */
static bool
rules_hold(const en_party_t *w, const en_party_t *v, bool worker_available,
           int scope, int64_t as_of)
{
    if (v->status != PR_VACANCY_OPEN)
        return false;
    if (v->m.expires != 0 && v->m.expires <= as_of)
        return false;
    if ((int64_t)v->m.headcount - (int64_t)v->filled <= 0)
        return false;
    if (worker_available && w->status != PR_WORKER_AVAILABLE)
        return false;
    if (memcmp(v->region, w->region, (size_t)scope) != 0)
        return false;
    if (v->m.wage_max != 0 && w->m.wage_min > v->m.wage_max)
        return false;
    if (v->m.education > w->m.education)
        return false;
    int age = utc_year(as_of) - (int)w->m.birth_year;
    if (v->m.age_min > 0 && age < v->m.age_min)
        return false;
    if (v->m.age_max > 0 && age > v->m.age_max)
        return false;
    return true;
}

/* Scores a pair whose probe-side idf values are known: idf[i] belongs to
 * the probe's skill i. The skill part is summed in the vacancy's skill
 * order, so every path that scores a pair gets the same bits. */
static double
score_pair(const en_party_t *w, const en_party_t *v, const en_party_t *probe,
           const double *idf, en_breakdown_t *b, bool *rule6)
{
    double skill_part = 0;
    uint32_t shared = 0;
    for (uint32_t i = 0; i < v->n_skills; i++) {
        const ix_skill_t *vs = &v->skills[i];
        int wi = find_skill(w, vs->id, vs->id_len);
        if (wi < 0)
            continue;
        uint8_t lw = w->skills[wi].level, lv = vs->level;
        int pi = probe == w ? wi : (int)i;
        double c = idf[pi] * (double)(lw < lv ? lw : lv) / (double)lv;
        skill_part += c;
        if (b) {
            b->shared[shared].id = vs->id;
            b->shared[shared].id_len = vs->id_len;
            b->shared[shared].idf = idf[pi];
            b->shared[shared].worker_level = lw;
            b->shared[shared].vacancy_level = lv;
            b->shared[shared].contribution = c;
        }
        shared++;
    }
    double occ = occupation_bonus(w, v, b);
    double county = memcmp(v->region, w->region, 6) == 0 ? BONUS_COUNTY : 0;
    double priority = (v->m.priority_mask >> w->category) & 1 ? BONUS_PRIORITY : 0;
    double score = skill_part + occ + county + priority;
    if (b) {
        b->n_shared = shared;
        b->skill_part = skill_part;
        b->county_bonus = county;
        b->priority_bonus = priority;
        b->score = score;
    }
    *rule6 = shared > 0 || occ >= BONUS_MINOR;
    return score;
}

/* idf(s) = ln(1 + N / df(s)) over the searched kind's matchable records. */
static int
probe_idf(ix_txn_t *txn, const en_party_t *probe, uint8_t searched,
          double *idf)
{
    ix_stats_t st;
    int rc = ix_stats(txn, &st);
    if (rc != 0)
        return rc;
    double n = (double)(searched == IX_VACANCY ? st.vacancies_open : st.workers_available);
    for (uint32_t i = 0; i < probe->n_skills; i++) {
        uint64_t df = 0;
        rc = ix_skill_df(txn, searched, probe->skills[i].id, probe->skills[i].id_len, &df);
        if (rc != 0 && rc != -ENOENT)
            return rc;
        /* Written as the contract writes it (not log1p), so that other
         * implementations of the formula get the same bits. A skill nobody
         * in the store holds can match nothing: 0 keeps the bounds tight. */
        idf[i] = df ? log(1.0 + n / (double)df) : 0;
    }
    return 0;
}

bool
en_match_pair(ix_txn_t *txn, const en_party_t *worker,
              const en_party_t *vacancy, uint8_t searched_kind, int scope,
              int64_t as_of, en_breakdown_t *b)
{
    const en_party_t *probe = searched_kind == IX_VACANCY ? worker : vacancy;
    double idf[IX_SKILLS_MAX];
    if (probe_idf(txn, probe, searched_kind, idf) != 0)
        memset(idf, 0, sizeof idf);
    bool rule6;
    score_pair(worker, vacancy, probe, idf, b, &rule6);
    return rule6 && rules_hold(worker, vacancy, searched_kind == IX_WORKER, scope, as_of);
}

/* ---- the search ------------------------------------------------------- */

/* A set of docnos, cleared in O(1) by bumping its generation. Each
 * worker thread owns one (en_match_scratch_t) and reuses it for every
 * query. */
typedef struct seen_set {
    uint64_t *keys;
    uint32_t *gens;
    uint32_t cap, n, gen;
} seen_set_t;

struct en_match_scratch {
    seen_set_t seen;
};

en_match_scratch_t *
en_match_scratch_new(void)
{
    return calloc(1, sizeof(en_match_scratch_t));
}

void
en_match_scratch_free(en_match_scratch_t *sc)
{
    if (!sc)
        return;
    free(sc->seen.keys);
    free(sc->seen.gens);
    free(sc);
}

static void
seen_reset(seen_set_t *s)
{
    s->n = 0;
    if (++s->gen == 0) {  /* wrapped: stale stamps could alias */
        if (s->gens)
            memset(s->gens, 0, s->cap * sizeof *s->gens);
        s->gen = 1;
    }
}

static int seen_add(seen_set_t *s, uint64_t key);

static int
seen_grow(seen_set_t *s)
{
    uint32_t old_cap = s->cap, old_gen = s->gen;
    uint64_t *old_keys = s->keys;
    uint32_t *old_gens = s->gens;
    uint32_t cap = old_cap ? old_cap * 2 : 4096;
    s->keys = malloc(cap * sizeof *s->keys);
    s->gens = calloc(cap, sizeof *s->gens);
    if (!s->keys || !s->gens) {
        free(s->keys);
        free(s->gens);
        s->keys = old_keys;
        s->gens = old_gens;
        return -ENOMEM;
    }
    s->cap = cap;
    s->n = 0;
    s->gen = 1;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old_gens[i] == old_gen)
            seen_add(s, old_keys[i]);
    free(old_keys);
    free(old_gens);
    return 0;
}

/* Adds key; returns 1 when it was new, 0 when already there, -ENOMEM. */
static int
seen_add(seen_set_t *s, uint64_t key)
{
    if ((s->n + 1) * 2 > s->cap) {
        int rc = seen_grow(s);
        if (rc != 0)
            return rc;
    }
    uint32_t mask = s->cap - 1;
    uint32_t i = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
    while (s->gens[i] == s->gen) {
        if (s->keys[i] == key)
            return 0;
        i = (i + 1) & mask;
    }
    s->gens[i] = s->gen;
    s->keys[i] = key;
    s->n++;
    return 1;
}

/* A probe term: one of its skills, or one minor occupation group. */
typedef struct term {
    double ub;            /* the most a posting of this term can add */
    int skill;            /* probe skill index, or -1 for a minor group */
    const char *minor;    /* 7 characters, for a minor group */
} term_t;

typedef struct search {
    ix_txn_t *txn;
    const en_match_query_t *q;
    const en_party_t *probe;
    uint8_t searched;
    double idf[IX_SKILLS_MAX];
    term_t terms[IX_SKILLS_MAX + IX_OCCUPATIONS_MAX];
    uint32_t n_terms;
    uint32_t cur;              /* term being walked */
    double rest_after;         /* sum of skill bounds of later terms */
    double occ_after;          /* occupation bonus a candidate first met now
                                  or later can still get from no minor term */
    double minor_after;        /* best minor-term bound among later terms */
    double priority_ub;
    int probe_age;             /* match.vacancies: the worker's age at as_of */
    int year;                  /* the calendar year of as_of (UTC) */
    uint32_t filter_occ;       /* the occupation filter as digits */
    uint32_t n_codes;          /* the probe's codes as digits, for briefs */
    uint32_t code_val[IX_OCCUPATIONS_MAX];
    uint32_t code_len[IX_OCCUPATIONS_MAX];
    seen_set_t *seen;
    en_match_result_t *out;
    int err;
} search_t;

/* Is a worse than b? Lower score, or equal score and greater id. */
static bool
hit_worse(const en_match_hit_t *a, const en_match_hit_t *b)
{
    if (a->score != b->score)
        return a->score < b->score;
    uint32_t n = a->id_len < b->id_len ? a->id_len : b->id_len;
    int c = memcmp(a->id, b->id, n);
    return c != 0 ? c > 0 : a->id_len > b->id_len;
}

/* The result is a min-heap on "worse" while searching. */
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
heap_offer(search_t *s, const en_match_hit_t *hit)
{
    en_match_result_t *o = s->out;
    uint32_t limit = s->q->limit;
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

/* The k-th best score so far; -inf until there are k. */
static double
threshold(const search_t *s)
{
    return s->out->n < s->q->limit ? -INFINITY : s->out->hits[0].score;
}

static bool
starts_with(const char *s, uint32_t len, pr_str_t prefix)
{
    return prefix.len <= len && memcmp(s, prefix.ptr, prefix.len) == 0;
}

/* The project's extra filters, on the candidate side. */
static bool
filters_hold(const search_t *s, const ix_record_t *rec, const en_party_t *cand)
{
    const en_match_filters_t *f = &s->q->filters;
    if (s->searched == IX_VACANCY) {
        if (f->occupation.ptr && !starts_with(cand->occ[0], cand->occ_len[0], f->occupation))
            return false;
        if (f->min_wage > 0 && cand->m.wage_max != 0 && cand->m.wage_max < f->min_wage)
            return false;
        if (f->employer.ptr) {
            msgpack_zone zone;
            msgpack_object obj;
            size_t off = 0;
            bool same = false;
            msgpack_zone_init(&zone, 2048);
            if (msgpack_unpack(rec->value, rec->value_len, &off, &zone, &obj) ==
                MSGPACK_UNPACK_SUCCESS) {
                const msgpack_object *e = pr_map_get(&obj, "employer");
                same = e && e->type == MSGPACK_OBJECT_STR &&
                       e->via.str.size == f->employer.len &&
                       memcmp(e->via.str.ptr, f->employer.ptr, f->employer.len) == 0;
            }
            msgpack_zone_destroy(&zone);
            if (!same)
                return false;
        }
    } else if (f->category >= 0 && cand->category != f->category) {
        return false;
    }
    return true;
}

/* Reads and judges one candidate. */
static void
judge(search_t *s, uint64_t docno)
{
    ix_record_t rec;
    int rc = ix_get_docno(s->txn, s->searched, docno, &rec);
    if (rc != 0) {
        s->err = rc;
        return;
    }
    s->out->candidates_scored++;
    en_party_t cand;
    en_party_from_record(&cand, &rec);
    const en_party_t *w = s->searched == IX_VACANCY ? s->probe : &cand;
    const en_party_t *v = s->searched == IX_VACANCY ? &cand : s->probe;
    bool rule6;
    double score = score_pair(w, v, s->probe, s->idf, NULL, &rule6);
    if (!rule6 || !rules_hold(w, v, s->searched == IX_WORKER, s->q->scope, s->q->as_of))
        return;
    if (!filters_hold(s, &rec, &cand))
        return;
    en_match_hit_t hit = {.score = score, .docno = docno, .id_len = rec.id_len};
    memcpy(hit.id, rec.id, rec.id_len);
    heap_offer(s, &hit);
}

/* A code (or level prefix) as the digits index briefs use: 6-05-02-03 ->
 * 6050203, 6-05-02 -> 60502, 6-05 -> 605, 6 -> 6. */
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

/* The occupation bonus a worker with the probe's desired codes gets from
 * a vacancy whose code has these digits: code_bonus, on digits. */
static double
bonus_digits(const search_t *s, uint32_t vocc)
{
    double best = 0;
    for (uint32_t i = 0; i < s->n_codes; i++) {
        uint32_t len = s->code_len[i], d = s->code_val[i];
        double b = 0;
        if (len == PR_OCCUPATION_LEN && d == vocc)
            b = BONUS_FULL;
        else if (len >= 7 && cut_digits(d, len, 7) == cut_digits(vocc, PR_OCCUPATION_LEN, 7))
            b = BONUS_MINOR;
        else if (len >= 4 && cut_digits(d, len, 4) == cut_digits(vocc, PR_OCCUPATION_LEN, 4))
            b = BONUS_MIDDLE;
        else if (len >= 1 && cut_digits(d, len, 1) == cut_digits(vocc, PR_OCCUPATION_LEN, 1))
            b = BONUS_MAJOR;
        if (b > best)
            best = b;
    }
    return best;
}

/* Rules 1-5 (scope is the scan's prefix) and the extra filters, from a
 * posting's brief of its record. */
static bool
brief_passes(const search_t *s, const ix_brief_t *b)
{
    const en_party_t *p = s->probe;
    const en_match_filters_t *f = &s->q->filters;
    if (!b->open)
        return false;
    if (s->searched == IX_VACANCY) {
        if (b->expires != 0 && b->expires <= s->q->as_of)
            return false;
        if (b->wage != 0 && p->m.wage_min > b->wage)
            return false;
        if (b->education > p->m.education)
            return false;
        if (b->age_min > 0 && s->probe_age < b->age_min)
            return false;
        if (b->age_max > 0 && s->probe_age > b->age_max)
            return false;
        if (f->occupation.ptr &&
            cut_digits(b->occupation, PR_OCCUPATION_LEN, f->occupation.len) != s->filter_occ)
            return false;
        if (f->min_wage > 0 && b->wage != 0 && b->wage < f->min_wage)
            return false;
    } else {
        if (p->m.wage_max != 0 && b->wage > p->m.wage_max)
            return false;
        if (p->m.education > b->education)
            return false;
        int age = s->year - (int)b->birth_year;
        if (p->m.age_min > 0 && age < p->m.age_min)
            return false;
        if (p->m.age_max > 0 && age > p->m.age_max)
            return false;
        if (f->category >= 0 && b->category != f->category)
            return false;
    }
    return true;
}

/* A posting of the current term: judge the candidate if it is new, meets
 * the rules, and could still make the list. */
static int
consider(search_t *s, uint64_t docno, const char region[6], double gain,
         double occ_bound, const ix_brief_t *b)
{
    if (s->err)
        return -1;
    s->out->postings_seen++;
    int fresh = seen_add(s->seen, docno);
    if (fresh < 0) {
        s->err = fresh;
        return -1;
    }
    if (!fresh || !brief_passes(s, b))
        return 0;
    double county = memcmp(region, s->probe->region, 6) == 0 ? BONUS_COUNTY : 0;
    double priority;
    double occ = occ_bound;
    if (s->searched == IX_VACANCY) {
        priority = (b->priority_mask >> s->probe->category) & 1 ? BONUS_PRIORITY : 0;
        occ = bonus_digits(s, b->occupation);
    } else {
        priority = (s->probe->m.priority_mask >> b->category) & 1 ? BONUS_PRIORITY : 0;
    }
    double bound = gain + s->rest_after + occ + county + priority;
    if (bound + EPS < threshold(s))
        return 0;
    judge(s, docno);
    return s->err ? -1 : 0;
}

static int
on_skill_posting(void *ctx, uint64_t docno, const char region[6], uint8_t level,
                 const ix_brief_t *brief)
{
    search_t *s = ctx;
    const term_t *t = &s->terms[s->cur];
    uint8_t probe_level = s->probe->skills[t->skill].level;
    /* min(lw, lv) / lv, with lv the vacancy's level. */
    uint8_t lw = s->searched == IX_VACANCY ? probe_level : level;
    uint8_t lv = s->searched == IX_VACANCY ? level : probe_level;
    double gain = t->ub * (double)(lw < lv ? lw : lv) / (double)lv;
    double occ = s->occ_after > s->minor_after ? s->occ_after : s->minor_after;
    return consider(s, docno, region, gain, occ, brief);
}

static int
on_minor_posting(void *ctx, uint64_t docno, const char region[6],
                 const char *code, uint32_t code_len, const ix_brief_t *brief)
{
    (void)code;
    (void)code_len;
    search_t *s = ctx;
    /* A vacancy's bonus comes exactly from its brief. A worker meets a
     * minor term once per desired code in the group, and only its first
     * posting counts: bound it by the term. */
    return consider(s, docno, region, 0, s->terms[s->cur].ub, brief);
}

static int
term_order(const void *a, const void *b)
{
    const term_t *x = a, *y = b;
    return x->ub < y->ub ? 1 : x->ub > y->ub ? -1 : 0;
}

/* The bound of the occupation bonus for a candidate found by no minor
 * term: its code is outside every minor group the probe can reach, so
 * only middle and major agreement remain. */
static double
occupation_rest(const en_party_t *probe)
{
    double best = 0;
    for (uint32_t i = 0; i < probe->n_occ; i++) {
        double b = probe->occ_len[i] >= 4 ? BONUS_MIDDLE : probe->occ_len[i] >= 1 ? BONUS_MAJOR : 0;
        if (b > best)
            best = b;
    }
    return best;
}

static void
add_minor_terms(search_t *s)
{
    const en_party_t *p = s->probe;
    for (uint32_t i = 0; i < p->n_occ; i++) {
        if (p->occ_len[i] < 7)
            continue;
        double ub = 0;
        bool dup = false;
        for (uint32_t j = 0; j < s->n_terms && !dup; j++)
            dup = s->terms[j].skill < 0 && memcmp(s->terms[j].minor, p->occ[i], 7) == 0;
        if (dup)
            continue;
        /* A full code can meet its equal (2.0); otherwise 1.2. */
        for (uint32_t j = 0; j < p->n_occ; j++)
            if (p->occ_len[j] >= 7 && memcmp(p->occ[j], p->occ[i], 7) == 0)
                ub = p->occ_len[j] == PR_OCCUPATION_LEN ? BONUS_FULL : (ub > BONUS_MINOR ? ub : BONUS_MINOR);
        s->terms[s->n_terms++] = (term_t){.ub = ub, .skill = -1, .minor = p->occ[i]};
    }
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
    s->seen = &q->scratch->seen;
    s->out = out;
    out->n = 0;
    out->postings_seen = out->candidates_scored = 0;
    seen_reset(s->seen);

    int rc = probe_idf(txn, probe, s->searched, s->idf);
    if (rc != 0)
        goto done;
    /* match.workers asks nothing of workers when the vacancy itself
     * cannot be matched (rule 1). */
    if (probe->kind == IX_VACANCY &&
        (probe->status != PR_VACANCY_OPEN ||
         (probe->m.expires != 0 && probe->m.expires <= q->as_of) ||
         (int64_t)probe->m.headcount - (int64_t)probe->filled <= 0))
        goto done;

    for (uint32_t i = 0; i < probe->n_skills; i++)
        if (s->idf[i] > 0)
            s->terms[s->n_terms++] = (term_t){.ub = s->idf[i], .skill = (int)i};
    add_minor_terms(s);
    qsort(s->terms, s->n_terms, sizeof s->terms[0], term_order);
    s->priority_ub = probe->kind == IX_WORKER
                         ? BONUS_PRIORITY
                         : (probe->m.priority_mask ? BONUS_PRIORITY : 0);
    double occ_rest = occupation_rest(probe);
    s->year = utc_year(q->as_of);
    s->probe_age = s->year - (int)probe->m.birth_year;
    if (q->filters.occupation.ptr)
        s->filter_occ = code_digits(q->filters.occupation.ptr, q->filters.occupation.len);
    for (uint32_t i = 0; i < probe->n_occ; i++) {
        s->code_val[i] = code_digits(probe->occ[i], probe->occ_len[i]);
        s->code_len[i] = probe->occ_len[i];
    }
    s->n_codes = probe->n_occ;

    const char *prefix = probe->region;
    uint32_t prefix_len = (uint32_t)q->scope;
    for (s->cur = 0; s->cur < s->n_terms; s->cur++) {
        const term_t *t = &s->terms[s->cur];
        s->rest_after = 0;
        s->minor_after = 0;
        for (uint32_t j = s->cur + 1; j < s->n_terms; j++) {
            if (s->terms[j].skill >= 0)
                s->rest_after += s->terms[j].ub;
            else if (s->terms[j].ub > s->minor_after)
                s->minor_after = s->terms[j].ub;
        }
        s->occ_after = occ_rest;
        /* Can anything first met at this term or later still make it? */
        double occ = s->minor_after > occ_rest ? s->minor_after : occ_rest;
        double best_new = t->ub + s->rest_after + (t->skill < 0 ? 0 : occ) +
                          BONUS_COUNTY + s->priority_ub;
        if (best_new + EPS < threshold(s))
            break;
        if (t->skill >= 0)
            rc = ix_scan_skill(txn, s->searched, probe->skills[t->skill].id,
                               probe->skills[t->skill].id_len, prefix, prefix_len,
                               on_skill_posting, s);
        else
            rc = ix_scan_minor(txn, s->searched, t->minor, prefix, prefix_len,
                               on_minor_posting, s);
        if (s->err) {
            rc = s->err;
            break;
        }
        if (rc != 0)
            break;
    }

    /* Best first. */
    for (uint32_t n = out->n; n > 1; n--) {
        en_match_hit_t t = out->hits[0];
        out->hits[0] = out->hits[n - 1];
        out->hits[n - 1] = t;
        heap_sift_down(out->hits, n - 1, 0);
    }
done:
    free(s);
    return rc;
}

/* ---- explain ---------------------------------------------------------- */

static void
pack_key(msgpack_packer *pk, const char *k)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
}

void
en_pack_breakdown(msgpack_packer *pk, const en_breakdown_t *b)
{
    msgpack_pack_map(pk, 5);
    pack_key(pk, "skills");
    msgpack_pack_array(pk, b->n_shared);
    for (uint32_t i = 0; i < b->n_shared; i++) {
        msgpack_pack_map(pk, 5);
        pack_key(pk, "id");
        msgpack_pack_str_with_body(pk, b->shared[i].id, b->shared[i].id_len);
        pack_key(pk, "idf");
        msgpack_pack_double(pk, b->shared[i].idf);
        pack_key(pk, "worker_level");
        msgpack_pack_uint8(pk, b->shared[i].worker_level);
        pack_key(pk, "vacancy_level");
        msgpack_pack_uint8(pk, b->shared[i].vacancy_level);
        pack_key(pk, "contribution");
        msgpack_pack_double(pk, b->shared[i].contribution);
    }
    pack_key(pk, "skill_part");
    msgpack_pack_double(pk, b->skill_part);
    pack_key(pk, "occupation");
    msgpack_pack_map(pk, 3);
    pack_key(pk, "bonus");
    msgpack_pack_double(pk, b->occupation_bonus);
    pack_key(pk, "level");
    pack_key(pk, b->occupation_level);
    pack_key(pk, "desired");
    if (b->desired)
        msgpack_pack_str_with_body(pk, b->desired, b->desired_len);
    else
        msgpack_pack_nil(pk);
    pack_key(pk, "county_bonus");
    msgpack_pack_double(pk, b->county_bonus);
    pack_key(pk, "priority_bonus");
    msgpack_pack_double(pk, b->priority_bonus);
}
