/* fair.c - job-fair preference lists and deferred acceptance (fair.h). */
#include "fair.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "match_rules.h"
#include "record.h"
#include "terms.h"

/* ---- preference lists ------------------------------------------------- */

typedef struct builder {
    en_fair_prefs_t *out;
    size_t cap;
    en_terms_t terms;        /* the vacancies' */
    uint32_t *mark;          /* per vacancy: 1 + the worker that saw it */
    uint32_t *cand;
    uint32_t n_cand;
} builder_t;

static int
push_pref(builder_t *b, const en_fair_pref_t *pref)
{
    en_fair_prefs_t *o = b->out;
    size_t n = o->start[o->n_workers];
    if (n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        en_fair_pref_t *np = realloc(o->prefs, cap * sizeof *np);
        if (!np)
            return -ENOMEM;
        o->prefs = np;
        b->cap = cap;
    }
    o->prefs[n] = *pref;
    o->start[o->n_workers] = (uint32_t)(n + 1);
    return 0;
}

/* The worker's order: higher score first, then lower vacancy index (id). */
static int
worker_order(const void *a, const void *b)
{
    const en_fair_pref_t *x = a, *y = b;
    int order = en_score_order(x->worker_score, y->worker_score);
    if (order != 0)
        return order;
    return x->vacancy < y->vacancy ? -1 : x->vacancy > y->vacancy;
}

int
en_fair_build(ix_txn_t *txn, const en_party_t *workers, uint32_t n_workers,
              const en_party_t *vacancies, uint32_t n_vacancies, int scope,
              int64_t as_of, en_fair_prefs_t *out)
{
    memset(out, 0, sizeof *out);
    builder_t b = {.out = out};
    double *vidf = NULL;
    uint32_t *vidf_at = NULL;
    int rc = -ENOMEM;
    out->n_vacancies = n_vacancies;
    out->capacity = calloc(n_vacancies + 1, sizeof *out->capacity);
    out->start = calloc((size_t)n_workers + 1, sizeof *out->start);
    b.mark = calloc(n_vacancies + 1, sizeof *b.mark);
    b.cand = malloc((n_vacancies + 1) * sizeof *b.cand);
    vidf_at = malloc((n_vacancies + 1) * sizeof *vidf_at);
    if (!out->capacity || !out->start || !b.mark || !b.cand || !vidf_at)
        goto fail;
    /* idf of each vacancy's skills over the workers (the match.workers
     * side), packed one vacancy after another. */
    size_t n_vskills = 0;
    for (uint32_t v = 0; v < n_vacancies; v++) {
        vidf_at[v] = (uint32_t)n_vskills;
        n_vskills += vacancies[v].n_skills;
    }
    if (!(vidf = malloc((n_vskills + 1) * sizeof *vidf)))
        goto fail;
    for (uint32_t v = 0; v < n_vacancies; v++) {
        const en_party_t *p = &vacancies[v];
        /* Places count only while the vacancy takes applicants (rule 1). */
        int64_t open = (int64_t)p->m.headcount - (int64_t)p->filled;
        bool taking = p->status == PR_VACANCY_OPEN && (p->m.expires == 0 || p->m.expires > as_of);
        out->capacity[v] = taking && open > 0 ? (uint32_t)open : 0;
        if ((rc = en_probe_idf(txn, p, IX_WORKER, vidf + vidf_at[v])) != 0)
            goto fail;
    }
    for (uint32_t v = 0; v < n_vacancies; v++)
        if ((rc = en_terms_add(&b.terms, &vacancies[v], v)) != 0)
            goto fail;
    en_terms_sort(&b.terms);

    double widf[IX_SKILLS_MAX];
    for (uint32_t w = 0; w < n_workers; w++) {
        const en_party_t *wp = &workers[w];
        out->n_workers = w;
        out->start[w + 1] = out->start[w];
        if (wp->status != PR_WORKER_AVAILABLE)
            continue;
        if ((rc = en_probe_idf(txn, wp, IX_VACANCY, widf)) != 0)
            goto fail;
        b.n_cand = en_terms_candidates(&b.terms, wp, b.mark, w + 1, b.cand);
        out->pairs_scored += b.n_cand;
        out->n_workers = w + 1;
        out->start[w + 1] = out->start[w];
        for (uint32_t c = 0; c < b.n_cand; c++) {
            uint32_t v = b.cand[c];
            const en_party_t *vp = &vacancies[v];
            if (!en_rules_hold(wp, vp, true, scope, as_of))
                continue;
            bool rule6;
            en_fair_pref_t pref = {.worker = w, .vacancy = v};
            pref.worker_score = en_score_pair(wp, vp, wp, widf, NULL, &rule6);
            if (!rule6)
                continue;
            pref.vacancy_score = en_score_pair(wp, vp, vp, vidf + vidf_at[v], NULL, &rule6);
            if ((rc = push_pref(&b, &pref)) != 0)
                goto fail;
        }
        if (out->start[w + 1] > out->start[w])  /* prefs is NULL while empty */
            qsort(out->prefs + out->start[w], out->start[w + 1] - out->start[w],
                  sizeof *out->prefs, worker_order);
    }
    out->n_workers = n_workers;
    rc = 0;
    goto done;
fail:
    en_fair_prefs_free(out);
done:
    en_terms_free(&b.terms);
    free(b.mark);
    free(b.cand);
    free(vidf);
    free(vidf_at);
    return rc;
}

void
en_fair_prefs_free(en_fair_prefs_t *p)
{
    free(p->capacity);
    free(p->start);
    free(p->prefs);
    memset(p, 0, sizeof *p);
}

/* ---- deferred acceptance ---------------------------------------------- */

bool
en_fair_vacancy_prefers(double a, uint32_t wa, double b, uint32_t wb)
{
    int order = en_score_order(a, b);
    return order != 0 ? order < 0 : wa < wb;
}

/* Each vacancy's tentatively held pairs form a heap whose root is the
 * pair it wants least, the one to let go when a better worker proposes. */
typedef struct held {
    const en_fair_pref_t *prefs;
    uint32_t *heap;          /* pair indices */
    uint32_t n, cap;
} held_t;

static bool
held_worse(const held_t *h, uint32_t a, uint32_t b)
{
    const en_fair_pref_t *x = &h->prefs[a], *y = &h->prefs[b];
    return en_fair_vacancy_prefers(y->vacancy_score, y->worker,
                                   x->vacancy_score, x->worker);
}

static void
held_sift_down(held_t *h, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && held_worse(h, h->heap[l], h->heap[m]))
            m = l;
        if (r < h->n && held_worse(h, h->heap[r], h->heap[m]))
            m = r;
        if (m == i)
            return;
        uint32_t t = h->heap[i];
        h->heap[i] = h->heap[m];
        h->heap[m] = t;
        i = m;
    }
}

static void
held_push(held_t *h, uint32_t pair)
{
    uint32_t i = h->n++;
    h->heap[i] = pair;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!held_worse(h, h->heap[i], h->heap[parent]))
            break;
        uint32_t t = h->heap[i];
        h->heap[i] = h->heap[parent];
        h->heap[parent] = t;
        i = parent;
    }
}

int
en_fair_allocate(const en_fair_prefs_t *p, uint32_t *assigned)
{
    uint32_t nw = p->n_workers, nv = p->n_vacancies;
    size_t n_pairs = p->start[nw];
    held_t *held = calloc((size_t)nv + 1, sizeof *held);
    uint32_t *next = malloc(((size_t)nw + 1) * sizeof *next);
    uint32_t *free_w = malloc(((size_t)nw + 1) * sizeof *free_w);
    uint32_t *slots = NULL;
    int rc = -ENOMEM;
    if (!held || !next || !free_w)
        goto done;
    /* A vacancy never holds more pairs than it has places or proposers. */
    for (size_t e = 0; e < n_pairs; e++)
        held[p->prefs[e].vacancy].cap++;
    size_t n_slots = 0;
    for (uint32_t v = 0; v < nv; v++) {
        if (held[v].cap > p->capacity[v])
            held[v].cap = p->capacity[v];
        n_slots += held[v].cap;
    }
    if (!(slots = malloc((n_slots + 1) * sizeof *slots)))
        goto done;
    n_slots = 0;
    for (uint32_t v = 0; v < nv; v++) {
        held[v].prefs = p->prefs;
        held[v].heap = slots + n_slots;
        n_slots += held[v].cap;
    }
    uint32_t n_free = 0;
    for (uint32_t w = nw; w-- > 0;) {
        assigned[w] = EN_FAIR_NONE;
        next[w] = p->start[w];
        free_w[n_free++] = w;
    }
    while (n_free > 0) {
        uint32_t w = free_w[--n_free];
        while (next[w] < p->start[w + 1]) {
            uint32_t e = next[w]++;
            held_t *h = &held[p->prefs[e].vacancy];
            if (h->n < h->cap) {
                held_push(h, e);
                assigned[w] = e;
                break;
            }
            if (h->cap == 0 || !held_worse(h, h->heap[0], e))
                continue;
            uint32_t loser = p->prefs[h->heap[0]].worker;
            h->heap[0] = e;
            held_sift_down(h, 0);
            assigned[w] = e;
            assigned[loser] = EN_FAIR_NONE;
            free_w[n_free++] = loser;
            break;
        }
    }
    rc = 0;
done:
    free(held);
    free(next);
    free(free_w);
    free(slots);
    return rc;
}
