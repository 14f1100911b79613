/* hit_merge.c - the ranked answers of a federated match made one
 * (hit_merge.h).
 */
#include "hit_merge.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

int
en_fed_hits_decode(const msgpack_object *res, int from, en_fed_hit_t **out, uint32_t *n_out)
{
    const msgpack_object *arr = pr_map_get(res, "matches");
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size > EN_MATCH_DEPTH_MAX)
        return -1;
    uint32_t n = arr->via.array.size;
    en_fed_hit_t *h = calloc(n ? n : 1, sizeof *h);
    if (!h)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *m = &arr->via.array.ptr[i];
        const msgpack_object *score = m->type == MSGPACK_OBJECT_MAP ? pr_map_get(m, "score")
                                                                    : NULL;
        pr_str_t id, origin;
        pr_error_t err;
        if (!score || (score->type != MSGPACK_OBJECT_FLOAT64 &&
                       score->type != MSGPACK_OBJECT_FLOAT32) ||
            pr_get_str(m, "id", "id", PR_REQUIRED, 1, PR_ID_MAX, &id, &err) != 0 ||
            pr_get_str(m, "origin", "origin", PR_REQUIRED, 1, PR_ID_MAX, &origin, &err) != 0) {
            free(h);
            return -1;
        }
        h[i].score = score->via.f64;
        h[i].from = from;
        memcpy(h[i].id, id.ptr, id.len);
        memcpy(h[i].origin, origin.ptr, origin.len);
    }
    *out = h;
    *n_out = n;
    return 0;
}

/* The participant among np that answered for origin, or -1. */
static int
owner_of(const char *origin, const char *const *answered, uint32_t np)
{
    for (uint32_t p = 0; p < np; p++)
        if (answered[p] && strcmp(answered[p], origin) == 0)
            return (int)p;
    return -1;
}

static int
cmp_id_then_score(const void *a, const void *b)
{
    const en_fed_hit_t *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->score > y->score ? -1 : x->score < y->score;
}

static int
cmp_rank(const void *a, const void *b)
{
    const en_fed_hit_t *x = a, *y = b;
    int order = en_score_order(x->score, y->score);
    return order != 0 ? order : strcmp(x->id, y->id);
}

uint32_t
en_fed_hits_merge(en_fed_hit_t *hits, uint32_t n_hits, uint32_t limit,
                  const char *const *answered, uint32_t np)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n_hits; i++) {
        const en_fed_hit_t *h = &hits[i];
        int owner = owner_of(h->origin, answered, np);
        if (owner >= 0 && owner != h->from)
            continue;
        hits[kept++] = *h;
    }
    if (kept == 0)
        return 0;
    qsort(hits, kept, sizeof *hits, cmp_id_then_score);
    uint32_t n = 0;
    for (uint32_t i = 0; i < kept; i++)
        if (n == 0 || strcmp(hits[n - 1].id, hits[i].id) != 0)
            hits[n++] = hits[i];
    qsort(hits, n, sizeof *hits, cmp_rank);
    return n < limit ? n : limit;
}

uint32_t
en_fed_hits_deeper(const en_fed_hit_t *hits, uint32_t n_hits, uint32_t limit, uint32_t depth,
                   const char *const *answered, uint32_t np, int who)
{
    uint32_t mine = 0, lagging = 0;
    for (uint32_t i = 0; i < n_hits; i++) {
        const en_fed_hit_t *copy = &hits[i];
        if (copy->from != who)
            continue;
        mine++;
        int owner = owner_of(copy->origin, answered, np);
        if (owner < 0 || owner == who)
            continue;
        /* In the owner's answer as it is here: in sync. Below limit of
         * the owner's own matches: whatever it kept out ranks below them
         * too, out of the union's best limit. */
        bool confirmed = false;
        uint32_t own_above = 0;
        for (uint32_t j = 0; j < n_hits && !confirmed; j++) {
            const en_fed_hit_t *h = &hits[j];
            if (h->from != owner)
                continue;
            confirmed = strcmp(h->id, copy->id) == 0 &&
                        en_score_order(h->score, copy->score) == 0;
            own_above += strcmp(h->origin, copy->origin) == 0 && cmp_rank(h, copy) < 0;
        }
        lagging += !confirmed && own_above < limit;
    }
    uint32_t next = limit + lagging;
    /* Asked again already and still short: at least twice as deep, so
     * that a mass of lagging copies (a city closing hundreds of openings
     * between two pulls) takes a few rounds rather than one per limit. */
    if (depth > limit && next > depth && next < 2 * depth)
        next = 2 * depth;
    if (next > EN_MATCH_DEPTH_MAX)
        next = EN_MATCH_DEPTH_MAX;
    /* Fewer than depth: it ranked all it has. */
    return mine == depth && next > depth ? next : 0;
}

void
en_fed_hits_pack(msgpack_packer *pk, const en_fed_hit_t *hits, uint32_t n)
{
    pr_pack_cstr(pk, "matches");
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, 3);
        pr_pack_cstr(pk, "id");
        pr_pack_cstr(pk, hits[i].id);
        pr_pack_cstr(pk, "score");
        msgpack_pack_double(pk, hits[i].score);
        pr_pack_cstr(pk, "node");
        pr_pack_cstr(pk, hits[i].origin);
    }
}
