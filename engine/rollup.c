/* rollup.c - the figures of stats.supply_demand and stats.reemployment,
 * added up over nodes and packed (rollup.h).
 */
#include "rollup.h"

#include <stdlib.h>
#include <string.h>

static const char *const figure_keys[3] = {"openings", "vacancies", "applicants"};

static int
cmp_group(const void *a, const void *b)
{
    const en_rollup_group_t *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->group, y->group, n);
    return c ? c : (int)x->len - (int)y->len;
}

static bool
read_count(const msgpack_object *m, const char *key, uint64_t *v)
{
    const msgpack_object *o = pr_map_get(m, key);
    if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *v = o->via.u64;
    return true;
}

static bool
read_figures(const msgpack_object *m, uint64_t v[3])
{
    for (int i = 0; i < 3; i++)
        if (!read_count(m, figure_keys[i], &v[i]))
            return false;
    return true;
}

bool
en_rollup_add(en_rollup_t *r, const msgpack_object *res)
{
    const msgpack_object *g = pr_map_get(res, "groups"), *t = pr_map_get(res, "total");
    uint64_t tv[3];
    if (!g || g->type != MSGPACK_OBJECT_ARRAY || !t || !read_figures(t, tv))
        return false;
    /* All of it or nothing: a malformed answer leaves the sums as they were. */
    uint32_t n0 = r->n;
    for (uint32_t i = 0; i < g->via.array.size; i++) {
        const msgpack_object *e = &g->via.array.ptr[i];
        pr_str_t label;
        pr_error_t err;
        uint64_t v[3];
        if (e->type != MSGPACK_OBJECT_MAP ||
            pr_get_str(e, "group", "group", PR_REQUIRED, 0, PR_OCCUPATION_LEN, &label, &err) != 0 ||
            !read_figures(e, v))
            return r->n = n0, false;
        if (r->n == r->cap) {
            uint32_t nc = r->cap ? 2 * r->cap : 64;
            en_rollup_group_t *ns = realloc(r->groups, (size_t)nc * sizeof *ns);
            if (!ns)
                return r->n = n0, false;
            r->groups = ns;
            r->cap = nc;
        }
        en_rollup_group_t *s = &r->groups[r->n++];
        memcpy(s->group, label.ptr, label.len);
        s->len = label.len;
        memcpy(s->v, v, sizeof v);
    }
    for (int i = 0; i < 3; i++)
        r->total[i] += tv[i];
    return true;
}

void
en_rollup_fold(en_rollup_t *r)
{
    if (r->n == 0)
        return;
    qsort(r->groups, r->n, sizeof *r->groups, cmp_group);
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        if (n > 0 && cmp_group(&r->groups[n - 1], &r->groups[i]) == 0) {
            for (int k = 0; k < 3; k++)
                r->groups[n - 1].v[k] += r->groups[i].v[k];
        } else {
            r->groups[n++] = r->groups[i];
        }
    }
    r->n = n;
}

void
en_rollup_pack_figures(msgpack_packer *pk, const char *group, uint32_t len,
                       const uint64_t v[3])
{
    msgpack_pack_map(pk, group ? 5 : 4);
    if (group) {
        pr_pack_cstr(pk, "group");
        msgpack_pack_str_with_body(pk, group, len);
    }
    for (int i = 0; i < 3; i++) {
        pr_pack_cstr(pk, figure_keys[i]);
        msgpack_pack_uint64(pk, v[i]);
    }
    pr_pack_cstr(pk, "ratio");
    if (v[2])
        msgpack_pack_double(pk, (double)v[0] / (double)v[2]);
    else
        msgpack_pack_nil(pk);
}

void
en_rollup_pack(msgpack_packer *pk, const en_rollup_t *r)
{
    pr_pack_cstr(pk, "groups");
    msgpack_pack_array(pk, r->n);
    for (uint32_t i = 0; i < r->n; i++)
        en_rollup_pack_figures(pk, r->groups[i].group, r->groups[i].len, r->groups[i].v);
    pr_pack_cstr(pk, "total");
    en_rollup_pack_figures(pk, NULL, 0, r->total);
}

void
en_rollup_free(en_rollup_t *r)
{
    free(r->groups);
    memset(r, 0, sizeof *r);
}

bool
en_reemp_add(en_reemp_sums_t *r, const msgpack_object *res)
{
    const msgpack_object *c = pr_map_get(res, "categories");
    if (!c || c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != PR_CAT_COUNT)
        return false;
    en_reemp_sums_t add = {0};
    bool seen[PR_CAT_COUNT] = {false};
    for (uint32_t i = 0; i < PR_CAT_COUNT; i++) {
        const msgpack_object *e = &c->via.array.ptr[i];
        pr_str_t name;
        pr_error_t err;
        if (e->type != MSGPACK_OBJECT_MAP ||
            pr_get_str(e, "category", "category", PR_REQUIRED, 1, 32, &name, &err) != 0)
            return false;
        int k = pr_category_parse(name);
        if (k < 0 || seen[k] || !read_count(e, "registered", &add.registered[k]) ||
            !read_count(e, "hired", &add.hired[k]))
            return false;
        seen[k] = true;
    }
    for (int k = 0; k < PR_CAT_COUNT; k++) {
        r->registered[k] += add.registered[k];
        r->hired[k] += add.hired[k];
    }
    return true;
}

static void
pack_reemp_figures(msgpack_packer *pk, const char *category, uint64_t registered,
                   uint64_t hired)
{
    msgpack_pack_map(pk, category ? 4 : 3);
    if (category) {
        pr_pack_cstr(pk, "category");
        pr_pack_cstr(pk, category);
    }
    pr_pack_cstr(pk, "registered");
    msgpack_pack_uint64(pk, registered);
    pr_pack_cstr(pk, "hired");
    msgpack_pack_uint64(pk, hired);
    pr_pack_cstr(pk, "rate");
    if (registered)
        msgpack_pack_double(pk, (double)hired / (double)registered);
    else
        msgpack_pack_nil(pk);
}

void
en_reemp_pack(msgpack_packer *pk, const en_reemp_sums_t *r)
{
    pr_pack_cstr(pk, "categories");
    msgpack_pack_array(pk, PR_CAT_COUNT);
    uint64_t registered = 0, hired = 0;
    for (int k = 0; k < PR_CAT_COUNT; k++) {
        pack_reemp_figures(pk, pr_category_name(k), r->registered[k], r->hired[k]);
        registered += r->registered[k];
        hired += r->hired[k];
    }
    pr_pack_cstr(pk, "total");
    pack_reemp_figures(pk, NULL, registered, hired);
}
