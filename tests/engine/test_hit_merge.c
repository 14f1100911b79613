/* test_hit_merge.c - the second round of a federated match as the asking
 * node makes it one list: against a model network in which this node's
 * copies of the peers' vacancies lag behind them, the merged answer,
 * ranked again as deep as en_fed_hits_deeper asks, is the union's best
 * limit exactly. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hit_merge.h"
#include "match.h"

/* Participants: 0 (this node, holding its own vacancies and copies of
 * everyone else's), 1 and 2 (peers holding their own). Origin 3 is a node
 * that is not asked: only this node's copies stand for it. */
#define NODES 4
#define PER_ORIGIN 12

static const char *const node_name[NODES] = {"here", "peer-1", "peer-2", "elsewhere"};

typedef struct vacancy {
    char id[16];
    int origin;
    double score;    /* < 0: no match (closed, filled, or not there) */
} vacancy_t;

/* The vacancies as their origins hold them, and as this node's copies. */
static vacancy_t truth[NODES * PER_ORIGIN], copy[NODES * PER_ORIGIN];

static int
cmp_ranked(const void *a, const void *b)
{
    const vacancy_t *x = a, *y = b;
    int order = en_score_order(x->score, y->score);
    return order != 0 ? order : strcmp(x->id, y->id);
}

/* Participant from's best depth over store, held where keep says, as hits
 * appended to out. */
static uint32_t
rank(const vacancy_t *store, bool (*keep)(const vacancy_t *, int), int from, uint32_t depth,
     en_fed_hit_t *out)
{
    vacancy_t held[NODES * PER_ORIGIN];
    uint32_t n = 0;
    for (int i = 0; i < NODES * PER_ORIGIN; i++)
        if (store[i].score >= 0 && keep(&store[i], from))
            held[n++] = store[i];
    qsort(held, n, sizeof *held, cmp_ranked);
    if (n > depth)
        n = depth;
    for (uint32_t i = 0; i < n; i++) {
        out[i] = (en_fed_hit_t){.score = held[i].score, .from = from};
        snprintf(out[i].id, sizeof out[i].id, "%.15s", held[i].id);
        snprintf(out[i].origin, sizeof out[i].origin, "%.15s", node_name[held[i].origin]);
    }
    return n;
}

static bool
own(const vacancy_t *v, int node)
{
    return v->origin == node;
}

static bool
anything(const vacancy_t *v, int node)
{
    (void)v, (void)node;
    return true;
}

static double
random_score(void)
{
    /* Few values, so that ties (ranked by id) are common. */
    return rand() % 4 == 0 ? -1 : (double)(rand() % 9);
}

Test(hit_merge, lagging_copies_never_cost_the_union_a_match)
{
    srand(20261127);
    unsigned deepened = 0, short_without = 0;
    for (int round = 0; round < 3000; round++) {
        for (int o = 0; o < NODES; o++)
            for (int i = 0; i < PER_ORIGIN; i++) {
                vacancy_t *t = &truth[o * PER_ORIGIN + i], *c = &copy[o * PER_ORIGIN + i];
                snprintf(t->id, sizeof t->id, "%c-%02d", 'a' + o, i);
                t->origin = o;
                t->score = random_score();
                *c = *t;
                /* A copy here of a peer's vacancy lags now and then. */
                if ((o == 1 || o == 2) && rand() % 5 == 0)
                    c->score = random_score();
            }
        uint32_t limit = 1 + (uint32_t)(rand() % 15);
        const char *answered[3] = {node_name[0], node_name[1], node_name[2]};

        en_fed_hit_t hits[3 * NODES * PER_ORIGIN];
        uint32_t n = 0;
        for (int p = 1; p <= 2; p++)
            n += rank(truth, own, p, limit, hits + n);
        uint32_t peers = n;
        n += rank(copy, anything, 0, limit, hits + n);

        /* Without ranking again: */
        en_fed_hit_t once[3 * NODES * PER_ORIGIN];
        memcpy(once, hits, n * sizeof *hits);
        uint32_t n_once = en_fed_hits_merge(once, n, limit, answered, 3);

        uint32_t depth = limit;
        while ((depth = en_fed_hits_deeper(hits, n, limit, depth, answered, 3)) != 0) {
            cr_assert_leq(depth, NODES * PER_ORIGIN, "round %d: depth %u", round, depth);
            n = peers + rank(copy, anything, 0, depth, hits + peers);
            deepened++;
        }
        uint32_t merged = en_fed_hits_merge(hits, n, limit, answered, 3);

        /* The union's best limit: the origins' own vacancies, and
         * origin 3's through its copies here. */
        vacancy_t all[NODES * PER_ORIGIN];
        memcpy(all, truth, sizeof truth);
        memcpy(all + 3 * PER_ORIGIN, copy + 3 * PER_ORIGIN, PER_ORIGIN * sizeof *copy);
        en_fed_hit_t want[NODES * PER_ORIGIN];
        uint32_t n_want = rank(all, anything, 0, limit, want);

        cr_assert_eq(merged, n_want, "round %d (limit %u): %u merged, the union has %u",
                     round, limit, merged, n_want);
        for (uint32_t i = 0; i < merged; i++) {
            cr_assert_str_eq(hits[i].id, want[i].id, "round %d: match %u", round, i);
            cr_assert(en_score_order(hits[i].score, want[i].score) == 0);
            cr_assert_str_eq(hits[i].origin, want[i].origin);
        }
        bool same = n_once == n_want;
        for (uint32_t i = 0; same && i < n_once; i++)
            same = strcmp(once[i].id, want[i].id) == 0;
        short_without += !same;
    }
    /* The model does lag, and lagging copies would have cost matches. */
    cr_assert_gt(deepened, 100, "ranked again %u times", deepened);
    cr_assert_gt(short_without, 100, "only %u rounds differ without ranking again",
                 short_without);
}

/* Copies in sync, or of an origin that did not answer, ask for nothing
 * more; nor does a node that ranked all it has. */
Test(hit_merge, copies_in_sync_ask_for_nothing_more)
{
    en_fed_hit_t hits[4] = {
        {.score = 5, .from = 1, .id = "a-1", .origin = "peer-1"},
        {.score = 5, .from = 0, .id = "a-1", .origin = "peer-1"},
        {.score = 4, .from = 0, .id = "b-1", .origin = "peer-2"},
        {.score = 3, .from = 0, .id = "h-1", .origin = "here"},
    };
    const char *answered[3] = {"here", "peer-1", NULL};
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 3, 3, answered, 3), 0);
    /* peer-2 answers without b-1: this node goes one deeper, unless it
     * held fewer than it was asked for. */
    answered[2] = "peer-2";
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 3, 3, answered, 3), 4);
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 4, 4, answered, 3), 0);
    /* a-1 at another score here lags too; never beyond the largest limit. */
    hits[1].score = 6;
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 3, 3, answered, 3), 5);
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 3, 5, answered, 3), 0);
    cr_assert_eq(en_fed_hits_deeper(hits, 4, EN_MATCH_LIMIT_MAX - 1, 3, answered, 3),
                 EN_MATCH_LIMIT_MAX);
}
