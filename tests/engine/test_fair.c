/* test_fair.c - deferred acceptance (engine/fair.h) on random small
 * instances, checked against every stable matching found by brute force:
 * the result must be stable and, for every worker, at least as good as
 * that worker's partner in any stable matching (worker-optimal). Scores
 * come from a small set so that ties (broken by index) are common. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fair.h"

#define MAX_W 6
#define MAX_V 4

typedef struct instance {
    uint32_t nw, nv;
    uint32_t capacity[MAX_V];
    bool acceptable[MAX_W][MAX_V];
    double ws[MAX_W][MAX_V], vs[MAX_W][MAX_V];
} instance_t;

static uint64_t state = 42;

static unsigned
rn(unsigned n)
{
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((state >> 33) % n);
}

/* With opposed, vacancies tend to want the workers who want them least,
 * which is when several stable matchings exist and optimality matters. */
static void
random_instance(instance_t *in, bool opposed)
{
    memset(in, 0, sizeof *in);
    in->nw = 2 + rn(MAX_W - 1);
    in->nv = 2 + rn(MAX_V - 1);
    for (uint32_t v = 0; v < in->nv; v++)
        in->capacity[v] = rn(5) == 0 ? rn(3) : 1;
    for (uint32_t w = 0; w < in->nw; w++)
        for (uint32_t v = 0; v < in->nv; v++) {
            in->acceptable[w][v] = rn(4) != 0;
            in->ws[w][v] = rn(8) * 0.25;
            in->vs[w][v] = opposed ? 2 - in->ws[w][v] + rn(3) * 0.25 : rn(8) * 0.25;
        }
}

/* The worker's order: higher score, then lower vacancy index. */
static bool
worker_prefers(const instance_t *in, uint32_t w, uint32_t a, uint32_t b)
{
    if (in->ws[w][a] != in->ws[w][b])
        return in->ws[w][a] > in->ws[w][b];
    return a < b;
}

static bool
vacancy_prefers(const instance_t *in, uint32_t v, uint32_t a, uint32_t b)
{
    if (in->vs[a][v] != in->vs[b][v])
        return in->vs[a][v] > in->vs[b][v];
    return a < b;
}

/* Lists built independently of the engine's builder. */
static void
make_prefs(const instance_t *in, en_fair_prefs_t *p)
{
    memset(p, 0, sizeof *p);
    p->n_workers = in->nw;
    p->n_vacancies = in->nv;
    p->capacity = calloc(MAX_V, sizeof *p->capacity);
    p->start = calloc(MAX_W + 1, sizeof *p->start);
    p->prefs = calloc(MAX_W * MAX_V, sizeof *p->prefs);
    cr_assert(p->capacity && p->start && p->prefs);
    memcpy(p->capacity, in->capacity, sizeof in->capacity);
    uint32_t n = 0;
    for (uint32_t w = 0; w < in->nw; w++) {
        p->start[w] = n;
        uint32_t list[MAX_V], k = 0;
        for (uint32_t v = 0; v < in->nv; v++)
            if (in->acceptable[w][v])
                list[k++] = v;
        for (uint32_t i = 1; i < k; i++)      /* insertion sort, best first */
            for (uint32_t j = i; j > 0 && worker_prefers(in, w, list[j], list[j - 1]); j--) {
                uint32_t t = list[j];
                list[j] = list[j - 1];
                list[j - 1] = t;
            }
        for (uint32_t i = 0; i < k; i++)
            p->prefs[n++] = (en_fair_pref_t){w, list[i], in->ws[w][list[i]], in->vs[w][list[i]]};
    }
    p->start[in->nw] = n;
}

/* match[w] = vacancy or -1. */
static bool
is_stable(const instance_t *in, const int *match)
{
    uint32_t held[MAX_V] = {0};
    for (uint32_t w = 0; w < in->nw; w++)
        if (match[w] >= 0) {
            if (!in->acceptable[w][match[w]])
                return false;
            held[match[w]]++;
        }
    for (uint32_t v = 0; v < in->nv; v++)
        if (held[v] > in->capacity[v])
            return false;
    for (uint32_t w = 0; w < in->nw; w++)
        for (uint32_t v = 0; v < in->nv; v++) {
            if (!in->acceptable[w][v] || match[w] == (int)v)
                continue;
            if (match[w] >= 0 && !worker_prefers(in, w, v, (uint32_t)match[w]))
                continue;
            if (held[v] < in->capacity[v])
                return false;              /* a free place w wants */
            for (uint32_t o = 0; o < in->nw; o++)
                if (match[o] == (int)v && vacancy_prefers(in, v, w, o))
                    return false;          /* v would rather have w */
        }
    return true;
}

/* Calls back every stable matching. */
static void
each_stable(const instance_t *in, int *match, uint32_t w,
            void (*cb)(const instance_t *, const int *, void *), void *ctx)
{
    if (w == in->nw || w == MAX_W) {  /* nw <= MAX_W; the second test tells -O3 */
        if (is_stable(in, match))
            cb(in, match, ctx);
        return;
    }
    for (int v = -1; v < (int)in->nv; v++) {
        if (v >= 0 && !in->acceptable[w][v])
            continue;
        match[w] = v;
        each_stable(in, match, w + 1, cb, ctx);
    }
}

typedef struct check {
    const int *da;
    unsigned n_stable;
} check_t;

static void
no_worker_does_better(const instance_t *in, const int *m, void *ctx)
{
    check_t *c = ctx;
    c->n_stable++;
    for (uint32_t w = 0; w < in->nw; w++) {
        if (m[w] < 0 || m[w] == c->da[w])
            continue;
        cr_assert(c->da[w] >= 0 && worker_prefers(in, w, (uint32_t)c->da[w], (uint32_t)m[w]),
                  "worker %u does better (vacancy %d) in another stable matching than %d",
                  w, m[w], c->da[w]);
    }
}

Test(fair, deferred_acceptance_is_stable_and_worker_optimal)
{
    unsigned assigned_total = 0, contested = 0;
    for (int round = 0; round < 400; round++) {
        instance_t in;
        random_instance(&in, round % 2 == 1);
        en_fair_prefs_t p;
        make_prefs(&in, &p);
        uint32_t assigned[MAX_W];
        cr_assert_eq(en_fair_allocate(&p, assigned), 0);
        int da[MAX_W];
        for (uint32_t w = 0; w < in.nw; w++) {
            da[w] = -1;
            if (assigned[w] == EN_FAIR_NONE)
                continue;
            cr_assert_lt(assigned[w], p.start[in.nw]);
            cr_assert_eq(p.prefs[assigned[w]].worker, w, "pair %u is not worker %u's", assigned[w], w);
            da[w] = (int)p.prefs[assigned[w]].vacancy;
            assigned_total++;
        }
        cr_assert(is_stable(&in, da), "round %d: the result is not stable", round);
        int m[MAX_W];
        check_t c = {.da = da};
        each_stable(&in, m, 0, no_worker_does_better, &c);
        cr_assert_geq(c.n_stable, 1, "round %d: its own result was not found stable", round);
        contested += c.n_stable > 1;
        en_fair_prefs_free(&p);
    }
    /* The instances were not trivial. */
    cr_assert_gt(assigned_total, 400);
    cr_assert_gt(contested, 20, "only %u instances had several stable matchings", contested);
}

Test(fair, vacancy_without_places_takes_nobody)
{
    instance_t in;
    memset(&in, 0, sizeof in);
    in.nw = 2;
    in.nv = 2;
    in.capacity[0] = 0;
    in.capacity[1] = 1;
    for (uint32_t w = 0; w < 2; w++)
        for (uint32_t v = 0; v < 2; v++) {
            in.acceptable[w][v] = true;
            in.ws[w][v] = v == 0 ? 3 : 1;
            in.vs[w][v] = w == 1 ? 2 : 1;
        }
    en_fair_prefs_t p;
    make_prefs(&in, &p);
    uint32_t assigned[2];
    cr_assert_eq(en_fair_allocate(&p, assigned), 0);
    /* Both want vacancy 0, which has no place; vacancy 1 prefers worker 1. */
    cr_assert_eq(assigned[0], EN_FAIR_NONE);
    cr_assert_neq(assigned[1], EN_FAIR_NONE);
    cr_assert_eq(p.prefs[assigned[1]].vacancy, 1);
    en_fair_prefs_free(&p);
}
