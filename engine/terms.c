/* terms.c - sorted skill and minor-group terms of parties (terms.h). */
#include "terms.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Characters of an occupation code naming its minor group ("6-05-02"). */
#define MINOR_LEN 7

struct en_term {
    const char *p;
    uint32_t len;
    uint32_t index;
    uint8_t tag;             /* 'K' skill, 'M' minor group */
};

static int
term_cmp(uint8_t tag, const char *p, uint32_t len, const en_term_t *t)
{
    if (tag != t->tag)
        return tag < t->tag ? -1 : 1;
    uint32_t n = len < t->len ? len : t->len;
    int c = memcmp(p, t->p, n);
    if (c != 0)
        return c;
    return len < t->len ? -1 : len > t->len;
}

static int
term_sort(const void *a, const void *b)
{
    const en_term_t *x = a, *y = b;
    int c = term_cmp(x->tag, x->p, x->len, y);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int
push(en_terms_t *ts, en_term_t t)
{
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 256;
        en_term_t *nt = realloc(ts->t, cap * sizeof *nt);
        if (!nt)
            return -ENOMEM;
        ts->t = nt;
        ts->cap = cap;
    }
    ts->t[ts->n++] = t;
    return 0;
}

int
en_terms_add(en_terms_t *ts, const en_party_t *p, uint32_t index)
{
    for (uint32_t i = 0; i < p->n_skills; i++)
        if (push(ts, (en_term_t){p->skills[i].id, p->skills[i].id_len, index, 'K'}) != 0)
            return -ENOMEM;
    for (uint32_t i = 0; i < p->n_occ; i++)
        if (p->occ_len[i] >= MINOR_LEN &&
            push(ts, (en_term_t){p->occ[i], MINOR_LEN, index, 'M'}) != 0)
            return -ENOMEM;
    return 0;
}

void
en_terms_sort(en_terms_t *ts)
{
    if (ts->n > 1)
        qsort(ts->t, ts->n, sizeof *ts->t, term_sort);
}

void
en_terms_free(en_terms_t *ts)
{
    free(ts->t);
    memset(ts, 0, sizeof *ts);
}

/* The first term not below (tag, p, len). */
static size_t
lower(const en_terms_t *ts, uint8_t tag, const char *p, uint32_t len)
{
    size_t lo = 0, hi = ts->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (term_cmp(tag, p, len, &ts->t[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint32_t
collect(const en_terms_t *ts, uint8_t tag, const char *p, uint32_t len,
        uint32_t *mark, uint32_t stamp, uint32_t *out, uint32_t n)
{
    for (size_t i = lower(ts, tag, p, len);
         i < ts->n && term_cmp(tag, p, len, &ts->t[i]) == 0; i++) {
        uint32_t x = ts->t[i].index;
        if (mark[x] != stamp) {
            mark[x] = stamp;
            out[n++] = x;
        }
    }
    return n;
}

uint32_t
en_terms_candidates(const en_terms_t *ts, const en_party_t *p, uint32_t *mark,
                    uint32_t stamp, uint32_t *out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->n_skills; i++)
        n = collect(ts, 'K', p->skills[i].id, p->skills[i].id_len, mark, stamp, out, n);
    for (uint32_t i = 0; i < p->n_occ; i++)
        if (p->occ_len[i] >= MINOR_LEN)
            n = collect(ts, 'M', p->occ[i], MINOR_LEN, mark, stamp, out, n);
    return n;
}
