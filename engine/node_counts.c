/* node_counts.c - the counts round of federated matching (node_counts.h):
 * what this node holds per origin, packed and read back, and added up
 * over the nodes that answered.
 */
#include "node_counts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct counts_walk {
    en_node_counts_t *out;
    uint32_t cap;
} counts_walk_t;

static int
on_origin(void *ctx, const char *origin, uint32_t len, uint64_t open)
{
    counts_walk_t *w = ctx;
    en_node_counts_t *c = w->out;
    if (len > PR_ID_MAX)
        return -EIO;
    if (c->n == w->cap) {
        uint32_t cap = w->cap ? 2 * w->cap : 8;
        en_origin_count_t *o = realloc(c->o, (size_t)cap * sizeof *o);
        if (!o)
            return -ENOMEM;
        c->o = o;
        w->cap = cap;
    }
    en_origin_count_t *e = &c->o[c->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->origin, origin, len);
    e->origin[len] = '\0';
    e->open = open;
    return 0;
}

int
en_node_counts_read(ix_txn_t *txn, const char *self, const ix_skill_t *skills,
                    uint32_t n_skills, en_node_counts_t *out)
{
    memset(out, 0, sizeof *out);
    counts_walk_t w = {out, 0};
    int rc = ix_origins(txn, on_origin, &w);
    for (uint32_t i = 0; i < out->n && rc == 0; i++) {
        en_origin_count_t *e = &out->o[i];
        for (uint32_t s = 0; s < n_skills && rc == 0; s++)
            rc = ix_origin_df(txn, e->origin, (uint32_t)strlen(e->origin), skills[s].id,
                              skills[s].id_len, &e->df[s]);
    }
    if (rc != 0) {
        en_node_counts_free(out);
        return rc;
    }
    /* Vacancies stored without an origin are this node's own. They come
     * first (the empty origin sorts first). */
    if (out->n > 0 && out->o[0].origin[0] == '\0') {
        uint32_t mine = 1;
        while (mine < out->n && strcmp(out->o[mine].origin, self) != 0)
            mine++;
        if (mine == out->n) {
            snprintf(out->o[0].origin, sizeof out->o[0].origin, "%s", self);
        } else {
            out->o[mine].open += out->o[0].open;
            for (uint32_t s = 0; s < n_skills; s++)
                out->o[mine].df[s] += out->o[0].df[s];
            memmove(&out->o[0], &out->o[1], (size_t)(out->n - 1) * sizeof out->o[0]);
            out->n--;
        }
    }
    return 0;
}

void
en_node_counts_pack(msgpack_packer *pk, const char *self, const en_node_counts_t *c,
                    uint32_t n_skills)
{
    msgpack_pack_map(pk, 2);
    pr_pack_cstr(pk, "node");
    pr_pack_cstr(pk, self);
    pr_pack_cstr(pk, "origins");
    msgpack_pack_array(pk, c->n);
    for (uint32_t i = 0; i < c->n; i++) {
        msgpack_pack_map(pk, 3);
        pr_pack_cstr(pk, "origin");
        pr_pack_cstr(pk, c->o[i].origin);
        pr_pack_cstr(pk, "open");
        msgpack_pack_uint64(pk, c->o[i].open);
        pr_pack_cstr(pk, "df");
        msgpack_pack_array(pk, n_skills);
        for (uint32_t s = 0; s < n_skills; s++)
            msgpack_pack_uint64(pk, c->o[i].df[s]);
    }
}

void
en_node_counts_free(en_node_counts_t *c)
{
    free(c->o);
    c->o = NULL;
    c->n = 0;
}

int
en_node_counts_decode(const msgpack_object *res, uint32_t n_skills, en_node_counts_t *out)
{
    memset(out, 0, sizeof *out);
    const msgpack_object *arr = pr_map_get(res, "origins");
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    uint32_t n = arr->via.array.size;
    if (n > EN_COUNTS_ORIGINS_MAX)
        return -E2BIG;
    out->o = calloc(n ? n : 1, sizeof *out->o);
    if (!out->o)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *m = &arr->via.array.ptr[i];
        pr_error_t err;
        pr_str_t origin;
        int64_t open;
        if (m->type != MSGPACK_OBJECT_MAP ||
            pr_get_str(m, "origin", "origin", PR_REQUIRED, 1, PR_ID_MAX, &origin, &err) != 0 ||
            pr_get_int(m, "open", "open", PR_REQUIRED, 0, INT64_MAX, &open, &err) != 0)
            goto bad;
        const msgpack_object *df = pr_map_get(m, "df");
        if (!df || df->type != MSGPACK_OBJECT_ARRAY || df->via.array.size != n_skills)
            goto bad;
        en_origin_count_t *e = &out->o[out->n++];
        memcpy(e->origin, origin.ptr, origin.len);
        e->origin[origin.len] = '\0';
        e->open = (uint64_t)open;
        for (uint32_t s = 0; s < n_skills; s++) {
            if (df->via.array.ptr[s].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
                df->via.array.ptr[s].via.u64 > e->open)
                goto bad;
            e->df[s] = df->via.array.ptr[s].via.u64;
        }
    }
    return 0;
bad:
    en_node_counts_free(out);
    return -1;
}

/* a + b, at most INT64_MAX (each is at most that: decoded as such). */
static uint64_t
add_saturating(uint64_t a, uint64_t b)
{
    return a > (uint64_t)INT64_MAX - b ? (uint64_t)INT64_MAX : a + b;
}

void
en_node_counts_union(const en_node_counts_t *const *c, const char *const *node, uint32_t np,
                     uint32_t n_skills, uint64_t *n, uint64_t *df)
{
    *n = 0;
    memset(df, 0, sizeof(uint64_t) * n_skills);
    for (uint32_t a = 0; a < np; a++) {
        if (!c[a])
            continue;
        for (uint32_t j = 0; j < c[a]->n; j++) {
            const en_origin_count_t *e = &c[a]->o[j];
            /* Each origin once: where it is first seen. */
            bool earlier = false;
            for (uint32_t b = 0; b < a && !earlier; b++)
                for (uint32_t k = 0; c[b] && k < c[b]->n && !earlier; k++)
                    earlier = strcmp(c[b]->o[k].origin, e->origin) == 0;
            if (earlier)
                continue;
            const en_origin_count_t *best = NULL;
            for (uint32_t b = 0; b < np; b++) {
                if (!c[b])
                    continue;
                const en_origin_count_t *f = NULL;
                for (uint32_t k = 0; k < c[b]->n && !f; k++)
                    if (strcmp(c[b]->o[k].origin, e->origin) == 0)
                        f = &c[b]->o[k];
                if (strcmp(node[b], e->origin) == 0) {
                    best = f;  /* NULL: the owner has none open now */
                    break;
                }
                if (f && (!best || f->open > best->open))
                    best = f;
            }
            if (!best)
                continue;
            *n = add_saturating(*n, best->open);
            for (uint32_t s = 0; s < n_skills; s++)
                df[s] = add_saturating(df[s], best->df[s]);
        }
    }
}

int
en_network_counts_read(const msgpack_object *nc, const en_party_t *probe, double *idf,
                       pr_error_t *err)
{
    int64_t n;
    if (nc->type != MSGPACK_OBJECT_MAP)
        return pr_fail(err, PR_BAD_REQUEST, "network_counts: must be a map");
    if (pr_get_int(nc, "open", "network_counts.open", PR_REQUIRED, 0, INT64_MAX, &n, err) != 0)
        return -1;
    const msgpack_object *df = pr_map_get(nc, "df");
    if (!df || df->type != MSGPACK_OBJECT_MAP)
        return pr_fail(err, PR_BAD_REQUEST, "network_counts.df: required, a map of skill to count");
    for (uint32_t i = 0; i < probe->n_skills; i++) {
        const ix_skill_t *s = &probe->skills[i];
        uint64_t d = 0;
        for (uint32_t j = 0; j < df->via.map.size; j++) {
            const msgpack_object_kv *kv = &df->via.map.ptr[j];
            if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == s->id_len &&
                memcmp(kv->key.via.str.ptr, s->id, s->id_len) == 0) {
                if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER || kv->val.via.u64 > (uint64_t)n)
                    return pr_fail(err, PR_BAD_REQUEST,
                                   "network_counts.df.%.*s: must be an integer 0..open",
                                   (int)s->id_len, s->id);
                d = kv->val.via.u64;
            }
        }
        idf[i] = en_idf((uint64_t)n, d);
    }
    return 0;
}
