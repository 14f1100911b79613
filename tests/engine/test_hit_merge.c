/* test_hit_merge.c - the second round of a federated match as the asking
 * node makes it one list: against a model network in which every node's
 * copies of the others' vacancies lag behind them, the merged answer,
 * each node ranking again as deep as en_fed_hits_deeper asks, is the
 * union's best limit exactly. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hit_merge.h"
#include "match.h"

/* Participants 0 (this node), 1 and 2 (peers) each hold their own
 * vacancies and copies of everyone else's; origin 3 is a node that is not
 * asked, whose copies are alike everywhere. */
#define NODES 4
#define PARTICIPANTS 3
#define PER_ORIGIN 12
#define ALL (NODES * PER_ORIGIN)

static const char *const node_name[NODES] = {"here", "peer-1", "peer-2", "elsewhere"};

typedef struct vacancy {
    char id[16];
    int origin;
    double score;    /* < 0: no match (closed, filled, or not there) */
} vacancy_t;

/* Each participant's store: its own vacancies as they are, the others'
 * as its copies have them. */
static vacancy_t store[PARTICIPANTS][ALL];

static int
cmp_ranked(const void *a, const void *b)
{
    const vacancy_t *x = a, *y = b;
    int order = en_score_order(x->score, y->score);
    return order != 0 ? order : strcmp(x->id, y->id);
}

/* The best depth of vacancies (as participant from's hits) into out. */
static uint32_t
rank(const vacancy_t *vacancies, int from, uint32_t depth, en_fed_hit_t *out)
{
    vacancy_t held[ALL];
    uint32_t n = 0;
    for (int i = 0; i < ALL; i++)
        if (vacancies[i].score >= 0)
            held[n++] = vacancies[i];
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

/* hits without participant who's, then its answer depth deep. */
static uint32_t
answer_again(en_fed_hit_t *hits, uint32_t n, int who, uint32_t depth)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++)
        if (hits[i].from != who)
            hits[kept++] = hits[i];
    return kept + rank(store[who], who, depth, hits + kept);
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
    unsigned deepened[PARTICIPANTS] = {0}, short_without = 0;
    for (int round = 0; round < 3000; round++) {
        /* The union: each origin's own vacancies (origin 3's as copied). */
        vacancy_t truth[ALL];
        for (int o = 0; o < NODES; o++)
            for (int i = 0; i < PER_ORIGIN; i++) {
                vacancy_t *t = &truth[o * PER_ORIGIN + i];
                snprintf(t->id, sizeof t->id, "%c-%02d", 'a' + o, i);
                t->origin = o;
                t->score = random_score();
            }
        for (int p = 0; p < PARTICIPANTS; p++)
            for (int i = 0; i < ALL; i++) {
                store[p][i] = truth[i];
                /* A copy of another participant's vacancy lags now and then. */
                if (truth[i].origin != p && truth[i].origin < PARTICIPANTS && rand() % 6 == 0)
                    store[p][i].score = random_score();
            }
        uint32_t limit = 1 + (uint32_t)(rand() % 15);
        const char *answered[PARTICIPANTS] = {node_name[0], node_name[1], node_name[2]};

        en_fed_hit_t hits[PARTICIPANTS * ALL];
        uint32_t n = 0, depth[PARTICIPANTS];
        for (int p = 0; p < PARTICIPANTS; p++) {
            n += rank(store[p], p, limit, hits + n);
            depth[p] = limit;
        }

        /* Without ranking again: */
        en_fed_hit_t once[PARTICIPANTS * ALL];
        memcpy(once, hits, n * sizeof *hits);
        uint32_t n_once = en_fed_hits_merge(once, n, limit, answered, PARTICIPANTS);

        /* As the asking node does it (federate.c, deepen_hits). */
        for (bool again = true; again;) {
            again = false;
            for (int p = 0; p < PARTICIPANTS; p++) {
                uint32_t d = en_fed_hits_deeper(hits, n, limit, depth[p], answered,
                                                PARTICIPANTS, p);
                if (d == 0)
                    continue;
                cr_assert_gt(d, depth[p], "round %d: participant %d asked for %u after %u",
                             round, p, d, depth[p]);
                n = answer_again(hits, n, p, depth[p] = d);
                deepened[p]++;
                again = true;
            }
        }
        uint32_t merged = en_fed_hits_merge(hits, n, limit, answered, PARTICIPANTS);

        en_fed_hit_t want[ALL];
        uint32_t n_want = rank(truth, 0, limit, want);
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
    /* The model does lag, every participant ranks again now and then,
     * and lagging copies would have cost matches. */
    for (int p = 0; p < PARTICIPANTS; p++)
        cr_assert_gt(deepened[p], 100, "participant %d ranked again %u times", p, deepened[p]);
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
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 3, 3, answered, 3, 0), 0);
    /* peer-2 answers without b-1: this node goes one deeper, unless it
     * held fewer than it was asked for. */
    answered[2] = "peer-2";
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 3, 3, answered, 3, 0), 4);
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 4, 4, answered, 3, 0), 0);
    /* a-1 at another score here lags too; never beyond the largest limit. */
    hits[1].score = 6;
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 3, 3, answered, 3, 0), 5);
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 3, 5, answered, 3, 0), 0);
    /* Asked again already (3 deep for 2) and still short: twice as deep. */
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 2, 3, answered, 3, 0), 6);
    cr_assert_eq(en_fed_hits_deeper(hits, 4, EN_MATCH_DEPTH_MAX - 1, 3, answered, 3, 0),
                 EN_MATCH_DEPTH_MAX);
    /* A peer's own matches ask for nothing; its copy of this node's h-1
     * at the score this node gives it neither, of h-2 that this node
     * does not give, one more. */
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 1, 1, answered, 3, 1), 0);
    hits[2] = (en_fed_hit_t){.score = 3, .from = 1, .id = "h-1", .origin = "here"};
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 2, 2, answered, 3, 1), 0);
    snprintf(hits[2].id, sizeof hits[2].id, "h-2");
    cr_assert_eq(en_fed_hits_deeper(hits, 4, 2, 2, answered, 3, 1), 3);
}

/* A province whose copies of a city are in sync but for one vacancy the
 * city has since stored (ranked first there): its answer ends one copy
 * below the city's, which the city's answer cannot hold, and that asks
 * for nothing: ten of the city's own matches rank above it. A copy the
 * city closed meanwhile does ask, once. */
Test(hit_merge, copies_below_the_origins_limit_ask_for_nothing)
{
    en_fed_hit_t hits[21];
    uint32_t n = 0;
    hits[n++] = (en_fed_hit_t){.score = 100, .from = 1, .id = "c-new", .origin = "city"};
    for (int i = 1; i <= 10; i++) {
        en_fed_hit_t h = {.score = 100 - i, .origin = "city"};
        snprintf(h.id, sizeof h.id, "c-%02d", i);
        if (i <= 9) {
            h.from = 1;
            hits[n++] = h;
        }
        h.from = 0;
        hits[n++] = h;
    }
    const char *answered[2] = {"province", "city"};
    cr_assert_eq(n, 20);
    cr_assert_eq(en_fed_hits_deeper(hits, n, 10, 10, answered, 2, 0), 0);
    cr_assert_eq(en_fed_hits_deeper(hits, n, 10, 10, answered, 2, 1), 0);
    /* The province's c-05 is a copy of a vacancy the city has closed: the
     * city answers without it (c-10 of its own instead). */
    for (uint32_t i = 0; i < n; i++)
        if (hits[i].from == 1 && strcmp(hits[i].id, "c-05") == 0) {
            snprintf(hits[i].id, sizeof hits[i].id, "c-10");
            hits[i].score = 90;
        }
    cr_assert_eq(en_fed_hits_deeper(hits, n, 10, 10, answered, 2, 0), 11);
}
