/* test_match_scan.c - the index's matching reads: ix_scan_skill and
 * ix_scan_minor against a brute-force filter over a model of every doc
 * (every region prefix length, through puts, replaces, region moves,
 * replaces that change only a brief field, and deletes, inside and after
 * the write transaction), each posting's brief against the one derived
 * from the model, ix_get_docno against ix_get, the match fields and terms
 * of ix_record_t, the county walks mixing takes, skips and look-ups by
 * docno and widening from a county to the country, and ix_check finding damage to the skill and minor-group
 * postings, stale briefs included.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"
#include "scratch.h"

static char dir[JT_SCRATCH_DIR_MAX];
static ix_env_t *env;

static void
setup(void)
{
    env = jt_scratch_new(dir, "ixscan");
}

static void
teardown(void)
{
    jt_scratch_remove(env, dir);
    env = NULL;
}

TestSuite(match_scan, .init = setup, .fini = teardown);

/* ---- the model ---- */

/* Regions share provinces and cities so that every prefix length selects
 * a different subset. */
static const char *regions[] = {"110105", "110108", "110201", "120101",
                                "440305", "440306", "440401"};
#define NREG (int)(sizeof regions / sizeof regions[0])
/* Prefixes probed: every one the regions have, plus absent ones. */
static const char *prefixes[] = {"",     "11",     "12",     "44",
                                 "99",   "1101",   "1102",   "1201",
                                 "4403", "4404",   "9999",   "110105",
                                 "110108", "110201", "120101", "440305",
                                 "440306", "440401", "999999", "110106"};
#define NPFX (int)(sizeof prefixes / sizeof prefixes[0])
/* Skill ids where one is a prefix of another ("c"/"cook", "weld"/
 * "weld2"), which must never leak into each other's scans. */
static const char *skills[] = {"weld", "weld2", "c",   "cook",
                               "a.b/c", "x:1",  "drive", "z"};
#define NSK (int)(sizeof skills / sizeof skills[0])
static const char *vac_codes[] = {"6-05-02-03", "6-05-02-04", "6-05-03-01",
                                  "2-02-01-01"};
#define NVC (int)(sizeof vac_codes / sizeof vac_codes[0])
static const char *wrk_codes[] = {"6",          "6-05",       "6-05-02",
                                  "6-05-02-03", "6-05-02-04", "6-05-03",
                                  "6-05-03-01", "2-02-01-01", "2-02-01",
                                  "2"};
#define NWC (int)(sizeof wrk_codes / sizeof wrk_codes[0])
static const char *minors[] = {"6-05-02", "6-05-03", "2-02-01", "9-99-99"};
#define NMIN (int)(sizeof minors / sizeof minors[0])

#define NDOC 120

typedef struct mdoc {
    bool live;
    uint8_t kind;
    char id[16];
    char region[7];
    int nocc;
    const char *occ[6];
    int nsk;
    int sk[6];
    uint8_t lvl[6];
    /* What the brief is derived from. */
    bool matchable;
    uint8_t category;
    uint32_t filled;
    ix_match_t match;
    uint64_t docno;
} mdoc_t;

static mdoc_t model[2][NDOC];

static void
pick_distinct(int *out, int n, int range)
{
    for (int i = 0; i < n; i++) {
        int x, dup;
        do {
            x = rand() % range;
            dup = 0;
            for (int j = 0; j < i; j++)
                dup |= out[j] == x;
        } while (dup);
        out[i] = x;
    }
}

static void
random_terms(mdoc_t *m)
{
    strcpy(m->region, regions[rand() % NREG]);
    int idx[6];
    if (m->kind == IX_VACANCY) {
        m->nocc = 1;
        m->occ[0] = vac_codes[rand() % NVC];
    } else {
        m->nocc = rand() % 5;
        pick_distinct(idx, m->nocc, NWC);
        for (int i = 0; i < m->nocc; i++)
            m->occ[i] = wrk_codes[idx[i]];
    }
    m->nsk = rand() % 7;
    pick_distinct(m->sk, m->nsk, NSK);
    for (int i = 0; i < m->nsk; i++)
        m->lvl[i] = (uint8_t)(1 + rand() % 5);
}

/* One field the brief carries, chosen by `which`, set to a random value
 * (often the same as before, so unchanged briefs are covered too). Small
 * ranges make open vacancies fill up and reopen. */
static void
random_brief_field(mdoc_t *m, int which)
{
    ix_match_t *x = &m->match;
    switch (which) {
    case 0: m->matchable = rand() % 4 != 0; break;
    case 1: m->filled = (uint32_t)(rand() % 4); break;
    case 2: x->headcount = (uint32_t)(rand() % 4); break;
    case 3:
        x->wage_min = (uint32_t)rand();
        x->wage_max = rand() % 3 ? (uint32_t)rand() : 0;
        break;
    case 4: x->expires = rand() % 3 ? (int64_t)rand() * (rand() % 2 ? 1 : -1)
                                    : 0; break;
    case 5: x->education = (uint8_t)(rand() % 8); break;
    case 6:
        x->age_min = (uint8_t)(rand() % 40);
        x->age_max = (uint8_t)(rand() % 70);
        break;
    case 7: x->priority_mask = (uint8_t)rand(); break;
    case 8: x->birth_year = (uint16_t)(1940 + rand() % 80); break;
    case 9:
        if (m->kind == IX_WORKER)
            m->category = (uint8_t)(rand() % 5);
        break;
    default:
        /* Fields no brief carries: a replace must leave briefs alone. */
        x->since = rand();
        break;
    }
}

#define NBRIEF_FIELDS 11

static void
random_brief(mdoc_t *m)
{
    for (int f = 0; f < NBRIEF_FIELDS; f++)
        random_brief_field(m, f);
}

/* The brief the index should derive, written from the contract of
 * ix_brief_t, not from the index's code. */
static void
model_brief(const mdoc_t *m, ix_brief_t *b)
{
    memset(b, 0, sizeof *b);
    const ix_match_t *x = &m->match;
    b->education = x->education;
    if (m->kind == IX_VACANCY) {
        b->open = m->matchable && x->headcount > m->filled;
        b->expires = x->expires;
        b->wage = x->wage_max;
        const char *c = m->occ[0];
        for (; *c; c++)
            if (*c != '-')
                b->occupation = b->occupation * 10 + (uint32_t)(*c - '0');
        b->age_min = x->age_min;
        b->age_max = x->age_max;
        b->priority_mask = x->priority_mask;
    } else {
        b->open = m->matchable;
        b->wage = x->wage_min;
        b->birth_year = x->birth_year;
        b->category = m->category;
    }
}

/* Whether the record has matching postings: only while its brief is
 * open. */
static bool
model_posted(const mdoc_t *m)
{
    ix_brief_t b;
    model_brief(m, &b);
    return b.open != 0;
}

static void
put_doc(ix_txn_t *t, mdoc_t *m)
{
    uint32_t ol[6];
    ix_skill_t sk[6];
    for (int i = 0; i < m->nocc; i++)
        ol[i] = (uint32_t)strlen(m->occ[i]);
    for (int i = 0; i < m->nsk; i++) {
        sk[i].id = skills[m->sk[i]];
        sk[i].id_len = (uint32_t)strlen(skills[m->sk[i]]);
        sk[i].level = m->lvl[i];
    }
    ix_doc_t d = {
        .kind = m->kind,
        .id = m->id,
        .id_len = (uint32_t)strlen(m->id),
        .occupations = m->occ,
        .occupation_lens = ol,
        .n_occupations = (uint32_t)m->nocc,
        .status = m->matchable ? 0 : 1,
        .matchable = m->matchable,
        .category = m->category,
        .skills = sk,
        .n_skills = (uint32_t)m->nsk,
        .filled = m->filled,
        .match = m->match,
        .value = m->id,
        .value_len = strlen(m->id),
    };
    memcpy(d.region, m->region, 6);
    cr_assert_eq(ix_put(t, &d, 0, NULL), 0);
    ix_record_t r;
    cr_assert_eq(ix_get(t, m->kind, m->id, d.id_len, &r), 0);
    if (m->live)
        cr_assert_eq(r.docno, m->docno, "a replace keeps the docno");
    m->docno = r.docno;
    m->live = true;
}

/* ---- one posting as a scan reports it ---- */

typedef struct hit {
    char region[6];
    uint8_t rank;     /* the brute force's: ix_match_rank of the record */
    uint64_t docno;
    uint8_t level;
    char code[10];
    uint32_t code_len;
    ix_brief_t brief;
} hit_t;

#define HITS_MAX 1024

typedef struct hits {
    hit_t h[HITS_MAX];
    int n;
    int runs;         /* calls of on_skill */
    int stop_after;   /* calls before a stop; 0 = never */
    int stop_value;
} hits_t;

static int
on_skill(void *ctx, const char region[6], const ix_skill_run_t *run)
{
    hits_t *hs = ctx;
    cr_assert(run->n >= 1 && run->n <= IX_SKILL_RUN_MAX, "a run of %u postings", run->n);
    for (uint32_t i = 0; i < run->n; i++) {
        cr_assert_lt(hs->n, HITS_MAX);
        hit_t *h = &hs->h[hs->n++];
        memset(h, 0, sizeof *h);
        memcpy(h->region, region, 6);
        h->docno = run->docno[i];
        h->level = run->level[i];
        ix_skill_run_brief(run, i, &h->brief);
    }
    hs->runs++;
    if (hs->stop_after && hs->runs == hs->stop_after)
        return hs->stop_value;
    return 0;
}

static int
on_minor(void *ctx, uint64_t docno, const char region[6], const char *code,
         uint32_t code_len, const ix_brief_t *brief)
{
    hits_t *hs = ctx;
    cr_assert_lt(hs->n, HITS_MAX);
    cr_assert(code_len == 7 || code_len == 10, "code length %u", code_len);
    cr_assert_not_null(brief);
    hit_t *h = &hs->h[hs->n++];
    memset(h, 0, sizeof *h);
    memcpy(h->region, region, 6);
    h->docno = docno;
    h->brief = *brief;
    memcpy(h->code, code, code_len);
    h->code_len = code_len;
    if (hs->stop_after && hs->n == hs->stop_after)
        return hs->stop_value;
    return 0;
}

/* The documented order: region, then the record's match rank, then
 * docno, then (one worker's codes in a group) the 7-byte code before the
 * 10-byte ones, tails bytewise. */
static int
hit_cmp(const void *a, const void *b)
{
    const hit_t *x = a, *y = b;
    int c = memcmp(x->region, y->region, 6);
    if (c)
        return c;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->docno != y->docno)
        return x->docno < y->docno ? -1 : 1;
    if (x->code_len != y->code_len)
        return x->code_len < y->code_len ? -1 : 1;
    return memcmp(x->code, y->code, x->code_len);
}

static void
brute_skill(int k, int s, const char *pfx, hits_t *out)
{
    size_t pl = strlen(pfx);
    out->n = 0;
    for (int i = 0; i < NDOC; i++) {
        const mdoc_t *m = &model[k][i];
        if (!m->live || !model_posted(m) || strncmp(m->region, pfx, pl) != 0)
            continue;
        for (int j = 0; j < m->nsk; j++)
            if (m->sk[j] == s) {
                hit_t *h = &out->h[out->n++];
                memset(h, 0, sizeof *h);
                memcpy(h->region, m->region, 6);
                h->rank = ix_match_rank(m->kind, m->match.education);
                h->docno = m->docno;
                h->level = m->lvl[j];
                model_brief(m, &h->brief);
            }
    }
    qsort(out->h, (size_t)out->n, sizeof out->h[0], hit_cmp);
}

static void
brute_minor(int k, const char *minor, const char *pfx, hits_t *out)
{
    size_t pl = strlen(pfx);
    out->n = 0;
    for (int i = 0; i < NDOC; i++) {
        const mdoc_t *m = &model[k][i];
        if (!m->live || !model_posted(m) || strncmp(m->region, pfx, pl) != 0)
            continue;
        for (int j = 0; j < m->nocc; j++) {
            size_t ol = strlen(m->occ[j]);
            if ((ol != 7 && ol != 10) || memcmp(m->occ[j], minor, 7) != 0)
                continue;
            hit_t *h = &out->h[out->n++];
            memset(h, 0, sizeof *h);
            memcpy(h->region, m->region, 6);
            h->rank = ix_match_rank(m->kind, m->match.education);
            h->docno = m->docno;
            model_brief(m, &h->brief);
            memcpy(h->code, m->occ[j], ol);
            h->code_len = (uint32_t)ol;
        }
    }
    qsort(out->h, (size_t)out->n, sizeof out->h[0], hit_cmp);
}

/* Field by field: the struct may have padding, which memcmp would read. */
static void
same_brief(const ix_brief_t *g, const ix_brief_t *w, const char *what, int i)
{
    cr_assert_eq(g->open, w->open, "%s #%d: open", what, i);
    cr_assert_eq(g->expires, w->expires, "%s #%d: expires", what, i);
    cr_assert_eq(g->wage, w->wage, "%s #%d: wage", what, i);
    cr_assert_eq(g->occupation, w->occupation, "%s #%d: occupation", what,
                 i);
    cr_assert_eq(g->birth_year, w->birth_year, "%s #%d: birth_year", what,
                 i);
    cr_assert_eq(g->education, w->education, "%s #%d: education", what, i);
    cr_assert_eq(g->age_min, w->age_min, "%s #%d: age_min", what, i);
    cr_assert_eq(g->age_max, w->age_max, "%s #%d: age_max", what, i);
    cr_assert_eq(g->priority_mask, w->priority_mask, "%s #%d: priority",
                 what, i);
    cr_assert_eq(g->category, w->category, "%s #%d: category", what, i);
}

static void
same_hits(const hits_t *got, const hits_t *want, const char *what)
{
    cr_assert_eq(got->n, want->n, "%s: %d postings, brute force %d", what,
                 got->n, want->n);
    for (int i = 0; i < got->n; i++) {
        const hit_t *g = &got->h[i], *w = &want->h[i];
        cr_assert(memcmp(g->region, w->region, 6) == 0,
                  "%s #%d: region %.6s, want %.6s", what, i, g->region,
                  w->region);
        cr_assert_eq(g->docno, w->docno, "%s #%d: docno", what, i);
        cr_assert_eq(g->level, w->level, "%s #%d: level", what, i);
        cr_assert_eq(g->code_len, w->code_len, "%s #%d: code length", what,
                     i);
        cr_assert(memcmp(g->code, w->code, g->code_len) == 0,
                  "%s #%d: code %.*s, want %.*s", what, i, (int)g->code_len,
                  g->code, (int)w->code_len, w->code);
        same_brief(&g->brief, &w->brief, what, i);
    }
}

/* Every skill and minor group of both kinds, at every prefix, against the
 * brute force. t may be a read or a write transaction. */
static void
verify_scans(ix_txn_t *t)
{
    static hits_t got, want;
    for (int k = 0; k < 2; k++) {
        uint8_t kind = k == 0 ? IX_VACANCY : IX_WORKER;
        for (int p = 0; p < NPFX; p++) {
            const char *pfx = prefixes[p];
            uint32_t pl = (uint32_t)strlen(pfx);
            char what[64];
            for (int s = 0; s < NSK; s++) {
                got.n = 0;
                got.stop_after = 0;
                cr_assert_eq(ix_scan_skill(t, kind, skills[s],
                                           (uint32_t)strlen(skills[s]), pfx,
                                           pl, on_skill, &got),
                             0);
                brute_skill(k, s, pfx, &want);
                snprintf(what, sizeof what, "%c skill %s in '%s'", kind,
                         skills[s], pfx);
                same_hits(&got, &want, what);
            }
            for (int g = 0; g < NMIN; g++) {
                got.n = 0;
                got.stop_after = 0;
                cr_assert_eq(ix_scan_minor(t, kind, minors[g], pfx, pl,
                                           on_minor, &got),
                             0);
                brute_minor(k, minors[g], pfx, &want);
                snprintf(what, sizeof what, "%c minor %s in '%s'", kind,
                         minors[g], pfx);
                same_hits(&got, &want, what);
            }
        }
    }
}

/* Walks every term's groups taking every other one and skipping the rest,
 * and reads a skipped group whole by its county or looks each of its
 * records up by docno (and one docno that has no posting there): together
 * the same postings, in the same order, as the brute force; each group's
 * size is its count there. A group taken after one skipped must give
 * its own postings even when it holds a single value. */
static void
verify_groups_mixed(ix_txn_t *t)
{
    static hits_t got, want;
    for (int k = 0; k < 2; k++) {
        uint8_t kind = k == 0 ? IX_VACANCY : IX_WORKER;
        for (int term = 0; term < NSK + NMIN; term++) {
            ix_groups_t *g;
            got.n = 0;
            got.stop_after = 0;
            if (term < NSK) {
                brute_skill(k, term, "", &want);
                cr_assert_eq(ix_groups_skill(t, kind, skills[term], (uint32_t)strlen(skills[term]),
                                             "", 0, IX_RANK_ANY, on_skill, &got, &g), 0);
            } else {
                brute_minor(k, minors[term - NSK], "", &want);
                cr_assert_eq(ix_groups_minor(t, kind, minors[term - NSK], "", 0, IX_RANK_ANY, on_minor, &got,
                                             &g), 0);
            }
            const char *c;
            for (int n = 0; (c = ix_groups_county(g)) != NULL; n++) {
                char county[6];
                memcpy(county, c, 6);
                if (n % 2 == (term + k) % 2) {
                    cr_assert_eq(ix_groups_take(g), 0);
                    continue;
                }
                size_t size, in_county = 0;
                for (int i = 0; i < want.n; i++)
                    in_county += memcmp(want.h[i].region, county, 6) == 0;
                cr_assert_eq(ix_groups_size(g, county, &size), 0);
                cr_assert_eq(size, in_county, "%c term %d in %.6s: size %zu, brute force %zu",
                             kind, term, county, size, in_county);
                if (n % 4 >= 2) {
                    /* Moved off the group since its size was taken. */
                    if (n % 8 >= 6)
                        cr_assert_eq(ix_groups_find(g, county, 0, UINT64_C(1) << 40), 0);
                    cr_assert_eq(ix_groups_read(g, county), 0);
                } else {
                    for (int i = 0; i < want.n; i++) {
                        const hit_t *h = &want.h[i];
                        bool again = i > 0 && h[-1].docno == h->docno &&
                                     memcmp(h[-1].region, h->region, 6) == 0;
                        if (!again && memcmp(h->region, county, 6) == 0)
                            cr_assert_eq(ix_groups_find(g, county, h->rank, h->docno), 0);
                    }
                    cr_assert_eq(ix_groups_find(g, county, 0, UINT64_C(1) << 40), 0);
                }
                cr_assert_eq(ix_groups_skip(g), 0);
            }
            size_t none;
            cr_assert_eq(ix_groups_size(g, "999999", &none), 0);
            cr_assert_eq(none, 0);
            cr_assert_eq(ix_groups_read(g, "999999"), 0);
            ix_groups_close(g);
            char what[64];
            snprintf(what, sizeof what, "%c term %d, groups taken and looked up", kind, term);
            same_hits(&got, &want, what);
        }
    }
}

/* Opens a walk over one term of the model, of either kind, over the
 * whole country; want gets the brute force's postings. */
static ix_groups_t *
open_term(ix_txn_t *t, int k, int term, hits_t *got, hits_t *want)
{
    uint8_t kind = k == 0 ? IX_VACANCY : IX_WORKER;
    ix_groups_t *g;
    got->n = 0;
    got->stop_after = 0;
    if (term < NSK) {
        brute_skill(k, term, "", want);
        cr_assert_eq(ix_groups_skill(t, kind, skills[term], (uint32_t)strlen(skills[term]), "",
                                     0, IX_RANK_ANY, on_skill, got, &g), 0);
    } else {
        brute_minor(k, minors[term - NSK], "", want);
        cr_assert_eq(ix_groups_minor(t, kind, minors[term - NSK], "", 0, IX_RANK_ANY, on_minor, got, &g),
                     0);
    }
    return g;
}

static size_t
count_in(const hits_t *h, const char county[6])
{
    size_t n = 0;
    for (int i = 0; i < h->n; i++)
        n += memcmp(h->h[i].region, county, 6) == 0;
    return n;
}

/* Group sizes asked in ascending county order, as the matcher asks them:
 * over the model's counties and absent ones between and after them, at
 * every stride and start (so that a look-up lands on the next group, steps
 * over several, lands where the term has none and runs past its last),
 * and from the first county straight to the last; each is the brute
 * force's count, and a group read after its size gives its postings. */
static void
verify_group_sizes(ix_txn_t *t)
{
    static const char *counties[] = {"110104", "110105", "110106", "110108",
                                     "110201", "120101", "120102", "440305",
                                     "440306", "440401", "999999"};
    const int nc = (int)(sizeof counties / sizeof counties[0]);
    static hits_t got, want;
    for (int k = 0; k < 2; k++)
        for (int term = 0; term < NSK + NMIN; term++) {
            for (int stride = 1; stride <= 5; stride++)
                for (int start = 0; start < stride; start++) {
                    ix_groups_t *g = open_term(t, k, term, &got, &want);
                    size_t read_from = 0;
                    for (int i = start; i < nc; i += stride) {
                        size_t size;
                        cr_assert_eq(ix_groups_size(g, counties[i], &size), 0);
                        cr_assert_eq(size, count_in(&want, counties[i]),
                                     "kind %d term %d in %s, stride %d: size %zu", k, term,
                                     counties[i], stride, size);
                        if (i % 3 == 0) {
                            cr_assert_eq(ix_groups_read(g, counties[i]), 0);
                            cr_assert_eq((size_t)got.n - read_from, size);
                            read_from = (size_t)got.n;
                        }
                    }
                    ix_groups_close(g);
                }
            ix_groups_t *g = open_term(t, k, term, &got, &want);
            size_t first, last;
            cr_assert_eq(ix_groups_size(g, regions[0], &first), 0);
            cr_assert_eq(ix_groups_size(g, regions[NREG - 1], &last), 0);
            cr_assert_eq(first, count_in(&want, regions[0]));
            cr_assert_eq(last, count_in(&want, regions[NREG - 1]));
            ix_groups_close(g);
        }
}

/* A walk opened on a county and widened to its city, province and the
 * whole country reads, after each widening, exactly the brute force's
 * postings of that prefix; widening to a longer prefix is refused. */
static void
verify_groups_widen(ix_txn_t *t)
{
    static hits_t got, want;
    static const uint32_t lens[] = {4, 2, 0};
    for (int k = 0; k < 2; k++) {
        uint8_t kind = k == 0 ? IX_VACANCY : IX_WORKER;
        for (int term = 0; term < NSK + NMIN; term++) {
            const char *region = regions[(term + k) % NREG];
            ix_groups_t *g;
            got.n = 0;
            got.stop_after = 0;
            if (term < NSK)
                cr_assert_eq(ix_groups_skill(t, kind, skills[term], (uint32_t)strlen(skills[term]),
                                             region, 6, IX_RANK_ANY, on_skill, &got, &g), 0);
            else
                cr_assert_eq(ix_groups_minor(t, kind, minors[term - NSK], region, 6, IX_RANK_ANY, on_minor,
                                             &got, &g), 0);
            while (ix_groups_county(g))
                cr_assert_eq(ix_groups_take(g), 0);
            for (int i = 0; i < 3; i++) {
                char pfx[7];
                snprintf(pfx, sizeof pfx, "%.*s", (int)lens[i], region);
                got.n = 0;
                cr_assert_eq(ix_groups_widen(g, lens[i]), 0);
                cr_assert_eq(ix_groups_widen(g, lens[i] + 2), -EINVAL);
                while (ix_groups_county(g))
                    cr_assert_eq(ix_groups_take(g), 0);
                if (term < NSK)
                    brute_skill(k, term, pfx, &want);
                else
                    brute_minor(k, minors[term - NSK], pfx, &want);
                char what[64];
                snprintf(what, sizeof what, "%c term %d widened to '%s'", kind, term, pfx);
                same_hits(&got, &want, what);
            }
            ix_groups_close(g);
        }
    }
}

static void
verify_check(void)
{
    ix_txn_t *t;
    char rep[512];
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_check(t, rep, sizeof rep), 0, "%s", rep);
    ix_read_end(t);
}

static void
fill_model(void)
{
    memset(model, 0, sizeof model);
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NDOC; i++) {
            mdoc_t *m = &model[k][i];
            m->kind = k == 0 ? IX_VACANCY : IX_WORKER;
            snprintf(m->id, sizeof m->id, "%c%03d", k == 0 ? 'v' : 'w', i);
            random_terms(m);
            random_brief(m);
            put_doc(t, m);
        }
    cr_assert_eq(ix_write_commit(t), 0);
}

Test(match_scan, scans_equal_brute_force_through_changes)
{
    srand(101);
    fill_model();
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    verify_scans(t);
    verify_groups_mixed(t);
    verify_group_sizes(t);
    verify_groups_widen(t);
    ix_read_end(t);
    verify_check();
    for (int round = 0; round < 8; round++) {
        cr_assert_eq(ix_write_begin(env, &t), 0);
        for (int op = 0; op < 40; op++) {
            int k = rand() % 2, i = rand() % NDOC;
            mdoc_t *m = &model[k][i];
            int what = rand() % 6;
            if (what >= 4 && m->live) {
                /* Same terms and region, one brief field changed: the
                 * postings keep their keys and must take the new
                 * values. */
                random_brief_field(m, rand() % NBRIEF_FIELDS);
                put_doc(t, m);
            } else if (what == 0) {
                int rc = ix_delete(t, m->kind, m->id,
                                   (uint32_t)strlen(m->id), 0);
                cr_assert_eq(rc, m->live ? 0 : -ENOENT);
                m->live = false;
            } else if (what == 1 && m->live) {
                /* Only the region moves: every skill and minor posting
                 * must follow it. */
                strcpy(m->region, regions[rand() % NREG]);
                put_doc(t, m);
            } else if (what == 2 && m->live) {
                /* Same region and skills, new levels. */
                for (int j = 0; j < m->nsk; j++)
                    m->lvl[j] = (uint8_t)(1 + rand() % 5);
                put_doc(t, m);
            } else {
                random_terms(m);
                if (rand() % 2)
                    random_brief(m);
                put_doc(t, m);
            }
        }
        /* The write transaction scans its own queued changes. */
        if (round % 2 == 0)
            verify_scans(t);
        cr_assert_eq(ix_write_commit(t), 0);
        cr_assert_eq(ix_read_begin(env, &t), 0);
        verify_scans(t);
        verify_groups_mixed(t);
        verify_group_sizes(t);
        verify_groups_widen(t);
        ix_read_end(t);
        verify_check();
    }
}

Test(match_scan, minor_postings_follow_code_lengths)
{
    /* A worker with two codes in one group appears once per code; codes
     * of 1 or 4 bytes have no minor posting. */
    const char *occ[] = {"6", "6-05", "6-05-02", "6-05-02-03", "6-05-02-04",
                         "6-05-03-01"};
    uint32_t ol[] = {1, 4, 7, 10, 10, 10};
    ix_doc_t d = {
        .kind = IX_WORKER,
        .id = "w1",
        .id_len = 2,
        .region = {'4', '4', '0', '3', '0', '5'},
        .occupations = occ,
        .occupation_lens = ol,
        .n_occupations = 6,
        .matchable = true,
        .value = "x",
        .value_len = 1,
    };
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_put(t, &d, 0, NULL), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    static hits_t h;
    h.n = 0;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    cr_assert_eq(ix_scan_minor(t, IX_WORKER, "6-05-02", "44", 2, on_minor,
                               &h),
                 0);
    cr_assert_eq(h.n, 3);
    cr_assert_eq(h.h[0].code_len, 7);
    cr_assert(memcmp(h.h[0].code, "6-05-02", 7) == 0);
    cr_assert(memcmp(h.h[1].code, "6-05-02-03", 10) == 0);
    cr_assert(memcmp(h.h[2].code, "6-05-02-04", 10) == 0);
    for (int i = 0; i < 3; i++)
        cr_assert(memcmp(h.h[i].region, "440305", 6) == 0);
    h.n = 0;
    cr_assert_eq(ix_scan_minor(t, IX_WORKER, "6-05-03", "", 0, on_minor, &h),
                 0);
    cr_assert_eq(h.n, 1);
    h.n = 0;
    /* Neither "6" nor "6-05" is a minor group of its own. */
    cr_assert_eq(ix_scan_minor(t, IX_WORKER, "6-05\0\0\0", "", 0, on_minor,
                               &h),
                 -EINVAL);
    cr_assert_eq(ix_scan_minor(t, IX_VACANCY, "6-05-02", "", 0, on_minor,
                               &h),
                 0);
    cr_assert_eq(h.n, 0, "kinds never share postings");
    ix_read_end(t);
    verify_check();
}

Test(match_scan, callbacks_stop_and_arguments_are_checked)
{
    srand(202);
    fill_model();
    ix_txn_t *t;
    static hits_t h;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    /* A positive stop value ends the scan with 0, a negative one is
     * returned; either way nothing more is reported. */
    h.n = h.runs = h.stop_after = 0;
    cr_assert_eq(ix_scan_skill(t, IX_WORKER, "weld", 4, "", 0, on_skill, &h),
                 0);
    int all = h.n;
    cr_assert_gt(h.runs, 2, "one run per county here");
    h.n = h.runs = 0;
    h.stop_after = 2;
    h.stop_value = 1;
    cr_assert_eq(ix_scan_skill(t, IX_WORKER, "weld", 4, "", 0, on_skill, &h),
                 0);
    cr_assert_eq(h.runs, 2);
    cr_assert_lt(h.n, all);
    h.n = h.runs = 0;
    h.stop_after = 1;
    h.stop_value = -ECANCELED;
    cr_assert_eq(ix_scan_skill(t, IX_WORKER, "weld", 4, "", 0, on_skill, &h),
                 -ECANCELED);
    cr_assert_eq(h.runs, 1);
    h.n = 0;
    h.stop_after = 3;
    h.stop_value = 7;
    cr_assert_eq(ix_scan_minor(t, IX_VACANCY, "6-05-02", "", 0, on_minor,
                               &h),
                 0);
    cr_assert_eq(h.n, 3);
    h.n = 0;
    h.stop_after = 1;
    h.stop_value = -EIO;
    cr_assert_eq(ix_scan_minor(t, IX_VACANCY, "6-05-02", "", 0, on_minor,
                               &h),
                 -EIO);
    cr_assert_eq(h.n, 1);
    h.stop_after = 0;

    /* Region prefixes are 0, 2, 4 or 6 digits. */
    for (uint32_t len = 1; len <= 7; len += 2) {
        cr_assert_eq(ix_scan_skill(t, IX_WORKER, "weld", 4, "1101050",
                                   len, on_skill, &h),
                     -EINVAL, "prefix length %u", len);
        cr_assert_eq(ix_scan_minor(t, IX_WORKER, "6-05-02", "1101050", len,
                                   on_minor, &h),
                     -EINVAL, "prefix length %u", len);
    }
    cr_assert_eq(ix_scan_skill(t, IX_WORKER, "weld", 4, "1a", 2, on_skill,
                               &h),
                 -EINVAL);
    cr_assert_eq(ix_scan_skill(t, IX_WORKER, "weld", 4, NULL, 2, on_skill,
                               &h),
                 -EINVAL);
    cr_assert_eq(ix_scan_skill(t, IX_WORKER, "weld", 4, NULL, 0, on_skill,
                               &h),
                 0, "no prefix needs no pointer");
    cr_assert_eq(ix_scan_skill(t, IX_WORKER, "weld", 0, "", 0, on_skill, &h),
                 -EINVAL);
    char longskill[IX_SKILL_ID_MAX + 1];
    memset(longskill, 'a', sizeof longskill);
    cr_assert_eq(ix_scan_skill(t, IX_WORKER, longskill, IX_SKILL_ID_MAX + 1,
                               "", 0, on_skill, &h),
                 -EINVAL);
    h.n = 0;
    cr_assert_eq(ix_scan_skill(t, IX_WORKER, longskill, IX_SKILL_ID_MAX, "",
                               0, on_skill, &h),
                 0, "the longest skill id is a valid (empty) scan");
    cr_assert_eq(h.n, 0);
    cr_assert_eq(ix_scan_skill(t, IX_WORKER, "we\0d", 4, "", 0, on_skill,
                               &h),
                 -EINVAL);
    cr_assert_eq(ix_scan_skill(t, 'X', "weld", 4, "", 0, on_skill, &h),
                 -EINVAL);
    cr_assert_eq(ix_scan_skill(t, IX_WORKER, "weld", 4, "", 0, NULL, &h),
                 -EINVAL);
    cr_assert_eq(ix_scan_minor(t, 'X', "6-05-02", "", 0, on_minor, &h),
                 -EINVAL);
    cr_assert_eq(ix_scan_minor(t, IX_WORKER, NULL, "", 0, on_minor, &h),
                 -EINVAL);
    cr_assert_eq(ix_scan_minor(t, IX_WORKER, "6-05-02", "", 0, NULL, &h),
                 -EINVAL);
    ix_read_end(t);
}

/* ---- records by docno ---- */

/* Field by field: the struct has padding, which memcmp would read. */
static bool
match_eq(const ix_match_t *a, const ix_match_t *b)
{
    return a->since == b->since && a->expires == b->expires &&
           a->headcount == b->headcount && a->wage_min == b->wage_min &&
           a->wage_max == b->wage_max && a->birth_year == b->birth_year &&
           a->education == b->education && a->age_min == b->age_min &&
           a->age_max == b->age_max && a->priority_mask == b->priority_mask;
}

static void
same_record(const ix_record_t *a, const ix_record_t *b)
{
    cr_assert_eq(a->kind, b->kind);
    cr_assert_eq(a->docno, b->docno);
    cr_assert_eq(a->id_len, b->id_len);
    cr_assert(memcmp(a->id, b->id, a->id_len) == 0);
    cr_assert_eq(a->status, b->status);
    cr_assert_eq(a->category, b->category);
    cr_assert_eq(a->filled, b->filled);
    cr_assert(memcmp(a->region, b->region, 6) == 0);
    cr_assert(match_eq(&a->match, &b->match));
    cr_assert_eq(a->n_occupations, b->n_occupations);
    for (uint32_t i = 0; i < a->n_occupations; i++) {
        cr_assert_eq(a->occupation_lens[i], b->occupation_lens[i]);
        cr_assert(memcmp(a->occupations[i], b->occupations[i],
                         a->occupation_lens[i]) == 0);
    }
    cr_assert_eq(a->n_skills, b->n_skills);
    for (uint32_t i = 0; i < a->n_skills; i++) {
        cr_assert_eq(a->skills[i].id_len, b->skills[i].id_len);
        cr_assert(memcmp(a->skills[i].id, b->skills[i].id,
                         a->skills[i].id_len) == 0);
        cr_assert_eq(a->skills[i].level, b->skills[i].level);
    }
    cr_assert_eq(a->value_len, b->value_len);
    cr_assert(memcmp(a->value, b->value, a->value_len) == 0);
}

Test(match_scan, get_docno_equals_get)
{
    srand(303);
    fill_model();
    /* Some gone, so their docnos are absent. */
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    for (int i = 0; i < NDOC; i += 7) {
        cr_assert_eq(ix_delete(t, IX_WORKER, model[1][i].id,
                               (uint32_t)strlen(model[1][i].id), 0),
                     0);
        model[1][i].live = false;
    }
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(ix_read_begin(env, &t), 0);
    uint64_t max = 0;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NDOC; i++) {
            mdoc_t *m = &model[k][i];
            ix_record_t a, b;
            int rc = ix_get_docno(t, m->kind, m->docno, &b);
            if (!m->live) {
                cr_assert_eq(rc, -ENOENT);
                continue;
            }
            cr_assert_eq(rc, 0);
            cr_assert_eq(ix_get(t, m->kind, m->id, (uint32_t)strlen(m->id),
                                &a),
                         0);
            same_record(&a, &b);
            cr_assert(memcmp(b.region, m->region, 6) == 0);
            cr_assert_eq(b.n_skills, (uint32_t)m->nsk);
            cr_assert_eq(b.n_occupations, (uint32_t)m->nocc);
            if (m->docno > max)
                max = m->docno;
        }
    ix_record_t r;
    cr_assert_eq(ix_get_docno(t, IX_VACANCY, 0, &r), -ENOENT);
    cr_assert_eq(ix_get_docno(t, IX_VACANCY, max + 1, &r), -ENOENT);
    cr_assert_eq(ix_get_docno(t, IX_VACANCY, UINT64_MAX, &r), -ENOENT);
    cr_assert_eq(ix_get_docno(t, 'X', 1, &r), -EINVAL);
    cr_assert_eq(ix_get_docno(t, IX_VACANCY, 1, NULL), -EINVAL);
    /* Docnos are per kind: the same number names different records. */
    ix_record_t v, w;
    cr_assert_eq(ix_get_docno(t, IX_VACANCY, model[0][1].docno, &v), 0);
    cr_assert_eq(v.kind, IX_VACANCY);
    cr_assert_eq(ix_get_docno(t, IX_WORKER, model[1][1].docno, &w), 0);
    cr_assert_eq(w.kind, IX_WORKER);
    cr_assert(memcmp(v.id, "v001", 4) == 0);
    cr_assert(memcmp(w.id, "w001", 4) == 0);
    ix_read_end(t);
}

/* ---- match fields and terms ---- */

typedef struct listed {
    ix_record_t r[4];
    int n;
} listed_t;

static int
on_list(void *ctx, const ix_record_t *rec)
{
    listed_t *l = ctx;
    cr_assert_lt(l->n, 4);
    l->r[l->n++] = *rec;
    return 0;
}

Test(match_scan, match_fields_roundtrip_extremes)
{
    static const ix_match_t cases[] = {
        {.since = -1700000000, .expires = 4102444800, .headcount = 1000000,
         .wage_min = 100000000, .wage_max = 100000000, .birth_year = 2100,
         .education = 7, .age_min = 150, .age_max = 150,
         .priority_mask = 0xff},
        {.since = INT64_MIN, .expires = INT64_MAX, .headcount = UINT32_MAX,
         .wage_min = UINT32_MAX, .wage_max = UINT32_MAX,
         .birth_year = UINT16_MAX, .education = 255, .age_min = 255,
         .age_max = 255, .priority_mask = 0x80},
        {.since = -1, .expires = -1, .headcount = 1, .wage_min = 1,
         .birth_year = 1, .education = 1, .age_min = 1, .age_max = 1,
         .priority_mask = 1},
        {0},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    const char *occ[] = {"6-05-02-03"};
    uint32_t ol[] = {10};
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    for (int i = 0; i < n; i++) {
        char id[8];
        snprintf(id, sizeof id, "m%d", i);
        ix_doc_t d = {
            .kind = IX_VACANCY,
            .id = id,
            .id_len = (uint32_t)strlen(id),
            .region = {'1', '1', '0', '1', '0', '5'},
            .occupations = occ,
            .occupation_lens = ol,
            .n_occupations = 1,
            .matchable = true,
            .match = cases[i],
            .value = "v",
            .value_len = 1,
        };
        cr_assert_eq(ix_put(t, &d, 0, NULL), 0);
    }
    cr_assert_eq(ix_write_commit(t), 0);
    /* Read twice, the second time after reopening: what was read is the
     * stored bytes, not something cached. */
    for (int pass = 0; pass < 2; pass++) {
        cr_assert_eq(ix_read_begin(env, &t), 0);
        for (int i = 0; i < n; i++) {
            char id[8];
            snprintf(id, sizeof id, "m%d", i);
            ix_record_t a, b;
            cr_assert_eq(ix_get(t, IX_VACANCY, id, (uint32_t)strlen(id), &a),
                         0);
            const ix_match_t *w = &cases[i], *g = &a.match;
            cr_assert_eq(g->since, w->since, "case %d", i);
            cr_assert_eq(g->expires, w->expires, "case %d", i);
            cr_assert_eq(g->headcount, w->headcount, "case %d", i);
            cr_assert_eq(g->wage_min, w->wage_min, "case %d", i);
            cr_assert_eq(g->wage_max, w->wage_max, "case %d", i);
            cr_assert_eq(g->birth_year, w->birth_year, "case %d", i);
            cr_assert_eq(g->education, w->education, "case %d", i);
            cr_assert_eq(g->age_min, w->age_min, "case %d", i);
            cr_assert_eq(g->age_max, w->age_max, "case %d", i);
            cr_assert_eq(g->priority_mask, w->priority_mask, "case %d", i);
            cr_assert_eq(ix_get_docno(t, IX_VACANCY, a.docno, &b), 0);
            cr_assert(match_eq(&b.match, w), "case %d", i);
        }
        /* ix_list hands out the same fields. */
        listed_t l = {.n = 0};
        uint8_t cur[IX_CURSOR_MAX];
        size_t cl;
        ix_list_query_t q = {.kind = IX_VACANCY, .status = -1,
                             .category = -1, .limit = 4};
        cr_assert_eq(ix_list(t, &q, on_list, &l, cur, &cl), 0);
        cr_assert_eq(l.n, n);
        for (int i = 0; i < n; i++) {
            cr_assert(match_eq(&l.r[i].match, &cases[i]), "listed %d", i);
            cr_assert_eq(l.r[i].n_occupations, 1);
            cr_assert_eq(l.r[i].occupation_lens[0], 10);
        }
        ix_read_end(t);
        ix_close(env);
        env = jt_scratch_open(dir);
    }
}

Test(match_scan, record_terms_at_their_limits)
{
    /* 16 occupation codes and 64 skills of 1..64 bytes come back in the
     * order given, byte for byte. */
    static char occbuf[IX_OCCUPATIONS_MAX][16];
    static char skbuf[IX_SKILLS_MAX][IX_SKILL_ID_MAX + 1];
    const char *occ[IX_OCCUPATIONS_MAX];
    uint32_t ol[IX_OCCUPATIONS_MAX];
    ix_skill_t sk[IX_SKILLS_MAX];
    for (int i = 0; i < IX_OCCUPATIONS_MAX; i++) {
        snprintf(occbuf[i], sizeof occbuf[i], "%d-%02d-%02d-%02d", i % 9 + 1,
                 i, i * 3 % 100, i * 7 % 100);
        occ[i] = occbuf[i];
        ol[i] = (uint32_t)strlen(occbuf[i]);
    }
    for (int i = 0; i < IX_SKILLS_MAX; i++) {
        int len = i + 1;
        for (int j = 0; j < len; j++)
            skbuf[i][j] = (char)('a' + (i + j) % 26);
        sk[i].id = skbuf[i];
        sk[i].id_len = (uint32_t)len;
        sk[i].level = (uint8_t)(i % 5 + 1);
    }
    ix_doc_t d = {
        .kind = IX_WORKER,
        .id = "big",
        .id_len = 3,
        .region = {'4', '4', '0', '4', '0', '1'},
        .occupations = occ,
        .occupation_lens = ol,
        .n_occupations = IX_OCCUPATIONS_MAX,
        .matchable = true,
        .skills = sk,
        .n_skills = IX_SKILLS_MAX,
        .match = {.birth_year = 1990, .wage_min = 5000},
        .value = "value",
        .value_len = 5,
    };
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    cr_assert_eq(ix_put(t, &d, 0, NULL), 0);
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(ix_read_begin(env, &t), 0);
    ix_record_t r;
    cr_assert_eq(ix_get(t, IX_WORKER, "big", 3, &r), 0);
    cr_assert_eq(r.n_occupations, IX_OCCUPATIONS_MAX);
    for (int i = 0; i < IX_OCCUPATIONS_MAX; i++) {
        cr_assert_eq(r.occupation_lens[i], ol[i]);
        cr_assert(memcmp(r.occupations[i], occ[i], ol[i]) == 0);
    }
    cr_assert_eq(r.n_skills, IX_SKILLS_MAX);
    for (int i = 0; i < IX_SKILLS_MAX; i++) {
        cr_assert_eq(r.skills[i].id_len, sk[i].id_len);
        cr_assert(memcmp(r.skills[i].id, sk[i].id, sk[i].id_len) == 0);
        cr_assert_eq(r.skills[i].level, sk[i].level);
    }
    cr_assert_eq(r.match.birth_year, 1990);
    cr_assert_eq(r.match.wage_min, 5000);
    cr_assert_eq(r.value_len, 5);
    /* The longest skill id's postings are scannable in the county. */
    static hits_t h;
    h.n = 0;
    cr_assert_eq(ix_scan_skill(t, IX_WORKER, skbuf[63], 64, "440401", 6,
                               on_skill, &h),
                 0);
    cr_assert_eq(h.n, 1);
    cr_assert_eq(h.h[0].docno, r.docno);
    cr_assert_eq(h.h[0].level, sk[63].level);
    ix_read_end(t);
    verify_check();
}

/* ---- ix_check and the new postings ---- */

typedef void (*tamper_fn)(MDB_txn *, MDB_dbi);

typedef struct tamper_with {
    tamper_fn fn;
} tamper_with_t;

static void
apply_tamper(MDB_txn *txn, MDB_dbi dbi, void *ctx)
{
    ((const tamper_with_t *)ctx)->fn(txn, dbi);
}

static void
tamper_in(const char *dbi_name, tamper_fn fn)
{
    tamper_with_t w = {fn};
    jt_scratch_raw_edit(&env, dir, dbi_name, apply_tamper, &w);
}

static void
tamper(tamper_fn fn)
{
    tamper_in("match", fn);
}

/* Positions c at the first posting with tag and kind; its key in *k. */
static void
first_of(MDB_cursor *c, uint8_t tag, uint8_t kind, MDB_val *k, MDB_val *v)
{
    uint8_t p[2] = {tag, kind};
    k->mv_size = 2;
    k->mv_data = p;
    cr_assert_eq(mdb_cursor_get(c, k, v, MDB_SET_RANGE), 0);
    cr_assert(((uint8_t *)k->mv_data)[0] == tag &&
              ((uint8_t *)k->mv_data)[1] == kind);
}

static void
drop_first_minor(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    first_of(c, 'M', 'V', &k, &v);
    cr_assert_eq(mdb_cursor_del(c, 0), 0);
    mdb_cursor_close(c);
}

static void
change_first_level(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    first_of(c, 'K', 'W', &k, &v);
    cr_assert_eq(v.mv_size, 1 + 8 + 1 + 9, "rank + docno + level + worker brief");
    uint8_t val[32], key[128];
    memcpy(val, v.mv_data, v.mv_size);
    memcpy(key, k.mv_data, k.mv_size);
    val[1 + 8]++;
    /* A duplicate's value is its position: delete it, put the new one. */
    MDB_val nk = {k.mv_size, key}, nv = {v.mv_size, val};
    cr_assert_eq(mdb_cursor_del(c, 0), 0);
    cr_assert_eq(mdb_cursor_put(c, &nk, &nv, 0), 0);
    mdb_cursor_close(c);
}

/* Makes the brief of the first posting of tag and kind stale: its byte
 * at offset `at` of the value changes, as if a replace had not rewritten
 * it. */
static void
stale_brief(MDB_txn *txn, MDB_dbi dbi, uint8_t tag, uint8_t kind, size_t at)
{
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    first_of(c, tag, kind, &k, &v);
    uint8_t val[40], key[128];
    cr_assert_lt(at, v.mv_size);
    cr_assert_leq(v.mv_size, sizeof val);
    memcpy(val, v.mv_data, v.mv_size);
    memcpy(key, k.mv_data, k.mv_size);
    val[at] ^= 0x01;
    MDB_val nk = {k.mv_size, key}, nv = {v.mv_size, val};
    cr_assert_eq(mdb_cursor_del(c, 0), 0);
    cr_assert_eq(mdb_cursor_put(c, &nk, &nv, 0), 0);
    mdb_cursor_close(c);
}

/* A vacancy skill posting whose wage (brief offset 9, after rank, docno
 * and level) is stale. */
static void
stale_skill_wage(MDB_txn *txn, MDB_dbi dbi)
{
    stale_brief(txn, dbi, 'K', 'V', 1 + 8 + 1 + 9);
}

/* A worker minor-group posting whose open flag (brief offset 0, after
 * rank, docno and tail) is stale. */
static void
stale_minor_open(MDB_txn *txn, MDB_dbi dbi)
{
    stale_brief(txn, dbi, 'M', 'W', 1 + 8 + 3);
}

/* The postings of the first vacancy skill key lose their brief (rank,
 * docno and level only): every value under the key is of the wrong
 * width. */
static void
skill_without_brief(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    first_of(c, 'K', 'V', &k, &v);
    uint8_t key[128], vals[64][10];
    size_t n = 0, kl = k.mv_size;
    memcpy(key, k.mv_data, kl);
    MDB_val kk = {kl, key};
    int rc = mdb_cursor_get(c, &kk, &v, MDB_SET);
    for (; rc == 0; rc = mdb_cursor_get(c, &kk, &v, MDB_NEXT_DUP)) {
        cr_assert_lt(n, 64);
        memcpy(vals[n++], v.mv_data, 10);
    }
    cr_assert_eq(rc, MDB_NOTFOUND);
    kk.mv_size = kl;
    kk.mv_data = key;
    cr_assert_eq(mdb_del(txn, dbi, &kk, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        MDB_val nv = {10, vals[i]};
        cr_assert_eq(mdb_put(txn, dbi, &kk, &nv, 0), 0);
    }
    mdb_cursor_close(c);
}

/* Moves the first worker skill posting to another region: same number of
 * postings, but the one the doc calls for is gone. */
static void
move_first_skill(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    first_of(c, 'K', 'W', &k, &v);
    uint8_t key[128], val[32];
    size_t n = k.mv_size, vl = v.mv_size;
    memcpy(key, k.mv_data, n);
    memcpy(val, v.mv_data, vl);
    cr_assert_eq(mdb_cursor_del(c, 0), 0);
    mdb_cursor_close(c);
    /* The region ends the key. */
    key[n - 6] = '9';
    MDB_val nk = {n, key}, nv = {vl, val};
    cr_assert_eq(mdb_put(txn, dbi, &nk, &nv, 0), 0);
}

/* A minor posting for a docno that does not exist. */
static void
add_stray_minor(MDB_txn *txn, MDB_dbi dbi)
{
    uint8_t key[15] = {'M', 'W', '6', '-', '0', '5', '-', '0',
                       '2', '1', '1', '0', '1', '0', '5'};
    uint8_t val[21] = {0, 0, 0, 0, 0, 0, 0, 0x7f, 0x7f, '-', '0', '3', 1};
    MDB_val k = {15, key}, v = {21, val};
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
}

static int
check_now(char *rep, size_t len)
{
    ix_txn_t *t;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    int rc = ix_check(t, rep, len);
    ix_read_end(t);
    return rc;
}

Test(match_scan, check_finds_missing_minor_posting)
{
    srand(404);
    fill_model();
    char rep[512];
    cr_assert_eq(check_now(rep, sizeof rep), 0, "%s", rep);
    tamper(drop_first_minor);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "missing minor-group posting"), "%s", rep);
}

Test(match_scan, check_finds_wrong_skill_level)
{
    srand(405);
    fill_model();
    char rep[512];
    tamper(change_first_level);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "wrong value in skill posting"), "%s",
                       rep);
}

Test(match_scan, check_finds_skill_posting_in_wrong_region)
{
    srand(406);
    fill_model();
    char rep[512];
    tamper(move_first_skill);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "missing skill posting"), "%s", rep);
}

Test(match_scan, check_finds_stray_minor_posting)
{
    srand(407);
    fill_model();
    char rep[512];
    tamper(add_stray_minor);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "posting 'M' for missing docno 32639"),
                       "%s", rep);
}

Test(match_scan, check_finds_stale_skill_brief)
{
    srand(408);
    fill_model();
    char rep[512];
    tamper(stale_skill_wage);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "wrong value in skill posting"), "%s",
                       rep);
}

Test(match_scan, check_finds_stale_minor_brief)
{
    srand(409);
    fill_model();
    char rep[512];
    tamper(stale_minor_open);
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "wrong value in minor-group posting"),
                       "%s", rep);
}

Test(match_scan, scan_refuses_posting_without_brief)
{
    /* A value of the wrong width is damage, not a record to judge. */
    srand(410);
    fill_model();
    tamper(skill_without_brief);
    char rep[512];
    cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
    cr_assert_not_null(strstr(rep, "wrong value in skill posting"), "%s",
                       rep);
    ix_txn_t *t;
    static hits_t h;
    int rc = 0;
    cr_assert_eq(ix_read_begin(env, &t), 0);
    for (int s = 0; s < NSK; s++) {
        h.n = 0;
        h.stop_after = 0;
        int r = ix_scan_skill(t, IX_VACANCY, skills[s],
                              (uint32_t)strlen(skills[s]), "", 0, on_skill,
                              &h);
        cr_assert(r == 0 || r == -EIO, "%d", r);
        if (r == -EIO)
            rc++;
    }
    ix_read_end(t);
    cr_assert_eq(rc, 1, "exactly the damaged skill's scan fails");
}

/* The first vacancy doc with a skill gets that skill's id length set to
 * bad_len (its bytes are there: the doc grows by 128 bytes of value), and
 * its docno is kept. The doc's layout (index/doc.c): a 52-byte header with the
 * occupation and skill counts at 14 and 15, then each code as length and
 * bytes, then each skill as length, bytes and level. */
static uint8_t bad_len;
static uint64_t bad_docno;

static void
bad_skill_length(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *c;
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *d = v.mv_data;
        if (((const uint8_t *)k.mv_data)[0] == IX_VACANCY && d[15] > 0)
            break;
    }
    cr_assert_eq(rc, 0);
    uint8_t doc[4096] = {0}, key[16];
    cr_assert_leq(v.mv_size + 128, sizeof doc);
    memcpy(doc, v.mv_data, v.mv_size);
    memcpy(key, k.mv_data, k.mv_size);
    size_t at = 52, size = v.mv_size + 128;
    for (int i = 0; i < doc[14]; i++)
        at += 1 + doc[at];
    cr_assert_lt(at + 2 + bad_len, size);
    doc[at] = bad_len;
    bad_docno = 0;
    for (int i = 1; i < 9; i++)
        bad_docno = bad_docno << 8 | key[i];
    MDB_val nk = {k.mv_size, key}, nv = {size, doc};
    mdb_cursor_close(c);
    cr_assert_eq(mdb_put(txn, dbi, &nk, &nv, 0), 0);
}

Test(match_scan, doc_with_a_skill_id_out_of_bounds_is_malformed)
{
    /* Postings' keys are built from decoded docs: a skill id longer than
     * an id may be would not fit a key, and an empty one is no skill. */
    static const uint8_t lens[] = {0, IX_SKILL_ID_MAX + 1};
    for (size_t i = 0; i < sizeof lens; i++) {
        srand(411);
        fill_model();
        bad_len = lens[i];
        tamper_in("docs", bad_skill_length);
        char rep[512];
        cr_assert_eq(check_now(rep, sizeof rep), -EUCLEAN);
        cr_assert_not_null(strstr(rep, "malformed doc"), "%s", rep);
        ix_txn_t *t;
        ix_record_t rec;
        cr_assert_eq(ix_read_begin(env, &t), 0);
        cr_assert_eq(ix_get_docno(t, IX_VACANCY, bad_docno, &rec), -EIO);
        ix_read_end(t);
        jt_scratch_remove(env, dir);
        env = jt_scratch_new(dir, "ixscan");
    }
}

/* ---- briefs through replaces of one field ---- */

/* Scans every skill and the minor group of a one-record model and
 * compares each posting's brief with the model's; a record whose brief
 * is not open must have none. */
static void
brief_everywhere(ix_txn_t *t, const mdoc_t *m, const char *what)
{
    static hits_t h;
    ix_brief_t want;
    model_brief(m, &want);
    for (int j = 0; j < m->nsk; j++) {
        h.n = 0;
        h.stop_after = 0;
        const char *sk = skills[m->sk[j]];
        cr_assert_eq(ix_scan_skill(t, m->kind, sk, (uint32_t)strlen(sk),
                                   m->region, 4, on_skill, &h),
                     0);
        cr_assert_eq(h.n, want.open ? 1 : 0, "%s: skill %s", what, sk);
        if (!want.open)
            continue;
        cr_assert_eq(h.h[0].level, m->lvl[j]);
        same_brief(&h.h[0].brief, &want, what, j);
    }
    h.n = 0;
    cr_assert_eq(ix_scan_minor(t, m->kind, m->occ[0], m->region, 6,
                               on_minor, &h),
                 0);
    cr_assert_eq(h.n, want.open ? 1 : 0, "%s: minor group", what);
    if (want.open)
        same_brief(&h.h[0].brief, &want, what, -1);
}

Test(match_scan, brief_follows_every_field)
{
    for (int k = 0; k < 2; k++) {
        memset(model, 0, sizeof model);
        mdoc_t *m = &model[k][0];
        m->kind = k == 0 ? IX_VACANCY : IX_WORKER;
        strcpy(m->id, k == 0 ? "v1" : "w1");
        strcpy(m->region, "440305");
        m->nocc = 1;
        m->occ[0] = "6-05-02-03";
        m->nsk = 3;
        for (int j = 0; j < 3; j++) {
            m->sk[j] = j * 2;
            m->lvl[j] = (uint8_t)(j + 1);
        }
        m->matchable = true;
        m->match.headcount = 2;
        m->match.wage_min = 4000;
        m->match.wage_max = 9000;
        m->match.birth_year = 1990;
        m->match.education = 3;
        m->category = 2;
        ix_txn_t *t;
        cr_assert_eq(ix_write_begin(env, &t), 0);
        put_doc(t, m);
        cr_assert_eq(ix_write_commit(t), 0);
        ix_brief_t b;
        model_brief(m, &b);
        cr_assert_eq(b.occupation, k == 0 ? 6050203u : 0u);
        cr_assert_eq(b.open, 1);
        /* Each change, then its reversal, in its own transaction; the
         * postings are checked inside it (queued changes) and after. */
        for (int step = 0; step < 24; step++) {
            ix_match_t *x = &m->match;
            switch (step / 2) {
            case 0: m->filled = step % 2 ? 0 : 2; break;   /* full */
            case 1: m->filled = step % 2 ? 0 : 1; break;   /* still open */
            case 2: m->matchable = step % 2; break;
            case 3: x->wage_max = step % 2 ? 9000 : 0;
                    x->wage_min = step % 2 ? 4000 : 4001; break;
            case 4: x->expires = step % 2 ? 0 : -1; break;
            case 5: x->education = step % 2 ? 3 : 255; break;
            case 6: x->age_min = step % 2 ? 0 : 18;
                    x->age_max = step % 2 ? 0 : 60; break;
            case 7: x->priority_mask = step % 2 ? 0 : 0x80; break;
            case 8: x->birth_year = step % 2 ? 1990 : 2005; break;
            case 9: m->category = step % 2 ? 2 : 4; break;
            case 10: x->headcount = step % 2 ? 2 : 0; break;
            default: m->occ[0] = step % 2 ? "6-05-02-03" : "6-05-02-04";
                     break;
            }
            cr_assert_eq(ix_write_begin(env, &t), 0);
            put_doc(t, m);
            brief_everywhere(t, m, "in the write transaction");
            cr_assert_eq(ix_write_commit(t), 0);
            cr_assert_eq(ix_read_begin(env, &t), 0);
            brief_everywhere(t, m, "after commit");
            ix_read_end(t);
            verify_check();
        }
        model_brief(m, &b);
        cr_assert_eq(b.open, 1, "every change was reversed");
        cr_assert_eq(ix_write_begin(env, &t), 0);
        cr_assert_eq(ix_delete(t, m->kind, m->id, (uint32_t)strlen(m->id), 0),
                     0);
        cr_assert_eq(ix_write_commit(t), 0);
    }
}

/* Several replaces of one record inside one write transaction queue a
 * delete and a put per changed posting; applied in posting order, the
 * last change must win, including a change back to what is stored. */
Test(match_scan, replaces_in_one_transaction_leave_one_posting)
{
    memset(model, 0, sizeof model);
    mdoc_t *m = &model[0][0];
    m->kind = IX_VACANCY;
    strcpy(m->id, "v1");
    strcpy(m->region, "440305");
    m->nocc = 1;
    m->occ[0] = "6-05-02-03";
    m->nsk = 2;
    m->sk[0] = 1;
    m->sk[1] = 4;
    m->lvl[0] = 2;
    m->lvl[1] = 3;
    m->matchable = true;
    m->match.headcount = 2;
    m->match.wage_max = 9000;
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    put_doc(t, m);
    cr_assert_eq(ix_write_commit(t), 0);
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(ix_write_begin(env, &t), 0);
        m->match.wage_max = 9100;              /* a new brief */
        put_doc(t, m);
        strcpy(m->region, "440306");           /* another county */
        m->lvl[0] = 5;                         /* another level */
        put_doc(t, m);
        strcpy(m->region, "440305");           /* back */
        put_doc(t, m);
        if (round == 1) {
            m->match.wage_max = 9000;          /* all back: no change */
            m->lvl[0] = 2;
            put_doc(t, m);
        }
        if (round == 2) {
            /* Gone and back in the same transaction. */
            cr_assert_eq(ix_delete(t, m->kind, m->id, 2, 0), 0);
            m->live = false;   /* the record comes back under a new docno */
            put_doc(t, m);
        }
        brief_everywhere(t, m, "in the write transaction");
        cr_assert_eq(ix_write_commit(t), 0);
        cr_assert_eq(ix_read_begin(env, &t), 0);
        brief_everywhere(t, m, "after commit");
        static hits_t h;
        h.n = 0;
        h.stop_after = 0;
        cr_assert_eq(ix_scan_skill(t, IX_VACANCY, skills[m->sk[0]],
                                   (uint32_t)strlen(skills[m->sk[0]]), "", 0,
                                   on_skill, &h),
                     0);
        cr_assert_eq(h.n, 1, "round %d: one posting nationally", round);
        cr_assert_eq(h.h[0].level, m->lvl[0], "round %d: the level", round);
        ix_read_end(t);
        verify_check();
    }
}

/* One county's group of a term, of records of every education in turn:
 * the walk hands it in the order of match rank then docno (split in runs
 * when it is longer than one); a walk opened for a probe's education gets
 * exactly the records rule 4 admits, and taking the group, reading it
 * whole and looking postings up by rank and docno all give each of them
 * once. */
static void
rank_cut_group(int N, const char *county)
{
    enum { N_MAX = 700 };
    static mdoc_t big[2][N_MAX];
    cr_assert_leq(N, N_MAX);
    ix_txn_t *t;
    cr_assert_eq(ix_write_begin(env, &t), 0);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < N; i++) {
            mdoc_t *m = &big[k][i];
            *m = (mdoc_t){.kind = k ? IX_WORKER : IX_VACANCY, .nocc = 1, .nsk = 1,
                          .matchable = true};
            snprintf(m->id, sizeof m->id, "b%s-%d", county, i);
            strcpy(m->region, county);
            m->occ[0] = k ? wrk_codes[i % NWC] : vac_codes[i % NVC];
            m->sk[0] = 0;
            m->lvl[0] = (uint8_t)(1 + i % 5);
            m->match.headcount = 1;
            m->match.education = (uint8_t)(i * 5 % 8);
            m->match.wage_max = m->match.wage_min = (uint32_t)(3000 + i);
            put_doc(t, m);
        }
    cr_assert_eq(ix_write_commit(t), 0);
    cr_assert_eq(ix_read_begin(env, &t), 0);
    static hits_t h;
    for (int k = 0; k < 2; k++) {
        uint8_t kind = k ? IX_WORKER : IX_VACANCY;
        /* The probe's education: a worker's (vacancies requiring at most
         * it), a vacancy's minimum (workers holding at least it); 8 for
         * every record. */
        for (int edu = 0; edu <= 8; edu++) {
            uint8_t max_rank = edu == 8 ? IX_RANK_ANY : ix_match_rank(kind, (uint8_t)edu);
            /* The records admitted, in rank then docno (put) order. */
            int want[N_MAX], n_want = 0;
            for (int r = 0; r < 256; r++)
                for (int i = 0; i < N; i++)
                    if (ix_match_rank(kind, big[k][i].match.education) == r && r <= max_rank)
                        want[n_want++] = i;
            /* Rule 4 as the contract words it. */
            int admitted = 0;
            for (int i = 0; i < N; i++) {
                int e = big[k][i].match.education;
                admitted += edu == 8 || (k ? e >= edu : e <= edu);
            }
            cr_assert_eq(n_want, admitted, "%c, education %d", kind, edu);
            for (int how = 0; how < 2; how++) {
                ix_groups_t *g;
                h.n = h.runs = h.stop_after = 0;
                cr_assert_eq(ix_groups_skill(t, kind, skills[0], (uint32_t)strlen(skills[0]),
                                             county, 6, max_rank, on_skill, &h, &g), 0);
                cr_assert_eq(memcmp(ix_groups_county(g), county, 6), 0);
                cr_assert_eq(how ? ix_groups_read(g, county) : ix_groups_take(g), 0);
                cr_assert_eq(h.n, n_want, "%c, education %d: %d postings, want %d", kind, edu,
                             h.n, n_want);
                if (n_want > IX_SKILL_RUN_MAX)
                    cr_assert_geq(h.runs, (n_want + IX_SKILL_RUN_MAX - 1) / IX_SKILL_RUN_MAX);
                for (int j = 0; j < n_want; j++) {
                    const mdoc_t *m = &big[k][want[j]];
                    ix_brief_t b;
                    model_brief(m, &b);
                    cr_assert_eq(h.h[j].docno, m->docno, "%c posting %d", kind, j);
                    cr_assert_eq(h.h[j].level, m->lvl[0]);
                    cr_assert_eq(memcmp(h.h[j].region, county, 6), 0);
                    cr_assert_eq(memcmp(&h.h[j].brief, &b, sizeof b), 0,
                                 "%c posting %d: brief", kind, j);
                }
                /* Look-ups find the admitted records, and no other. */
                for (int i = 0; i < N; i += 37) {
                    uint8_t rank = ix_match_rank(kind, big[k][i].match.education);
                    h.n = 0;
                    cr_assert_eq(ix_groups_find(g, county, rank, big[k][i].docno), 0);
                    cr_assert_eq(h.n, rank <= max_rank ? 1 : 0, "%c doc %d", kind, i);
                    if (h.n == 1) {
                        cr_assert_eq(h.h[0].docno, big[k][i].docno);
                        cr_assert_eq(h.h[0].level, big[k][i].lvl[0]);
                    }
                    /* Under another rank, nothing. */
                    h.n = 0;
                    cr_assert_eq(ix_groups_find(g, county, (uint8_t)(rank ^ 1), big[k][i].docno),
                                 0);
                    cr_assert_eq(h.n, 0);
                }
                ix_groups_close(g);
            }
        }
    }
    ix_read_end(t);
}

/* A group over several pages, the rank cutting it inside a page or at a
 * page's end. */
Test(match_scan, a_group_over_several_pages_comes_in_runs)
{
    rank_cut_group(700, "440305");
}

/* A group held in its key's node (a sub-page), and a key with a single
 * value, which LMDB keeps without duplicates. */
Test(match_scan, small_groups_are_cut_by_rank_too)
{
    rank_cut_group(5, "440306");
    rank_cut_group(1, "440307");
}
